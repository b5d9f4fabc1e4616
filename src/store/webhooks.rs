//! Outbound webhook deliveries: the event log fanned out to configured endpoints, one
//! row per (event, endpoint), leased and retried like the outbox.
//!
//! Exactly once per (event, endpoint), even with several instances: the fan-out locks
//! the endpoint's cursor row, inserts deliveries with `ON CONFLICT DO NOTHING` on the
//! unique `(event_id, endpoint)` key and advances the cursor in the same transaction.
//! What an event becomes on the wire (its public name, its JSON) is the caller's
//! business ([`crate::integrations`]); this file only stores and leases.

use serde::Serialize;
use sqlx::Row;

use super::audit::NewAudit;
use super::events::event_from_row;
use super::{AuditAction, AuditBy, Event, Result, Store, StoreError};

/// The contact an event is about, when it names one.
#[derive(Debug, Clone, Serialize)]
pub struct EventContact {
    pub id: i64,
    pub phone: String,
}

/// A delivery claimed for one attempt.
#[derive(Debug, Clone)]
pub struct ClaimedDelivery {
    pub id: i64,
    pub event_id: i64,
    pub endpoint: String,
    pub event_type: String,
    pub body: String,
    /// This attempt's number, from 1.
    pub attempts: i64,
    pub lease_owner: String,
}

/// How one attempt ended.
#[derive(Debug, Clone)]
pub enum DeliveryOutcome {
    Delivered {
        status_code: u16,
    },
    RetryAt {
        at: i64,
        status_code: Option<u16>,
        error: String,
    },
    Failed {
        status_code: Option<u16>,
        error: String,
    },
}

/// A delivery as operators see it.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct DeliveryView {
    pub id: i64,
    pub event_id: i64,
    /// Public event name, e.g. `conversation.escalated`.
    pub event_type: String,
    /// pending | delivered | failed
    pub status: String,
    pub attempts: i64,
    pub next_attempt_at: i64,
    pub last_status_code: Option<i64>,
    pub last_error: Option<String>,
    pub created_at: i64,
    pub delivered_at: Option<i64>,
}

/// Deliveries per status for one endpoint, and its most recent ones.
#[derive(Debug, Clone, Default, Serialize, utoipa::ToSchema)]
pub struct EndpointDeliveries {
    pub pending: i64,
    pub delivered: i64,
    pub failed: i64,
    pub recent: Vec<DeliveryView>,
}

impl Store {
    /// Starts an endpoint's cursor (once; later calls change nothing) after the events
    /// written before `before` (event-log time): an endpoint added to a running
    /// installation hears about what happens from now on, not the whole history.
    pub async fn start_webhook_cursor(&self, endpoint: &str, before: i64, now: i64) -> Result<()> {
        let _writing = self.writing().await;
        sqlx::query(
            "INSERT INTO webhook_cursors (endpoint, last_event_id, updated_at)
             VALUES ($1, (SELECT COALESCE(MAX(id), 0) FROM events WHERE created_at < $2), $3)
             ON CONFLICT (endpoint) DO NOTHING",
        )
        .bind(endpoint)
        .bind(before)
        .bind(now)
        .execute(&self.writes)
        .await?;
        Ok(())
    }

