//! Retention and erasure: what the store forgets, and when.
//!
//! Two ways records go:
//! - **Pruning by age** ([`Store::prune`]): finished queue rows, settled webhook
//!   deliveries and old events are deleted; the words of old conversations (message
//!   bodies, notes, handoff summaries) are blanked when the operator sets a window
//!   for them. Rows are taken in small batches so a prune never holds SQLite's single
//!   writer for long.
//! - **Erasing one contact** ([`Store::erase_contact`], a data-subject request): the
//!   words they wrote and everything written about them are blanked, their name and
//!   attributes and conversation state dropped, work still queued for them canceled.
//!   The phone number, the consent and the consent ledger stay: they are the proof
//!   that an opt-out is honoured, which the business must keep.
//!
//! Rows are blanked rather than deleted where other records point at them (a message
//! is counted by analytics, named by a handoff, a survey), so counts stay true.

use serde_json::json;
use sqlx::{Any, Transaction};

use super::audit::NewAudit;
use super::events::NewEvent;
use super::{AuditAction, AuditBy, Result, Store};
use crate::sms::PhoneNumber;

/// What stands in for erased words.
pub const ERASED: &str = "[erased]";

/// Rows taken per statement while pruning.
const BATCH: i64 = 500;

/// The oldest record of each kind to keep (epoch ms); `None` keeps that kind forever.
#[derive(Debug, Clone, Copy, Default)]
pub struct RetentionCutoffs {
    /// Inbound queue rows done or set aside, outbox rows sent, failed or canceled.
    pub queue: Option<i64>,
    /// Webhook deliveries delivered or given up on.
    pub deliveries: Option<i64>,
    /// The event log (an event still owed to a webhook endpoint is kept).
    pub events: Option<i64>,
    /// The words of conversations: message bodies, notes, handoff summaries.
    pub content: Option<i64>,
}

/// How many rows one prune removed or blanked, per kind.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub struct Pruned {
    pub queue_rows: u64,
    pub deliveries: u64,
    pub events: u64,
    pub messages_blanked: u64,
}

impl Pruned {
    pub fn total(&self) -> u64 {
        self.queue_rows + self.deliveries + self.events + self.messages_blanked
    }
}

/// What erasing a contact blanked.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize, utoipa::ToSchema)]
pub struct Erased {
    pub messages: u64,
    pub notes: u64,
    pub handoffs: u64,
    pub events: u64,
    /// Texts still waiting to go to them, canceled.
    pub canceled_texts: u64,
}

