//! The event log behind the agents' live stream. Every change an agent should see
//! (a handoff created, claimed, resolved; a customer text on a handoff) appends a row
//! in the same transaction as the change itself, so the stream can never announce
//! something that did not happen or miss something that did. Ids only grow, which is
//! what makes `Last-Event-ID` resume work, on any instance sharing the database.

use sqlx::any::AnyRow;
use sqlx::{Any, Row, Transaction};

use super::{Result, Store};

/// The advisory-lock key that orders event writers on PostgreSQL (any constant no other
/// code uses).
const EVENT_LOG_LOCK: i64 = 0x7465_7874_6465_736b; // "textdesk"

#[derive(Debug, Clone, serde::Serialize)]
pub struct Event {
    pub id: i64,
    pub kind: String,
    pub handoff_id: Option<i64>,
    pub conversation_id: Option<i64>,
    pub payload: serde_json::Value,
    pub created_at: i64,
}

/// An event about to be written.
pub(super) struct NewEvent<'a> {
    pub kind: &'a str,
    pub handoff_id: Option<i64>,
    pub conversation_id: Option<i64>,
    pub payload: serde_json::Value,
}

impl Store {
    pub(super) async fn append_event(
        tx: &mut Transaction<'static, Any>,
        event: NewEvent<'_>,
        now: i64,
    ) -> Result<()> {
        Self::one_event_writer_at_a_time(tx).await?;
        sqlx::query(
            "INSERT INTO events (kind, handoff_id, conversation_id, payload, created_at)
             VALUES ($1, $2, $3, $4, $5)",
        )
        .bind(event.kind)
        .bind(event.handoff_id)
        .bind(event.conversation_id)
        .bind(event.payload.to_string())
        .bind(now)
        .execute(&mut **tx)
        .await?;
        Ok(())
    }

    /// Makes event ids become visible in id order, which every reader of the log relies
    /// on (`events_after(last)` never looks back). On PostgreSQL an id is taken at insert
    /// but seen at commit: with several instances writing, id 101 could be read before
    /// 100 commits, and 100 would never be streamed (three instances behind nginx lost
    /// 9 of 60 handoffs on one agent's stream that way). So a transaction that appends an
    /// event holds a transaction-scoped advisory lock from its insert to its commit.
    /// SQLite has one writer at a time already.
    async fn one_event_writer_at_a_time(tx: &mut Transaction<'static, Any>) -> Result<()> {
        if tx.backend_name() == "PostgreSQL" {
            sqlx::query("SELECT 1 FROM pg_advisory_xact_lock($1)")
                .bind(EVENT_LOG_LOCK)
                .execute(&mut **tx)
                .await?;
        }
        Ok(())
    }

    /// Appends one event on its own (outside any other change): for producers whose
    /// change is already committed, and for tests. Returns the event's id.
    pub async fn log_event(
        &self,
        kind: &str,
        conversation_id: Option<i64>,
        payload: serde_json::Value,
        now: i64,
    ) -> Result<i64> {
        let (_writing, mut tx) = self.begin_write().await?;
        Self::one_event_writer_at_a_time(&mut tx).await?;
        let id: i64 = sqlx::query_scalar(
            "INSERT INTO events (kind, handoff_id, conversation_id, payload, created_at)
             VALUES ($1, NULL, $2, $3, $4) RETURNING id",
        )
        .bind(kind)
        .bind(conversation_id)
        .bind(payload.to_string())
        .bind(now)
        .fetch_one(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(id)
    }

    /// Events with an id above `after`, oldest first, at most `limit`.
    pub async fn events_after(&self, after: i64, limit: i64) -> Result<Vec<Event>> {
        let rows = sqlx::query(
            "SELECT id, kind, handoff_id, conversation_id, payload, created_at FROM events
             WHERE id > $1 ORDER BY id LIMIT $2",
        )
        .bind(after)
        .bind(limit)
        .fetch_all(&self.pool)
        .await?;
        Ok(rows.iter().map(event_from_row).collect())
    }

    /// The newest event id (0 when there is none): where a fresh stream starts.
    pub async fn last_event_id(&self) -> Result<i64> {
        let id: Option<i64> = sqlx::query_scalar("SELECT MAX(id) FROM events")
            .fetch_one(&self.pool)
            .await?;
        Ok(id.unwrap_or(0))
    }
}

/// An event from a row of `SELECT id, kind, handoff_id, conversation_id, payload, created_at`.
pub(super) fn event_from_row(r: &AnyRow) -> Event {
    let payload: String = r.get(4);
    Event {
        id: r.get(0),
        kind: r.get(1),
        handoff_id: r.get(2),
        conversation_id: r.get(3),
        payload: serde_json::from_str(&payload).unwrap_or(serde_json::Value::Null),
        created_at: r.get(5),
    }
}
