//! Flows in the database: booked appointment times (one booking per time, enforced by
//! a unique key), the `flow.completed` event, and flows the business starts for a
//! contact, kept as rows until the contact's quiet hours allow the first text.

use serde_json::json;
use sqlx::{Any, Row, Transaction};

use super::events::NewEvent;
use super::{Consent, FlowCompletion, InboundContext, NewOutbound, Result, Store, StoreError};
use crate::sms::PhoneNumber;

/// A contact as a business-started flow needs it.
#[derive(Debug, Clone)]
pub struct FlowContact {
    pub contact_id: i64,
    pub consent: Consent,
    /// The contact's own IANA zone, when known.
    pub timezone: Option<String>,
    /// Their `state` attribute (two letters), for the state's sending hours.
    pub state: Option<String>,
}

/// A scheduled flow start whose time has come.
#[derive(Debug, Clone)]
pub struct DueFlowStart {
    pub id: i64,
    pub flow: String,
    pub contact_id: i64,
    pub phone: PhoneNumber,
    pub consent: Consent,
}

/// Why a start was given up when a person had the conversation.
pub const PEOPLE_HAVE_IT: &str =
    "a person is handling this contact's conversation; start the flow after it is resolved";

/// Whether a stored conversation status says a person owns the conversation.
fn is_with_people(status: &str) -> bool {
    super::ConversationStatus::parse(status).is_some_and(|s| s.is_with_people())
}

impl Store {
    /// Books the flow's appointment (if any) and appends `flow.completed`, inside the
    /// inbound message's transaction. A time booked meanwhile by someone else fails
    /// with [`StoreError::Conflict`]: the message is retried and the flow, seeing the
    /// time taken, offers the others.
    pub(super) async fn complete_flow(
        tx: &mut Transaction<'static, Any>,
        ctx: &InboundContext,
        done: &FlowCompletion,
        now: i64,
    ) -> Result<()> {
        if let Some((slot, label)) = &done.booking {
            let booked = sqlx::query(
                "INSERT INTO bookings (slot, label, flow, contact_id, conversation_id, created_at)
                 VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (slot) DO NOTHING",
            )
            .bind(slot)
            .bind(label)
            .bind(&done.flow)
            .bind(ctx.contact_id)
            .bind(ctx.conversation_id)
            .bind(now)
            .execute(&mut **tx)
            .await?;
            if booked.rows_affected() != 1 {
                return Err(StoreError::Conflict(format!("{slot} was booked meanwhile")));
            }
        }
        Self::append_event(
            tx,
            NewEvent {
                kind: "flow.completed",
                handoff_id: None,
                conversation_id: Some(ctx.conversation_id),
                payload: json!({
                    "flow": done.flow,
                    "slots": done.slots,
                    "contact": ctx.phone.as_str(),
                    "booking": done.booking.as_ref().map(|(slot, label)| json!({"slot": slot, "label": label})),
                }),
            },
            now,
        )
        .await
    }

    /// Appointment times booked at or after `from` (a key like `2026-12-01T00:00`).
    pub async fn booked_slots(&self, from: &str) -> Result<std::collections::HashSet<String>> {
        let rows: Vec<String> = sqlx::query_scalar("SELECT slot FROM bookings WHERE slot >= $1")
            .bind(from)
            .fetch_all(&self.pool)
            .await?;
        Ok(rows.into_iter().collect())
    }

    /// The contact behind a phone number, if we know them.
    pub async fn flow_contact(&self, phone: &PhoneNumber) -> Result<Option<FlowContact>> {
        let row =
            sqlx::query("SELECT id, consent, timezone, attributes FROM contacts WHERE phone = $1")
                .bind(phone.as_str())
                .fetch_optional(&self.pool)
                .await?;
        row.map(|r| {
            let consent: String = r.get(1);
            let mut attributes =
                super::contacts::attributes_from(r.get::<Option<String>, _>(3).as_deref())?;
            Ok(FlowContact {
                contact_id: r.get(0),
                consent: Consent::parse(&consent)
                    .ok_or_else(|| StoreError::Corrupt(format!("consent {consent:?}")))?,
                timezone: r.get(2),
                state: attributes.remove("state"),
            })
        })
        .transpose()
    }

    /// Whether the contact's current conversation is with the team (an open
    /// handoff, waiting or assigned): no flow may start in it.
    pub async fn contact_is_with_people(&self, contact_id: i64) -> Result<bool> {
        let status: Option<String> = sqlx::query_scalar(
            "SELECT status FROM conversations WHERE contact_id = $1 AND status <> 'resolved'
             ORDER BY id DESC LIMIT 1",
        )
        .bind(contact_id)
        .fetch_optional(&self.pool)
        .await?;
        Ok(status.as_deref().is_some_and(is_with_people))
    }

