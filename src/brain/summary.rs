//! The handoff note: what an agent taking over a conversation reads first, written so
//! it can be acted on in ten seconds and never longer than [`MAX_CHARS`].
//!
//! One line each: why it was escalated, what the customer wants, the facts they gave
//! (order numbers, dates, amounts, e-mails, names), how their mood moved, what the bot
//! already said, and a suggested next step. The LLM writes it when configured
//! (`prompts/summarize.md`); on any LLM error, or without one, [`local_summary`]
//! builds the same lines from the transcript. The input is plain data so a summary can
//! also be refreshed later from stored messages. Beside it, [`headline`] is the one
//! line a queue card shows, always built locally.

mod headline;

use std::sync::LazyLock;

use regex::Regex;
use serde::Serialize;

pub use headline::{headline, plain_evidence};

use super::escalation::Rule;
use super::intents::IntentSet;
use super::sentiment;
use super::think::Brain;
use crate::llm::{Turn, TurnRole};

/// The longest handoff note, in characters.
pub const MAX_CHARS: usize = 600;

/// One message of the conversation, with the intent understood on it (customer texts)
/// or answered by it (bot texts) when known.
#[derive(Debug, Clone, PartialEq)]
pub struct SummaryTurn {
    pub role: TurnRole,
    pub text: String,
    pub intent: Option<String>,
}

/// Everything a summary is made from.
#[derive(Debug, Clone, Copy)]
pub struct SummaryInput<'a> {
    /// The conversation, oldest first.
    pub turns: &'a [SummaryTurn],
    /// The escalation rule's name (`Rule::as_str`, e.g. "negative_emotion").
    pub reason_rule: &'a str,
    /// The rule's human-readable why (e.g. "angry: VADER -0.71, '!!!'").
    pub reason_detail: &'a str,
    /// The intents, for their descriptions; [`Brain::summarize`] fills in its own.
    pub intents: Option<&'a IntentSet>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Summary {
    pub text: String,
    /// "llm" or "local".
    pub by: &'static str,
    /// The queue card's line, in an agent's words ([`headline`]).
    pub headline: String,
}

/// "Why: Upset: third time asking about order #48213.", with the rule's reason when
/// it is in plain words ("… (asked for a person in the booking flow at step `time`;
/// answers so far: …)").
pub fn why_line(input: &SummaryInput<'_>) -> String {
    match plain_evidence(Rule::parse(input.reason_rule), input.reason_detail) {
        Some(evidence) => format!("Why: {} ({evidence}).", input.headline()),
        None => format!("Why: {}.", input.headline()),
    }
}

impl SummaryInput<'_> {
    /// The queue card's line for this handoff.
    pub fn headline(&self) -> String {
        headline(
            Rule::parse(self.reason_rule),
            self.reason_detail,
            self.turns,
        )
    }
}

impl Brain {
    /// The handoff note: by the LLM when configured, locally when not or when the LLM
    /// fails. Always at most [`MAX_CHARS`] characters.
    pub async fn summarize(&self, input: &SummaryInput<'_>) -> Summary {
        let model = self.model();
        let input = SummaryInput {
            intents: input.intents.or(Some(&model.set)),
            ..*input
        };
        let headline = input.headline();
        if let Some(llm) = self.llm_for(crate::llm::LlmTask::Summaries) {
            let transcript: Vec<Turn> = input
                .turns
                .iter()
                .map(|t| Turn {
                    role: t.role,
                    text: t.text.clone(),
                })
                .collect();
            let reason = format!(
                "{headline} (rule {}: {})",
                input.reason_rule, input.reason_detail
            );
            match llm
                .summarize(&transcript, &reason, &facts(input.turns))
                .await
            {
                Ok(text) => {
                    return Summary {
                        text: trim_to(&text, MAX_CHARS),
                        by: "llm",
                        headline,
                    };
                }
                Err(e) => tracing::warn!(error = %e, "LLM summary failed; summarizing locally"),
            }
        }
        Summary {
            text: local_summary(&input),
            by: "local",
            headline,
        }
    }
}

/// The handoff note built from the transcript alone.
pub fn local_summary(input: &SummaryInput<'_>) -> String {
    let customer: Vec<&SummaryTurn> = input
        .turns
        .iter()
        .filter(|t| t.role == TurnRole::Customer)
        .collect();
    let topic = main_topic(&customer);
    let mut lines = vec![why_line(input)];
    lines.push(format!("Wants: {}", wants(topic, input.intents)));
    let facts = facts(input.turns);
    if !facts.is_empty() {
        lines.push(format!("Facts: {}.", facts.join(", ")));
    }
    if let Some(mood) = mood_movement(&customer) {
        lines.push(format!("Mood: {mood}."));
    }
    if let Some(said) = bot_said(input.turns) {
        lines.push(format!("Bot said: {said}."));
    }
    lines.push(format!(
        "Next: {}",
        next_step(input.reason_rule, topic.and_then(|t| t.intent.as_deref()))
    ));
    trim_to(&lines.join("\n"), MAX_CHARS)
}

