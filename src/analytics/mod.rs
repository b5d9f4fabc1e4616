//! The support lead's numbers, computed from the conversations that started in a time
//! window ([`crate::store::analytics`] fetches their facts). Pure arithmetic: no I/O,
//! no clock, so every definition is testable alone. The README's "Analytics" section
//! states the same definitions in words; change both together.
//!
//! The unit is the *conversation cohort*: conversations created in `[from, to)`, and
//! everything that happened in them (even after `to`). A conversation that holds only
//! the customer's answer to a satisfaction survey is not a customer conversation: it
//! counts towards cost (segments, fallbacks) but not towards the rates.

use std::collections::BTreeMap;

use serde::Serialize;

use crate::store::analytics::ConversationFacts;
use crate::store::{Author, Direction};

/// A later text with the same intent within this long means the answer did not help.
pub const REASK_WINDOW_MS: i64 = 30 * 60 * 1000;

/// Mean and percentiles of a set of durations, in milliseconds.
#[derive(Debug, Clone, Default, PartialEq, Serialize, utoipa::ToSchema)]
pub struct Durations {
    pub count: usize,
    pub mean_ms: Option<f64>,
    /// Nearest-rank percentiles.
    pub p50_ms: Option<i64>,
    pub p90_ms: Option<i64>,
}

impl Durations {
    pub fn of(mut values: Vec<i64>) -> Self {
        values.sort_unstable();
        let count = values.len();
        if count == 0 {
            return Self::default();
        }
        let mean = values.iter().map(|&v| v as f64).sum::<f64>() / count as f64;
        Self {
            count,
            mean_ms: Some(mean),
            p50_ms: Some(percentile(&values, 0.5)),
            p90_ms: Some(percentile(&values, 0.9)),
        }
    }
}

/// Nearest-rank percentile of sorted, non-empty `values`: the smallest value with at
/// least `q` of the values at or below it.
fn percentile(sorted: &[i64], q: f64) -> i64 {
    let rank = (q * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, utoipa::ToSchema)]
pub struct FirstResponse {
    /// First customer text → first bot reply, per conversation the bot answered.
    pub bot: Durations,
    /// Handoff opened → first agent text, per handoff an agent answered.
    pub human: Durations,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, utoipa::ToSchema)]
pub struct Completion {
    /// Conversations counted complete (each once, whichever reasons apply).
    pub completed: usize,
    pub rate: Option<f64>,
    /// … because a handoff of it was resolved.
    pub handoff_resolved: usize,
    /// … because the events log has `flow.completed` for it.
    pub flow_completed: usize,
    /// … because the bot answered a recognised question that was not asked again.
    pub answered_not_reasked: usize,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, utoipa::ToSchema)]
pub struct Csat {
    pub surveys_sent: usize,
    pub responses: usize,
    pub response_rate: Option<f64>,
    pub average: Option<f64>,
    /// Answers per score, 1 to 5 (JSON object keys, so "1" … "5").
    #[schema(value_type = BTreeMap<String, usize>)]
    pub distribution: BTreeMap<i64, usize>,
}

/// Every figure for one set of conversations. Rates are fractions (0–1), `null` when
/// there is nothing to divide by.
#[derive(Debug, Clone, Default, PartialEq, Serialize, utoipa::ToSchema)]
pub struct Figures {
    /// Customer conversations (survey-answer-only conversations excluded).
    pub conversations: usize,
    /// Customer texts (survey answers excluded).
    pub inbound_texts: usize,
    /// Customer texts followed by any text from us (bot or agent; the survey does
    /// not count) in the same conversation.
    pub replied_texts: usize,
    pub response_rate: Option<f64>,
    pub first_response: FirstResponse,
    /// Conversations never handed to a person.
    pub contained: usize,
    pub containment_rate: Option<f64>,
    /// Conversations handed to a person at least once.
    pub escalated: usize,
    pub escalation_rate: Option<f64>,
    /// Handoffs by the escalation rule that fired.
    pub escalation_reasons: BTreeMap<String, usize>,
    /// SLA targets missed (`[sla]`), by target: first_response, next_response,
    /// resolution.
    pub sla_breaches: BTreeMap<String, usize>,
    /// Handoff opened → claimed.
    pub handoff_wait: Durations,
    /// Handoff opened → resolved.
    pub resolution_time: Durations,
    pub completion: Completion,
    pub csat: Csat,
    /// Conversations in which the contact opted out.
    pub opt_outs: usize,
    pub opt_out_rate: Option<f64>,
    /// Segments of our texts handed to the carrier (not queued, canceled or failed).
    pub segments_sent: i64,
    /// Customer texts the local brain understood because the LLM failed.
    pub llm_fallbacks: usize,
}

