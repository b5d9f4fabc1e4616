//! The outbox: outbound texts waiting for (or retrying) delivery through a provider,
//! and delivery-status updates from the provider's callbacks.

use std::collections::HashSet;

use serde_json::json;
use sqlx::any::AnyRow;
use sqlx::{Any, Row, Transaction};

use super::events::NewEvent;
use super::sql::value_rows;
use super::{ClaimedOutbound, Consent, NewOutbound, OutboundKind, Result, Store, StoreError};
use crate::sms::PhoneNumber;

/// How a delivery attempt ended, as the outbox records it.
#[derive(Debug, Clone)]
pub enum DeliveryResult {
    Sent {
        provider_message_id: String,
    },
    /// The provider said no for now (429, 5xx, no connection): the text did not go.
    RetryAt {
        at: i64,
        error: String,
    },
    /// The provider may have taken the text (it did not answer in time): asked again
    /// at `at` before any resend.
    Uncertain {
        at: i64,
        error: String,
    },
    Failed {
        code: Option<i64>,
        error: String,
    },
    /// Not sent because the contact opted out after the text was queued.
    Canceled,
}

/// Where an outbound text was written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct QueuedOutbound {
    pub message_id: i64,
    pub outbox_id: i64,
    /// When it goes: now, or later for a business-started text outside the contact's
    /// sending hours.
    pub send_at: i64,
}

impl Store {
    /// Writes an outbound message and its outbox row inside the caller's transaction;
    /// the dispatcher sends it. `agent_id` names the agent who wrote it, if one did.
    pub(super) async fn queue_outbound(
        tx: &mut Transaction<'static, Any>,
        conversation_id: i64,
        contact_id: i64,
        reply: &NewOutbound,
        agent_id: Option<i64>,
        now: i64,
    ) -> Result<QueuedOutbound> {
        Self::queue_outbound_at(tx, conversation_id, contact_id, reply, agent_id, now, now).await
    }

