//! The step machine: start a flow, read the customer's answer to the current step,
//! and say what happens next. Pure: everything it needs comes in an [`Env`], and the
//! flow's progress is a [`RunningFlow`] the engine keeps in the conversation's state.
//!
//! At any step the customer can leave: a request for a person (the same words the
//! brain listens for: "agent", "human", CALL…) hands the conversation over with the
//! answers so far; "menu", "exit", "never mind" end the flow with a short
//! confirmation. STOP never gets here (compliance runs first), so a lone CANCEL or
//! QUIT is an opt-out, not a flow command. An answer that does not fit gets one
//! friendly re-ask repeating the options; a second miss hands over.

use std::collections::{BTreeMap, HashSet};

use jiff::Timestamp;
use jiff::tz::TimeZone;
use serde::{Deserialize, Serialize};

use super::answer;
use super::availability::{Availability, Offer, Week};
use super::file::{ChoiceOption, Flow, StepKind, render};
use super::when;
use crate::brain::escalation::{self, Escalation, EscalationSettings, Rule};

/// Where a conversation is in a flow; stored in the conversation's state.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunningFlow {
    pub name: String,
    /// The id of the step whose answer we wait for.
    pub step: String,
    /// Answers so far, by slot name.
    #[serde(default)]
    pub slots: BTreeMap<String, String>,
    /// Answers to the current step that did not fit.
    #[serde(default)]
    pub misses: u32,
    /// The times offered by a `slot` step, so "2" means what the customer saw.
    #[serde(default)]
    pub offers: Vec<Offer>,
    /// The time picked, booked when the flow ends on a step with `book`.
    #[serde(default)]
    pub booking: Option<Offer>,
}

/// What the step machine needs from outside.
pub struct Env<'a> {
    pub now_ms: i64,
    /// The business time zone: "tomorrow" and "Tue" are read in it.
    pub tz: TimeZone,
    pub availability: &'a Availability,
    /// Appointment times already booked (keys as in [`Offer::key`]).
    pub booked: &'a HashSet<String>,
    /// The contact's phone (E.164), for templates.
    pub contact: &'a str,
    pub business: &'a str,
    pub escalation: &'a EscalationSettings,
}

/// A finished flow: what the engine stores, books and announces (`flow.completed`).
#[derive(Debug, Clone, PartialEq)]
pub struct Completion {
    pub flow: String,
    pub slots: BTreeMap<String, String>,
    pub booking: Option<Offer>,
}

/// What happens after a step.
#[derive(Debug, Clone, PartialEq)]
pub enum Turn {
    /// Send `text` and wait for the answer to `running.step`.
    Ask { text: String, running: RunningFlow },
    /// The flow ended: send its last text.
    Done {
        text: String,
        completion: Completion,
    },
    /// The customer left the flow.
    Left { text: String },
    /// A person takes over; the detail names the flow and its answers.
    Escalate(Escalation),
    /// The flow reached a lookup step (`running.step`): the engine makes the lookup
    /// and continues with [`after_lookup`]. `said` is what the turn says before the
    /// lookup's reply.
    Lookup {
        lookup: String,
        running: RunningFlow,
        said: String,
    },
}

/// How a lookup step's call ended, with the lookup file's reply for it.
#[derive(Debug, Clone, PartialEq)]
pub enum LookupAnswer {
    Found(String),
    NotFound(String),
    Failed(String),
}

impl LookupAnswer {
    /// Stored in the step's slot: what later steps and the completed flow see.
    fn value(&self) -> &'static str {
        match self {
            LookupAnswer::Found(_) => "found",
            LookupAnswer::NotFound(_) => "not_found",
            LookupAnswer::Failed(_) => "failed",
        }
    }

    /// The lookup file's reply for this ending.
    pub fn text(&self) -> &str {
        match self {
            LookupAnswer::Found(t) | LookupAnswer::NotFound(t) | LookupAnswer::Failed(t) => t,
        }
    }
}