fn rate(part: usize, whole: usize) -> Option<f64> {
    (whole > 0).then(|| part as f64 / whole as f64)
}

/// Whether a conversation is a customer's (not only a survey answer).
pub fn is_customer_conversation(c: &ConversationFacts) -> bool {
    c.messages
        .iter()
        .any(|m| m.direction == Direction::Inbound && !m.csat_answer)
}

/// The figures for `conversations`.
pub fn figures(conversations: &[ConversationFacts]) -> Figures {
    let mut f = Figures::default();
    let mut bot_first = Vec::new();
    let mut human_first = Vec::new();
    let mut waits = Vec::new();
    let mut resolutions = Vec::new();
    let mut scores = Vec::new();

    for c in conversations {
        f.segments_sent += c
            .messages
            .iter()
            .filter(|m| m.direction == Direction::Outbound)
            .filter(|m| !matches!(m.delivery_status.as_str(), "queued" | "canceled" | "failed"))
            .map(|m| m.segments)
            .sum::<i64>();
        f.llm_fallbacks += c.messages.iter().filter(|m| m.llm_fallback).count();
        if !is_customer_conversation(c) {
            continue;
        }
        f.conversations += 1;
        for metric in &c.sla_breaches {
            *f.sla_breaches.entry(metric.clone()).or_default() += 1;
        }

        let customer: Vec<_> = c
            .messages
            .iter()
            .filter(|m| m.direction == Direction::Inbound && !m.csat_answer)
            .collect();
        let ours = |m: &&crate::store::analytics::MessageFact| {
            m.direction == Direction::Outbound
                && matches!(m.author, Author::Bot | Author::Agent)
                && !m.survey
        };
        f.inbound_texts += customer.len();
        f.replied_texts += customer
            .iter()
            .filter(|t| c.messages.iter().filter(ours).any(|m| m.id > t.id))
            .count();
        if let Some(first) = customer.first()
            && let Some(reply) = c
                .messages
                .iter()
                .filter(ours)
                .find(|m| m.author == Author::Bot && m.id > first.id)
        {
            bot_first.push(reply.created_at - first.created_at);
        }

        if c.handoffs.is_empty() {
            f.contained += 1;
        } else {
            f.escalated += 1;
        }
        for h in &c.handoffs {
            *f.escalation_reasons.entry(h.rule.clone()).or_default() += 1;
            if let Some(at) = h.first_response_at {
                human_first.push(at - h.created_at);
            }
            if let Some(at) = h.claimed_at {
                waits.push(at - h.created_at);
            }
            if let Some(at) = h.resolved_at {
                resolutions.push(at - h.created_at);
            }
        }

        let handoff_resolved = c.handoffs.iter().any(|h| h.resolved_at.is_some());
        let answered = c.handoffs.is_empty() && answered_not_reasked(c);
        f.completion.handoff_resolved += usize::from(handoff_resolved);
        f.completion.flow_completed += usize::from(c.flow_completed);
        f.completion.answered_not_reasked += usize::from(answered);
        f.completion.completed += usize::from(handoff_resolved || c.flow_completed || answered);

        if let Some(survey) = &c.survey {
            f.csat.surveys_sent += 1;
            if let Some(score) = survey.score {
                scores.push(score);
            }
        }
        f.opt_outs += usize::from(c.opted_out);
    }

    f.response_rate = rate(f.replied_texts, f.inbound_texts);
    f.first_response = FirstResponse {
        bot: Durations::of(bot_first),
        human: Durations::of(human_first),
    };
    f.containment_rate = rate(f.contained, f.conversations);
    f.escalation_rate = rate(f.escalated, f.conversations);
    f.handoff_wait = Durations::of(waits);
    f.resolution_time = Durations::of(resolutions);
    f.completion.rate = rate(f.completion.completed, f.conversations);
    f.csat.responses = scores.len();
    f.csat.response_rate = rate(scores.len(), f.csat.surveys_sent);
    f.csat.average =
        (!scores.is_empty()).then(|| scores.iter().sum::<i64>() as f64 / scores.len() as f64);
    f.csat.distribution = (1..=5)
        .map(|s| (s, scores.iter().filter(|&&x| x == s).count()))
        .collect();
    f.opt_out_rate = rate(f.opt_outs, f.conversations);
    f
}

