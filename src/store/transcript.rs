//! Reading a contact's messages back, for `textdesk transcript` and the chat CLI.

use std::str::FromStr;

use sqlx::Row;

use super::{Author, Direction, Result, Store, TranscriptEntry};
use crate::clock::format_ms;

impl Store {
    /// Every message of the contact with this phone number, oldest first; messages
    /// after `after_id` only, when given.
    pub async fn transcript(
        &self,
        phone: &str,
        after_id: Option<i64>,
    ) -> Result<Vec<TranscriptEntry>> {
        let rows = sqlx::query(
            "SELECT m.id, m.conversation_id, m.created_at, m.direction, m.author, m.body, m.encoding,
                    m.segments, m.delivery_status, m.error_code, m.media_urls
             FROM messages m JOIN contacts c ON c.id = m.contact_id
             WHERE c.phone = $1 AND m.id > $2
             ORDER BY m.id",
        )
        .bind(phone)
        .bind(after_id.unwrap_or(0))
        .fetch_all(&self.pool)
        .await?;
        Ok(rows
            .into_iter()
            .map(|r| {
                let direction: String = r.get(3);
                let author: String = r.get(4);
                let media: Option<String> = r.get(10);
                TranscriptEntry {
                    id: r.get(0),
                    conversation_id: r.get(1),
                    time: format_ms(r.get(2)),
                    direction: Direction::from_stored(&direction),
                    author: Author::parse(&author).unwrap_or(Author::System),
                    body: r.get(5),
                    encoding: r.get(6),
                    segments: r.get(7),
                    delivery_status: r.get(8),
                    error_code: r.get(9),
                    media_urls: media
                        .and_then(|m| serde_json::from_str(&m).ok())
                        .unwrap_or_default(),
                }
            })
            .collect())
    }

    /// Whether the inbound message with this id has been processed (its queue row is
    /// no longer pending).
    pub async fn inbound_processed(&self, message_id: i64) -> Result<bool> {
        let status: Option<String> =
            sqlx::query_scalar("SELECT status FROM inbound_queue WHERE message_id = $1")
                .bind(message_id)
                .fetch_optional(&self.pool)
                .await?;
        Ok(status.is_some_and(|s| s != "pending"))
    }

    /// Whether outbound texts of this contact are still waiting to leave.
    pub async fn has_pending_outbound(&self, phone: &str) -> Result<bool> {
        let n: i64 = sqlx::query_scalar(
            "SELECT COUNT(*) FROM outbox o JOIN contacts c ON c.id = o.contact_id
             WHERE c.phone = $1 AND o.status = 'pending'",
        )
        .bind(phone)
        .fetch_one(&self.pool)
        .await?;
        Ok(n > 0)
    }
}

impl Store {
    /// The intent the brain recorded for an inbound message, if any.
    pub async fn understood_intent(&self, message_id: i64) -> Result<Option<String>> {
        Ok(
            sqlx::query_scalar("SELECT intent FROM messages WHERE id = $1")
                .bind(message_id)
                .fetch_optional(&self.pool)
                .await?
                .flatten(),
        )
    }
}

impl Store {
    /// What the engine would know about this contact if they texted now: consent,
    /// recent messages (oldest first) and the open conversation's state. For previews.
    pub async fn preview_context(
        &self,
        phone: &str,
    ) -> Result<(
        Option<super::Consent>,
        Vec<super::HistoryEntry>,
        Option<String>,
    )> {
        let Some(contact) = self.consent_by_phone(phone).await? else {
            return Ok((None, Vec::new(), None));
        };
        let state: Option<String> = sqlx::query_scalar(
            "SELECT state FROM conversations WHERE contact_id = $1 AND status <> 'resolved' ORDER BY id DESC LIMIT 1",
        )
        .bind(contact.contact_id)
        .fetch_optional(&self.pool)
        .await?
        .flatten();
        let entries = self.transcript(phone, None).await?;
        let start = entries.len().saturating_sub(30);
        let history = entries[start..]
            .iter()
            .map(|e| super::HistoryEntry {
                message_id: e.id,
                direction: e.direction,
                author: e.author,
                body: e.body.clone(),
                intent: None,
                created_at: jiff::Timestamp::from_str(&e.time)
                    .map(|t| t.as_millisecond())
                    .unwrap_or(0),
            })
            .collect();
        Ok((Some(contact.consent), history, state))
    }
}