/// Words that leave a flow (never CANCEL or QUIT alone: those are opt-outs).
const LEAVE: &[&str] = &[
    "menu",
    "main menu",
    "exit",
    "never mind",
    "nevermind",
    "nvm",
    "forget it",
    "stop the booking",
    "cancel the booking",
    "stop booking",
    "cancel booking",
    "not now",
    "exit flow",
];

const REASK: &str = "Sorry, I didn't catch that.";
const TAKEN: &str = "Sorry, that time was just taken.";

fn leaves(text: &str) -> bool {
    let t = answer::normalize(text);
    LEAVE.contains(&t.as_str())
        || ["never mind", "stop the booking", "cancel the booking"]
            .iter()
            .any(|p| t.contains(p))
}

/// Sends the flow's first step.
pub fn start(flow: &Flow, env: &Env) -> Turn {
    let running = RunningFlow {
        name: flow.name.clone(),
        step: flow.steps[0].id.clone(),
        slots: BTreeMap::new(),
        misses: 0,
        offers: Vec::new(),
        booking: None,
    };
    enter(flow, 0, running, env, String::new(), 0)
}

/// Reads the customer's answer to the current step.
pub fn advance(flow: &Flow, running: &RunningFlow, text: &str, env: &Env) -> Turn {
    if let Some(phrase) = escalation::asked_for_human(text, env.escalation) {
        return Turn::Escalate(Escalation::new(
            Rule::AskedForHuman,
            format!(
                "asked for a person (\"{phrase}\") {}",
                describe(flow, running)
            ),
        ));
    }
    if leaves(text) {
        return Turn::Left {
            text: flow.left.clone(),
        };
    }
    let Some(index) = flow.step_index(&running.step) else {
        // The step was removed by an edit of the file: nothing sensible to continue.
        return Turn::Left {
            text: flow.left.clone(),
        };
    };
    let step = &flow.steps[index];
    let mut running = running.clone();
    let read = read_answer(&step.kind, text, &running, env);
    let Some((value, branch, booking)) = read else {
        running.misses += 1;
        if running.misses >= 2 {
            return Turn::Escalate(Escalation::new(
                Rule::NotUnderstood,
                format!(
                    "twice an answer that did not fit {}",
                    describe(flow, &running)
                ),
            ));
        }
        let options = options_text(&step.kind, &running);
        let filled = with_empty_slots(flow, &running);
        let question = render_or_raw(&step.text, &filled, env, &options);
        let text = match &step.reask {
            Some(reask) => render_or_raw(reask, &filled, env, &options),
            None => format!("{REASK} {question}"),
        };
        return Turn::Ask { text, running };
    };
    running.slots.insert(step.slot.clone(), value);
    if booking.is_some() {
        running.booking = booking;
    }
    let next = branch
        .or_else(|| step.next.clone())
        .and_then(|id| flow.step_index(&id))
        .unwrap_or(index + 1)
        .min(flow.steps.len() - 1);
    enter(flow, next, running, env, String::new(), 0)
}

/// Continues a flow after the engine made the lookup of its current (lookup) step:
/// the lookup's reply is said, then the step its ending leads to (`found`,
/// `not_found`, `failed`, else the next one).
pub fn after_lookup(
    flow: &Flow,
    running: RunningFlow,
    answer: &LookupAnswer,
    said: &str,
    env: &Env,
) -> Turn {
    let Some(index) = flow.step_index(&running.step) else {
        return Turn::Left {
            text: flow.left.clone(),
        };
    };
    let step = &flow.steps[index];
    let branch = match (&step.kind, answer) {
        (StepKind::Lookup { found, .. }, LookupAnswer::Found(_)) => found.clone(),
        (StepKind::Lookup { not_found, .. }, LookupAnswer::NotFound(_)) => not_found.clone(),
        (StepKind::Lookup { failed, .. }, LookupAnswer::Failed(_)) => failed.clone(),
        _ => None,
    };
    let mut running = running;
    running
        .slots
        .insert(step.slot.clone(), answer.value().to_string());
    let next = branch
        .or_else(|| step.next.clone())
        .and_then(|id| flow.step_index(&id))
        .unwrap_or(index + 1)
        .min(flow.steps.len() - 1);
    // The step's own words for a found answer, else the lookup file's reply.
    let reply = match answer {
        LookupAnswer::Found(_) if !step.text.trim().is_empty() => {
            render_or_raw(&step.text, &with_empty_slots(flow, &running), env, "")
        }
        _ => answer.text().to_string(),
    };
    let said = [said.trim(), reply.trim()]
        .into_iter()
        .filter(|t| !t.is_empty())
        .collect::<Vec<_>>()
        .join(" ");
    enter(flow, next, running, env, said, 0)
}

