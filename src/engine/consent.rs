//! Consent given or withdrawn outside a conversation: recorded by an agent, by a
//! system through the admin API, or imported from where it was gathered (a web form,
//! a store's sign-up sheet); and the ledger exported for an audit.
//!
//! Customers' own keywords and plain-language opt-outs are recorded by the pipeline as
//! it answers them; the carrier's opt-outs by the dispatcher. All of them land in the
//! same ledger ([`crate::store::ConsentRecord`]).

use std::io::Write;

use crate::sms::PhoneNumber;
use crate::store::{Consent, ConsentChange, ConsentSource, Recorded, Store, StoreError};

/// Longest evidence text kept with a change.
const MAX_DETAIL_CHARS: usize = 1000;

/// Rows read from the database per page while exporting.
const EXPORT_PAGE: i64 = 500;

/// A consent change as an agent, a system or an import states it.
#[derive(Debug, Clone, PartialEq)]
pub struct Statement {
    pub phone: PhoneNumber,
    pub consent: Consent,
    /// The evidence: what the customer agreed to, where and when.
    pub detail: String,
}

impl Statement {
    /// Checks the parts as given; the error says what to send instead.
    pub fn parse(phone: &str, consent: &str, detail: &str) -> Result<Self, String> {
        let phone = PhoneNumber::parse(phone)
            .map_err(|e| format!("phone {phone:?}: {e} (use E.164, e.g. +13035550100)"))?;
        let consent = match Consent::parse(consent.trim()) {
            Some(c @ (Consent::OptedIn | Consent::OptedOut)) => c,
            _ => {
                return Err(format!(
                    "consent {consent:?}: use opted_in (express consent given) or opted_out"
                ));
            }
        };
        let detail = detail.trim();
        if detail.is_empty() {
            return Err(
                "detail is empty: say what the customer agreed to, where and when \
                 (\"ticked 'text me order updates' on the web checkout, 2026-11-30\")"
                    .into(),
            );
        }
        if detail.chars().count() > MAX_DETAIL_CHARS {
            return Err(format!(
                "detail is longer than {MAX_DETAIL_CHARS} characters"
            ));
        }
        Ok(Self {
            phone,
            consent,
            detail: detail.to_string(),
        })
    }

    fn change(&self, source: ConsentSource, actor: Option<&str>) -> ConsentChange {
        ConsentChange {
            to: self.consent,
            source,
            actor: actor.map(str::to_string),
            detail: self.detail.clone(),
        }
    }
}

/// Records one statement; `actor` is who recorded it.
pub async fn record(
    store: &Store,
    statement: &Statement,
    source: ConsentSource,
    actor: Option<&str>,
    now: i64,
) -> Result<Recorded, StoreError> {
    store
        .record_consent_for(&statement.phone, &statement.change(source, actor), now)
        .await
}

/// Reads an import file: CSV with a header naming `phone`, `consent` and `detail`
/// (other columns are ignored). Nothing is imported from a file with a bad row: the
/// error names its line.
pub fn parse_import(csv_text: &str) -> Result<Vec<Statement>, String> {
    #[derive(serde::Deserialize)]
    struct Row {
        phone: String,
        consent: String,
        detail: String,
    }
    let mut reader = csv::ReaderBuilder::new()
        .trim(csv::Trim::All)
        .from_reader(csv_text.as_bytes());
    let mut statements = Vec::new();
    for row in reader.deserialize::<Row>() {
        let row = row.map_err(|e| match e.position() {
            Some(at) => format!("line {}: {}", at.line(), csv_error(&e)),
            None => csv_error(&e),
        })?;
        // The header is line 1; each record has one line unless a field is quoted
        // across lines, which phone and consent never are.
        let line = statements.len() + 2;
        statements.push(
            Statement::parse(&row.phone, &row.consent, &row.detail)
                .map_err(|e| format!("line {line}: {e}"))?,
        );
    }
    if statements.is_empty() {
        return Err(
            "no rows: the file needs a header `phone,consent,detail` and one row per contact"
                .into(),
        );
    }
    Ok(statements)
}

