//! The lookup step of a turn: a question the business's own system answers ("where
//! is my order?"). What the lookup needs is read from the customer's texts or asked
//! for, one slot at a time; then the system is called and its answer put in the
//! operator's words.
//!
//! The customer is never left without an answer: a system that fails or times out
//! gives the knowledge base's answer and the offer of a person; a value the system
//! does not know is asked for once more; a customer who cannot give what is needed
//! after a second ask gets the knowledge base's answer and the offer of a person.

use serde_json::{Map, Value};

use crate::brain::state::{ConversationState, PendingLookup};
use crate::lookups::{Lookup, LookupCaller, LookupResult, LookupSet, Today};

/// What the lookup step needs from the rest of the turn.
pub struct LookupContext<'a> {
    pub set: &'a LookupSet,
    pub caller: &'a LookupCaller,
    pub today: Today,
    /// `contact` in templates: the phone and the contact's attributes.
    pub contact: Value,
    pub business: &'a str,
}

/// Where one turn of a lookup ended.
#[derive(Debug, Clone, PartialEq)]
pub enum LookupStep {
    /// The bot asked for a slot; the conversation waits for it.
    Asked(String),
    /// The system answered; the reply is the file's `found` text.
    Found(String),
    /// The system does not know the value; the reply is the file's `not_found` text.
    NotFound(String),
    /// The system failed; the caller adds the knowledge base's answer with
    /// [`failed_text`].
    Failed,
    /// The customer did not give the slot after two asks; the caller adds the
    /// knowledge base's answer with [`gave_up_text`].
    GaveUp,
}

/// How a lookup turn ended, for logs, events and conversation tests.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum LookupEnd {
    Asked,
    Found,
    NotFound,
    Failed,
    GaveUp,
}

impl LookupStep {
    pub fn end(&self) -> LookupEnd {
        match self {
            LookupStep::Asked(_) => LookupEnd::Asked,
            LookupStep::Found(_) => LookupEnd::Found,
            LookupStep::NotFound(_) => LookupEnd::NotFound,
            LookupStep::Failed => LookupEnd::Failed,
            LookupStep::GaveUp => LookupEnd::GaveUp,
        }
    }
}

/// Two unknown values end the search: a third guess is a person's job.
const MAX_NOT_FOUND: u32 = 2;
/// The ask and one re-ask; then the customer is offered a person.
const MAX_ASKS: u32 = 2;

/// Said when the customer could not give what the lookup needs.
const GAVE_UP: &str = "No problem. If you'd like a person to look into it, reply AGENT.";

/// Reads slot values from `text` into the conversation's slots: every slot whose
/// kind has a shape (an order number, an e-mail), and a free-text slot only when it
/// is the one the bot just asked for. True when `awaited` was filled.
pub fn fill_slots(
    lookup: &Lookup,
    state: &mut ConversationState,
    text: &str,
    awaited: Option<&str>,
    today: jiff::civil::Date,
) -> bool {
    let mut filled_awaited = false;
    for slot in &lookup.slots {
        let asked = awaited == Some(slot.name.as_str());
        if matches!(slot.kind, crate::lookups::SlotKind::Text) && !asked {
            continue;
        }
        if let Some(value) = slot.kind.extract(text, today) {
            state.slots.insert(slot.name.clone(), value);
            filled_awaited |= asked;
        }
    }
    filled_awaited
}

/// The slot the conversation is waiting for, when its lookup is still usable.
pub fn awaited<'a>(
    state: &ConversationState,
    set: &'a LookupSet,
) -> Option<(&'a Lookup, PendingLookup)> {
    let pending = state.pending_lookup.clone()?;
    let lookup = set.get(&pending.lookup).filter(|l| l.is_on())?;
    lookup.slot(&pending.slot)?;
    Some((lookup, pending))
}

/// With the slots known so far: ask for the first missing one, or make the lookup.
pub async fn proceed(
    lookup: &Lookup,
    ctx: &LookupContext<'_>,
    state: &mut ConversationState,
    intent: &str,
    question: &str,
) -> LookupStep {
    let earlier = state
        .pending_lookup
        .take()
        .filter(|p| p.lookup == lookup.name);
    if let Some(missing) = lookup
        .slots
        .iter()
        .find(|s| !state.slots.contains_key(&s.name))
    {
        let asks = earlier
            .as_ref()
            .filter(|p| p.slot == missing.name)
            .map_or(0, |p| p.asks);
        if asks >= MAX_ASKS {
            return LookupStep::GaveUp;
        }
        state.pending_lookup = Some(PendingLookup {
            lookup: lookup.name.clone(),
            intent: intent.to_string(),
            question: question.to_string(),
            slot: missing.name.clone(),
            asks: asks + 1,
            not_found: earlier.as_ref().map_or(0, |p| p.not_found),
        });
        let text = if asks == 0 {
            &missing.ask
        } else {
            &missing.reask
        };
        return LookupStep::Asked(render_or(text, &vars(lookup, ctx, state, None), ctx, text));
    }

    let call_vars = vars(lookup, ctx, state, None);
    match ctx.caller.call(lookup, &call_vars, &ctx.today).await {
        LookupResult::Found(values) => match found_text(lookup, ctx, call_vars, values) {
            Some(text) => LookupStep::Found(text),
            None => LookupStep::Failed,
        },
        LookupResult::NotFound => {
            let text = render_or(
                &lookup.replies.not_found,
                &call_vars,
                ctx,
                "I couldn't find that. Could you check it and send it again?",
            );
            // The values named nothing: forget them, so the next text can give new ones.
            for slot in &lookup.slots {
                state.slots.remove(&slot.name);
            }
            let not_found = earlier.as_ref().map_or(0, |p| p.not_found) + 1;
            if not_found < MAX_NOT_FOUND {
                state.pending_lookup = Some(PendingLookup {
                    lookup: lookup.name.clone(),
                    intent: intent.to_string(),
                    question: question.to_string(),
                    slot: lookup
                        .slots
                        .first()
                        .map(|s| s.name.clone())
                        .unwrap_or_default(),
                    // The not-found text asked again; one more ask is left.
                    asks: 1,
                    not_found,
                });
            }
            LookupStep::NotFound(text)
        }
        LookupResult::Failed(_) => LookupStep::Failed,
    }
}

