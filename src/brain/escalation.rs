//! When the bot stops and hands the conversation to a person, and why.
//!
//! Each rule looks at one kind of evidence and, when it fires, says which rule it was,
//! how urgent the handoff is, and a human-readable reason an agent can trust at a
//! glance ("angry: VADER -0.71, '!!!'"). The thresholds and phrase lists are the
//! `[escalation]` section of `prompts/policy.toml`, owned by operators and reloaded
//! live; [`EscalationSettings::default`] is exactly what ships there.
//!
//! Rules that need no intent (a request for a person, a threat, anger, a very complex
//! text) are checked before understanding; the intent rules (sensitive or escalate
//! intents, the same question again) after it; `not_understood` when the bot missed
//! twice in a row. [`Brain::think`](super::think::Brain::think) runs them in that
//! order. Phrases match whole words, so "agent" in "travel agent discount" is not a
//! request for a person.

use serde::{Deserialize, Serialize};

use super::intents::{Action, Intent};
use super::sentiment::{self, Mood};
use super::state::ConversationState;
use crate::llm::{Turn, TurnRole};

/// The operator's escalation thresholds and phrase lists.
#[derive(Deserialize, Clone, Debug, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct EscalationSettings {
    /// Phrases that ask for a person ("talk to someone", "call me").
    pub human_phrases: Vec<String>,
    /// Words that ask for a person only when they are the whole text ("AGENT", "CALL").
    pub human_words: Vec<String>,
    /// Threats to leave, sue, charge back or report the business.
    pub threat_phrases: Vec<String>,
    /// Swear words on top of the built-in profanity filter.
    pub extra_profanity: Vec<String>,
    /// Phrases saying the question was already asked ("3rd time", "already asked").
    pub repeat_phrases: Vec<String>,
    /// A text at or below this VADER compound score is angry on its own.
    pub angry_compound: f32,
    /// A text at or below this score is angry when it also shouts, swears or has a run
    /// of `exclamation_run` or more "!".
    pub upset_compound: f32,
    pub exclamation_run: u32,
    /// Share of upper-case letters that counts as shouting, in texts of at least
    /// `caps_min_letters` letters.
    pub caps_share: f32,
    pub caps_min_letters: usize,
    /// The mood trend: the mean score of the last `trend_texts` customer texts at or
    /// below `trend_compound`, with the latest lower than the first.
    pub trend_texts: usize,
    pub trend_compound: f32,
    /// A text with this many questions or more is too complex for the bot.
    pub max_questions: usize,
    /// A text longer than this many characters is too complex for the bot.
    pub max_chars: usize,
    /// Share of shared words (0..1) above which a text repeats the last question.
    pub similar_question: f32,
    /// Hand over when the LLM classifier says a person is needed (`needs_human`).
    /// Only with an LLM configured; turn off if your model flags too eagerly.
    pub llm_needs_human: bool,
}

fn strings(items: &[&str]) -> Vec<String> {
    items.iter().map(|s| s.to_string()).collect()
}