    /// [`Self::queue_outbound`], sent no earlier than `send_at`. A text scheduled for
    /// later does not hold back the contact's texts queued after it (replies to what
    /// they write meanwhile).
    #[allow(clippy::too_many_arguments)]
    pub(super) async fn queue_outbound_at(
        tx: &mut Transaction<'static, Any>,
        conversation_id: i64,
        contact_id: i64,
        reply: &NewOutbound,
        agent_id: Option<i64>,
        now: i64,
        send_at: i64,
    ) -> Result<QueuedOutbound> {
        let message_id: i64 = sqlx::query_scalar(
            "INSERT INTO messages (conversation_id, contact_id, direction, author, body, encoding,
                 segments, units, delivery_status, agent_id, created_at, updated_at)
             VALUES ($1, $2, 'outbound', $3, $4, $5, $6, $7, 'queued', $8, $9, $9)
             RETURNING id",
        )
        .bind(conversation_id)
        .bind(contact_id)
        .bind(reply.author.as_str())
        .bind(&reply.body)
        .bind(reply.encoding)
        .bind(i64::from(reply.segments))
        .bind(i64::from(reply.units))
        .bind(agent_id)
        .bind(now)
        .fetch_one(&mut **tx)
        .await?;
        let outbox_id: i64 = sqlx::query_scalar(
            "INSERT INTO outbox (message_id, contact_id, kind, status, next_attempt_at, created_at, updated_at)
             VALUES ($1, $2, $3, 'pending', $5, $4, $4) RETURNING id",
        )
        .bind(message_id)
        .bind(contact_id)
        .bind(reply.kind.as_str())
        .bind(now)
        .bind(send_at.max(now))
        .fetch_one(&mut **tx)
        .await?;
        Ok(QueuedOutbound {
            message_id,
            outbox_id,
            send_at: send_at.max(now),
        })
    }

    /// Claims up to `limit` due outbox rows, one per contact. Per contact, only the
    /// oldest unsent row is claimable, so texts arrive in the order they were written
    /// (a text scheduled for later and not yet tried is not in that line), and the
    /// rows of one claim can be sent at the same time.
    pub async fn claim_due_outbound(
        &self,
        owner: &str,
        now: i64,
        lease_ms: i64,
        limit: usize,
    ) -> Result<Vec<ClaimedOutbound>> {
        let writing = self.writing().await;
        // Picked once, in a materialised CTE: as a `WHERE id IN (SELECT … LIMIT n)`
        // subquery PostgreSQL claimed more than n rows (see `claim_inbound`).
        let sql = format!(
            "WITH picked AS MATERIALIZED (
                 SELECT o.id FROM outbox o
                 WHERE o.status = 'pending' AND o.next_attempt_at <= $3
                   AND (o.lease_until IS NULL OR o.lease_until < $3)
                   AND NOT EXISTS (
                       SELECT 1 FROM outbox e
                       WHERE e.contact_id = o.contact_id AND e.status = 'pending' AND e.id < o.id
                         AND NOT (e.attempts = 0 AND e.next_attempt_at > $3))
                 ORDER BY o.next_attempt_at, o.id LIMIT $4{skip})
             UPDATE outbox SET lease_owner = $1, lease_until = $2, attempts = attempts + 1, updated_at = $3,
                 in_flight_since = COALESCE(in_flight_since, $3)
             WHERE id IN (SELECT id FROM picked)
               AND status = 'pending' AND (lease_until IS NULL OR lease_until < $3)
             RETURNING id, message_id, contact_id, kind, attempts, in_flight_since,
                 (SELECT body FROM messages WHERE id = outbox.message_id),
                 (SELECT phone FROM contacts WHERE id = outbox.contact_id),
                 (SELECT consent FROM contacts WHERE id = outbox.contact_id)",
            skip = self.skip_locked()
        );
        let rows = sqlx::query(&sql)
            .bind(owner)
            .bind(now + lease_ms)
            .bind(now)
            .bind(limit as i64)
            .fetch_all(&self.pool)
            .await?;
        drop(writing);
        let mut claims = rows
            .iter()
            .map(|row| claimed_outbound(owner, now, row))
            .collect::<Result<Vec<_>>>()?;
        // RETURNING gives no order: the oldest first, as they were chosen.
        claims.sort_by_key(|c| c.outbox_id);
        Ok(claims)
    }

    /// Records how a delivery attempt ended, on the outbox row and on the message.
    pub async fn finish_outbound(
        &self,
        claim: &ClaimedOutbound,
        result: &DeliveryResult,
        now: i64,
    ) -> Result<()> {
        let (_writing, mut tx) = self.begin_write().await?;
        if !Self::record_delivery(&mut tx, claim, result, now).await? {
            tx.rollback().await?;
            return Err(StoreError::LeaseLost(claim.outbox_id));
        }
        tx.commit().await?;
        Ok(())
    }

    /// [`Self::finish_outbound`] for the texts of one claim, in one transaction (one
    /// turn at SQLite's writer for all of them). A row whose lease was lost meanwhile
    /// is left to its new owner and named in the answer; the others are recorded.
    pub async fn finish_outbound_all(
        &self,
        results: &[(ClaimedOutbound, DeliveryResult)],
        now: i64,
    ) -> Result<Vec<i64>> {
        let (_writing, mut tx) = self.begin_write().await?;
        // Nearly every result is a text sent: those are recorded with two multi-row
        // statements (on SQLite each statement is a hand-off to the connection's
        // thread and back, under the one write lock); the rest one by one.
        let mut sent = Vec::with_capacity(results.len());
        let mut others = Vec::new();
        for (claim, result) in results {
            match result {
                DeliveryResult::Sent {
                    provider_message_id,
                } => sent.push((claim, provider_message_id.as_str())),
                _ => others.push((claim, result)),
            }
        }
        let mut lost = Self::record_sent(&mut tx, &sent, now).await?;
        for (claim, result) in others {
            if !Self::record_delivery(&mut tx, claim, result, now).await? {
                lost.push(claim.outbox_id);
            }
        }
        tx.commit().await?;
        lost.sort_unstable();
        Ok(lost)
    }

    /// Records texts the provider took, as [`Self::record_delivery`] does one; the
    /// outbox ids whose lease was no longer the claim's (nothing written for them).
    async fn record_sent(
        tx: &mut Transaction<'static, Any>,
        sent: &[(&ClaimedOutbound, &str)],
        now: i64,
    ) -> Result<Vec<i64>> {
        if sent.is_empty() {
            return Ok(Vec::new());
        }
        let sql = format!(
            "UPDATE outbox SET status = 'sent', last_error = NULL, lease_owner = NULL,
                 lease_until = NULL, updated_at = b.column3, in_flight_since = NULL
             FROM (VALUES {}) AS b
             WHERE outbox.id = b.column1 AND outbox.lease_owner = b.column2
             RETURNING outbox.id",
            value_rows(sent.len(), "?, ?, ?")
        );
        let mut update = sqlx::query(&sql);
        for (claim, _) in sent {
            update = update
                .bind(claim.outbox_id)
                .bind(&claim.lease_owner)
                .bind(now);
        }
        let recorded: HashSet<i64> = update
            .fetch_all(&mut **tx)
            .await?
            .iter()
            .map(|row| row.get::<i64, _>(0))
            .collect();
        let (ours, lost): (Vec<_>, Vec<_>) = sent
            .iter()
            .partition(|(claim, _)| recorded.contains(&claim.outbox_id));
        if !ours.is_empty() {
            let sql = format!(
                "UPDATE messages SET provider_message_id = b.column2, delivery_status = 'sent',
                     updated_at = b.column3
                 FROM (VALUES {}) AS b WHERE messages.id = b.column1",
                value_rows(ours.len(), "?, ?, ?")
            );
            let mut update = sqlx::query(&sql);
            for (claim, provider_message_id) in ours {
                update = update
                    .bind(claim.message_id)
                    .bind(provider_message_id)
                    .bind(now);
            }
            update.execute(&mut **tx).await?;
        }
        Ok(lost.into_iter().map(|(claim, _)| claim.outbox_id).collect())
    }

    /// Writes one attempt's result; false (and nothing written) when the lease on the
    /// row is no longer the claim's.
    async fn record_delivery(
        tx: &mut Transaction<'static, Any>,
        claim: &ClaimedOutbound,
        result: &DeliveryResult,
        now: i64,
    ) -> Result<bool> {
        let (status, next_at, error) = match result {
            DeliveryResult::Sent { .. } => ("sent", None, None),
            DeliveryResult::RetryAt { at, error } | DeliveryResult::Uncertain { at, error } => {
                ("pending", Some(*at), Some(error.as_str()))
            }
            DeliveryResult::Failed { error, .. } => ("failed", None, Some(error.as_str())),
            DeliveryResult::Canceled => {
                ("canceled", None, Some("contact opted out before sending"))
            }
        };
        // Only an uncertain outcome stays in flight; every other one is settled.
        let settled = !matches!(result, DeliveryResult::Uncertain { .. });
        let updated = sqlx::query(
            "UPDATE outbox SET status = $3, next_attempt_at = COALESCE($4, next_attempt_at), last_error = $5,
                 lease_owner = NULL, lease_until = NULL, updated_at = $6,
                 in_flight_since = CASE WHEN $7 THEN NULL ELSE in_flight_since END
             WHERE id = $1 AND lease_owner = $2",
        )
        .bind(claim.outbox_id)
        .bind(&claim.lease_owner)
        .bind(status)
        .bind(next_at)
        .bind(error)
        .bind(now)
        .bind(settled)
        .execute(&mut **tx)
        .await?;
        if updated.rows_affected() != 1 {
            return Ok(false);
        }
        match result {
            DeliveryResult::Sent {
                provider_message_id,
            } => {
                sqlx::query(
                    "UPDATE messages SET provider_message_id = $2, delivery_status = 'sent', updated_at = $3 WHERE id = $1",
                )
                .bind(claim.message_id)
                .bind(provider_message_id)
                .bind(now)
                .execute(&mut **tx)
                .await?;
            }
            DeliveryResult::RetryAt { .. } | DeliveryResult::Uncertain { .. } => {}
            DeliveryResult::Failed { code, error } => {
                let conversation_id: i64 = sqlx::query_scalar(
                    "UPDATE messages SET delivery_status = 'failed', error_code = $2, error_message = $3, updated_at = $4
                     WHERE id = $1 RETURNING conversation_id",
                )
                .bind(claim.message_id)
                .bind(*code)
                .bind(error)
                .bind(now)
                .fetch_one(&mut **tx)
                .await?;
                Self::append_delivery_failed(
                    tx,
                    conversation_id,
                    json!({
                        "message_id": claim.message_id,
                        "contact_id": claim.contact_id,
                        "status": "failed",
                        "error_code": code,
                        "error": error,
                        "attempts": claim.attempts,
                    }),
                    now,
                )
                .await?;
            }
            DeliveryResult::Canceled => {
                sqlx::query("UPDATE messages SET delivery_status = 'canceled', updated_at = $2 WHERE id = $1")
                    .bind(claim.message_id)
                    .bind(now)
                    .execute(&mut **tx)
                    .await?;
            }
        }
        Ok(true)
    }

    /// Whether a provider message id is already recorded on a message: when asking
    /// the provider what became of an uncertain send, a match that is another
    /// message's (the same words sent earlier) is not this one.
    pub async fn provider_message_recorded(&self, provider_message_id: &str) -> Result<bool> {
        Ok(
            sqlx::query_scalar::<_, i64>("SELECT id FROM messages WHERE provider_message_id = $1")
                .bind(provider_message_id)
                .fetch_optional(&self.pool)
                .await?
                .is_some(),
        )
    }

    /// Applies a provider's delivery-status callback. `rank_of` orders statuses so a
    /// late "sent" never overwrites "delivered". Returns false if no message has this id.
    /// The carrier reporting a text `failed` or `undelivered` appends
    /// `message.delivery_failed` to the event log, once per message.
    pub async fn update_delivery_status(
        &self,
        provider_message_id: &str,
        status: &str,
        rank_of: impl Fn(&str) -> u8,
        error_code: Option<i64>,
        now: i64,
    ) -> Result<bool> {
        let Some(row) = sqlx::query(
            "SELECT id, delivery_status, conversation_id, contact_id FROM messages WHERE provider_message_id = $1",
        )
        .bind(provider_message_id)
        .fetch_optional(&self.pool)
        .await?
        else {
            return Ok(false);
        };
        let id: i64 = row.get(0);
        let current: String = row.get(1);
        let conversation_id: i64 = row.get(2);
        let contact_id: i64 = row.get(3);
        if rank_of(&current) > rank_of(status) {
            return Ok(true);
        }
        let (_writing, mut tx) = self.begin_write().await?;
        // Conditional on the status read above, so of two racing callbacks only one
        // turns the text into a failure (and announces it).
        let updated = sqlx::query(
            "UPDATE messages SET delivery_status = $2, error_code = COALESCE($3, error_code), updated_at = $4
             WHERE id = $1 AND delivery_status = $5",
        )
        .bind(id)
        .bind(status)
        .bind(error_code)
        .bind(now)
        .bind(&current)
        .execute(&mut *tx)
        .await?;
        let newly_failed = matches!(status, "failed" | "undelivered")
            && !matches!(current.as_str(), "failed" | "undelivered");
        if updated.rows_affected() == 1 && newly_failed {
            Self::append_delivery_failed(
                &mut tx,
                conversation_id,
                json!({
                    "message_id": id,
                    "contact_id": contact_id,
                    "status": status,
                    "error_code": error_code,
                    "error": null,
                }),
                now,
            )
            .await?;
        }
        tx.commit().await?;
        Ok(true)
    }

    async fn append_delivery_failed(
        tx: &mut Transaction<'static, Any>,
        conversation_id: i64,
        payload: serde_json::Value,
        now: i64,
    ) -> Result<()> {
        Self::append_event(
            tx,
            NewEvent {
                kind: "message.delivery_failed",
                handoff_id: None,
                conversation_id: Some(conversation_id),
                payload,
            },
            now,
        )
        .await
    }

    /// Outbound texts waiting to go now (pending or retrying); texts scheduled for
    /// later when they were queued (outside a contact's sending hours) are not.
    pub async fn outbox_backlog(&self) -> Result<i64> {
        Ok(sqlx::query_scalar(
            "SELECT COUNT(*) FROM outbox WHERE status = 'pending'
                   AND NOT (attempts = 0 AND next_attempt_at > created_at)",
        )
        .fetch_one(&self.pool)
        .await?)
    }
}