/// A flow's free-text answers read as the lookup reads its slots ("it's #12345" →
/// "12345" for an `order_number` slot); values no slot kind recognises stay as given.
pub fn read_flow_answers(
    lookup: &Lookup,
    answers: &std::collections::BTreeMap<String, String>,
    today: jiff::civil::Date,
) -> std::collections::BTreeMap<String, String> {
    answers
        .iter()
        .map(|(name, value)| {
            let read = lookup
                .slot(name)
                .and_then(|spec| spec.kind.extract(value, today));
            (name.clone(), read.unwrap_or_else(|| value.clone()))
        })
        .collect()
}

/// A lookup made by a flow step, with the flow's answers over the conversation's
/// slots (see [`read_flow_answers`]): nothing is asked (the flow asked), and the
/// lookup file words each ending.
pub async fn call_for_flow(
    lookup: &Lookup,
    ctx: &LookupContext<'_>,
    slots: &std::collections::BTreeMap<String, String>,
) -> crate::flows::LookupAnswer {
    use crate::flows::LookupAnswer;
    let state = ConversationState {
        slots: slots.clone(),
        ..Default::default()
    };
    let failed = || LookupAnswer::Failed(failed_text(lookup, ctx, &state, None));
    if !lookup.is_on() {
        return failed();
    }
    if let Some(missing) = lookup.slots.iter().find(|s| !slots.contains_key(&s.name)) {
        tracing::warn!(lookup = %lookup.name, slot = %missing.name, "a flow's lookup step ran without this slot; no step of the flow answers it");
        return failed();
    }
    let call_vars = vars(lookup, ctx, &state, None);
    match ctx.caller.call(lookup, &call_vars, &ctx.today).await {
        LookupResult::Found(values) => match found_text(lookup, ctx, call_vars, values) {
            Some(text) => LookupAnswer::Found(text),
            None => failed(),
        },
        LookupResult::NotFound => LookupAnswer::NotFound(render_or(
            &lookup.replies.not_found,
            &call_vars,
            ctx,
            "I couldn't find that.",
        )),
        LookupResult::Failed(_) => failed(),
    }
}

/// The found reply, with what was read from the system's answer; `None` (logged)
/// when it does not render, which the callers treat as a failed lookup.
fn found_text(
    lookup: &Lookup,
    ctx: &LookupContext<'_>,
    mut vars: Map<String, Value>,
    read: Map<String, Value>,
) -> Option<String> {
    vars.extend(read);
    crate::lookups::template::render(&lookup.replies.found, &vars, &ctx.today)
        .map_err(|e| {
            tracing::error!(lookup = %lookup.name, error = %e, "the found reply failed to render");
        })
        .ok()
}

/// The failed reply: the file's `failed` text with the knowledge base's `answer`.
pub fn failed_text(
    lookup: &Lookup,
    ctx: &LookupContext<'_>,
    state: &ConversationState,
    answer: Option<&str>,
) -> String {
    let vars = vars(lookup, ctx, state, Some(answer.unwrap_or("")));
    render_or(
        &lookup.replies.failed,
        &vars,
        ctx,
        "I can't check that right now. Reply AGENT and a person will look into it for you.",
    )
    .trim()
    .to_string()
}

/// The reply when the customer could not give what was needed: the offer of a
/// person first (fitting cuts from the end), then the knowledge base's answer.
pub fn gave_up_text(answer: Option<&str>) -> String {
    match answer {
        Some(answer) => format!("{GAVE_UP} {answer}"),
        None => GAVE_UP.to_string(),
    }
}

/// The template variables: the slots, `contact`, `business`, and `answer` when given.
fn vars(
    lookup: &Lookup,
    ctx: &LookupContext<'_>,
    state: &ConversationState,
    answer: Option<&str>,
) -> Map<String, Value> {
    let mut vars: Map<String, Value> = lookup
        .slots
        .iter()
        .filter_map(|s| {
            state
                .slots
                .get(&s.name)
                .map(|v| (s.name.clone(), Value::from(v.as_str())))
        })
        .collect();
    vars.insert("contact".into(), ctx.contact.clone());
    vars.insert("business".into(), ctx.business.into());
    if let Some(answer) = answer {
        vars.insert("answer".into(), answer.into());
    }
    vars
}

fn render_or(
    template: &str,
    vars: &Map<String, Value>,
    ctx: &LookupContext<'_>,
    fallback: &str,
) -> String {
    crate::lookups::template::render(template, vars, &ctx.today).unwrap_or_else(|e| {
        tracing::error!(error = %e, "a lookup text failed to render; sending the plain default");
        fallback.to_string()
    })
}