impl Store {
    /// Deletes or blanks every record older than its kind's cutoff.
    pub async fn prune(&self, cutoffs: &RetentionCutoffs) -> Result<Pruned> {
        // Each kind: its cutoff, and the rows that may go (`$1` the cutoff, `$2` the batch).
        let deletions: [(Option<i64>, &str); 4] = [
            (
                cutoffs.queue,
                "DELETE FROM inbound_queue WHERE id IN (
                     SELECT id FROM inbound_queue
                     WHERE status <> 'pending' AND COALESCE(done_at, created_at) < $1 LIMIT $2)",
            ),
            (
                cutoffs.queue,
                "DELETE FROM outbox WHERE id IN (
                     SELECT id FROM outbox
                     WHERE status IN ('sent', 'failed', 'canceled') AND updated_at < $1 LIMIT $2)",
            ),
            (
                cutoffs.deliveries,
                "DELETE FROM webhook_deliveries WHERE id IN (
                     SELECT id FROM webhook_deliveries
                     WHERE status IN ('delivered', 'failed') AND updated_at < $1 LIMIT $2)",
            ),
            // Not an event a delivery still points at, nor one an endpoint's fan-out
            // has yet to read.
            (
                cutoffs.events,
                "DELETE FROM events WHERE id IN (
                     SELECT e.id FROM events e
                     WHERE e.created_at < $1
                       AND NOT EXISTS (SELECT 1 FROM webhook_deliveries d WHERE d.event_id = e.id)
                       AND NOT EXISTS (SELECT 1 FROM webhook_cursors c WHERE c.last_event_id < e.id)
                     LIMIT $2)",
            ),
        ];
        let mut deleted = [0u64; 4];
        for ((cutoff, sql), count) in deletions.iter().zip(deleted.iter_mut()) {
            if let Some(before) = cutoff {
                *count = self.in_batches(sql, *before).await?;
            }
        }
        let mut pruned = Pruned {
            queue_rows: deleted[0] + deleted[1],
            deliveries: deleted[2],
            events: deleted[3],
            messages_blanked: 0,
        };
        if let Some(before) = cutoffs.content {
            let (_writing, mut tx) = self.begin_write().await?;
            pruned.messages_blanked += sqlx::query(
                "UPDATE messages SET body = $2, media_urls = NULL, error_message = NULL
                 WHERE created_at < $1 AND body <> $2",
            )
            .bind(before)
            .bind(ERASED)
            .execute(&mut *tx)
            .await?
            .rows_affected();
            sqlx::query("UPDATE notes SET body = $2 WHERE created_at < $1 AND body <> $2")
                .bind(before)
                .bind(ERASED)
                .execute(&mut *tx)
                .await?;
            sqlx::query(
                "UPDATE handoffs SET summary = $2, reason = $2, headline = $2
                 WHERE status = 'resolved' AND updated_at < $1 AND summary <> $2",
            )
            .bind(before)
            .bind(ERASED)
            .execute(&mut *tx)
            .await?;
            tx.commit().await?;
        }
        Ok(pruned)
    }

    /// Runs a `DELETE … WHERE id IN (SELECT … LIMIT $2)` until it takes no more rows.
    async fn in_batches(&self, sql: &str, before: i64) -> Result<u64> {
        let mut total = 0;
        loop {
            // Other writers get their turn between batches.
            let writing = self.writing().await;
            let taken = sqlx::query(sql)
                .bind(before)
                .bind(BATCH)
                .execute(&self.pool)
                .await?
                .rows_affected();
            drop(writing);
            total += taken;
            if taken < BATCH as u64 {
                return Ok(total);
            }
        }
    }

    /// Erases what a contact wrote and what was written about them, keeping their
    /// number, consent and consent ledger. `None` when nobody has this number.
    /// Appends `contact.erased` (the number and who asked; no words), which outbound
    /// webhooks carry so the business's other systems can erase their copies.
    pub async fn erase_contact(
        &self,
        phone: &PhoneNumber,
        actor: &str,
        by: AuditBy,
        now: i64,
    ) -> Result<Option<Erased>> {
        let (_writing, mut tx) = self.begin_write().await?;
        // Locks the contact first, as every writer of their conversation does.
        let Some(contact_id) = sqlx::query_scalar::<_, i64>(
            "UPDATE contacts SET display_name = NULL, attributes = NULL, timezone = NULL, updated_at = $2
             WHERE phone = $1 RETURNING id",
        )
        .bind(phone.as_str())
        .bind(now)
        .fetch_optional(&mut *tx)
        .await?
        else {
            return Ok(None);
        };
        let erased = Self::erase_contact_content(&mut tx, contact_id, now).await?;
        Self::append_event(
            &mut tx,
            NewEvent {
                kind: "contact.erased",
                handoff_id: None,
                conversation_id: None,
                // The number, which the contact keeps, so receivers can erase their copies.
                payload: json!({
                    "contact_id": contact_id,
                    "phone": phone.as_str(),
                    "by": actor,
                    "erased": erased,
                }),
            },
            now,
        )
        .await?;
        Self::append_audit(
            &mut tx,
            NewAudit {
                by,
                action: AuditAction::ContactErased,
                target: format!("contact {contact_id}"),
                conversation_id: None,
                detail: json!({ "requested_by": actor, "erased": erased }),
            },
            now,
        )
        .await?;
        tx.commit().await?;
        Ok(Some(erased))
    }

    async fn erase_contact_content(
        tx: &mut Transaction<'static, Any>,
        contact_id: i64,
        now: i64,
    ) -> Result<Erased> {
        const CONVERSATIONS: &str = "SELECT id FROM conversations WHERE contact_id = $1";
        let mut erased = Erased::default();
        // Work still queued for them: nothing left to say, nothing left to answer.
        erased.canceled_texts = sqlx::query(
            "UPDATE outbox SET status = 'canceled', last_error = 'contact erased', lease_owner = NULL,
                 lease_until = NULL, updated_at = $2
             WHERE contact_id = $1 AND status = 'pending'",
        )
        .bind(contact_id)
        .bind(now)
        .execute(&mut **tx)
        .await?
        .rows_affected();
        sqlx::query(&format!(
            "UPDATE inbound_queue SET status = 'done', done_at = $2, last_error = NULL
             WHERE status = 'pending' AND conversation_id IN ({CONVERSATIONS})"
        ))
        .bind(contact_id)
        .bind(now)
        .execute(&mut **tx)
        .await?;
        erased.messages = sqlx::query(
            "UPDATE messages SET body = $2, media_urls = NULL, error_message = NULL, updated_at = $3,
                 delivery_status = CASE WHEN delivery_status = 'queued' THEN 'canceled' ELSE delivery_status END
             WHERE contact_id = $1",
        )
        .bind(contact_id)
        .bind(ERASED)
        .bind(now)
        .execute(&mut **tx)
        .await?
        .rows_affected();
        erased.notes = sqlx::query(&format!(
            "UPDATE notes SET body = $2 WHERE conversation_id IN ({CONVERSATIONS})"
        ))
        .bind(contact_id)
        .bind(ERASED)
        .execute(&mut **tx)
        .await?
        .rows_affected();
        // An agent's correction of a bot answer may quote the customer.
        sqlx::query(&format!(
            "UPDATE bot_feedback SET correction = NULL WHERE conversation_id IN ({CONVERSATIONS})"
        ))
        .bind(contact_id)
        .execute(&mut **tx)
        .await?;
        erased.handoffs = sqlx::query(
            "UPDATE handoffs SET summary = $2, reason = $2, headline = $2, updated_at = $3
             WHERE contact_id = $1",
        )
        .bind(contact_id)
        .bind(ERASED)
        .bind(now)
        .execute(&mut **tx)
        .await?
        .rows_affected();
        sqlx::query(&format!(
            "UPDATE conversations SET state = NULL, updated_at = $2 WHERE id IN ({CONVERSATIONS})"
        ))
        .bind(contact_id)
        .bind(now)
        .execute(&mut **tx)
        .await?;
        // Events and the webhook bodies fixed from them quote the texts; a delivery
        // not yet made is dropped rather than sent with erased words.
        let erased_payload = json!({ "erased": true }).to_string();
        erased.events = sqlx::query(&format!(
            "UPDATE events SET payload = $2 WHERE conversation_id IN ({CONVERSATIONS})"
        ))
        .bind(contact_id)
        .bind(&erased_payload)
        .execute(&mut **tx)
        .await?
        .rows_affected();
        sqlx::query(&format!(
            "UPDATE webhook_deliveries SET body = $2,
                 status = CASE WHEN status = 'pending' THEN 'failed' ELSE status END,
                 last_error = CASE WHEN status = 'pending' THEN 'contact erased' ELSE last_error END,
                 lease_owner = NULL, lease_until = NULL, updated_at = $3
             WHERE event_id IN (SELECT id FROM events WHERE conversation_id IN ({CONVERSATIONS}))"
        ))
        .bind(contact_id)
        .bind(&erased_payload)
        .bind(now)
        .execute(&mut **tx)
        .await?;
        Ok(erased)
    }
}
