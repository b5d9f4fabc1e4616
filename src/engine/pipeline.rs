//! The per-message pipeline: given one inbound text and what we know about its
//! contact, decide the consent change and the replies. Pure: no I/O, no clock of its
//! own, so every rule is testable alone.
//!
//! Steps, in order (see ARCHITECTURE.md):
//! 1. compliance: STOP/START/HELP families; an opted-out contact gets silence;
//! 2. ownership: a conversation with an open handoff belongs to people: the text is
//!    stored and pushed to agents (the summary refreshed), the bot says nothing;
//! 2a. reactions: a phone's `Liked “…”` to our text is stored, not answered;
//! 2b. flow: a conversation inside a flow (see [`crate::flows`]) gives the text to the
//!    flow's current step. This runs before the guards on purpose: answering "1" and
//!    then "1" again, or five quick answers in a row, is what a flow asks for, and a
//!    flow cannot loop (each step moves on, re-asks once, or hands over);
//! 3. guards: machines (echoes, repeats and floods at machine speed) get silence and a
//!    silent handoff; a person gets answers up to a ceiling per window, then a person
//!    takes over and the customer is told (see [`guard`]);
//! 4. pictures: the bot cannot read them and says so;
//! 5. the brain: understand, decide (answer / reply / clarify / escalate), compose.
//!    An escalation opens a handoff with a summary and tells the customer what to
//!    expect.
//!
//! Steps 1–4 need nothing but the context; step 5 (and the summaries) may call the
//! knowledge index and an LLM, each with its own fallback, so a decision is always
//! reached.

use crate::brain::escalation::{Escalation, Rule};
use crate::brain::sentiment;
use crate::brain::state::ConversationState;
use crate::brain::summary::{Summary, SummaryInput, SummaryTurn};
use crate::brain::think::{Brain, Decision as BrainDecision, Thought, TurnInput};
use crate::engine::guard::{self, Guarded, MachineSign};
use crate::engine::lookup::{self, LookupContext, LookupEnd, LookupStep};
use crate::engine::policy::Policy;
use crate::flows::{self, FlowSet, Turn as FlowTurn};
use crate::llm::{Turn, TurnRole};
use crate::lookups::{Lookup, LookupCaller, LookupSet, Today};
use crate::sms::keywords::{self, Keyword};
use crate::sms::reactions;
use crate::sms::segments;
use crate::store::{
    Author, Consent, ConsentChange, CsatAnswer, Direction, FlowCompletion, HandoffChange,
    HandoffStatus, InboundContext, InboundOutcome, NewHandoff, NewOutbound, OutboundKind,
    Understood,
};

