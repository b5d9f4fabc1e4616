//! A customer writing in a language the bot does not answer in: the offer of a
//! person in that language, and the handoff when they accept.

use crate::brain::escalation::{Escalation, Rule};
use crate::brain::state::ConversationState;
use crate::brain::think::Brain;
use crate::engine::policy::Policy;
use crate::store::{InboundContext, InboundOutcome, OutboundKind};

use super::handover::open_handoff;
use super::{Decision, Reason, reply};

/// A customer writing in a language the bot does not answer in: offered a person in
/// that language (`[languages]` in policy.toml) and handed over when they accept.
/// The offer is made once per text in that language; anything else after it goes on
/// as usual.
pub(super) async fn other_language(
    ctx: &InboundContext,
    policy: &Policy,
    brain: &Brain,
    state: &mut ConversationState,
) -> Option<Decision> {
    let max_segments = policy.replies.max_segments;
    if let Some(code) = state.offered_person_in.take()
        && let Some(texts) = policy.languages.get(&code)
        && texts.accepts(&ctx.body)
    {
        let why = Escalation::new(
            Rule::AskedForHuman,
            format!("the customer writes in another language ({code}) and asked for a person"),
        );
        state.menu = None;
        state.misses = 0;
        let handoff = open_handoff(ctx, brain, &why, None).await;
        return Some(Decision {
            outcome: InboundOutcome {
                handoff: Some(handoff),
                replies: vec![reply(&texts.handed_over, OutboundKind::Reply, max_segments)],
                state_json: Some(state.to_json()),
                ..Default::default()
            },
            reason: Reason::Escalated,
            thought: None,
        });
    }
    let code = crate::brain::language::foreign(&ctx.body)?;
    let texts = policy.languages.get(code)?;
    state.offered_person_in = Some(code.to_string());
    Some(Decision {
        outcome: InboundOutcome {
            replies: vec![reply(&texts.offer, OutboundKind::Reply, max_segments)],
            state_json: Some(state.to_json()),
            ..Default::default()
        },
        reason: Reason::OtherLanguage,
        thought: None,
    })
}
