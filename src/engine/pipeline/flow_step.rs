//! The flow step of a turn: a conversation inside a flow gives its text to the
//! flow's current step (see [`crate::flows`]); the result becomes the decision.

use crate::brain::state::ConversationState;
use crate::brain::think::Brain;
use crate::engine::policy::Policy;
use crate::flows::{self, FlowSet, Turn as FlowTurn};
use crate::store::{FlowCompletion, InboundContext, InboundOutcome, OutboundKind, Understood};

use super::handover::{expectation, handoff_change};
use super::lookup_step::lookup_context;
use super::{Decision, Playbook, Reason, reply};
use crate::engine::lookup;

/// What the flow step machine needs, from the context, the policy and the store.
pub(super) async fn flow_env<'a>(
    ctx: &'a InboundContext,
    policy: &'a Policy,
    playbook: &'a Playbook<'a>,
    now: i64,
) -> flows::Env<'a> {
    flows::Env {
        now_ms: now,
        tz: business_zone(policy, playbook.flows),
        availability: &playbook.flows.availability,
        booked: playbook.booked.get().await,
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

/// Lookups a flow may make in one turn (a lookup step leading to another); more is
/// a loop in the file, and the flow is left.
const LOOKUPS_PER_TURN: usize = 3;

/// Makes the lookups a flow reached (see [`flows::Turn::Lookup`]) and continues the
/// flow with how each ended, until it asks, ends, or hands over.
pub(super) async fn through_lookups(
    mut turn: FlowTurn,
    flow: &flows::Flow,
    ctx: &InboundContext,
    policy: &Policy,
    playbook: &Playbook<'_>,
    state: &ConversationState,
    now: i64,
) -> FlowTurn {
    let env = flow_env(ctx, policy, playbook, now).await;
    let lookups = lookup_context(ctx, policy, playbook, now);
    for _ in 0..LOOKUPS_PER_TURN {
        let FlowTurn::Lookup {
            lookup,
            mut running,
            said,
        } = turn
        else {
            return turn;
        };
        let answer = match playbook.lookups.get(&lookup) {
            Some(file) => {
                // Later steps see the answers as the lookup read them ("12345").
                running.slots = lookup::read_flow_answers(file, &running.slots, lookups.today.date);
                // The flow's answers win over what the conversation remembered.
                let mut slots = state.slots.clone();
                slots.extend(running.slots.clone());
                lookup::call_for_flow(file, &lookups, &slots).await
            }
            None => {
                tracing::error!(flow = %flow.name, lookup = %lookup, "a flow step uses a lookup that is not in prompts/lookups/");
                flows::LookupAnswer::Failed(
                    "I can't check that right now. Reply AGENT and a person will look into it."
                        .to_string(),
                )
            }
        };
        turn = flows::run::after_lookup(flow, running, &answer, &said, &env);
    }
    tracing::error!(flow = %flow.name, "a flow made {LOOKUPS_PER_TURN} lookups in one turn; leaving it");
    FlowTurn::Left {
        text: flow.left.clone(),
    }
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
        FlowTurn::Lookup { said, .. } => {
            // Only reached when a caller skipped [`through_lookups`]: say what was
            // said and leave the flow rather than wait on a step nobody answers.
            tracing::error!("a flow's lookup step was not made; leaving the flow");
            state.flow = None;
            let text = format!(
                "{said} {}",
                "Text us any time if there's anything else we can help with."
            );
            outcome
                .replies
                .push(reply(text.trim(), OutboundKind::Reply, max_segments));
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
