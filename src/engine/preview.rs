//! Explaining a decision without acting on it: the whole pipeline (compliance, guards,
//! brain) runs on a text as if it had just arrived, nothing is stored or sent, and the
//! result says what the bot understood, what it retrieved, what it decided and why,
//! and the reply with its encoding and segments. Behind `textdesk ask` and
//! `POST /api/v1/admin/preview` — what an operator needs after editing a prompt or a
//! knowledge file.

use serde::Serialize;

use super::Engine;
use super::pipeline;
use crate::brain::think::Thought;
use crate::sms::{PhoneNumber, segments};
use crate::store::{Consent, InboundContext, StoreError};

#[derive(Debug, Serialize)]
pub struct Preview {
    pub text: String,
    /// The pipeline step that decided, e.g. `Answered`, `Clarified`, `OptedOut`.
    pub decided_by: String,
    /// The brain's reasoning, when it was consulted.
    pub thought: Option<Thought>,
    pub replies: Vec<PreviewReply>,
    pub consent_change: Option<&'static str>,
    /// Whether the text would count as a gap in the bot's knowledge (see
    /// [`crate::gaps`]), and which kind.
    pub gap: Option<crate::gaps::GapKind>,
}

#[derive(Debug, Serialize)]
pub struct PreviewReply {
    pub text: String,
    pub encoding: &'static str,
    pub segments: u32,
    pub units: u32,
    pub remaining_in_segment: u32,
}

/// Runs the pipeline on `text`, from `phone` if given (its consent, history and
/// conversation state are read, never written).
pub async fn preview(
    engine: &Engine,
    text: &str,
    phone: Option<&PhoneNumber>,
) -> Result<Preview, StoreError> {
    let now = engine.now_ms();
    let (consent, history, state_json) = match phone {
        Some(p) => engine.store.preview_context(p.as_str()).await?,
        None => (None, Vec::new(), None),
    };
    let attributes = match phone {
        Some(p) => engine
            .store
            .contact(p)
            .await?
            .map(|c| c.attributes)
            .unwrap_or_default(),
        None => Default::default(),
    };
    let placeholder =
        PhoneNumber::parse("+10000000000").map_err(|e| StoreError::Corrupt(e.to_string()))?;
    let ctx = InboundContext {
        message_id: i64::MAX,
        conversation_id: 0,
        contact_id: 0,
        phone: phone.cloned().unwrap_or(placeholder),
        attributes,
        consent: consent.unwrap_or(Consent::Implied),
        body: text.to_string(),
        media_urls: Vec::new(),
        received_at: now,
        state_json,
        handoff: None,
        usual_wait_ms: None,
        history,
        pending_survey: None,
        following: Vec::new(),
        folded: Vec::new(),
    };
    let flows = engine.flows();
    let booked = super::booked::BookedSlots::new(engine);
    let lookups = engine.lookups();
    let playbook = pipeline::Playbook {
        flows: &flows,
        booked: &booked,
        lookups: &lookups,
        caller: &engine.lookup_caller,
    };
    let decision = pipeline::decide(
        &ctx,
        &engine.policy(),
        engine.brain.as_deref(),
        Some(&playbook),
        now,
    )
    .await;
    let replies = decision
        .outcome
        .replies
        .iter()
        .map(|r| PreviewReply {
            text: r.body.clone(),
            encoding: r.encoding,
            segments: r.segments,
            units: r.units,
            remaining_in_segment: segments::remaining_in_last_segment(&r.body),
        })
        .collect();
    let gap = pipeline::gap_of(&decision).map(|g| g.kind);
    Ok(Preview {
        gap,
        text: text.to_string(),
        decided_by: format!("{:?}", decision.reason),
        thought: decision.thought,
        replies,
        consent_change: decision
            .outcome
            .consent_change
            .as_ref()
            .map(|c| c.to.as_str()),
    })
}
