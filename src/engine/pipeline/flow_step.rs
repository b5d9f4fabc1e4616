//! The flow step of a turn: a conversation inside a flow gives its text to the
//! flow's current step (see [`crate::flows`]); the result becomes the decision.

use crate::brain::state::ConversationState;
use crate::brain::think::Brain;
use crate::engine::policy::Policy;
use crate::flows::{self, FlowSet, Turn as FlowTurn};
use crate::store::{FlowCompletion, InboundContext, InboundOutcome, OutboundKind, Understood};

use super::handover::{expectation, handoff_change};
use super::{Decision, Playbook, Reason, reply};

/// What the flow step machine needs, from the context, the policy and the store.
pub(super) fn flow_env<'a>(
    ctx: &'a InboundContext,
    policy: &'a Policy,
    playbook: &'a Playbook<'a>,
    now: i64,
) -> flows::Env<'a> {
    flows::Env {
        now_ms: now,
        tz: business_zone(policy, playbook.flows),
        availability: &playbook.flows.availability,
        booked: playbook.booked,
        contact: ctx.phone.as_str(),
        business: &policy.business.name,
        escalation: &policy.escalation,
    }
}

/// The business time zone: `[hours].timezone`, else the availability file's, else UTC.
pub fn business_zone(policy: &Policy, flows: &FlowSet) -> jiff::tz::TimeZone {
    policy
        .hours
        .as_ref()
        .map(|h| h.timezone.as_str())
        .or(Some(flows.availability.timezone.as_str()))
        .and_then(|name| jiff::tz::TimeZone::get(name).ok())
        .unwrap_or(jiff::tz::TimeZone::UTC)
}

/// Turns a flow step's result into the pipeline's decision.
pub(super) async fn flow_turn(
    ctx: &InboundContext,
    policy: &Policy,
    brain: Option<&Brain>,
    mut state: ConversationState,
    turn: FlowTurn,
    understanding: Option<Understood>,
    now: i64,
) -> Decision {
    let max_segments = policy.replies.max_segments;
    let mut outcome = InboundOutcome {
        understanding,
        ..Default::default()
    };
    let reason = match turn {
        FlowTurn::Ask { text, running } => {
            state.flow = Some(running);
            outcome
                .replies
                .push(reply(&text, OutboundKind::Reply, max_segments));
            Reason::Flow
        }
        FlowTurn::Done { text, completion } => {
            state.flow = None;
            outcome
                .replies
                .push(reply(&text, OutboundKind::Reply, max_segments));
            outcome.flow_completed = Some(FlowCompletion {
                flow: completion.flow,
                slots: completion.slots,
                booking: completion.booking.map(|o| (o.key, o.label)),
            });
            Reason::Flow
        }
        FlowTurn::Left { text } => {
            state.flow = None;
            outcome
                .replies
                .push(reply(&text, OutboundKind::Reply, max_segments));
            Reason::Flow
        }
        FlowTurn::Escalate(why) => {
            state.flow = None;
            state.menu = None;
            state.misses = 0;
            let intent = state.last_intent.clone();
            outcome.handoff = Some(handoff_change(ctx, brain, &why, intent).await);
            outcome.replies.push(expectation(ctx, policy, now));
            Reason::Escalated
        }
    };
    outcome.state_json = Some(state.to_json());
    Decision {
        outcome,
        reason,
        thought: None,
    }
}