impl Default for EscalationSettings {
    fn default() -> Self {
        Self {
            human_phrases: strings(&[
                "talk to someone",
                "speak to someone",
                "speak with someone",
                "talk to somebody",
                "talk to a person",
                "speak to a person",
                "speak with a person",
                "real person",
                "live person",
                "actual person",
                "a human",
                "real human",
                "an agent",
                "live agent",
                "real agent",
                "agent please",
                "representative",
                "customer service rep",
                "a manager",
                "your manager",
                "supervisor",
                "call me",
                "give me a call",
                "phone me",
            ]),
            human_words: strings(&[
                "agent",
                "human",
                "person",
                "representative",
                "rep",
                "operator",
                "call",
                "manager",
            ]),
            threat_phrases: strings(&[
                "cancel my account",
                "close my account",
                "cancel my membership",
                "switch to",
                "switching to",
                "take my business elsewhere",
                "shop elsewhere",
                "never shop here again",
                "never shopping here again",
                "never order from you again",
                "sue you",
                "sue your",
                "going to sue",
                "gonna sue",
                "i will sue",
                "ill sue",
                "suing",
                "lawsuit",
                "lawyer",
                "attorney",
                "legal action",
                "small claims",
                "chargeback",
                "charge back",
                "dispute the charge",
                "dispute this with my bank",
                "dispute it with my bank",
                "report you",
                "better business bureau",
                "bbb",
            ]),
            extra_profanity: strings(&["wtf", "ffs", "stfu"]),
            repeat_phrases: strings(&[
                "asking again",
                "ask again",
                "asked again",
                "already asked",
                "i just asked",
                "i asked you",
                "asked this before",
                "same question",
                "2nd time",
                "second time",
                "3rd time",
                "third time",
                "4th time",
                "fourth time",
                "how many times",
                "you already said",
                "not what i asked",
                "still no answer",
            ]),
            angry_compound: -0.6,
            upset_compound: -0.25,
            exclamation_run: 3,
            caps_share: 0.7,
            caps_min_letters: 8,
            trend_texts: 3,
            trend_compound: -0.35,
            max_questions: 3,
            max_chars: 480,
            similar_question: 0.6,
            llm_needs_human: true,
        }
    }
}

impl EscalationSettings {
    /// Checks ranges an operator can get wrong; the message names the key.
    pub fn validate(&self) -> Result<(), String> {
        let scores = [
            ("angry_compound", self.angry_compound),
            ("upset_compound", self.upset_compound),
            ("trend_compound", self.trend_compound),
        ];
        for (key, value) in scores {
            if !(-1.0..=1.0).contains(&value) {
                return Err(format!("`escalation.{key}` must be between -1 and 1"));
            }
        }
        let shares = [
            ("caps_share", self.caps_share),
            ("similar_question", self.similar_question),
        ];
        for (key, value) in shares {
            if !(0.0..=1.0).contains(&value) {
                return Err(format!("`escalation.{key}` must be between 0 and 1"));
            }
        }
        if self.trend_texts < 2 {
            return Err("`escalation.trend_texts` must be at least 2".into());
        }
        if self.max_questions == 0 || self.max_chars == 0 {
            return Err("`escalation.max_questions` and `max_chars` must be at least 1".into());
        }
        Ok(())
    }
}

/// Which rule sent the conversation to a person.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Rule {
    AskedForHuman,
    NegativeEmotion,
    Threat,
    SensitiveIntent,
    EscalateIntent,
    NotUnderstood,
    RepeatedQuestion,
    Complex,
    /// The LLM, classifying the text, judged that a person should take it
    /// (`needs_human`), and `[escalation] llm_needs_human` trusts that judgement.
    ModelJudged,
    /// The bot already sent its cap of replies in the flood window and the customer
    /// keeps texting (decided by the engine's guard, not here).
    BotLoop,
    /// The customer said the answers did not help, and the next best one was already
    /// tried (or there was none).
    NotHelped,
    /// textdesk failed to process the text again and again (decided by the worker):
    /// a person reads it instead.
    SetAside,
}