/// The bot answered a recognised question (an intent other than `out_of_scope`) and
/// the customer did not ask the same intent again within [`REASK_WINDOW_MS`].
fn answered_not_reasked(c: &ConversationFacts) -> bool {
    let customer: Vec<_> = c
        .messages
        .iter()
        .filter(|m| m.direction == Direction::Inbound && !m.csat_answer)
        .collect();
    customer.iter().enumerate().any(|(i, text)| {
        let Some(intent) = text
            .intent
            .as_deref()
            .filter(|i| *i != crate::brain::intents::OUT_OF_SCOPE)
        else {
            return false;
        };
        let bot_answered = c.messages.iter().any(|m| {
            m.direction == Direction::Outbound && m.author == Author::Bot && m.id > text.id
        });
        let reasked = customer[i + 1..].iter().any(|later| {
            later.intent.as_deref() == Some(intent)
                && later.created_at - text.created_at <= REASK_WINDOW_MS
        });
        bot_answered && !reasked
    })
}

/// How conversations are split into groups.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum GroupBy {
    /// The UTC day the conversation started (`2026-12-02`).
    Day,
    /// The first intent understood in the conversation (`(none)` without one).
    Intent,
    /// The agent its handoff was assigned to (`(bot)` when never handed over,
    /// `(unassigned)` when nobody claimed it).
    Agent,
    /// Each label the conversation has (`(none)` without one): a conversation with
    /// two labels counts in both groups.
    Label,
}

impl GroupBy {
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "day" => Some(GroupBy::Day),
            "intent" => Some(GroupBy::Intent),
            "agent" => Some(GroupBy::Agent),
            "label" => Some(GroupBy::Label),
            _ => None,
        }
    }

    /// The groups a conversation counts in: one, or one per label.
    fn keys(&self, c: &ConversationFacts) -> Vec<String> {
        let key = match self {
            GroupBy::Day => jiff::Timestamp::from_millisecond(c.created_at)
                .map(|t| t.strftime("%Y-%m-%d").to_string())
                .unwrap_or_else(|_| c.created_at.to_string()),
            GroupBy::Intent => c
                .messages
                .iter()
                .filter(|m| m.direction == Direction::Inbound)
                .find_map(|m| m.intent.clone())
                .unwrap_or_else(|| "(none)".to_string()),
            GroupBy::Agent => match c.handoffs.last() {
                None => "(bot)".to_string(),
                Some(h) => h
                    .assignee
                    .clone()
                    .unwrap_or_else(|| "(unassigned)".to_string()),
            },
            GroupBy::Label if c.labels.is_empty() => "(none)".to_string(),
            GroupBy::Label => return c.labels.clone(),
        };
        vec![key]
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct Group {
    pub key: String,
    pub figures: Figures,
}

/// The figures for a window, overall and optionally per group.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct Report {
    /// RFC 3339, inclusive.
    pub from: String,
    /// RFC 3339, exclusive.
    pub to: String,
    pub totals: Figures,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub groups: Vec<Group>,
    /// How the bot's texts of the window fared with the agents who read them.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub bot_answers: Option<BotAnswers>,
}

