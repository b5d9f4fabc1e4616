//! The inbound queue: claiming its rows one conversation at a time, reading what the
//! engine needs for a turn, and retrying or setting aside a text that failed. (Storing
//! a webhook's text and queueing it is in [`super::receive`]; committing the engine's
//! outcome in [`super::completion`].)

use serde_json::json;
use sqlx::Row;

use super::csat::{PENDING_SURVEY_COLUMNS, pending_survey_from, pending_survey_join};
use super::events::NewEvent;
use super::handoffs::{OPEN_HANDOFF_COLUMNS, open_handoff_from};
use super::{
    ClaimedInbound, Consent, Direction, FollowingText, HistoryEntry, InboundContext, NewHandoff,
    NewOutbound, Result, Store, StoreError, model::Author,
};
use crate::sms::PhoneNumber;

/// How many earlier messages the engine sees.
const HISTORY_LIMIT: i64 = 30;

/// The most texts read as one turn; the rest of a longer burst is the next turn.
const LONGEST_BURST_TEXTS: i64 = 8;

impl Store {
    /// Claims the oldest pending inbound message whose conversation has nothing older
    /// pending, once it is ready (its burst is over), leasing it to `owner` until
    /// `now + lease_ms`. Rows whose lease expired (a crashed worker) are claimable again.
    pub async fn claim_next_inbound(
        &self,
        owner: &str,
        now: i64,
        lease_ms: i64,
    ) -> Result<Option<ClaimedInbound>> {
        Ok(self.claim_inbound(owner, now, lease_ms, 1).await?.pop())
    }

