//! `textdesk consent export|import|show`: the consent ledger for audits, and consent
//! gathered elsewhere (a web form, a store's sign-up sheet) brought in.

use std::io::Write;
use std::path::PathBuf;

use anyhow::{Context, bail};
use clap::Subcommand;

use crate::engine::consent;
use crate::sms::PhoneNumber;
use crate::store::Store;

#[derive(Debug, Subcommand)]
pub enum ConsentCommand {
    /// Every consent change recorded in a period, as CSV on stdout: at, phone,
    /// consent, source (keyword, plain_language, carrier, agent, api, import), detail
    /// (the exact words), actor, message_id.
    Export {
        /// From: a UTC date (2026-12-01), an RFC 3339 time, or a span back from now (30d).
        #[arg(long)]
        since: String,
        /// Until (excluded), in the same forms; default now.
        #[arg(long)]
        until: Option<String>,
    },
    /// Record consent gathered elsewhere: a CSV file whose header names `phone`,
    /// `consent` (opted_in or opted_out) and `detail` (the evidence). Nothing is
    /// imported from a file with a bad row; an opt-in never undoes a later opt-out.
    Import {
        file: PathBuf,
        /// Who is importing, kept in the ledger.
        #[arg(long, default_value = "cli")]
        by: String,
    },
    /// A contact's consent and every change of it.
    Show {
        /// The contact's number (E.164).
        phone: String,
    },
}

pub async fn run(
    store: &Store,
    command: ConsentCommand,
    now: i64,
    mut out: impl Write,
) -> anyhow::Result<()> {
    match command {
        ConsentCommand::Export { since, until } => {
            let since = parse_time(&since, now).context("--since")?;
            let until = match until {
                Some(until) => parse_time(&until, now).context("--until")?,
                None => now + 1,
            };
            if until <= since {
                bail!("--until must be after --since");
            }
            consent::export_csv(store, since, until, out).await?;
        }
        ConsentCommand::Import { file, by } => {
            let text = std::fs::read_to_string(&file)
                .with_context(|| format!("cannot read {}", file.display()))?;
            let statements = consent::parse_import(&text)
                .map_err(|e| anyhow::anyhow!("{}: {e}; nothing was imported", file.display()))?;
            let report = consent::import(store, &statements, Some(&by), now).await?;
            writeln!(
                out,
                "recorded {} changes ({} new contacts)",
                report.recorded, report.new_contacts
            )?;
            for phone in &report.kept_opted_out {
                writeln!(
                    out,
                    "kept opted out: {phone} (an import never undoes an opt-out)"
                )?;
            }
        }
        ConsentCommand::Show { phone } => {
            let phone = PhoneNumber::parse(&phone)
                .map_err(|e| anyhow::anyhow!("{phone:?} is not an E.164 number: {e}"))?;
            let Some(contact) = store.consent_by_phone(phone.as_str()).await? else {
                bail!("no contact with the number {}", phone.masked());
            };
            writeln!(out, "{}: {}", phone.as_str(), contact.consent.as_str())?;
            for record in store.consent_ledger(&phone).await? {
                writeln!(
                    out,
                    "{}  {:<9}  {:<14}  {}{}",
                    crate::clock::format_ms(record.at),
                    record.consent.as_str(),
                    record.source.as_str(),
                    record.detail.as_deref().unwrap_or(""),
                    record
                        .actor
                        .as_deref()
                        .map(|a| format!(" (by {a})"))
                        .unwrap_or_default(),
                )?;
            }
        }
    }
    Ok(())
}

/// A UTC date (midnight), an RFC 3339 time, or a span back from `now` ("30d"), as
/// epoch ms.
pub(crate) fn parse_time(value: &str, now: i64) -> anyhow::Result<i64> {
    let value = value.trim();
    if let Ok(date) = value.parse::<jiff::civil::Date>() {
        return Ok(date
            .to_zoned(jiff::tz::TimeZone::UTC)?
            .timestamp()
            .as_millisecond());
    }
    if let Ok(time) = value.parse::<jiff::Timestamp>() {
        return Ok(time.as_millisecond());
    }
    match crate::analytics::parse_span(value) {
        Some(span) => Ok(now - span),
        None => bail!("{value:?}: use a date (2026-12-01, UTC), an RFC 3339 time or a span (30d)"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_are_dates_instants_or_spans() {
        let now = 1_764_633_600_000; // 2025-12-02T00:00:00Z
        assert_eq!(parse_time("2025-12-01", now).unwrap(), now - 86_400_000);
        assert_eq!(parse_time("2025-12-02T00:00:00Z", now).unwrap(), now);
        assert_eq!(parse_time("1d", now).unwrap(), now - 86_400_000);
        assert!(parse_time("yesterday", now).is_err());
    }
}