/// The bot-answer quality figure: bot texts sent in the window and how many of them
/// agents marked in the inbox.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct BotAnswers {
    pub sent: i64,
    pub marked_wrong: i64,
    pub marked_should_have_handed_over: i64,
    /// Share of bot texts no agent marked, 0–1; absent without bot texts. Agents read
    /// only the conversations handed to them, so this is an upper bound.
    pub quality: Option<f64>,
}

impl BotAnswers {
    pub fn of(counts: crate::store::FeedbackCounts) -> Self {
        let marked = counts.wrong_answer + counts.should_have_handed_over;
        Self {
            sent: counts.bot_texts,
            marked_wrong: counts.wrong_answer,
            marked_should_have_handed_over: counts.should_have_handed_over,
            quality: (counts.bot_texts > 0)
                .then(|| 1.0 - marked.min(counts.bot_texts) as f64 / counts.bot_texts as f64),
        }
    }
}

pub fn report(
    from: i64,
    to: i64,
    conversations: &[ConversationFacts],
    group_by: Option<GroupBy>,
) -> Report {
    let groups = match group_by {
        None => Vec::new(),
        Some(by) => {
            let mut split: BTreeMap<String, Vec<ConversationFacts>> = BTreeMap::new();
            for c in conversations {
                for key in by.keys(c) {
                    split.entry(key).or_default().push(c.clone());
                }
            }
            split
                .into_iter()
                .map(|(key, cs)| Group {
                    key,
                    figures: figures(&cs),
                })
                .collect()
        }
    };
    Report {
        from: crate::clock::format_ms(from),
        to: crate::clock::format_ms(to),
        totals: figures(conversations),
        groups,
        bot_answers: None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_are_nearest_rank() {
        let d = Durations::of(vec![40, 10, 30, 20, 50, 60, 70, 80, 90, 100]);
        assert_eq!(d.count, 10);
        assert_eq!(d.mean_ms, Some(55.0));
        assert_eq!(d.p50_ms, Some(50));
        assert_eq!(d.p90_ms, Some(90));
        let one = Durations::of(vec![7]);
        assert_eq!((one.p50_ms, one.p90_ms), (Some(7), Some(7)));
        assert_eq!(Durations::of(vec![]).mean_ms, None);
    }
}

/// A point in time as a person or a script writes it: RFC 3339 (`2026-12-02T00:00:00Z`),
/// a plain date (`2026-12-02`, midnight UTC) or epoch milliseconds.
pub fn parse_time(s: &str) -> Option<i64> {
    let s = s.trim();
    if let Ok(ms) = s.parse::<i64>() {
        return Some(ms);
    }
    if let Ok(ts) = s.parse::<jiff::Timestamp>() {
        return Some(ts.as_millisecond());
    }
    let date: jiff::civil::Date = s.parse().ok()?;
    date.to_zoned(jiff::tz::TimeZone::UTC)
        .ok()
        .map(|z| z.timestamp().as_millisecond())
}

/// A span like `7d`, `24h`, `90m` or `2w`, in milliseconds.
pub fn parse_span(s: &str) -> Option<i64> {
    let s = s.trim();
    let unit = s.chars().last()?;
    let n: i64 = s[..s.len() - unit.len_utf8()].parse().ok()?;
    let ms = match unit {
        'm' => 60_000,
        'h' => 3_600_000,
        'd' => 86_400_000,
        'w' => 7 * 86_400_000,
        _ => return None,
    };
    (n > 0).then(|| n.saturating_mul(ms))
}

#[cfg(test)]
mod parse_tests {
    use super::*;

    #[test]
    fn times_and_spans_parse() {
        assert_eq!(parse_time("1796234400000"), Some(1_796_234_400_000));
        assert_eq!(parse_time("2026-12-02T17:00:00Z"), Some(1_796_230_800_000));
        assert_eq!(parse_time("2026-12-02"), Some(1_796_169_600_000));
        assert_eq!(parse_time("yesterday"), None);
        assert_eq!(parse_span("7d"), Some(7 * 86_400_000));
        assert_eq!(parse_span("90m"), Some(90 * 60_000));
        assert_eq!(parse_span("7"), None);
        assert_eq!(parse_span("0d"), None);
    }
}