    /// [`Self::claim_next_inbound`] for up to `limit` texts in one statement (one turn
    /// at SQLite's writer instead of `limit`), each of another conversation: a row is
    /// claimable only when nothing older of its conversation is pending, so two rows of
    /// one conversation are never in hand at once. Oldest first.
    pub async fn claim_inbound(
        &self,
        owner: &str,
        now: i64,
        lease_ms: i64,
        limit: usize,
    ) -> Result<Vec<ClaimedInbound>> {
        let _writing = self.writing().await;
        // The rows are picked once, in a materialised CTE: PostgreSQL may run a
        // `WHERE id IN (SELECT … LIMIT n)` subquery more than once in one UPDATE and
        // claim more than n rows (seen in the store tests).
        let sql = format!(
            "WITH picked AS MATERIALIZED (
                 SELECT q.id FROM inbound_queue q
                 WHERE q.status = 'pending' AND q.ready_at <= $3
                   AND (q.lease_until IS NULL OR q.lease_until < $3)
                   AND NOT EXISTS (
                       SELECT 1 FROM inbound_queue e
                       WHERE e.conversation_id = q.conversation_id AND e.status = 'pending' AND e.id < q.id)
                 ORDER BY q.id LIMIT $4{skip})
             UPDATE inbound_queue SET lease_owner = $1, lease_until = $2, attempts = attempts + 1
             WHERE id IN (SELECT id FROM picked)
               AND status = 'pending' AND (lease_until IS NULL OR lease_until < $3)
             RETURNING id, message_id, conversation_id, attempts,
                 CASE WHEN EXISTS (
                     SELECT 1 FROM inbound_queue l
                     WHERE l.conversation_id = inbound_queue.conversation_id
                       AND l.status = 'pending' AND l.id > inbound_queue.id) THEN 1 ELSE 0 END",
            skip = self.skip_locked()
        );
        let rows = sqlx::query(&sql)
            .bind(owner)
            .bind(now + lease_ms)
            .bind(now)
            .bind(limit as i64)
            .fetch_all(&self.writes)
            .await?;
        let mut claims: Vec<ClaimedInbound> = rows
            .iter()
            .map(|r| ClaimedInbound {
                queue_id: r.get(0),
                message_id: r.get(1),
                conversation_id: r.get(2),
                attempts: r.get(3),
                lease_owner: owner.to_string(),
                later_texts_pending: r.get::<i64, _>(4) != 0,
            })
            .collect();
        // RETURNING gives no order: the oldest first, as they were chosen.
        claims.sort_by_key(|c| c.queue_id);
        Ok(claims)
    }

    /// Loads the message, its contact, its conversation's open handoff, a survey
    /// awaiting an answer, recent history and the rest of its burst for the engine.
    /// Few statements on purpose: on SQLite each one is a hand-off to the connection's
    /// thread and back, and a turn that read everything separately spent more time
    /// switching threads than reading.
    pub async fn inbound_context(&self, claim: &ClaimedInbound) -> Result<InboundContext> {
        let row = sqlx::query(&format!(
            "SELECT m.body, m.media_urls, m.created_at, c.id, c.phone, c.consent, v.state, c.attributes,
                 {OPEN_HANDOFF_COLUMNS}, {PENDING_SURVEY_COLUMNS}
             FROM messages m JOIN contacts c ON c.id = m.contact_id
             JOIN conversations v ON v.id = m.conversation_id
             LEFT JOIN handoffs h ON h.conversation_id = m.conversation_id AND h.status <> 'resolved'
             {survey}
             WHERE m.id = $1",
            survey = pending_survey_join(),
        ))
        .bind(claim.message_id)
        .fetch_optional(&self.pool)
        .await?
        .ok_or_else(|| StoreError::NotFound {
            what: "message",
            id: claim.message_id.to_string(),
        })?;
        let body: String = row.get(0);
        let media: Option<String> = row.get(1);
        let received_at: i64 = row.get(2);
        let contact_id: i64 = row.get(3);
        let phone: String = row.get(4);
        let consent: String = row.get(5);
        let state_json: Option<String> = row.get(6);
        let attributes =
            super::contacts::attributes_from(row.get::<Option<String>, _>(7).as_deref())?;
        let handoff = open_handoff_from(&row, 8)?;
        let pending_survey = pending_survey_from(&row, 13);

        let mut history: Vec<HistoryEntry> = sqlx::query(
            "SELECT id, direction, author, body, created_at, intent FROM messages
             WHERE contact_id = $1 AND id <> $2 ORDER BY id DESC LIMIT $3",
        )
        .bind(contact_id)
        .bind(claim.message_id)
        .bind(HISTORY_LIMIT)
        .fetch_all(&self.pool)
        .await?
        .into_iter()
        .map(|r| {
            let direction: String = r.get(1);
            let author: String = r.get(2);
            HistoryEntry {
                message_id: r.get(0),
                direction: Direction::from_stored(&direction),
                author: Author::parse(&author).unwrap_or(Author::System),
                body: r.get(3),
                intent: r.get(5),
                created_at: r.get(4),
            }
        })
        .collect();
        history.reverse();

        let following = if claim.later_texts_pending {
            self.rest_of_burst(claim).await?
        } else {
            Vec::new()
        };

        Ok(InboundContext {
            message_id: claim.message_id,
            conversation_id: claim.conversation_id,
            contact_id,
            phone: PhoneNumber::parse(&phone)
                .map_err(|e| StoreError::Corrupt(format!("contact {contact_id} phone: {e}")))?,
            attributes,
            consent: Consent::parse(&consent).ok_or_else(|| {
                StoreError::Corrupt(format!("contact {contact_id} consent {consent:?}"))
            })?,
            body,
            media_urls: media_from(media)?,
            received_at,
            state_json,
            handoff,
            usual_wait_ms: self.median_first_response_ms(received_at).await?,
            history,
            pending_survey,
            following,
            folded: Vec::new(),
        })
    }

    /// The texts of the claim's conversation queued after it, oldest first: with it,
    /// at most [`LONGEST_BURST_TEXTS`].
    async fn rest_of_burst(&self, claim: &ClaimedInbound) -> Result<Vec<FollowingText>> {
        sqlx::query(
            "SELECT q.id, m.id, m.body, m.media_urls FROM inbound_queue q
             JOIN messages m ON m.id = q.message_id
             WHERE q.conversation_id = $1 AND q.status = 'pending' AND q.id > $2
             ORDER BY q.id LIMIT $3",
        )
        .bind(claim.conversation_id)
        .bind(claim.queue_id)
        .bind(LONGEST_BURST_TEXTS - 1)
        .fetch_all(&self.pool)
        .await?
        .into_iter()
        .map(|r| {
            Ok(FollowingText {
                queue_id: r.get(0),
                message_id: r.get(1),
                body: r.get(2),
                media_urls: media_from(r.get(3))?,
            })
        })
        .collect()
    }

    /// Gives up on an inbound message that failed too often: it stays stored (with
    /// its last error) but no longer blocks its conversation, and a person is told.
    /// In one transaction: the row is `failed`, a `message.set_aside` event, a
    /// handoff (unless one is open) and `acknowledgement` to the customer (unless
    /// they opted out), so nobody waits on a text nobody will read.
    pub async fn set_aside_inbound(
        &self,
        claim: &ClaimedInbound,
        handoff: &NewHandoff,
        acknowledgement: &NewOutbound,
        now: i64,
    ) -> Result<()> {
        let (_writing, mut tx) = self.begin_write().await?;
        // The contact first (see the module docs), then the queue row.
        let row = sqlx::query(
            "UPDATE contacts SET updated_at = updated_at
             WHERE id = (SELECT contact_id FROM conversations WHERE id = $1)
             RETURNING id, consent",
        )
        .bind(claim.conversation_id)
        .fetch_one(&mut *tx)
        .await?;
        let contact_id: i64 = row.get(0);
        let consent: String = row.get(1);
        let last_error: Option<String> = sqlx::query_scalar(
            "UPDATE inbound_queue SET status = 'failed', done_at = $3, lease_owner = NULL, lease_until = NULL
             WHERE id = $1 AND lease_owner = $2 AND status = 'pending' RETURNING last_error",
        )
        .bind(claim.queue_id)
        .bind(&claim.lease_owner)
        .bind(now)
        .fetch_optional(&mut *tx)
        .await?
        .ok_or(StoreError::LeaseLost(claim.queue_id))?;
        let open: Option<i64> = sqlx::query_scalar(
            "SELECT id FROM handoffs WHERE conversation_id = $1 AND status <> 'resolved'",
        )
        .bind(claim.conversation_id)
        .fetch_optional(&mut *tx)
        .await?;
        let handoff_id = match open {
            Some(id) => id,
            None => {
                Self::open_handoff(
                    &mut tx,
                    claim.conversation_id,
                    contact_id,
                    claim.message_id,
                    handoff,
                    now,
                )
                .await?
            }
        };
        Self::append_event(
            &mut tx,
            NewEvent {
                kind: "message.set_aside",
                handoff_id: Some(handoff_id),
                conversation_id: Some(claim.conversation_id),
                payload: json!({
                    "message_id": claim.message_id,
                    "attempts": claim.attempts - 1,
                    "error": last_error,
                }),
            },
            now,
        )
        .await?;
        if open.is_none() && consent != Consent::OptedOut.as_str() {
            Self::queue_outbound(
                &mut tx,
                claim.conversation_id,
                contact_id,
                acknowledgement,
                None,
                now,
            )
            .await?;
        }
        tx.commit().await?;
        Ok(())
    }

    /// Extends the claim's lease to `until` while it is still ours; `false` when
    /// another worker has taken the row over.
    pub async fn renew_inbound_lease(&self, claim: &ClaimedInbound, until: i64) -> Result<bool> {
        let _writing = self.writing().await;
        let renewed = sqlx::query(
            "UPDATE inbound_queue SET lease_until = $3
             WHERE id = $1 AND lease_owner = $2 AND status = 'pending'",
        )
        .bind(claim.queue_id)
        .bind(&claim.lease_owner)
        .bind(until)
        .execute(&self.writes)
        .await?;
        Ok(renewed.rows_affected() == 1)
    }

    /// Records a processing error and releases the lease after `retry_at`, so the row
    /// is retried (by any worker) without waiting for the full lease.
    pub async fn retry_inbound_later(
        &self,
        claim: &ClaimedInbound,
        error: &str,
        retry_at: i64,
    ) -> Result<()> {
        let _writing = self.writing().await;
        sqlx::query(
            "UPDATE inbound_queue SET last_error = $3, lease_until = $4
             WHERE id = $1 AND lease_owner = $2 AND status = 'pending'",
        )
        .bind(claim.queue_id)
        .bind(&claim.lease_owner)
        .bind(error)
        .bind(retry_at)
        .execute(&self.writes)
        .await?;
        Ok(())
    }

    /// Inbound texts not yet processed, and the age in ms of the oldest one: those
    /// queued, and those the webhook kept that are not stored yet
    /// ([`Store::keep_arrivals`]).
    pub async fn inbound_backlog(&self, now: i64) -> Result<(i64, Option<i64>)> {
        let row = sqlx::query(
            "SELECT COUNT(*), MIN(at) FROM (
                 SELECT created_at AS at FROM inbound_queue WHERE status = 'pending'
                 UNION ALL SELECT received_at FROM arrivals) AS backlog",
        )
        .fetch_one(&self.pool)
        .await?;
        let count: i64 = row.get(0);
        let oldest: Option<i64> = row.get(1);
        Ok((count, oldest.map(|t| now - t)))
    }
}

/// A stored JSON list of media URLs (NULL = none).
fn media_from(json: Option<String>) -> Result<Vec<String>> {
    match json {
        Some(json) => serde_json::from_str(&json).map_err(|e| StoreError::Corrupt(e.to_string())),
        None => Ok(Vec::new()),
    }
}