/// What a claimed outbox row sends, and to whom (read by the claim itself: one
/// statement for the whole claim, not one more per text).
fn claimed_outbound(owner: &str, now: i64, row: &AnyRow) -> Result<ClaimedOutbound> {
    let outbox_id: i64 = row.get(0);
    let message_id: i64 = row.get(1);
    let contact_id: i64 = row.get(2);
    let kind: String = row.get(3);
    let attempts: i64 = row.get(4);
    // Set by this claim (now), or left by an attempt that never settled.
    let in_flight_since: i64 = row.get(5);
    let phone: String = row.get(7);
    let consent: String = row.get(8);
    Ok(ClaimedOutbound {
        outbox_id,
        message_id,
        contact_id,
        to: PhoneNumber::parse(&phone)
            .map_err(|e| StoreError::Corrupt(format!("contact {contact_id} phone: {e}")))?,
        consent: Consent::parse(&consent).ok_or_else(|| {
            StoreError::Corrupt(format!("contact {contact_id} consent {consent:?}"))
        })?,
        kind: if kind == "compliance" {
            OutboundKind::Compliance
        } else {
            OutboundKind::Reply
        },
        body: row.get(6),
        attempts,
        lease_owner: owner.to_string(),
        unsettled_since: (in_flight_since < now).then_some(in_flight_since),
    })
}