fn csv_error(e: &csv::Error) -> String {
    match e.kind() {
        csv::ErrorKind::Deserialize { err, .. } => {
            format!("{err} (the header must name the columns phone, consent and detail)")
        }
        _ => e.to_string(),
    }
}

/// What an import did.
#[derive(Debug, Default, Clone, serde::Serialize, utoipa::ToSchema)]
pub struct ImportReport {
    /// Changes recorded.
    pub recorded: usize,
    /// Of them, numbers textdesk had not seen before.
    pub new_contacts: usize,
    /// Opt-ins not applied because the contact has opted out since (an import never
    /// undoes an opt-out), as masked numbers.
    pub kept_opted_out: Vec<String>,
}

/// Records every statement of an import, in file order.
pub async fn import(
    store: &Store,
    statements: &[Statement],
    actor: Option<&str>,
    now: i64,
) -> Result<ImportReport, StoreError> {
    let mut report = ImportReport::default();
    for statement in statements {
        match record(store, statement, ConsentSource::Import, actor, now).await? {
            Recorded::Changed { created } => {
                report.recorded += 1;
                report.new_contacts += usize::from(created);
            }
            Recorded::KeptOptOut => report.kept_opted_out.push(statement.phone.masked()),
        }
    }
    Ok(report)
}

/// Writes the ledger rows recorded in `[since, until)` as CSV, page by page: `at`
/// (RFC 3339, UTC), `phone`, `consent`, `source`, `detail`, `actor`, `message_id`.
/// Returns how many rows were written.
pub async fn export_csv(
    store: &Store,
    since: i64,
    until: i64,
    out: impl Write,
) -> anyhow::Result<usize> {
    let mut writer = csv::Writer::from_writer(out);
    writer.write_record([
        "at",
        "phone",
        "consent",
        "source",
        "detail",
        "actor",
        "message_id",
    ])?;
    let mut after = 0;
    let mut written = 0;
    loop {
        let page = store
            .consent_ledger_page(since, until, after, EXPORT_PAGE)
            .await?;
        let Some(last) = page.last() else { break };
        after = last.id;
        for record in &page {
            writer.write_record([
                crate::clock::format_ms(record.at),
                record.phone.as_str().to_string(),
                record.consent.as_str().to_string(),
                record.source.as_str().to_string(),
                record.detail.clone().unwrap_or_default(),
                record.actor.clone().unwrap_or_default(),
                record
                    .message_id
                    .map(|id| id.to_string())
                    .unwrap_or_default(),
            ])?;
            written += 1;
        }
    }
    writer.flush()?;
    Ok(written)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_import_file_reads_by_header_and_names_the_bad_line() {
        let ok = parse_import(
            "consent,phone,detail,source_system\n\
             opted_in,+13035550100,\"web checkout box, 2026-11-30\",shopify\n\
             opted_out , +13035550101 , called the store,\n",
        )
        .unwrap();
        assert_eq!(ok.len(), 2);
        assert_eq!(ok[0].consent, Consent::OptedIn);
        assert_eq!(ok[0].detail, "web checkout box, 2026-11-30");
        assert_eq!(ok[1].phone.as_str(), "+13035550101");

        let err = parse_import(
            "phone,consent,detail\n+13035550100,opted_in,form\n+13035550101,implied,form\n",
        )
        .unwrap_err();
        assert!(err.starts_with("line 3: consent \"implied\""), "{err}");
        let err = parse_import("phone,consent,detail\nnot-a-phone,opted_in,form\n").unwrap_err();
        assert!(err.starts_with("line 2: phone"), "{err}");
        let err = parse_import("phone,consent,detail\n+13035550100,opted_in,\n").unwrap_err();
        assert!(err.contains("detail is empty"), "{err}");
        let err = parse_import("number,consent\n+13035550100,opted_in\n").unwrap_err();
        assert!(err.contains("phone, consent and detail"), "{err}");
        assert!(parse_import("phone,consent,detail\n").is_err());
    }
}
