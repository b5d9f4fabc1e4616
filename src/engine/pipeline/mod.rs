//! The per-message pipeline: given one inbound text and what we know about its
//! contact, decide the consent change and the replies. No clock of its own and no
//! storage, so every rule is testable alone; the brain, the LLM and lookups are the
//! only calls out, each with its own fallback, so a decision is always reached.
//!
//! Steps, in order (see ARCHITECTURE.md), each in the module named:
//! 1. compliance: STOP/START/HELP families; an opted-out contact gets silence;
//! 2. ownership (`handover.rs`): a conversation with an open handoff belongs to
//!    people: the text is stored and pushed to agents (the summary refreshed); the
//!    bot only says, once per handoff, that it was noted;
//! 2a. reactions: a phone's `Liked “…”` to our text is stored, not answered;
//! 2b. flow (`flow_step.rs`): a conversation inside a flow (see [`crate::flows`]) gives
//!    the text to the flow's current step. This runs before the guards on purpose:
//!    answering "1" and then "1" again, or five quick answers in a row, is what a
//!    flow asks for, and a flow cannot loop (each step moves on, re-asks once, or
//!    hands over);
//! 3. guards: machines (echoes, repeats and floods at machine speed) get silence, a
//!    flood past the bot's cap also a silent handoff; a person gets answers up to a
//!    ceiling per window, then a person takes over and the customer is told (see
//!    [`guard`]);
//! 4. pictures: the bot cannot read them and says so;
//! 5a. a slot the bot asked for (`lookup_step.rs`): a text holding it takes the
//!    lookup on without the brain;
//! 5b. another language (`language_step.rs`): the offer of a person in it;
//! 5c. the brain: understand, decide (answer / reply / clarify / escalate / flow /
//!    lookup), compose. An answer never repeats the bot's last text (`exchange.rs`);
//!    an escalation opens a handoff with a summary and tells the customer what to
//!    expect (`handover.rs`).

mod exchange;
mod flow_step;
mod gap;
mod handover;
mod language_step;
mod lookup_step;

pub use flow_step::business_zone;
pub use gap::gap_of;

use exchange::{contact_json, repeats_last_bot_text, said_recently, standing};
use flow_step::{flow_env, flow_turn, through_lookups};
use handover::{expectation, handoff_change, handoff_intent, open_handoff, turns, with_human};
use language_step::other_language;
use lookup_step::{LookupAsked, lookup_context, lookup_turn};

use crate::brain::escalation::{Escalation, Rule};
use crate::brain::state::ConversationState;
use crate::brain::think::{Brain, Decision as BrainDecision, Thought, TurnInput};
use crate::engine::booked::BookedSlots;
use crate::engine::guard::{self, Guarded, MachineSign};
use crate::engine::lookup::{self, LookupEnd};
use crate::engine::policy::Policy;
use crate::flows::{self, FlowSet};
use crate::lookups::{LookupCaller, LookupSet};
use crate::sms::keywords::Keyword;
use crate::sms::reactions;
use crate::sms::revocation::{self, Revocation};
use crate::sms::segments;
use crate::store::{
    Author, Consent, ConsentChange, ConsentSource, CsatAnswer, InboundContext, InboundOutcome,
    NewOutbound, OutboundKind, Understood,
};

/// The operator's scripted parts in force for this turn: the flows and the
/// appointment times already booked (the flow step), and the lookups (the lookup step).
pub struct Playbook<'a> {
    pub flows: &'a FlowSet,
    pub booked: &'a BookedSlots<'a>,
    pub lookups: &'a LookupSet,
    pub caller: &'a LookupCaller,
}

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
    /// A text that may be an opt-out got the question "Reply STOP to…".
    AskedToOptOut,
    AlreadyOptedOut,
    OptedIn,
    Help,
    /// HELP (or START while subscribed) again, after its answer already went
    /// `limits.max_compliance_repeats` times within the window: store, no answer.
    ComplianceRepeat,
    /// The contact is opted out and the text is not a keyword: store, never answer.
    SilentOptedOut,
    /// The other side looks like a machine: store, never answer.
    Machine(MachineSign),
    /// A person had the most bot replies one window allows: a person takes over.
    PersonAtCeiling,
    Media,
    /// No brain configured: the policy's acknowledgement.
    Acknowledged,
    Answered,
    Clarified,
    Escalated,
    /// The conversation is with a person: stored and shown to agents, no bot reply.
    WithHuman,
    /// A flow step: its next question, a re-ask, its last text or the way out.
    Flow,
    /// A 1–5 answering the satisfaction survey: recorded and thanked.
    CsatRecorded,
    /// The fixed reply the customer just got (a second "thanks"): not sent twice.
    AlreadySaid,
    /// A phone's reaction to our text (`Liked “…”`): nothing to answer.
    Reaction,
    /// A lookup in the business's system: a slot asked for, or how the lookup ended.
    Lookup(LookupEnd),
    /// A text in a language the bot does not answer in: a person was offered in it.
    OtherLanguage,
}

