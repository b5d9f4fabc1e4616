//! Handing a conversation to a person: what the customer is told (when to expect
//! someone), the handoff with its summary for the agent, and texts that arrive while
//! a person owns the conversation.

use crate::brain::escalation::{Escalation, Rule};
use crate::brain::sentiment;
use crate::brain::state::ConversationState;
use crate::brain::summary::{Summary, SummaryInput, SummaryTurn, why_line};
use crate::brain::think::{Brain, Thought};
use crate::engine::policy::Policy;
use crate::llm::{Turn, TurnRole};
use crate::store::{
    Author, Direction, HandoffChange, HandoffStatus, InboundContext, InboundOutcome, NewHandoff,
    NewOutbound, OutboundKind, Understood,
};

use super::{Decision, Reason, reply, silent};

/// The intent a handoff is filed under: what the brain understood, unless off-topic.
pub(super) fn handoff_intent(thought: &Thought) -> Option<String> {
    Some(thought.understanding.intent.to_string())
        .filter(|i| i != crate::brain::intents::OUT_OF_SCOPE)
}

/// What the customer is told when a person takes over: when to expect them.
pub(super) fn expectation(ctx: &InboundContext, policy: &Policy, now: i64) -> NewOutbound {
    let text = policy
        .handoff
        .expectation(policy.team_back(now), ctx.usual_wait_ms);
    reply(&text, OutboundKind::Reply, policy.replies.max_segments)
}

/// A new handoff, summarised by the brain when there is one, else by its reason alone.
pub(super) async fn handoff_change(
    ctx: &InboundContext,
    brain: Option<&Brain>,
    why: &Escalation,
    intent: Option<String>,
) -> HandoffChange {
    match brain {
        Some(brain) => open_handoff(ctx, brain, why, intent).await,
        None => {
            let turns = summary_turns(ctx, None);
            let input = SummaryInput {
                turns: &turns,
                reason_rule: why.rule.as_str(),
                reason_detail: &why.detail,
                intents: None,
            };
            HandoffChange::Open(NewHandoff {
                priority: why.priority.as_i64(),
                rule: why.rule.as_str().to_string(),
                reason: why.detail.clone(),
                intent,
                summary: why_line(&input),
                summary_by: "local",
                headline: input.headline(),
            })
        }
    }
}

pub(super) async fn open_handoff(
    ctx: &InboundContext,
    brain: &Brain,
    why: &Escalation,
    intent: Option<String>,
) -> HandoffChange {
    let summary = summarize(
        ctx,
        brain,
        why.rule.as_str(),
        &why.detail,
        intent.as_deref(),
    )
    .await;
    HandoffChange::Open(NewHandoff {
        priority: why.priority.as_i64(),
        rule: why.rule.as_str().to_string(),
        reason: why.detail.clone(),
        intent,
        summary: summary.text,
        summary_by: summary.by,
        headline: summary.headline,
    })
}

/// A text on a conversation that is with a person: the bot does not answer it. Its
/// mood is recorded for the agent and, while nobody has claimed the handoff yet, the
/// summary is rewritten to include it. The first text after the bot's handoff notice
/// ("hello??") is told it was noted, once per handoff, so the customer is not left
/// wondering whether anyone read it.
pub(super) async fn with_human(ctx: &InboundContext, policy: &Policy, brain: &Brain) -> Decision {
    let mood = sentiment::read(&ctx.body, &policy.escalation);
    let mut outcome = InboundOutcome {
        understanding: Some(Understood {
            intent: None,
            confidence: None,
            sentiment: Some(f64::from(mood.compound)),
        }),
        ..Default::default()
    };
    let Some(handoff) = ctx.handoff.as_ref() else {
        return silent(Reason::WithHuman);
    };
    if handoff.status == HandoffStatus::Waiting {
        let summary = summarize(ctx, brain, &handoff.rule, &handoff.reason, None).await;
        outcome.handoff = Some(HandoffChange::Refresh {
            handoff_id: handoff.id,
            summary: summary.text,
            summary_by: summary.by,
            headline: summary.headline,
        });
    }
    let mut state = ConversationState::from_json(ctx.state_json.as_deref());
    let agent_has_written = ctx
        .history
        .iter()
        .rev()
        .find(|m| m.direction == Direction::Outbound)
        .is_some_and(|m| m.author == Author::Agent);
    // A loop's handoff opened silently: another text would feed the loop.
    let loop_handoff = handoff.rule == Rule::BotLoop.as_str();
    if state.noted_handoff != Some(handoff.id) && !agent_has_written && !loop_handoff {
        state.noted_handoff = Some(handoff.id);
        outcome.state_json = Some(state.to_json());
        outcome.replies.push(reply(
            &policy.handoff.noted,
            OutboundKind::Reply,
            policy.replies.max_segments,
        ));
    }
    Decision {
        outcome,
        reason: Reason::WithHuman,
        thought: None,
    }
}

/// The handoff note for the agent, from the whole thread including this text.
pub(super) async fn summarize(
    ctx: &InboundContext,
    brain: &Brain,
    rule: &str,
    detail: &str,
    intent: Option<&str>,
) -> Summary {
    let turns = summary_turns(ctx, intent);
    brain
        .summarize(&SummaryInput {
            turns: &turns,
            reason_rule: rule,
            reason_detail: detail,
            intents: None,
        })
        .await
}

/// The whole thread including this text (understood as `intent`), oldest first.
fn summary_turns(ctx: &InboundContext, intent: Option<&str>) -> Vec<SummaryTurn> {
    let mut turns: Vec<SummaryTurn> = ctx
        .history
        .iter()
        .filter(|m| m.message_id < ctx.message_id)
        .map(|m| SummaryTurn {
            role: role_of(m.direction, m.author),
            text: m.body.clone(),
            intent: m.intent.clone(),
        })
        .collect();
    turns.push(SummaryTurn {
        role: TurnRole::Customer,
        text: ctx.body.clone(),
        intent: intent.map(str::to_string),
    });
    turns
}

pub(super) fn role_of(direction: Direction, author: Author) -> TurnRole {
    match (direction, author) {
        (Direction::Inbound, _) => TurnRole::Customer,
        (_, Author::Agent) => TurnRole::Agent,
        _ => TurnRole::Bot,
    }
}

/// The conversation so far, as turns for the brain (oldest first).
pub(super) fn turns(ctx: &InboundContext) -> Vec<Turn> {
    ctx.history
        .iter()
        .filter(|m| m.message_id < ctx.message_id)
        .map(|m| Turn {
            role: role_of(m.direction, m.author),
            text: m.body.clone(),
        })
        .collect()
}