/// "in the booking flow at step `time`; answers so far: service: Bike fitting, …"
pub fn describe(flow: &Flow, running: &RunningFlow) -> String {
    let answers = if running.slots.is_empty() {
        "none yet".to_string()
    } else {
        flow.slot_names()
            .into_iter()
            .filter_map(|name| running.slots.get(name).map(|v| format!("{name}: {v}")))
            .collect::<Vec<_>>()
            .join("; ")
    };
    format!(
        "in the {} flow at step `{}`; answers so far: {answers}",
        flow.name, running.step
    )
}

type Read = (String, Option<String>, Option<Offer>);

fn read_answer(kind: &StepKind, text: &str, running: &RunningFlow, env: &Env) -> Option<Read> {
    let today = Timestamp::from_millisecond(env.now_ms)
        .ok()?
        .to_zoned(env.tz.clone())
        .date();
    match kind {
        StepKind::Choice(options) => {
            let i = answer::choice(text, options)?;
            Some((options[i].value.clone(), options[i].next.clone(), None))
        }
        StepKind::YesNo { yes, no } => match answer::yes_no(text)? {
            true => Some(("yes".into(), yes.clone(), None)),
            false => Some(("no".into(), no.clone(), None)),
        },
        StepKind::Date => when::read(text, today).map(|w| (w.value(), None, None)),
        StepKind::Time => when::time(text).map(|t| (t.strftime("%H:%M").to_string(), None, None)),
        StepKind::Weekday => when::weekday(text).map(|d| (format!("{d:?}"), None, None)),
        StepKind::Number { min, max } => {
            let n = answer::number(text)?;
            if min.is_some_and(|m| n < m) || max.is_some_and(|m| n > m) {
                return None;
            }
            Some((format_number(n), None, None))
        }
        StepKind::Email => answer::email(text).map(|e| (e, None, None)),
        StepKind::Text => {
            let t = text.trim();
            (!t.is_empty()).then(|| (t.to_string(), None, None))
        }
        StepKind::Slot { .. } => {
            let options = offer_options(&running.offers);
            let i = answer::choice(text, &options)?;
            let offer = running.offers[i].clone();
            Some((offer.label.clone(), None, Some(offer)))
        }
        // Entering these steps never waits for the customer.
        StepKind::End { .. } | StepKind::Lookup { .. } => None,
    }
}

fn format_number(n: f64) -> String {
    if n.fract() == 0.0 && n.abs() < 1e15 {
        format!("{}", n as i64)
    } else {
        format!("{n}")
    }
}

fn offer_options(offers: &[Offer]) -> Vec<ChoiceOption> {
    offers
        .iter()
        .map(|o| ChoiceOption {
            label: o.label.clone(),
            value: o.key.clone(),
            words: Vec::new(),
            next: None,
        })
        .collect()
}

/// "1) This week 2) Next week 3) Call us"
fn numbered<'a>(labels: impl Iterator<Item = &'a str>) -> String {
    labels
        .enumerate()
        .map(|(i, l)| format!("{}) {l}", i + 1))
        .collect::<Vec<_>>()
        .join(" ")
}