impl Rule {
    pub const ALL: [Rule; 12] = [
        Rule::AskedForHuman,
        Rule::NegativeEmotion,
        Rule::Threat,
        Rule::SensitiveIntent,
        Rule::EscalateIntent,
        Rule::NotUnderstood,
        Rule::RepeatedQuestion,
        Rule::Complex,
        Rule::ModelJudged,
        Rule::BotLoop,
        Rule::NotHelped,
        Rule::SetAside,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Rule::AskedForHuman => "asked_for_human",
            Rule::NegativeEmotion => "negative_emotion",
            Rule::Threat => "threat",
            Rule::SensitiveIntent => "sensitive_intent",
            Rule::EscalateIntent => "escalate_intent",
            Rule::NotUnderstood => "not_understood",
            Rule::RepeatedQuestion => "repeated_question",
            Rule::Complex => "complex",
            Rule::ModelJudged => "model_judged",
            Rule::BotLoop => "bot_loop",
            Rule::NotHelped => "not_helped",
            Rule::SetAside => "set_aside",
        }
    }

    pub fn parse(name: &str) -> Option<Rule> {
        Rule::ALL.into_iter().find(|r| r.as_str() == name)
    }

    /// Threats and anger first, sensitive topics next, plain requests after, and a
    /// merely complex text last.
    pub fn priority(self) -> Priority {
        match self {
            Rule::Threat | Rule::NegativeEmotion => Priority::Urgent,
            Rule::SensitiveIntent | Rule::EscalateIntent | Rule::SetAside => Priority::High,
            Rule::AskedForHuman
            | Rule::NotUnderstood
            | Rule::RepeatedQuestion
            | Rule::ModelJudged
            | Rule::BotLoop
            | Rule::NotHelped => Priority::Normal,
            Rule::Complex => Priority::Low,
        }
    }
}

/// How soon a person should pick the conversation up; `Urgent` sorts first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Priority {
    Urgent,
    High,
    Normal,
    Low,
}

impl Priority {
    /// 1 (urgent) … 4 (low), for storage and sorting.
    pub fn as_i64(self) -> i64 {
        match self {
            Priority::Urgent => 1,
            Priority::High => 2,
            Priority::Normal => 3,
            Priority::Low => 4,
        }
    }

    pub fn from_i64(value: i64) -> Option<Priority> {
        match value {
            1 => Some(Priority::Urgent),
            2 => Some(Priority::High),
            3 => Some(Priority::Normal),
            4 => Some(Priority::Low),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Priority::Urgent => "urgent",
            Priority::High => "high",
            Priority::Normal => "normal",
            Priority::Low => "low",
        }
    }
}

/// A decision to hand over: the rule, its priority and why, in words.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Escalation {
    pub rule: Rule,
    pub priority: Priority,
    /// Why, for the agent: e.g. "angry: VADER -0.71, '!!!'".
    pub detail: String,
}

impl Escalation {
    pub fn new(rule: Rule, detail: impl Into<String>) -> Self {
        Self {
            rule,
            priority: rule.priority(),
            detail: detail.into(),
        }
    }
}

/// The rules that need no intent, most urgent first: threat, negative emotion, asked
/// for a person, complex. `history` is the conversation before this text.
pub fn before_understanding(
    text: &str,
    mood: &Mood,
    history: &[Turn],
    settings: &EscalationSettings,
) -> Option<Escalation> {
    if let Some(threat) = &mood.threat {
        return Some(Escalation::new(
            Rule::Threat,
            format!("threat: \"{threat}\""),
        ));
    }
    if let Some(detail) = negative_emotion(mood, history, settings) {
        return Some(Escalation::new(Rule::NegativeEmotion, detail));
    }
    if let Some(phrase) = asked_for_human(text, settings) {
        return Some(Escalation::new(
            Rule::AskedForHuman,
            format!("asked for a person: \"{phrase}\""),
        ));
    }
    complex(text, settings).map(|detail| Escalation::new(Rule::Complex, detail))
}

/// The rules that need the understood intent: sensitive and escalate intents, then the
/// same question again after the bot answered it.
pub fn after_understanding(
    text: &str,
    intent: Option<&Intent>,
    state: &ConversationState,
    settings: &EscalationSettings,
) -> Option<Escalation> {
    if let Some(intent) = intent {
        if intent.sensitive {
            return Some(Escalation::new(
                Rule::SensitiveIntent,
                format!("sensitive intent {}", intent.name),
            ));
        }
        if intent.action == Action::Escalate {
            return Some(Escalation::new(
                Rule::EscalateIntent,
                format!("intent {}", intent.name),
            ));
        }
    }
    repeated_question(text, intent, state, settings)
        .map(|detail| Escalation::new(Rule::RepeatedQuestion, detail))
}