    /// Records that `flow` should start for this phone at `send_at` (creating the
    /// contact if new). Refused for an opted-out contact.
    pub async fn schedule_flow_start(
        &self,
        phone: &PhoneNumber,
        flow: &str,
        send_at: i64,
        now: i64,
    ) -> Result<i64> {
        let (_writing, mut tx) = self.begin_write().await?;
        sqlx::query(
            "INSERT INTO contacts (phone, consent, created_at, updated_at) VALUES ($1, 'implied', $2, $2)
             ON CONFLICT (phone) DO NOTHING",
        )
        .bind(phone.as_str())
        .bind(now)
        .execute(&mut *tx)
        .await?;
        let row = sqlx::query("SELECT id, consent FROM contacts WHERE phone = $1")
            .bind(phone.as_str())
            .fetch_one(&mut *tx)
            .await?;
        let contact_id: i64 = row.get(0);
        let consent: String = row.get(1);
        if consent == Consent::OptedOut.as_str() {
            tx.rollback().await?;
            return Err(StoreError::Refused(
                "this contact opted out; flows are never started for them".into(),
            ));
        }
        let id: i64 = sqlx::query_scalar(
            "INSERT INTO flow_starts (flow, contact_id, status, send_at, created_at)
             VALUES ($1, $2, 'pending', $3, $4) RETURNING id",
        )
        .bind(flow)
        .bind(contact_id)
        .bind(send_at)
        .bind(now)
        .fetch_one(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(id)
    }

    /// Pending starts due at `now`, oldest first.
    pub async fn due_flow_starts(&self, now: i64, limit: i64) -> Result<Vec<DueFlowStart>> {
        let rows = sqlx::query(
            "SELECT s.id, s.flow, c.id, c.phone, c.consent FROM flow_starts s
             JOIN contacts c ON c.id = s.contact_id
             WHERE s.status = 'pending' AND s.send_at <= $1 ORDER BY s.send_at, s.id LIMIT $2",
        )
        .bind(now)
        .bind(limit)
        .fetch_all(&self.pool)
        .await?;
        rows.into_iter()
            .map(|r| {
                let phone: String = r.get(3);
                let consent: String = r.get(4);
                Ok(DueFlowStart {
                    id: r.get(0),
                    flow: r.get(1),
                    contact_id: r.get(2),
                    phone: PhoneNumber::parse(&phone)
                        .map_err(|e| StoreError::Corrupt(format!("phone {phone}: {e}")))?,
                    consent: Consent::parse(&consent)
                        .ok_or_else(|| StoreError::Corrupt(format!("consent {consent:?}")))?,
                })
            })
            .collect()
    }

    /// Gives up on a start (opted out meanwhile, flow removed).
    pub async fn cancel_flow_start(&self, id: i64, detail: &str, now: i64) -> Result<()> {
        let _writing = self.writing().await;
        sqlx::query(
            "UPDATE flow_starts SET status = 'cancelled', detail = $2, done_at = $3
             WHERE id = $1 AND status = 'pending'",
        )
        .bind(id)
        .bind(detail)
        .bind(now)
        .execute(&self.writes)
        .await?;
        Ok(())
    }

    /// Sends a due start, once: marks the row sent, saves the conversation's new state
    /// and queues the first text, in one transaction. `begin` gets the conversation's
    /// state JSON and returns the new one and the text (`None`: nothing to send).
    /// Returns false when another process sent it already.
    pub async fn send_flow_start(
        &self,
        start: &DueFlowStart,
        begin: impl FnOnce(Option<String>) -> Option<(String, NewOutbound)>,
        now: i64,
    ) -> Result<bool> {
        let (writing, mut tx) = self.begin_write().await?;
        let claimed = sqlx::query(
            "UPDATE flow_starts SET status = 'sent', done_at = $2 WHERE id = $1 AND status = 'pending'",
        )
        .bind(start.id)
        .bind(now)
        .execute(&mut *tx)
        .await?;
        if claimed.rows_affected() != 1 {
            tx.rollback().await?;
            return Ok(false);
        }
        // Contact before conversation (see the module docs of `store`).
        let consent: String = sqlx::query_scalar(
            "UPDATE contacts SET updated_at = $2 WHERE id = $1 RETURNING consent",
        )
        .bind(start.contact_id)
        .bind(now)
        .fetch_one(&mut *tx)
        .await?;
        if consent == Consent::OptedOut.as_str() {
            tx.rollback().await?;
            drop(writing); // cancel_flow_start takes its own turn
            self.cancel_flow_start(start.id, "the contact opted out", now)
                .await?;
            return Ok(false);
        }
        let existing = sqlx::query(
            "SELECT id, state, status FROM conversations WHERE contact_id = $1 AND status <> 'resolved'
             ORDER BY id DESC LIMIT 1",
        )
        .bind(start.contact_id)
        .fetch_optional(&mut *tx)
        .await?;
        // A person owns a conversation while its handoff is open: the bot must not
        // start talking in it, not even for the business.
        if existing
            .as_ref()
            .is_some_and(|row| is_with_people(&row.get::<String, _>(2)))
        {
            tx.rollback().await?;
            drop(writing); // cancel_flow_start takes its own turn
            self.cancel_flow_start(start.id, PEOPLE_HAVE_IT, now)
                .await?;
            return Ok(false);
        }
        let (conversation_id, state): (i64, Option<String>) = match existing {
            Some(row) => (row.get(0), row.get(1)),
            None => {
                let id = sqlx::query_scalar(
                    "INSERT INTO conversations (contact_id, status, created_at, updated_at)
                     VALUES ($1, 'bot', $2, $2) RETURNING id",
                )
                .bind(start.contact_id)
                .bind(now)
                .fetch_one(&mut *tx)
                .await?;
                (id, None)
            }
        };
        let Some((state, text)) = begin(state) else {
            tx.commit().await?;
            return Ok(false);
        };
        sqlx::query("UPDATE conversations SET state = $2, updated_at = $3 WHERE id = $1")
            .bind(conversation_id)
            .bind(&state)
            .bind(now)
            .execute(&mut *tx)
            .await?;
        Self::queue_outbound(&mut tx, conversation_id, start.contact_id, &text, None, now).await?;
        tx.commit().await?;
        Ok(true)
    }
}