/// Intents that say nothing about what the customer needs (a complaint says how they
/// feel; the mood line covers it).
const SMALL_TALK: &[&str] = &[
    "greeting",
    "thanks",
    "goodbye",
    "human",
    "complaint",
    "out_of_scope",
];

/// The customer's latest text about a real topic; else their longest text.
fn main_topic<'t>(customer: &[&'t SummaryTurn]) -> Option<&'t SummaryTurn> {
    customer
        .iter()
        .rev()
        .find(|t| {
            t.intent
                .as_deref()
                .is_some_and(|i| !SMALL_TALK.contains(&i))
        })
        .or_else(|| customer.iter().max_by_key(|t| t.text.len()))
        .copied()
}

fn wants(topic: Option<&SummaryTurn>, intents: Option<&IntentSet>) -> String {
    let Some(topic) = topic else {
        return "unknown.".into();
    };
    let quote = format!("\"{}\"", clip(topic.text.trim(), 90));
    // A complaint or a greeting says how they feel, not what they need: their words
    // alone say it better than "Customer is angry or upset…".
    let Some(name) = topic
        .intent
        .as_deref()
        .filter(|name| !SMALL_TALK.contains(name))
    else {
        return quote;
    };
    match intents.and_then(|set| set.get(name)) {
        Some(intent) => format!("{} {quote}", clip(first_sentence(&intent.description), 110)),
        None => format!("{} {quote}", name.replace('_', " ")),
    }
}

fn first_sentence(text: &str) -> &str {
    match text.find(". ") {
        Some(end) => &text[..=end],
        None => text,
    }
}

/// "calm, then angry (-0.10 → -0.71)", from the first to the last customer text.
fn mood_movement(customer: &[&SummaryTurn]) -> Option<String> {
    let scores: Vec<f32> = customer
        .iter()
        .map(|t| sentiment::compound(&t.text))
        .collect();
    let (first, last) = (*scores.first()?, *scores.last()?);
    // The low point matters even when the customer has calmed down since: an agent
    // should know they were angry a moment ago.
    let low = scores.iter().copied().fold(f32::INFINITY, f32::min);
    let low_is_news = mood_word(low) != mood_word(first) && mood_word(low) != mood_word(last);
    if low_is_news {
        return Some(format!(
            "{}, then {}, now {} ({first:.2} → {low:.2} → {last:.2})",
            mood_word(first),
            mood_word(low),
            mood_word(last)
        ));
    }
    if scores.len() == 1 || mood_word(first) == mood_word(last) {
        return Some(format!("{} ({last:.2})", mood_word(last)));
    }
    Some(format!(
        "{}, then {} ({first:.2} → {last:.2})",
        mood_word(first),
        mood_word(last)
    ))
}

fn mood_word(score: f32) -> &'static str {
    match score {
        s if s >= 0.3 => "happy",
        s if s > -0.2 => "calm",
        s if s > -0.5 => "upset",
        _ => "angry",
    }
}

/// The intents the bot answered, or the first words of its replies, latest three.
fn bot_said(turns: &[SummaryTurn]) -> Option<String> {
    let mut said: Vec<String> = Vec::new();
    for turn in turns.iter().filter(|t| t.role == TurnRole::Bot) {
        let item = match &turn.intent {
            Some(intent) => intent.clone(),
            None => format!("\"{}\"", first_words(&turn.text, 6)),
        };
        if !said.contains(&item) {
            said.push(item);
        }
    }
    let start = said.len().saturating_sub(3);
    (!said.is_empty()).then(|| said[start..].join("; "))
}

fn first_words(text: &str, n: usize) -> String {
    let words: Vec<&str> = text.split_whitespace().collect();
    let mut out = words[..words.len().min(n)].join(" ");
    if words.len() > n {
        out.push('…');
    }
    out
}

