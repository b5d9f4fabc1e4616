//! The event log behind the agents' live stream. Every change an agent should see
//! (a handoff created, claimed, resolved; a customer text on a handoff) appends a row
//! in the same transaction as the change itself, so the stream can never announce
//! something that did not happen or miss something that did. Ids only grow, which is
//! what makes `Last-Event-ID` resume work, on any instance sharing the database.

use sqlx::any::AnyRow;
use sqlx::{Any, Row, Transaction};

use super::{Result, Store};

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

    /// Appends one event on its own (outside any other change): for producers whose
    /// change is already committed, and for tests. Returns the event's id.
    pub async fn log_event(
        &self,
        kind: &str,
        conversation_id: Option<i64>,
        payload: serde_json::Value,
        now: i64,
    ) -> Result<i64> {
        let id: i64 = sqlx::query_scalar(
            "INSERT INTO events (kind, handoff_id, conversation_id, payload, created_at)
             VALUES ($1, NULL, $2, $3, $4) RETURNING id",
        )
        .bind(kind)
        .bind(conversation_id)
        .bind(payload.to_string())
        .bind(now)
        .fetch_one(&self.pool)
        .await?;
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
