//! `textdesk export`: every message (or conversation) of a period as CSV or JSON lines
//! on stdout, a page at a time, as `GET /api/v1/conversations/export` streams it.

use std::io::Write;

use anyhow::{Context, bail};
use futures_util::StreamExt;

use crate::engine::export::{self, ExportFormat, ExportRows, ExportSpec};
use crate::store::{AuditAction, AuditBy, Store};

#[derive(Debug, clap::Args)]
pub struct ExportArgs {
    /// From: a span back from now (30d), a date (2026-12-01, UTC) or an RFC 3339 time;
    /// default: the beginning.
    #[arg(long)]
    pub since: Option<String>,
    /// Until (excluded), as a date or an RFC 3339 time; default: now.
    #[arg(long)]
    pub until: Option<String>,
    /// One row per `message` or per `conversation`.
    #[arg(long, default_value = "message", value_parser = ["message", "conversation"])]
    pub per: String,
    #[arg(long, default_value = "csv", value_parser = ["csv", "jsonl"])]
    pub format: String,
}

fn when(value: &str, now: i64) -> anyhow::Result<i64> {
    if let Some(span) = crate::analytics::parse_span(value) {
        return Ok(now - span);
    }
    crate::analytics::parse_time(value).with_context(|| {
        format!("{value:?}: use a span (30d), a date (2026-12-01) or an RFC 3339 time")
    })
}

pub async fn run(
    store: &Store,
    args: ExportArgs,
    now: i64,
    mut out: impl Write,
) -> anyhow::Result<()> {
    let from = args
        .since
        .as_deref()
        .map(|v| when(v, now))
        .transpose()
        .context("--since")?;
    let to = args
        .until
        .as_deref()
        .map(|v| when(v, now))
        .transpose()
        .context("--until")?;
    let spec = ExportSpec {
        format: ExportFormat::parse(&args.format).context("--format")?,
        rows: ExportRows::parse(&args.per).context("--per")?,
        from: from.unwrap_or(0),
        to: to.unwrap_or(i64::MAX),
    };
    if spec.to <= spec.from {
        bail!("--until must be after --since");
    }
    store
        .record_audit(
            AuditBy::CommandLine,
            AuditAction::DataExported,
            "conversations",
            serde_json::json!({ "per": args.per, "format": args.format, "from": spec.from, "to": spec.to }),
            now,
        )
        .await?;
    let mut chunks = std::pin::pin!(export::stream(store.clone(), spec));
    while let Some(chunk) = chunks.next().await {
        out.write_all(&chunk?)?;
    }
    out.flush()?;
    Ok(())
}