fn next_step(rule: &str, intent: Option<&str>) -> &'static str {
    match (rule, intent) {
        ("threat", _) => {
            "Reply quickly and personally; involve a team lead before promising anything."
        }
        (_, Some("billing_dispute")) => {
            "Check the payment records for the charge and tell the customer what you found."
        }
        ("negative_emotion", _) => "Apologize first, then solve the problem they raised.",
        (_, Some("order_status")) => "Look up the order and text the tracking status.",
        (_, Some("damaged_item")) => "Ask for a photo and offer a replacement or refund.",
        (_, Some("order_changes")) => "Check whether the order has shipped, then make the change.",
        (_, Some("returns")) => "Confirm the item is eligible and send return instructions.",
        ("repeated_question", _) => {
            "The bot's answer did not help: answer the question in your own words."
        }
        ("complex", _) => "Answer each question in turn; a call may be quicker.",
        ("not_understood", _) => "Ask what they need in a few words.",
        _ => "Greet the customer by name if known and answer their question.",
    }
}

static ORDER: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(
        r"(?i)\b(?:order|ord)\s*(?:no\.?|number|num|#)?\s*:?\s*#?\s*([A-Z]{0,3}-?\d{4,12})\b|#\s?(\d{4,12})\b|\b([A-Z]{2,3}-\d{4,12})\b",
    )
    .expect("static regex")
});
static EMAIL: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"\b[A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,}\b").expect("static regex")
});
static MONEY: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?i)\$\s?\d[\d,]*(?:\.\d{2})?|\b\d[\d,]*(?:\.\d{2})?\s?(?:dollars|usd|bucks)\b")
        .expect("static regex")
});
static DATE: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(
        r"(?i)\b(?:jan(?:uary)?|feb(?:ruary)?|mar(?:ch)?|apr(?:il)?|may|june?|july?|aug(?:ust)?|sep(?:t(?:ember)?)?|oct(?:ober)?|nov(?:ember)?|dec(?:ember)?)\.?\s+\d{1,2}(?:st|nd|rd|th)?(?:,?\s+\d{4})?\b|\b\d{4}-\d{2}-\d{2}\b|\b\d{1,2}/\d{1,2}(?:/\d{2,4})?\b",
    )
    .expect("static regex")
});
static NAME: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"\b(?i:my name is|this is|name's)\s+([A-Z][a-z]+(?:\s+[A-Z][a-z]+)?)")
        .expect("static regex")
});

/// Facts the customer gave, in the order first given and without repeats: order
/// numbers, e-mails, amounts, dates and names ("order #48213", "name Dana Reyes").
pub fn facts(turns: &[SummaryTurn]) -> Vec<String> {
    let mut found: Vec<String> = Vec::new();
    let mut add = |fact: String| {
        if !found.contains(&fact) {
            found.push(fact);
        }
    };
    for turn in turns.iter().filter(|t| t.role == TurnRole::Customer) {
        let text = &turn.text;
        for c in ORDER.captures_iter(text) {
            if let Some(id) = c.iter().skip(1).flatten().next() {
                let id = id.as_str();
                let shown = if id.chars().all(|c| c.is_ascii_digit()) {
                    format!("order #{id}")
                } else {
                    format!("order {}", id.to_uppercase())
                };
                add(shown);
            }
        }
        for m in EMAIL.find_iter(text) {
            add(format!("email {}", m.as_str()));
        }
        for m in MONEY.find_iter(text) {
            add(format!("amount {}", m.as_str().trim()));
        }
        for m in DATE.find_iter(text) {
            add(format!("date {}", m.as_str()));
        }
        for c in NAME.captures_iter(text) {
            add(format!("name {}", &c[1]));
        }
    }
    found
}

/// The longest start of `text` within `max` characters that ends on a line or
/// sentence boundary (or, failing that, a word, with "…").
pub fn trim_to(text: &str, max: usize) -> String {
    let text = text.trim();
    if text.chars().count() <= max {
        return text.to_string();
    }
    let cut = text
        .char_indices()
        .nth(max)
        .map(|(i, _)| i)
        .unwrap_or(text.len());
    let head = &text[..cut];
    let boundary = head
        .rfind('\n')
        .into_iter()
        .chain(
            head.rmatch_indices(['.', '!', '?'])
                .map(|(i, _)| i + 1)
                .find(|&i| text[i..].starts_with([' ', '\n'])),
        )
        .max();
    match boundary {
        Some(end) if end >= max / 2 => head[..end].trim_end().to_string(),
        _ => {
            // One long line: end on a whole word, one character kept for the "…".
            let shorter: String = head.chars().take(max - 1).collect();
            let end = shorter.rfind(' ').unwrap_or(shorter.len());
            format!("{}…", shorter[..end].trim_end())
        }
    }
}

fn clip(text: &str, max: usize) -> String {
    if text.chars().count() <= max {
        text.to_string()
    } else {
        trim_to(text, max)
    }
}

#[cfg(test)]
mod tests;
