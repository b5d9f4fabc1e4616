//! Flows the business starts for a contact (an appointment reminder, an order
//! confirmation), through the admin API. Only to a contact with recorded express
//! consent (never to one who opted out or only texted us), never into a
//! conversation a person has (an open handoff); never during
//! the sending hours (`sending_hours.toml`) nor the flow's quiet hours in the
//! contact's own time zone (stored on the contact, else from the area code, else the
//! business's). A start is a row first: sent at once
//! when allowed, otherwise by the sweep here once the quiet hours end — durable
//! across restarts, and sent once even with several processes.

use super::Engine;
use super::pipeline::{business_zone, reply};
use crate::brain::state::ConversationState;
use crate::flows::{self, Turn};
use crate::sms::PhoneNumber;
use crate::store::{Consent, OutboundKind, StoreError};

#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error("there is no flow named `{0}` in prompts/flows/")]
    UnknownFlow(String),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// A start as accepted: sent now, or scheduled for `send_at`.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Started {
    pub id: i64,
    /// `sent` or `scheduled`.
    pub status: &'static str,
    /// When the first text goes (epoch ms) and the same in RFC 3339 (contact's zone).
    pub send_at: i64,
    pub send_at_local: String,
    pub timezone: String,
}

/// Schedules `flow` for `phone` at the first allowed time and sends it if that is now.
pub async fn start(
    engine: &Engine,
    flow_name: &str,
    phone: &PhoneNumber,
) -> Result<Started, StartError> {
    let flows = engine.flows();
    let flow = flows
        .get(flow_name)
        .ok_or_else(|| StartError::UnknownFlow(flow_name.to_string()))?;
    let now = engine.now_ms();
    let contact = engine.store.flow_contact(phone).await?;
    match contact.as_ref().map(|c| c.consent) {
        Some(Consent::OptedIn) => {}
        Some(Consent::OptedOut) => {
            return Err(StoreError::Refused(
                "this contact opted out; flows are never started for them".into(),
            )
            .into());
        }
        // Texting us is consent to that conversation, not to texts the business starts.
        Some(Consent::Implied) | None => {
            return Err(StoreError::Refused(format!(
                "no express consent is recorded for {}: a flow is a text the business starts,                  and a contact who only texted us agreed to that conversation alone; record                  the consent they gave (POST /api/v1/admin/consent, or `textdesk consent import`)                  and start the flow again",
                phone.masked()
            ))
            .into());
        }
    }
    if let Some(contact) = &contact
        && engine
            .store
            .contact_is_with_people(contact.contact_id)
            .await?
    {
        return Err(StoreError::Refused(crate::store::PEOPLE_HAVE_IT.into()).into());
    }
    let recipient = super::sending::Recipient {
        phone: phone.as_str(),
        timezone: contact.as_ref().and_then(|c| c.timezone.as_deref()),
        state: contact.as_ref().and_then(|c| c.state.as_deref()),
    };
    let (send_at, tz) =
        super::sending::first_allowed(engine, recipient, Some(&flow.quiet_hours), now);
    let id = engine
        .store
        .schedule_flow_start(phone, flow_name, send_at, now)
        .await?;
    let mut status = "scheduled";
    if send_at <= now && sweep(engine).await? > 0 {
        status = "sent";
    }
    let send_at_local = jiff::Timestamp::from_millisecond(send_at)
        .map(|t| {
            t.to_zoned(tz.clone())
                .strftime("%Y-%m-%dT%H:%M:%S%:z")
                .to_string()
        })
        .unwrap_or_default();
    Ok(Started {
        id,
        status,
        send_at,
        send_at_local,
        timezone: tz.iana_name().unwrap_or("UTC").to_string(),
    })
}

/// Sends every start that is due; returns how many went out.
pub async fn sweep(engine: &Engine) -> Result<usize, StoreError> {
    let now = engine.now_ms();
    let due = engine.store.due_flow_starts(now, 50).await?;
    if due.is_empty() {
        return Ok(0);
    }
    let flows = engine.flows();
    let policy = engine.policy();
    let booked = engine.booked_slots().await?;
    let mut sent = 0;
    for start in due {
        if start.consent.is_opted_out() {
            engine
                .store
                .cancel_flow_start(start.id, "the contact opted out", now)
                .await?;
            continue;
        }
        let Some(flow) = flows.get(&start.flow) else {
            engine
                .store
                .cancel_flow_start(start.id, "the flow no longer exists", now)
                .await?;
            continue;
        };
        let env = flows::Env {
            now_ms: now,
            tz: business_zone(&policy, &flows),
            availability: &flows.availability,
            booked: &booked,
            contact: start.phone.as_str(),
            business: &policy.business.name,
            escalation: &policy.escalation,
        };
        let max_segments = policy.replies.max_segments;
        let begin = |state_json: Option<String>| {
            let mut state = ConversationState::from_json(state_json.as_deref());
            let text = match flows::run::start(flow, &env) {
                Turn::Ask { text, running } => {
                    state.flow = Some(running);
                    text
                }
                Turn::Done { text, .. } | Turn::Left { text } => {
                    state.flow = None;
                    text
                }
                // A business-started flow sends its first step now; one that reaches a
                // lookup at once (a `full_next` to one) cannot, so it is not started.
                Turn::Escalate(_) | Turn::Lookup { .. } => return None,
            };
            Some((
                state.to_json(),
                reply(&text, OutboundKind::Reply, max_segments),
            ))
        };
        if engine.store.send_flow_start(&start, begin, now).await? {
            sent += 1;
            tracing::info!(flow = %start.flow, "flow started for a contact");
        }
    }
    if sent > 0 {
        engine.outbound_ready.notify_waiters();
    }
    Ok(sent)
}