/// The bot failed to understand `misses` texts in a row.
pub fn not_understood(misses: u32) -> Escalation {
    Escalation::new(
        Rule::NotUnderstood,
        format!("not understood {misses} times in a row"),
    )
}

/// The human-request phrase in `text`, if it asks for a person.
pub fn asked_for_human<'s>(text: &str, settings: &'s EscalationSettings) -> Option<&'s str> {
    let normalized = normalize(text);
    if let Some(phrase) = find_phrase(&normalized, &settings.human_phrases) {
        return Some(phrase);
    }
    // A lone word ("AGENT", "call", "human please") is a request; the same word inside
    // a sentence ("a travel agent discount") is not.
    let core: Vec<&str> = normalized
        .split_whitespace()
        .filter(|w| !POLITE.contains(w))
        .collect();
    match core.as_slice() {
        [word] => settings
            .human_words
            .iter()
            .find(|w| normalize(w).trim() == *word)
            .map(String::as_str),
        _ => None,
    }
}

/// Words around a lone request that do not change it: "agent please", "a human now".
const POLITE: &[&str] = &[
    "please", "pls", "plz", "now", "a", "an", "me", "my", "i", "want",
];

fn negative_emotion(
    mood: &Mood,
    history: &[Turn],
    settings: &EscalationSettings,
) -> Option<String> {
    let score = mood.compound;
    if score <= settings.angry_compound {
        return Some(format!(
            "angry: VADER {score:.2}{}",
            amplifiers(mood, settings)
        ));
    }
    let amplified = amplifiers(mood, settings);
    if score <= settings.upset_compound && !amplified.is_empty() {
        return Some(format!("angry: VADER {score:.2}{amplified}"));
    }
    trend(score, history, settings)
}

/// ", ALL CAPS, '!!!', profanity" — whichever of them the text has.
fn amplifiers(mood: &Mood, settings: &EscalationSettings) -> String {
    let mut out = String::new();
    if mood.caps {
        out.push_str(", ALL CAPS");
    }
    if mood.exclamations >= settings.exclamation_run {
        out.push_str(&format!(", '{}'", "!".repeat(mood.exclamations as usize)));
    }
    if mood.profanity {
        out.push_str(", profanity");
    }
    out
}

/// The mood over the last few customer texts (this one included) is low and falling.
fn trend(score: f32, history: &[Turn], settings: &EscalationSettings) -> Option<String> {
    let wanted = settings.trend_texts.saturating_sub(1);
    // Only the texts in the window are scored: the history holds up to 30 texts and
    // VADER reads each one word by word.
    let mut window: Vec<f32> = history
        .iter()
        .rev()
        .filter(|t| t.role == TurnRole::Customer)
        .take(wanted)
        .map(|t| sentiment::compound(&t.text))
        .collect();
    if window.len() < wanted || wanted == 0 {
        return None;
    }
    window.reverse();
    window.push(score);
    let mean = window.iter().sum::<f32>() / window.len() as f32;
    let first = window[0];
    if mean <= settings.trend_compound && score < first {
        Some(format!(
            "mood falling: mean of last {} texts {mean:.2} ({first:.2} → {score:.2})",
            window.len()
        ))
    } else {
        None
    }
}

fn complex(text: &str, settings: &EscalationSettings) -> Option<String> {
    let chars = text.chars().count();
    if chars > settings.max_chars {
        return Some(format!("long text: {chars} characters"));
    }
    let questions = count_questions(text);
    (questions >= settings.max_questions).then(|| format!("{questions} questions in one text"))
}