    /// Reads up to `limit` events past the endpoint's cursor and queues a delivery for
    /// each one `select` gives a public type, with the body `render` writes. The cursor only moves past
    /// events written before `settled_before`: on PostgreSQL an id can become visible
    /// after a higher one (transactions commit out of order), so the newest events are
    /// read again on the next pass (the unique key makes that harmless) until no
    /// earlier id can still appear. Returns the number of deliveries queued.
    pub async fn fan_out_webhooks(
        &self,
        endpoint: &str,
        settled_before: i64,
        limit: i64,
        now: i64,
        select: impl Fn(&Event) -> Option<String>,
        render: impl Fn(&Event, &str, Option<&EventContact>, &[String]) -> String,
    ) -> Result<u64> {
        let (_writing, mut tx) = self.begin_write().await?;
        // The write first: it locks the cursor row (serialising instances) and reads it.
        let Some(cursor): Option<i64> = sqlx::query_scalar(
            "UPDATE webhook_cursors SET updated_at = $2 WHERE endpoint = $1 RETURNING last_event_id",
        )
        .bind(endpoint)
        .bind(now)
        .fetch_optional(&mut *tx)
        .await?
        else {
            tx.rollback().await?;
            return Ok(0);
        };
        let rows = sqlx::query(
            "SELECT id, kind, handoff_id, conversation_id, payload, created_at FROM events
             WHERE id > $1 ORDER BY id LIMIT $2",
        )
        .bind(cursor)
        .bind(limit)
        .fetch_all(&mut *tx)
        .await?;
        let mut queued = 0;
        let mut advance_to = cursor;
        let mut settled = true;
        for event in rows.iter().map(event_from_row) {
            settled = settled && event.created_at < settled_before;
            if settled {
                advance_to = event.id;
            }
            let Some(event_type) = select(&event) else {
                continue;
            };
            let contact = Self::event_contact(&mut tx, &event).await?;
            // The conversation's labels as they are now (the receiver files by them).
            let labels = match event.conversation_id {
                Some(id) => Self::labels_in(&mut tx, id).await?,
                None => Vec::new(),
            };
            let body = render(&event, &event_type, contact.as_ref(), &labels);
            let inserted = sqlx::query(
                "INSERT INTO webhook_deliveries (event_id, endpoint, event_type, body, status,
                     attempts, next_attempt_at, created_at, updated_at)
                 VALUES ($1, $2, $3, $4, 'pending', 0, $5, $5, $5)
                 ON CONFLICT (event_id, endpoint) DO NOTHING",
            )
            .bind(event.id)
            .bind(endpoint)
            .bind(&event_type)
            .bind(&body)
            .bind(now)
            .execute(&mut *tx)
            .await?;
            queued += inserted.rows_affected();
        }
        if advance_to != cursor {
            sqlx::query("UPDATE webhook_cursors SET last_event_id = $2 WHERE endpoint = $1")
                .bind(endpoint)
                .bind(advance_to)
                .execute(&mut *tx)
                .await?;
        }
        tx.commit().await?;
        Ok(queued)
    }

    /// The contact an event is about: `payload.contact_id`, else its conversation's.
    async fn event_contact(
        tx: &mut sqlx::Transaction<'static, sqlx::Any>,
        event: &Event,
    ) -> Result<Option<EventContact>> {
        let row = if let Some(id) = event.payload.get("contact_id").and_then(|v| v.as_i64()) {
            sqlx::query("SELECT id, phone FROM contacts WHERE id = $1")
                .bind(id)
                .fetch_optional(&mut **tx)
                .await?
        } else if let Some(conversation_id) = event.conversation_id {
            sqlx::query(
                "SELECT c.id, c.phone FROM conversations v JOIN contacts c ON c.id = v.contact_id
                 WHERE v.id = $1",
            )
            .bind(conversation_id)
            .fetch_optional(&mut **tx)
            .await?
        } else {
            None
        };
        Ok(row.map(|r| EventContact {
            id: r.get(0),
            phone: r.get(1),
        }))
    }

    /// Claims the next due delivery for `endpoint`, leased to `owner` until
    /// `now + lease_ms` (a crashed deliverer's row is retried after that).
    pub async fn claim_webhook_delivery(
        &self,
        endpoint: &str,
        owner: &str,
        now: i64,
        lease_ms: i64,
    ) -> Result<Option<ClaimedDelivery>> {
        let _writing = self.writing().await;
        let sql = format!(
            "UPDATE webhook_deliveries
                SET lease_owner = $1, lease_until = $2, attempts = attempts + 1, updated_at = $3
             WHERE id = (
                 SELECT id FROM webhook_deliveries
                 WHERE endpoint = $4 AND status = 'pending' AND next_attempt_at <= $3
                   AND (lease_until IS NULL OR lease_until < $3)
                 ORDER BY next_attempt_at, id LIMIT 1{skip})
               AND status = 'pending' AND (lease_until IS NULL OR lease_until < $3)
             RETURNING id, event_id, endpoint, event_type, body, attempts",
            skip = self.skip_locked()
        );
        let row = sqlx::query(&sql)
            .bind(owner)
            .bind(now + lease_ms)
            .bind(now)
            .bind(endpoint)
            .fetch_optional(&self.writes)
            .await?;
        Ok(row.map(|r| ClaimedDelivery {
            id: r.get(0),
            event_id: r.get(1),
            endpoint: r.get(2),
            event_type: r.get(3),
            body: r.get(4),
            attempts: r.get(5),
            lease_owner: owner.to_string(),
        }))
    }

    /// Records how an attempt ended. `LeaseLost` if another deliverer took the row over
    /// meanwhile (our lease expired); its result then stands.
    pub async fn finish_webhook_delivery(
        &self,
        claim: &ClaimedDelivery,
        outcome: &DeliveryOutcome,
        now: i64,
    ) -> Result<()> {
        let _writing = self.writing().await;
        let (status, next_at, code, error, delivered_at) = match outcome {
            DeliveryOutcome::Delivered { status_code } => {
                ("delivered", None, Some(*status_code), None, Some(now))
            }
            DeliveryOutcome::RetryAt {
                at,
                status_code,
                error,
            } => (
                "pending",
                Some(*at),
                *status_code,
                Some(error.as_str()),
                None,
            ),
            DeliveryOutcome::Failed { status_code, error } => {
                ("failed", None, *status_code, Some(error.as_str()), None)
            }
        };
        let updated = sqlx::query(
            "UPDATE webhook_deliveries
                SET status = $3, next_attempt_at = COALESCE($4, next_attempt_at),
                    last_status_code = COALESCE($5, last_status_code),
                    last_error = COALESCE($6, last_error), delivered_at = $7,
                    lease_owner = NULL, lease_until = NULL, updated_at = $8
             WHERE id = $1 AND lease_owner = $2",
        )
        .bind(claim.id)
        .bind(&claim.lease_owner)
        .bind(status)
        .bind(next_at)
        .bind(code.map(i64::from))
        .bind(error)
        .bind(delivered_at)
        .bind(now)
        .execute(&self.writes)
        .await?;
        if updated.rows_affected() != 1 {
            return Err(super::StoreError::LeaseLost(claim.id));
        }
        Ok(())
    }

    /// Counts per status and the `recent` newest deliveries of one endpoint.
    pub async fn webhook_deliveries(
        &self,
        endpoint: &str,
        recent: i64,
    ) -> Result<EndpointDeliveries> {
        let mut out = EndpointDeliveries::default();
        let counts = sqlx::query(
            "SELECT status, COUNT(*) FROM webhook_deliveries WHERE endpoint = $1 GROUP BY status",
        )
        .bind(endpoint)
        .fetch_all(&self.pool)
        .await?;
        for row in counts {
            let status: String = row.get(0);
            let count: i64 = row.get(1);
            match status.as_str() {
                "pending" => out.pending = count,
                "delivered" => out.delivered = count,
                "failed" => out.failed = count,
                _ => {}
            }
        }
        let rows = sqlx::query(&format!(
            "{DELIVERY} WHERE endpoint = $1 ORDER BY id DESC LIMIT $2"
        ))
        .bind(endpoint)
        .bind(recent)
        .fetch_all(&self.pool)
        .await?;
        out.recent = rows.iter().map(delivery_from_row).collect();
        Ok(out)
    }

    /// Sends a finished delivery again, now, with a fresh set of attempts: a failed
    /// one once the receiver is fixed, or a delivered one the receiver lost. It keeps
    /// its id, so `X-Textdesk-Delivery` is the same as before. `None` when there is
    /// no such delivery; a conflict while it is still pending.
    pub async fn redeliver_webhook(
        &self,
        id: i64,
        by: AuditBy,
        now: i64,
    ) -> Result<Option<(String, DeliveryView)>> {
        let (writing, mut tx) = self.begin_write().await?;
        let requeued = sqlx::query(
            "UPDATE webhook_deliveries
                SET status = 'pending', attempts = 0, next_attempt_at = $2, delivered_at = NULL,
                    lease_owner = NULL, lease_until = NULL, updated_at = $2
             WHERE id = $1 AND status <> 'pending'",
        )
        .bind(id)
        .bind(now)
        .execute(&mut *tx)
        .await?;
        if requeued.rows_affected() == 1 {
            Self::append_audit(
                &mut tx,
                NewAudit {
                    by,
                    action: AuditAction::WebhookRedelivered,
                    target: format!("delivery {id}"),
                    conversation_id: None,
                    detail: serde_json::json!({ "delivery_id": id }),
                },
                now,
            )
            .await?;
        }
        tx.commit().await?;
        drop(writing);
        let current = self.webhook_delivery(id).await?;
        if requeued.rows_affected() == 0 && current.is_some() {
            return Err(StoreError::Conflict(format!(
                "delivery {id} is already queued; it goes out at its next attempt"
            )));
        }
        Ok(current)
    }

    /// One delivery and its endpoint's URL.
    pub async fn webhook_delivery(&self, id: i64) -> Result<Option<(String, DeliveryView)>> {
        let row = sqlx::query(&format!("{DELIVERY} WHERE id = $1"))
            .bind(id)
            .fetch_optional(&self.pool)
            .await?;
        Ok(row.map(|r| (r.get(10), delivery_from_row(&r))))
    }
}

const DELIVERY: &str = "SELECT id, event_id, event_type, status, attempts, next_attempt_at,
        last_status_code, last_error, created_at, delivered_at, endpoint
    FROM webhook_deliveries";

fn delivery_from_row(r: &sqlx::any::AnyRow) -> DeliveryView {
    DeliveryView {
        id: r.get(0),
        event_id: r.get(1),
        event_type: r.get(2),
        status: r.get(3),
        attempts: r.get(4),
        next_attempt_at: r.get(5),
        last_status_code: r.get(6),
        last_error: r.get(7),
        created_at: r.get(8),
        delivered_at: r.get(9),
    }
}
