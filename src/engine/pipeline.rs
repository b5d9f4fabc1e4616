//! The per-message pipeline: given one inbound text and what we know about its
//! contact, decide the consent change and the replies. Pure: no I/O, no clock of its
//! own, so every rule is testable alone.
//!
//! Steps, in order (see ARCHITECTURE.md):
//! 1. compliance: STOP/START/HELP families; an opted-out contact gets silence;
//! 2. guards: flood cap and bot-loop detection;
//! 3. pictures: the bot cannot read them and says so;
//! 4. the brain: understand, decide (answer / reply / clarify / escalate), compose.
//!
//! Steps 1–3 are pure; step 4 may call the knowledge index and an LLM, each with its
//! own fallback, so a decision is always reached.

use crate::brain::state::ConversationState;
use crate::brain::think::{Brain, Decision as BrainDecision, Thought, TurnInput};
use crate::engine::guard::{self, Silence};
use crate::engine::policy::Policy;
use crate::llm::{Turn, TurnRole};
use crate::sms::keywords::{self, Keyword};
use crate::sms::segments;
use crate::store::{
    Author, Consent, ConsentChange, Direction, InboundContext, InboundOutcome, NewOutbound,
    OutboundKind, Understood,
};

/// What the pipeline decided, with the reason kept for logs and tests.
#[derive(Debug, Clone)]
pub struct Decision {
    pub outcome: InboundOutcome,
    pub reason: Reason,
    /// The brain's reasoning, when it was consulted (for logs and previews).
    pub thought: Option<Thought>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reason {
    OptedOut,
    AlreadyOptedOut,
    OptedIn,
    Help,
    /// The contact is opted out and the text is not a keyword: store, never answer.
    SilentOptedOut,
    Silenced(Silence),
    Media,
    /// No brain configured: the policy's acknowledgement.
    Acknowledged,
    Answered,
    Clarified,
    Escalated,
}

/// Runs the steps that need no brain; `None` means the brain must decide.
pub fn decide_without_brain(ctx: &InboundContext, policy: &Policy, now: i64) -> Option<Decision> {
    let opted_out = ctx.consent.is_opted_out();
    let texts = &policy.texts;
    let max_segments = policy.replies.max_segments;

    match keywords::detect(&ctx.body, opted_out) {
        Some(Keyword::OptOut) if opted_out => return Some(silent(Reason::AlreadyOptedOut)),
        Some(Keyword::OptOut) => {
            return Some(Decision {
                outcome: InboundOutcome {
                    consent_change: Some(ConsentChange {
                        to: Consent::OptedOut,
                        source: "keyword",
                        detail: keyword_detail(&ctx.body),
                    }),
                    replies: vec![reply(
                        &texts.opt_out,
                        OutboundKind::Compliance,
                        max_segments,
                    )],
                    ..Default::default()
                },
                reason: Reason::OptedOut,
                thought: None,
            });
        }
        Some(Keyword::OptIn) => {
            let change = (ctx.consent != Consent::OptedIn).then(|| ConsentChange {
                to: Consent::OptedIn,
                source: "keyword",
                detail: keyword_detail(&ctx.body),
            });
            return Some(Decision {
                outcome: InboundOutcome {
                    consent_change: change,
                    replies: vec![reply(&texts.opt_in, OutboundKind::Compliance, max_segments)],
                    ..Default::default()
                },
                reason: Reason::OptedIn,
                thought: None,
            });
        }
        Some(Keyword::Help) => {
            return Some(Decision {
                outcome: InboundOutcome {
                    consent_change: None,
                    replies: vec![reply(&texts.help, OutboundKind::Compliance, max_segments)],
                    ..Default::default()
                },
                reason: Reason::Help,
                thought: None,
            });
        }
        None if opted_out => return Some(silent(Reason::SilentOptedOut)),
        None => {}
    }

    let limits = guard::Limits {
        max_bot_replies: policy.limits.max_bot_replies,
        window_ms: (policy.limits.window_secs as i64).saturating_mul(1000),
    };
    if let Some(silence) = guard::check(&ctx.body, &ctx.history, now, &limits) {
        return Some(silent(Reason::Silenced(silence)));
    }

    if !ctx.media_urls.is_empty() && ctx.body.trim().is_empty() {
        return Some(Decision {
            outcome: InboundOutcome {
                replies: vec![reply(
                    &texts.media_unsupported,
                    OutboundKind::Reply,
                    max_segments,
                )],
                ..Default::default()
            },
            reason: Reason::Media,
            thought: None,
        });
    }
    None
}

/// The whole pipeline for one inbound text.
pub async fn decide(
    ctx: &InboundContext,
    policy: &Policy,
    brain: Option<&Brain>,
    now: i64,
) -> Decision {
    if let Some(decided) = decide_without_brain(ctx, policy, now) {
        return decided;
    }
    let max_segments = policy.replies.max_segments;
    let Some(brain) = brain else {
        return Decision {
            outcome: InboundOutcome {
                replies: vec![reply(
                    &policy.texts.acknowledgement,
                    OutboundKind::Reply,
                    max_segments,
                )],
                ..Default::default()
            },
            reason: Reason::Acknowledged,
            thought: None,
        };
    };
    let state = ConversationState::from_json(ctx.state_json.as_deref());
    let history = turns(ctx);
    let thought = brain
        .think(&TurnInput {
            text: &ctx.body,
            history: &history,
            state: &state,
            business: &policy.business.name,
            escalation: &policy.escalation,
        })
        .await;
    let (text, reason) = match (&thought.decision, &thought.reply) {
        (BrainDecision::Escalate { .. }, _) | (_, None) => {
            (policy.texts.handoff.clone(), Reason::Escalated)
        }
        (BrainDecision::Clarify { .. }, Some(text)) => (text.clone(), Reason::Clarified),
        (_, Some(text)) => (text.clone(), Reason::Answered),
    };
    let understood = Understood {
        intent: thought.understanding.intent.to_string(),
        confidence: f64::from(thought.understanding.confidence),
        sentiment: thought.understanding.sentiment.map(f64::from),
    };
    Decision {
        outcome: InboundOutcome {
            consent_change: None,
            replies: vec![reply(&text, OutboundKind::Reply, max_segments)],
            understanding: Some(understood),
            state_json: Some(thought.state.to_json()),
        },
        reason,
        thought: Some(thought),
    }
}

/// The conversation so far, as turns for the brain (oldest first).
fn turns(ctx: &InboundContext) -> Vec<Turn> {
    ctx.history
        .iter()
        .filter(|m| m.message_id < ctx.message_id)
        .map(|m| Turn {
            role: match (m.direction, m.author) {
                (Direction::Inbound, _) => TurnRole::Customer,
                (_, Author::Agent) => TurnRole::Agent,
                _ => TurnRole::Bot,
            },
            text: m.body.clone(),
        })
        .collect()
}

fn silent(reason: Reason) -> Decision {
    Decision {
        outcome: InboundOutcome::default(),
        reason,
        thought: None,
    }
}

/// The keyword as the customer wrote it, trimmed, for the consent event.
fn keyword_detail(body: &str) -> String {
    body.trim().chars().take(32).collect()
}

/// A bot text made ready for SMS: look-alike characters replaced so it stays GSM-7
/// where possible, then fitted to the segment budget by whole sentences.
pub fn reply(text: &str, kind: OutboundKind, max_segments: u32) -> NewOutbound {
    let encoded = segments::smart_encode(text);
    let fitted = segments::fit(&encoded, max_segments);
    NewOutbound {
        author: Author::Bot,
        kind,
        body: fitted.text,
        encoding: fitted.count.encoding.as_str(),
        segments: fitted.count.segments,
        units: fitted.count.units,
    }
}
