//! Exports: every message, or every conversation, of a period, as CSV or JSON lines,
//! produced one page of rows at a time: the API streams them as they are read and
//! `textdesk export` writes them to stdout, so memory stays flat whatever the size.

use futures_util::Stream;

use crate::store::{Store, StoreError};

/// Rows per database read.
const PAGE: i64 = 500;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExportFormat {
    Csv,
    JsonLines,
}

impl ExportFormat {
    pub fn parse(name: &str) -> Option<Self> {
        match name {
            "csv" => Some(Self::Csv),
            "jsonl" => Some(Self::JsonLines),
            _ => None,
        }
    }

    pub fn content_type(self) -> &'static str {
        match self {
            Self::Csv => "text/csv; charset=utf-8",
            Self::JsonLines => "application/jsonl; charset=utf-8",
        }
    }
}

/// One row per message, or one per conversation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExportRows {
    Messages,
    Conversations,
}

impl ExportRows {
    pub fn parse(name: &str) -> Option<Self> {
        match name {
            "message" => Some(Self::Messages),
            "conversation" => Some(Self::Conversations),
            _ => None,
        }
    }
}

/// What to export: rows created (messages) or started (conversations) in `[from, to)`.
#[derive(Debug, Clone, Copy)]
pub struct ExportSpec {
    pub format: ExportFormat,
    pub rows: ExportRows,
    pub from: i64,
    pub to: i64,
}

struct Cursor {
    store: Store,
    spec: ExportSpec,
    after: i64,
    first: bool,
    done: bool,
}

/// The export as chunks of bytes, one per page read; an error ends it.
pub fn stream(
    store: Store,
    spec: ExportSpec,
) -> impl Stream<Item = Result<Vec<u8>, StoreError>> + Send + 'static {
    let cursor = Cursor {
        store,
        spec,
        after: 0,
        first: true,
        done: false,
    };
    futures_util::stream::unfold(cursor, |mut cursor| async move {
        if cursor.done {
            return None;
        }
        let chunk = next_page(&mut cursor).await;
        if chunk.is_err() {
            cursor.done = true;
        }
        match chunk {
            Ok(None) => None,
            Ok(Some(bytes)) => Some((Ok(bytes), cursor)),
            Err(e) => Some((Err(e), cursor)),
        }
    })
}

/// The next page encoded, `None` after the last. A CSV export with no rows is still
/// its header line.
async fn next_page(cursor: &mut Cursor) -> Result<Option<Vec<u8>>, StoreError> {
    let ExportSpec { from, to, rows, .. } = cursor.spec;
    let (bytes, last_id) = match rows {
        ExportRows::Messages => {
            let page = cursor
                .store
                .export_messages_page(from, to, cursor.after, PAGE)
                .await?;
            (encode(cursor, &page)?, page.last().map(|m| m.id))
        }
        ExportRows::Conversations => {
            let page = cursor
                .store
                .export_conversations_page(from, to, cursor.after, PAGE)
                .await?;
            (encode(cursor, &page)?, page.last().map(|c| c.id))
        }
    };
    let first = std::mem::replace(&mut cursor.first, false);
    match last_id {
        Some(id) => {
            cursor.after = id;
            Ok(Some(bytes))
        }
        None => {
            cursor.done = true;
            Ok((first && !bytes.is_empty()).then_some(bytes))
        }
    }
}

fn encode<T: serde::Serialize>(cursor: &Cursor, rows: &[T]) -> Result<Vec<u8>, StoreError> {
    let corrupt = |e: &dyn std::fmt::Display| StoreError::Corrupt(format!("export: {e}"));
    let mut out = Vec::new();
    match cursor.spec.format {
        ExportFormat::JsonLines => {
            for row in rows {
                serde_json::to_writer(&mut out, row).map_err(|e| corrupt(&e))?;
                out.push(b'\n');
            }
        }
        ExportFormat::Csv => {
            let mut writer = csv::WriterBuilder::new()
                .has_headers(cursor.first)
                .from_writer(&mut out);
            if cursor.first && rows.is_empty() {
                writer
                    .write_record(header(cursor.spec.rows))
                    .map_err(|e| corrupt(&e))?;
            }
            for row in rows {
                writer.serialize(row).map_err(|e| corrupt(&e))?;
            }
            writer.flush().map_err(|e| corrupt(&e))?;
        }
    }
    Ok(out)
}

/// The CSV header, for an export with no rows (serde writes it with the first row).
fn header(rows: ExportRows) -> &'static [&'static str] {
    match rows {
        ExportRows::Messages => &[
            "id",
            "conversation_id",
            "phone",
            "direction",
            "author",
            "agent",
            "body",
            "intent",
            "encoding",
            "segments",
            "delivery_status",
            "created_at",
        ],
        ExportRows::Conversations => &[
            "id",
            "phone",
            "status",
            "created_at",
            "resolved_at",
            "messages",
            "handoffs",
            "labels",
        ],
    }
}