/// Sentences that end in "?" or open with a question word (texters often skip the
/// "?"); "??" is one question.
pub fn count_questions(text: &str) -> usize {
    const OPENERS: &[&str] = &[
        "what", "whats", "where", "wheres", "when", "why", "how", "who", "which", "can", "could",
        "do", "does", "did", "is", "are", "will", "would", "should",
    ];
    let mut count = 0;
    let mut sentence = String::new();
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        let ends = matches!(c, '?' | '.' | '!' | '\n');
        if !ends {
            sentence.push(c);
            continue;
        }
        while chars.peek().is_some_and(|n| matches!(n, '?' | '.' | '!')) {
            chars.next();
        }
        let first = normalize(&sentence);
        let opens = first
            .split_whitespace()
            .next()
            .is_some_and(|w| OPENERS.contains(&w));
        if !sentence.trim().is_empty() && (c == '?' || opens) {
            count += 1;
        }
        sentence.clear();
    }
    let last = normalize(&sentence);
    if last
        .split_whitespace()
        .next()
        .is_some_and(|w| OPENERS.contains(&w))
    {
        count += 1;
    }
    count
}

fn repeated_question(
    text: &str,
    intent: Option<&Intent>,
    state: &ConversationState,
    settings: &EscalationSettings,
) -> Option<String> {
    // Only after the bot has answered something: a first text saying "third time I ask"
    // is about earlier channels, which the anger rules judge.
    let last_intent = state.last_intent.as_deref()?;
    if let Some(phrase) = find_phrase(&normalize(text), &settings.repeat_phrases) {
        return Some(format!("asked again: \"{phrase}\""));
    }
    // The same intent, answered from the knowledge base, in much the same words: the
    // answer did not help. Fixed replies ("hi" twice) are not a loop.
    let intent = intent.filter(|i| i.action.answers())?;
    if intent.name.as_str() != last_intent {
        return None;
    }
    let last_question = state.last_question.as_deref()?;
    let overlap = word_overlap(text, last_question);
    (overlap >= settings.similar_question).then(|| {
        format!(
            "same question again ({}, {:.0}% same words)",
            intent.name,
            overlap * 100.0
        )
    })
}

/// Jaccard overlap of the content words of two texts (0..1).
pub fn word_overlap(a: &str, b: &str) -> f32 {
    let words = |t: &str| -> std::collections::BTreeSet<String> {
        normalize(t)
            .split_whitespace()
            .filter(|w| !FILLER.contains(w))
            .map(|w| {
                w.strip_suffix('s')
                    .filter(|s| s.len() > 2)
                    .unwrap_or(w)
                    .to_string()
            })
            .collect()
    };
    let (a, b) = (words(a), words(b));
    if a.is_empty() || b.is_empty() {
        return 0.0;
    }
    let shared = a.intersection(&b).count();
    shared as f32 / a.union(&b).count() as f32
}

const FILLER: &[&str] = &[
    "a", "an", "the", "is", "are", "my", "i", "me", "you", "your", "to", "of", "for", "it", "on",
    "in", "do", "does", "did", "can", "please", "pls", "and", "so", "u", "ur", "hey", "hi",
    "again", "still", "yet",
];

/// Lower case, apostrophes dropped ("I'm" → "im"), everything else that is not a letter
/// or digit a space; padded with one space each side so phrases match whole words.
pub fn normalize(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 2);
    out.push(' ');
    let mut space = true;
    for c in text.chars() {
        if matches!(c, '\'' | '’') {
            continue;
        }
        if c.is_alphanumeric() {
            out.extend(c.to_lowercase());
            space = false;
        } else if !space {
            out.push(' ');
            space = true;
        }
    }
    if !space {
        out.push(' ');
    }
    out
}

/// The first phrase of `phrases` found as whole words in a [`normalize`]d text.
pub fn find_phrase<'p>(normalized: &str, phrases: &'p [String]) -> Option<&'p str> {
    phrases
        .iter()
        .find(|p| {
            let p = normalize(p);
            !p.trim().is_empty() && normalized.contains(&p)
        })
        .map(String::as_str)
}

#[cfg(test)]
mod tests;