/// Steps 1 and 2: keywords and consent, then a conversation owned by people.
fn compliance_and_ownership(ctx: &InboundContext, policy: &Policy) -> Option<Decision> {
    let opted_out = ctx.consent.is_opted_out();
    let max_segments = policy.replies.max_segments;
    let spotted = policy.keyword(&ctx.body, opted_out);
    // Answered in the language the keyword was written in (ALTO → Spanish).
    let texts = policy.compliance_texts(spotted.and_then(|s| s.language));

    match spotted.map(|s| s.keyword) {
        Some(Keyword::OptOut) if opted_out => return Some(silent(Reason::AlreadyOptedOut)),
        Some(Keyword::OptOut) => {
            return Some(opt_out(
                ConsentSource::Keyword,
                keyword_detail(&ctx.body),
                texts.opt_out,
                policy,
            ));
        }
        // START from a contact already subscribed changes nothing: its answer is
        // capped like HELP's, so an auto-responder cannot ping-pong with it.
        Some(Keyword::OptIn)
            if ctx.consent == Consent::OptedIn
                && compliance_repeats(ctx, texts.opt_in, policy)
                    >= policy.limits.max_compliance_repeats =>
        {
            return Some(silent(Reason::ComplianceRepeat));
        }
        Some(Keyword::OptIn) => {
            let change = (ctx.consent != Consent::OptedIn).then(|| ConsentChange {
                to: Consent::OptedIn,
                source: ConsentSource::Keyword,
                actor: None,
                detail: keyword_detail(&ctx.body),
            });
            return Some(Decision {
                outcome: InboundOutcome {
                    consent_change: change,
                    replies: vec![reply(texts.opt_in, OutboundKind::Compliance, max_segments)],
                    ..Default::default()
                },
                reason: Reason::OptedIn,
                thought: None,
            });
        }
        Some(Keyword::Help)
            if compliance_repeats(ctx, texts.help, policy)
                >= policy.limits.max_compliance_repeats =>
        {
            return Some(silent(Reason::ComplianceRepeat));
        }
        Some(Keyword::Help) => {
            return Some(Decision {
                outcome: InboundOutcome {
                    consent_change: None,
                    replies: vec![reply(texts.help, OutboundKind::Compliance, max_segments)],
                    ..Default::default()
                },
                reason: Reason::Help,
                thought: None,
            });
        }
        None if opted_out => return Some(silent(Reason::SilentOptedOut)),
        None => {}
    }
    // Not a keyword: an opt-out in plain words counts the same (FCC 2024), and one
    // that is not clear gets one question, unless a person is in the conversation.
    match revocation::detect(&ctx.body) {
        Some(Revocation::Clear) => {
            let words = ctx.body.trim().chars().take(160).collect();
            return Some(opt_out(
                ConsentSource::PlainLanguage,
                words,
                &policy.texts.opt_out,
                policy,
            ));
        }
        Some(Revocation::Unclear) if ctx.handoff.is_none() => {
            return Some(Decision {
                outcome: InboundOutcome {
                    replies: vec![reply(
                        &policy.texts.opt_out_question,
                        OutboundKind::Reply,
                        max_segments,
                    )],
                    ..Default::default()
                },
                reason: Reason::AskedToOptOut,
                thought: None,
            });
        }
        _ => {}
    }

    if let Some(answered) = csat_answer(ctx, max_segments) {
        return Some(answered);
    }

    if ctx.handoff.is_some() {
        return Some(silent(Reason::WithHuman));
    }
    None
}

