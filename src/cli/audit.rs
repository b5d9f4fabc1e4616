//! `textdesk audit`: who did what and when (the audit log the admin API serves), newest
//! first, as a table or one JSON object per line.

use std::io::Write;

use anyhow::{Context, bail};

use crate::clock::format_ms;
use crate::store::{AuditAction, AuditFilter, Store};

/// What to list; the flags of `textdesk audit`.
#[derive(Debug, clap::Args)]
pub struct AuditArgs {
    /// How far back: a span (7d, 24h), a date (2026-12-01, UTC) or an RFC 3339 time.
    #[arg(long, default_value = "7d")]
    pub since: String,
    /// Only this agent's actions (their name), or `cli` for the command line's.
    #[arg(long)]
    pub actor: Option<String>,
    /// Only this action, e.g. handoff.resolved.
    #[arg(long)]
    pub action: Option<String>,
    /// At most this many entries.
    #[arg(long, default_value_t = 200)]
    pub limit: i64,
    /// One JSON object per entry instead of a table.
    #[arg(long)]
    pub json: bool,
}

pub async fn run(
    store: &Store,
    args: AuditArgs,
    now: i64,
    mut out: impl Write,
) -> anyhow::Result<()> {
    let since = match crate::analytics::parse_span(&args.since) {
        Some(span) => now - span,
        None => crate::analytics::parse_time(&args.since).with_context(|| {
            format!(
                "--since {:?}: use a span (7d), a date (2026-12-01) or an RFC 3339 time",
                args.since
            )
        })?,
    };
    let action = match args.action.as_deref() {
        None => None,
        Some(name) => match AuditAction::parse(name) {
            Some(action) => Some(action),
            None => {
                let known: Vec<&str> = AuditAction::ALL.iter().map(|a| a.as_str()).collect();
                bail!("--action {name:?}: use one of {}", known.join(", "))
            }
        },
    };
    if args.limit < 1 {
        bail!("--limit must be at least 1");
    }
    let filter = AuditFilter {
        actor: args.actor,
        action,
        since: Some(since),
        limit: args.limit,
        ..Default::default()
    };
    let entries = store.audit_log(&filter).await?;
    if entries.is_empty() && !args.json {
        writeln!(out, "nothing in the audit log since {}", format_ms(since))?;
    }
    for entry in entries {
        if args.json {
            writeln!(out, "{}", serde_json::to_string(&entry)?)?;
        } else {
            writeln!(
                out,
                "{}  {:<16} {:<20} {:<16} {}",
                format_ms(entry.created_at),
                entry.actor,
                entry.action.as_str(),
                entry.target,
                entry.detail
            )?;
        }
    }
    Ok(())
}