/// The operator's scripted parts in force for this turn: the flows and the
/// appointment times already booked (the flow step), and the lookups (the lookup step).
pub struct Playbook<'a> {
    pub flows: &'a FlowSet,
    pub booked: &'a std::collections::HashSet<String>,
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
    AlreadyOptedOut,
    OptedIn,
    Help,
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

    if let Some(answered) = csat_answer(ctx, max_segments) {
        return Some(answered);
    }

    if ctx.handoff.is_some() {
        return Some(silent(Reason::WithHuman));
    }
    None
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
                let env = flow_env(ctx, policy, playbook, now);
                let turn = flows::run::advance(flow, &running, &ctx.body, &env);
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
    let last_bot_text = last_bot_text(ctx, policy);
    let (under_way, returning) = standing(ctx, policy);
    let contact = contact_json(ctx);
    let mut thought = brain
        .think(&TurnInput {
            text: &ctx.body,
            history: &history,
            state: &state,
            business: &policy.business.name,
            escalation: &policy.escalation,
            last_bot_text,
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
                let env = flow_env(ctx, policy, playbook, now);
                let turn = flows::run::start(flow, &env);
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

/// What the flow step machine needs, from the context, the policy and the store.
fn flow_env<'a>(
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

/// A customer writing in a language the bot does not answer in: offered a person in
/// that language (`[languages]` in policy.toml) and handed over when they accept.
/// The offer is made once per text in that language; anything else after it goes on
/// as usual.
async fn other_language(
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

/// What the lookup step needs, from the context, the policy and the playbook.
fn lookup_context<'a>(
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
struct LookupAsked<'a> {
    intent: &'a str,
    question: &'a str,
    knowledge_answer: Option<String>,
}

/// Turns a lookup step into the pipeline's decision: the text to send (a failed
/// lookup or a customer who could not give the slot get the knowledge base's answer
/// and the offer of a person), the state to keep.
#[allow(clippy::too_many_arguments)]
async fn lookup_turn(
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
async fn flow_turn(
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

/// The intent a handoff is filed under: what the brain understood, unless off-topic.
fn handoff_intent(thought: &Thought) -> Option<String> {
    Some(thought.understanding.intent.to_string())
        .filter(|i| i != crate::brain::intents::OUT_OF_SCOPE)
}

/// Whether the brain's reply is, word for word, the bot's last text to this contact,
/// sent within the flood window (the same answer to a question asked again next week
/// is fine; the same text twice in one exchange is not).
fn repeats_last_bot_text(ctx: &InboundContext, thought: &Thought, policy: &Policy) -> bool {
    if matches!(thought.decision, BrainDecision::Escalate(_)) {
        return false;
    }
    let Some(text) = thought.reply.as_deref() else {
        return false;
    };
    let next = reply(text, OutboundKind::Reply, policy.replies.max_segments);
    repeats_last_bot(ctx, &next, policy)
}

/// `contact` in templates: the phone and the contact's attributes (`contact.name`).
fn contact_json(ctx: &InboundContext) -> serde_json::Value {
    let mut contact: serde_json::Map<String, serde_json::Value> = ctx
        .attributes
        .iter()
        .map(|(k, v)| (k.clone(), serde_json::Value::from(v.as_str())))
        .collect();
    contact.insert("phone".into(), ctx.phone.as_str().into());
    serde_json::Value::Object(contact)
}

/// Where the exchange stands: under way (the bot or a person texted the contact
/// within the flood window), and whether the contact texted us before this exchange
/// (a returning contact, greeted as one).
fn standing(ctx: &InboundContext, policy: &Policy) -> (bool, bool) {
    let window_ms = secs_to_ms(policy.limits.window_secs);
    let recent = |m: &&crate::store::HistoryEntry| ctx.received_at - m.created_at <= window_ms;
    let under_way = ctx
        .history
        .iter()
        .filter(recent)
        .any(|m| m.direction == Direction::Outbound);
    let returning = ctx
        .history
        .iter()
        .any(|m| m.direction == Direction::Inbound && ctx.received_at - m.created_at > window_ms);
    (under_way, returning)
}

/// The bot's last text to this contact, when sent within the flood window (the same
/// answer to a question asked again next week is fine; the same text twice in one
/// exchange is not).
fn last_bot_text<'a>(ctx: &'a InboundContext, policy: &Policy) -> Option<&'a str> {
    let window_ms = secs_to_ms(policy.limits.window_secs);
    ctx.history
        .iter()
        .rev()
        .find(|m| guard::is_bot_reply(m))
        .filter(|m| ctx.received_at - m.created_at <= window_ms)
        .map(|m| m.body.as_str())
}

/// Whether `next` is, word for word, the bot's last text in this exchange.
fn repeats_last_bot(ctx: &InboundContext, next: &NewOutbound, policy: &Policy) -> bool {
    last_bot_text(ctx, policy)
        .is_some_and(|last| guard::normalize(&next.body) == guard::normalize(last))
}

/// What the customer is told when a person takes over: when to expect them.
fn expectation(ctx: &InboundContext, policy: &Policy, now: i64) -> NewOutbound {
    let text = policy
        .handoff
        .expectation(policy.team_back(now), ctx.usual_wait_ms);
    reply(&text, OutboundKind::Reply, policy.replies.max_segments)
}

/// A new handoff, summarised by the brain when there is one, else by its reason alone.
async fn handoff_change(
    ctx: &InboundContext,
    brain: Option<&Brain>,
    why: &Escalation,
    intent: Option<String>,
) -> HandoffChange {
    match brain {
        Some(brain) => open_handoff(ctx, brain, why, intent).await,
        None => HandoffChange::Open(NewHandoff {
            priority: why.priority.as_i64(),
            rule: why.rule.as_str().to_string(),
            reason: why.detail.clone(),
            intent,
            summary: format!(
                "Why: {} ({}).",
                why.rule.as_str().replace('_', " "),
                why.detail
            ),
            summary_by: "local",
        }),
    }
}

async fn open_handoff(
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
    })
}

/// A text on a conversation that is with a person: the bot does not answer it. Its
/// mood is recorded for the agent and, while nobody has claimed the handoff yet, the
/// summary is rewritten to include it. The first text after the bot's handoff notice
/// ("hello??") is told it was noted, once per handoff, so the customer is not left
/// wondering whether anyone read it.
async fn with_human(ctx: &InboundContext, policy: &Policy, brain: &Brain) -> Decision {
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
async fn summarize(
    ctx: &InboundContext,
    brain: &Brain,
    rule: &str,
    detail: &str,
    intent: Option<&str>,
) -> Summary {
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
    brain
        .summarize(&SummaryInput {
            turns: &turns,
            reason_rule: rule,
            reason_detail: detail,
            intents: None,
        })
        .await
}

fn role_of(direction: Direction, author: Author) -> TurnRole {
    match (direction, author) {
        (Direction::Inbound, _) => TurnRole::Customer,
        (_, Author::Agent) => TurnRole::Agent,
        _ => TurnRole::Bot,
    }
}

/// The conversation so far, as turns for the brain (oldest first).
fn turns(ctx: &InboundContext) -> Vec<Turn> {
    ctx.history
        .iter()
        .filter(|m| m.message_id < ctx.message_id)
        .map(|m| Turn {
            role: role_of(m.direction, m.author),
            text: m.body.clone(),
        })
        .collect()
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