/// How many times this compliance text went to the contact within the flood
/// window: HELP sent fifteen times by an auto-responder gets its answer
/// `limits.max_compliance_repeats` times, then silence (stored, never lost).
fn compliance_repeats(ctx: &InboundContext, text: &str, policy: &Policy) -> usize {
    let sent = reply(text, OutboundKind::Compliance, policy.replies.max_segments).body;
    let sent = guard::normalize(&sent);
    exchange::said_recently(ctx, policy)
        .into_iter()
        .filter(|body| guard::normalize(body) == sent)
        .count()
}

/// The opt-out and its one confirmation (`confirmation`, in the customer's
/// language); `detail` is what the customer wrote.
fn opt_out(source: ConsentSource, detail: String, confirmation: &str, policy: &Policy) -> Decision {
    Decision {
        outcome: InboundOutcome {
            consent_change: Some(ConsentChange {
                to: Consent::OptedOut,
                source,
                actor: None,
                detail,
            }),
            replies: vec![reply(
                confirmation,
                OutboundKind::Compliance,
                policy.replies.max_segments,
            )],
            ..Default::default()
        },
        reason: Reason::OptedOut,
        thought: None,
    }
}

/// Steps 3 and 4: floods, loops, and pictures the bot cannot read.
fn guards_and_media(ctx: &InboundContext, policy: &Policy) -> Option<Decision> {
    let texts = &policy.texts;
    let max_segments = policy.replies.max_segments;
    let limits = guard::Limits {
        max_bot_replies: policy.limits.max_bot_replies,
        max_replies_to_person: policy.limits.max_replies_to_person,
        window_ms: secs_to_ms(policy.limits.window_secs),
        machine_ms: secs_to_ms(policy.limits.machine_secs),
    };
    match guard::check(&ctx.body, ctx.received_at, &ctx.history, &limits) {
        Some(Guarded::Machine(sign)) => return Some(silent(Reason::Machine(sign))),
        Some(Guarded::PersonAtCeiling) => return Some(silent(Reason::PersonAtCeiling)),
        None => {}
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

fn secs_to_ms(secs: u64) -> i64 {
    i64::try_from(secs).unwrap_or(i64::MAX).saturating_mul(1000)
}

/// The whole pipeline for one inbound text.
pub async fn decide(
    ctx: &InboundContext,
    policy: &Policy,
    brain: Option<&Brain>,
    playbook: Option<&Playbook<'_>>,
    now: i64,
) -> Decision {
    if let Some(decided) = compliance_and_ownership(ctx, policy) {
        return early(decided, ctx, policy, brain, now).await;
    }
    if reactions::is_reaction(&ctx.body) {
        return silent(Reason::Reaction);
    }
    let mut state = ConversationState::from_json(ctx.state_json.as_deref());
    if let Some(running) = state.flow.clone() {
        match playbook.and_then(|p| p.flows.get(&running.name).map(|flow| (p, flow))) {
            Some((playbook, flow)) => {
                let env = flow_env(ctx, policy, playbook, now).await;
                let turn = flows::run::advance(flow, &running, &ctx.body, &env);
                let turn = through_lookups(turn, flow, ctx, policy, playbook, &state, now).await;
                return flow_turn(ctx, policy, brain, state, turn, None, now).await;
            }
            // The flow's file is gone: the brain takes the text.
            None => state.flow = None,
        }
    }
    if let Some(decided) = guards_and_media(ctx, policy) {
        return early(decided, ctx, policy, brain, now).await;
    }
    think(ctx, policy, brain, playbook, state, now).await
}

/// A decision taken before the brain, completed with what only the brain can add.
async fn early(
    decided: Decision,
    ctx: &InboundContext,
    policy: &Policy,
    brain: Option<&Brain>,
    now: i64,
) -> Decision {
    let limits = &policy.limits;
    match (decided.reason, brain) {
        (Reason::WithHuman, Some(brain)) => with_human(ctx, policy, brain).await,
        (Reason::Machine(MachineSign::FloodCap), Some(brain)) => {
            // Something keeps texting at machine speed after the bot's cap of replies:
            // a person should look, but another bot text would feed the loop, so the
            // handoff opens silently.
            let why = Escalation::new(
                Rule::BotLoop,
                format!(
                    "the bot already sent {} replies within {} minutes, and the texts come at machine speed",
                    limits.max_bot_replies,
                    limits.window_secs / 60
                ),
            );
            Decision {
                outcome: InboundOutcome {
                    handoff: Some(open_handoff(ctx, brain, &why, None).await),
                    ..Default::default()
                },
                reason: Reason::Escalated,
                thought: None,
            }
        }
        (Reason::PersonAtCeiling, _) => {
            // A person is still asking after the most answers the bot gives in one
            // window: never go quiet on them; a person takes over, and they are told.
            let why = Escalation::new(
                Rule::BotLoop,
                format!(
                    "the customer is still texting after {} bot replies within {} minutes",
                    limits.max_replies_to_person,
                    limits.window_secs / 60
                ),
            );
            Decision {
                outcome: InboundOutcome {
                    handoff: Some(handoff_change(ctx, brain, &why, None).await),
                    replies: vec![expectation(ctx, policy, now)],
                    ..Default::default()
                },
                reason: Reason::Escalated,
                thought: None,
            }
        }
        _ => decided,
    }
}

/// Step 5: the brain understands, decides and composes.
async fn think(
    ctx: &InboundContext,
    policy: &Policy,
    brain: Option<&Brain>,
    playbook: Option<&Playbook<'_>>,
    mut state: ConversationState,
    now: i64,
) -> Decision {
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
    // 5a. The slot the bot asked for: a text that holds it takes the lookup on,
    // without the brain (an order number says nothing to a classifier).
    let lookups = playbook.map(|p| lookup_context(ctx, policy, p, now));
    if let Some(lookups) = &lookups {
        match lookup::awaited(&state, lookups.set) {
            Some((file, pending)) => {
                let today = lookups.today.date;
                if lookup::fill_slots(file, &mut state, &ctx.body, Some(&pending.slot), today) {
                    let step = lookup::proceed(
                        file,
                        lookups,
                        &mut state,
                        &pending.intent,
                        &pending.question,
                    )
                    .await;
                    let understood = Understood {
                        intent: Some(pending.intent.clone()),
                        confidence: Some(1.0),
                        sentiment: None,
                    };
                    let asked = LookupAsked {
                        intent: &pending.intent,
                        question: &pending.question,
                        knowledge_answer: None,
                    };
                    return lookup_turn(
                        ctx,
                        policy,
                        Some(brain),
                        file,
                        lookups,
                        state,
                        step,
                        asked,
                        understood,
                        None,
                        now,
                    )
                    .await;
                }
            }
            None => state.pending_lookup = None,
        }
    }
    // 5b. Another language: the offer of a person in it, and the handoff on yes.
    if let Some(decided) = other_language(ctx, policy, brain, &mut state).await {
        return decided;
    }
    let history = turns(ctx);
    let said_recently = said_recently(ctx, policy);
    let (under_way, returning) = standing(ctx, policy);
    let contact = contact_json(ctx);
    let mut thought = brain
        .think(&TurnInput {
            text: &ctx.body,
            history: &history,
            state: &state,
            business: &policy.business.name,
            escalation: &policy.escalation,
            said_recently: &said_recently,
            under_way,
            returning,
            contact: Some(&contact),
        })
        .await;
    let understood = Understood {
        intent: Some(thought.understanding.intent.to_string()),
        confidence: Some(f64::from(thought.understanding.confidence)),
        sentiment: thought.understanding.sentiment.map(f64::from),
    };
    // 5c. A lookup: the brain's question goes to the business's system, or the slot
    // it needs is asked for (again). A text that answers the ask with something else
    // ("i don't have it") is asked once more, then offered a person.
    if let Some(lookups) = &lookups {
        let awaited = lookup::awaited(&thought.state, lookups.set);
        let wanted = match &thought.decision {
            BrainDecision::Lookup {
                intent,
                lookup: name,
                question,
            } => lookups
                .set
                .get(name)
                .filter(|l| l.is_on())
                .map(|file| (file, intent.clone(), question.clone())),
            BrainDecision::Clarify { .. } => awaited
                .as_ref()
                .map(|(file, p)| (*file, p.intent.clone(), p.question.clone())),
            _ => None,
        };
        if let Some((file, intent, question)) = wanted {
            let mut state = thought.state.clone();
            lookup::fill_slots(file, &mut state, &ctx.body, None, lookups.today.date);
            let step = lookup::proceed(file, lookups, &mut state, &intent, &question).await;
            let knowledge_answer = match &thought.decision {
                BrainDecision::Lookup { .. } => thought.reply.clone(),
                _ => None,
            };
            let asked = LookupAsked {
                intent: &intent,
                question: &question,
                knowledge_answer,
            };
            return lookup_turn(
                ctx,
                policy,
                Some(brain),
                file,
                lookups,
                state,
                step,
                asked,
                understood,
                Some(thought),
                now,
            )
            .await;
        }
        // Another question: the ask is dropped (the slots given so far are kept).
        thought.state.pending_lookup = None;
    }
    let mut outcome = InboundOutcome {
        understanding: Some(understood),
        state_json: Some(thought.state.to_json()),
        ..Default::default()
    };
    if let BrainDecision::Flow { flow: name, .. } = &thought.decision {
        match playbook.and_then(|p| p.flows.get(name).map(|flow| (p, flow))) {
            Some((playbook, flow)) => {
                let env = flow_env(ctx, policy, playbook, now).await;
                let turn = flows::run::start(flow, &env);
                let turn =
                    through_lookups(turn, flow, ctx, policy, playbook, &thought.state, now).await;
                let understood = outcome.understanding.clone();
                let mut decision = flow_turn(
                    ctx,
                    policy,
                    Some(brain),
                    thought.state.clone(),
                    turn,
                    understood,
                    now,
                )
                .await;
                decision.thought = Some(thought);
                return decision;
            }
            None => {
                tracing::error!(flow = %name, "an intent starts a flow that is not in prompts/flows/; acknowledging instead")
            }
        }
    }
    if repeats_last_bot_text(ctx, &thought, policy) {
        // The customer would read the same text twice in a row.
        if matches!(thought.decision, BrainDecision::Reply { .. }) {
            // A fixed reply they just got: a second "thanks" needs no second "you're
            // welcome", so nothing is sent.
            return Decision {
                outcome,
                reason: Reason::AlreadySaid,
                thought: Some(thought),
            };
        }
        // An answer or a question again: it did not move them on, so a person takes
        // over, and they are told.
        let why = Escalation::new(
            Rule::RepeatedQuestion,
            "the bot's answer would repeat its last text word for word".to_string(),
        );
        let intent = handoff_intent(&thought);
        outcome.handoff = Some(open_handoff(ctx, brain, &why, intent).await);
        outcome.replies.push(expectation(ctx, policy, now));
        return Decision {
            outcome,
            reason: Reason::Escalated,
            thought: Some(thought),
        };
    }
    let reason = match (&thought.decision, &thought.reply) {
        (BrainDecision::Escalate(why), _) => {
            let intent = handoff_intent(&thought);
            outcome.handoff = Some(open_handoff(ctx, brain, why, intent).await);
            outcome.replies.push(expectation(ctx, policy, now));
            Reason::Escalated
        }
        (BrainDecision::Clarify { .. }, Some(text)) => {
            outcome
                .replies
                .push(reply(text, OutboundKind::Reply, max_segments));
            Reason::Clarified
        }
        (_, Some(text)) => {
            outcome
                .replies
                .push(reply(text, OutboundKind::Reply, max_segments));
            Reason::Answered
        }
        (_, None) => {
            // The brain always writes a reply unless it escalates; if it ever does
            // not, the customer still hears that we got the message.
            outcome.replies.push(reply(
                &policy.texts.acknowledgement,
                OutboundKind::Reply,
                max_segments,
            ));
            Reason::Acknowledged
        }
    };
    Decision {
        outcome,
        reason,
        thought: Some(thought),
    }
}

/// A lone 1–5 while the contact has a survey pending is its answer: recorded and
/// thanked. Anything else (including "5 stars!" or a second "5") goes on as a normal
/// text.
fn csat_answer(ctx: &InboundContext, max_segments: u32) -> Option<Decision> {
    let survey = ctx.pending_survey.as_ref()?;
    let score = match ctx.body.trim() {
        s @ ("1" | "2" | "3" | "4" | "5") => s.parse::<i64>().ok()?,
        _ => return None,
    };
    Some(Decision {
        outcome: InboundOutcome {
            csat: Some(CsatAnswer {
                survey_id: survey.id,
                score,
            }),
            replies: vec![reply(&survey.thanks, OutboundKind::Reply, max_segments)],
            ..Default::default()
        },
        reason: Reason::CsatRecorded,
        thought: None,
    })
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
