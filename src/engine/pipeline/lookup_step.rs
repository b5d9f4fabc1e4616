//! The lookup step of a turn as a decision: the text to send for how the lookup
//! ended (see [`crate::engine::lookup`] for the slots and the call).

use crate::brain::escalation::{Escalation, Rule};
use crate::brain::state::ConversationState;
use crate::brain::think::{Brain, Thought};
use crate::engine::lookup::{self, LookupContext, LookupStep};
use crate::engine::policy::Policy;
use crate::lookups::{Lookup, Today};
use crate::store::{InboundContext, InboundOutcome, OutboundKind, Understood};

use super::exchange::{contact_json, repeats_last_bot};
use super::flow_step::business_zone;
use super::handover::{expectation, handoff_change};
use super::{Decision, Playbook, Reason, reply};

/// What the lookup step needs, from the context, the policy and the playbook.
pub(super) fn lookup_context<'a>(
    ctx: &InboundContext,
    policy: &'a Policy,
    playbook: &'a Playbook<'a>,
    now: i64,
) -> LookupContext<'a> {
    LookupContext {
        set: playbook.lookups,
        caller: playbook.caller,
        today: Today::at(now, business_zone(policy, playbook.flows)),
        contact: contact_json(ctx),
        business: &policy.business.name,
    }
}

/// The question a lookup answers, and the knowledge base's answer to it when the
/// brain already composed one.
pub(super) struct LookupAsked<'a> {
    pub(super) intent: &'a str,
    pub(super) question: &'a str,
    pub(super) knowledge_answer: Option<String>,
}

/// Turns a lookup step into the pipeline's decision: the text to send (a failed
/// lookup or a customer who could not give the slot get the knowledge base's answer
/// and the offer of a person), the state to keep.
#[allow(clippy::too_many_arguments)]
pub(super) async fn lookup_turn(
    ctx: &InboundContext,
    policy: &Policy,
    brain: Option<&Brain>,
    file: &Lookup,
    lookups: &LookupContext<'_>,
    mut state: ConversationState,
    step: LookupStep,
    asked: LookupAsked<'_>,
    understood: Understood,
    thought: Option<Thought>,
    now: i64,
) -> Decision {
    let end = step.end();
    let knowledge_answer = || async {
        match (asked.knowledge_answer.clone(), brain) {
            (Some(answer), _) => Some(answer),
            (None, Some(brain)) => {
                brain
                    .answer_earlier_question(asked.question, asked.intent)
                    .await
            }
            (None, None) => None,
        }
    };
    let text = match step {
        LookupStep::Asked(text) | LookupStep::Found(text) | LookupStep::NotFound(text) => text,
        LookupStep::Failed => {
            let answer = knowledge_answer().await;
            lookup::failed_text(file, lookups, &state, answer.as_deref())
        }
        LookupStep::GaveUp => lookup::gave_up_text(knowledge_answer().await.as_deref()),
    };
    state.menu = None;
    state.misses = 0;
    state.last_intent = Some(asked.intent.to_string());
    state.last_question = Some(asked.question.to_string());
    let mut outcome = InboundOutcome {
        understanding: Some(understood),
        state_json: Some(state.to_json()),
        ..Default::default()
    };
    let next = reply(&text, OutboundKind::Reply, policy.replies.max_segments);
    if repeats_last_bot(ctx, &next, policy) {
        // The same text twice in a row did not move the customer on: a person takes
        // over, and they are told.
        let why = Escalation::new(
            Rule::RepeatedQuestion,
            "the lookup's reply would repeat the bot's last text word for word".to_string(),
        );
        outcome.handoff =
            Some(handoff_change(ctx, brain, &why, Some(asked.intent.to_string())).await);
        outcome.replies.push(expectation(ctx, policy, now));
        return Decision {
            outcome,
            reason: Reason::Escalated,
            thought,
        };
    }
    outcome.replies.push(next);
    Decision {
        outcome,
        reason: Reason::Lookup(end),
        thought,
    }
}