fn options_text(kind: &StepKind, running: &RunningFlow) -> String {
    match kind {
        StepKind::Choice(options) => numbered(options.iter().map(|o| o.label.as_str())),
        StepKind::Slot { .. } => numbered(running.offers.iter().map(|o| o.label.as_str())),
        _ => String::new(),
    }
}

/// Renders with every slot of the running flow (unanswered ones empty). Files are
/// validated on load, so a failure here is logged and the raw text sent.
fn render_or_raw(template: &str, running: &RunningFlow, env: &Env, options: &str) -> String {
    let mut slots = serde_json::Map::new();
    for (k, v) in &running.slots {
        slots.insert(k.clone(), v.clone().into());
    }
    // Slots not answered yet are empty rather than undefined.
    let context = serde_json::Value::Object(slots);
    match render(template, &context, env.contact, env.business, options) {
        Ok(text) => text.trim().to_string(),
        Err(e) => {
            tracing::warn!(flow = %running.name, step = %running.step, error = %e, "flow text did not render");
            template.to_string()
        }
    }
}

fn enter(
    flow: &Flow,
    index: usize,
    mut running: RunningFlow,
    env: &Env,
    prefix: String,
    depth: usize,
) -> Turn {
    let step = &flow.steps[index];
    running.step = step.id.clone();
    running.misses = 0;
    let say = |body: String| {
        if prefix.is_empty() {
            body
        } else if body.is_empty() {
            prefix.clone()
        } else {
            format!("{prefix} {body}")
        }
    };
    match &step.kind {
        StepKind::End { book } => {
            if book.is_some()
                && let Some(picked) = &running.booking
                && env.booked.contains(&picked.key)
                && depth < flow.steps.len()
            {
                // Someone else booked it meanwhile: offer the times again.
                let slot_step = flow
                    .steps
                    .iter()
                    .position(|s| Some(&s.slot) == book.as_ref())
                    .unwrap_or(0);
                running.booking = None;
                return enter(flow, slot_step, running, env, say(TAKEN.into()), depth + 1);
            }
            let text = say(render_or_raw(
                &step.text,
                &with_empty_slots(flow, &running),
                env,
                "",
            ));
            Turn::Done {
                text,
                completion: Completion {
                    flow: flow.name.clone(),
                    slots: running.slots,
                    booking: book.as_ref().and(running.booking),
                },
            }
        }
        StepKind::Slot {
            week_from,
            max_offers,
            full,
            full_next,
        } => {
            let week = Week::from_slot(
                week_from
                    .as_ref()
                    .and_then(|w| running.slots.get(w))
                    .map(String::as_str),
            );
            let offers = env
                .availability
                .offers(env.now_ms, week, env.booked, *max_offers);
            if offers.is_empty() {
                let next = flow.step_index(full_next).unwrap_or(0);
                if depth >= flow.steps.len() {
                    return Turn::Left {
                        text: say(full.clone()),
                    };
                }
                return enter(flow, next, running, env, say(full.clone()), depth + 1);
            }
            running.offers = offers;
            let options = options_text(&step.kind, &running);
            let text = say(render_or_raw(
                &step.text,
                &with_empty_slots(flow, &running),
                env,
                &options,
            ));
            Turn::Ask { text, running }
        }
        StepKind::Lookup { lookup, .. } => Turn::Lookup {
            lookup: lookup.clone(),
            running,
            said: prefix,
        },
        kind => {
            let options = options_text(kind, &running);
            let text = say(render_or_raw(
                &step.text,
                &with_empty_slots(flow, &running),
                env,
                &options,
            ));
            Turn::Ask { text, running }
        }
    }
}

/// The running flow with every slot of the flow present (unanswered ones empty), so
/// strict templates render on every branch.
fn with_empty_slots(flow: &Flow, running: &RunningFlow) -> RunningFlow {
    let mut filled = running.clone();
    for name in flow.slot_names() {
        filled.slots.entry(name.to_string()).or_default();
    }
    filled
}
