//! The one line a queue card shows: why this customer needs a person and about what,
//! in the words an agent uses ("Upset: third time asking about order #48213").
//!
//! The escalation rule's own reason ("angry: VADER -0.52, '!!!'") is evidence for the
//! operator tuning `[escalation]`; it stays in the API's `reason` and the operator's
//! views. An agent choosing what to pick up next needs the feeling and the topic, so
//! the headline names the feeling the rule saw, then the subject the customer gave (an
//! order number before an intent, an intent before their own words) and how many times
//! they have asked about it.

use std::sync::LazyLock;

use regex::Regex;

use super::{SMALL_TALK, SummaryTurn, clip, facts};
use crate::brain::escalation::Rule;
use crate::llm::TurnRole;

/// The longest headline, in characters: one line of a queue card.
pub const MAX_CHARS: usize = 90;

/// The queue card's line for a handoff opened by `rule` (whose reason was `detail`)
/// on the conversation `turns`.
pub fn headline(rule: Option<Rule>, detail: &str, turns: &[SummaryTurn]) -> String {
    let feeling = feeling(rule, detail);
    // Texts on the same topic count as asking again only when the rule says the
    // question came back; inside a flow, every answer carries the flow's intent.
    let repeated = matches!(rule, Some(Rule::RepeatedQuestion | Rule::NotHelped));
    let line = match subject(turns, repeated) {
        Some(subject) => format!("{feeling}: {subject}"),
        None => feeling,
    };
    clip(&line, MAX_CHARS)
}

/// The rule's own reason when it is already in plain words an agent can use (a
/// flow's answers so far, the model's reason, "4 questions in one text"); `None` for
/// scores (VADER, word overlap) and for what the headline already says.
pub fn plain_evidence(rule: Option<Rule>, detail: &str) -> Option<&str> {
    let scored_or_said = matches!(
        rule,
        Some(Rule::NegativeEmotion | Rule::RepeatedQuestion | Rule::Threat) | None
    );
    (!scored_or_said && !detail.trim().is_empty()).then_some(detail)
}

/// What the rule saw, in plain words.
fn feeling(rule: Option<Rule>, detail: &str) -> String {
    let Some(rule) = rule else {
        return clip(detail, 40);
    };
    match rule {
        Rule::Threat => match quoted(detail) {
            Some(phrase) => format!("Threatening (\"{phrase}\")"),
            None => "Threatening to leave".into(),
        },
        Rule::NegativeEmotion if detail.starts_with("mood falling") => "Getting more upset".into(),
        Rule::NegativeEmotion => {
            let signs: Vec<&str> = [("ALL CAPS", "shouting"), ("profanity", "swearing")]
                .into_iter()
                .filter(|(evidence, _)| detail.contains(evidence))
                .map(|(_, word)| word)
                .collect();
            if signs.is_empty() {
                "Upset".into()
            } else {
                format!("Upset, {}", signs.join(" and "))
            }
        }
        Rule::AskedForHuman => "Asked for a person".into(),
        Rule::SensitiveIntent => "Sensitive".into(),
        Rule::EscalateIntent | Rule::ModelJudged => "Needs a person".into(),
        Rule::NotUnderstood => "Bot did not understand".into(),
        Rule::RepeatedQuestion | Rule::NotHelped => "Bot's answer did not help".into(),
        Rule::Complex if detail.starts_with("long text") => "Long message".into(),
        Rule::Complex => "Several questions at once".into(),
        Rule::BotLoop => "Texting non-stop".into(),
        Rule::SetAside => "Bot could not process a text".into(),
    }
}

/// "third time asking about order #48213", "about returns", or the customer's own
/// words when nothing better names the subject. The count is what the customer says
/// ("3rd time"), or, when `repeated`, their texts on the same topic.
fn subject(turns: &[SummaryTurn], repeated: bool) -> Option<String> {
    let customer: Vec<&SummaryTurn> = turns
        .iter()
        .filter(|t| t.role == TurnRole::Customer)
        .collect();
    let latest = customer.last()?;
    let topic = customer.iter().rev().find_map(|t| {
        t.intent
            .as_deref()
            .filter(|i| !SMALL_TALK.contains(i) && !i.is_empty())
    });
    let order = facts(turns).into_iter().find(|f| f.starts_with("order "));
    let name = match (&order, topic) {
        (Some(order), _) => order.clone(),
        (None, Some(intent)) => intent.replace('_', " "),
        (None, None) => return Some(format!("\"{}\"", clip(latest.text.trim(), 40))),
    };
    // How often they asked: texts understood as the same topic, or what the customer
    // says themselves ("3rd time I'm asking").
    let same_topic = topic.filter(|_| repeated).map_or(0, |intent| {
        customer
            .iter()
            .filter(|t| t.intent.as_deref() == Some(intent))
            .count()
    });
    let times = customer
        .iter()
        .filter_map(|t| stated_times(&t.text))
        .max()
        .unwrap_or(0)
        .max(same_topic);
    Some(match ordinal(times) {
        Some(nth) => format!("{nth} time asking about {name}"),
        None => format!("about {name}"),
    })
}

static STATED: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?i)\b(\d{1,2})(?:st|nd|rd|th)\s+time\b|\b(second|third|fourth|fifth)\s+time\b")
        .expect("static regex")
});

/// The count a customer states: "3rd time", "third time".
fn stated_times(text: &str) -> Option<usize> {
    let c = STATED.captures(text)?;
    if let Some(n) = c.get(1) {
        return n.as_str().parse().ok();
    }
    let word = c.get(2)?.as_str().to_lowercase();
    ["second", "third", "fourth", "fifth"]
        .iter()
        .position(|w| *w == word)
        .map(|i| i + 2)
}

/// "second", "third"… for a count of two or more.
fn ordinal(times: usize) -> Option<String> {
    const WORDS: [&str; 4] = ["second", "third", "fourth", "fifth"];
    match times {
        0 | 1 => None,
        2..=5 => Some(WORDS[times - 2].to_string()),
        n => Some(format!("{n}th")),
    }
}

/// The first double-quoted phrase of a rule's reason (`threat: "sue you"`).
fn quoted(detail: &str) -> Option<&str> {
    let start = detail.find('"')? + 1;
    let len = detail[start..].find('"')?;
    Some(&detail[start..start + len])
}

#[cfg(test)]
mod tests {
    use super::*;

    fn customer(text: &str, intent: Option<&str>) -> SummaryTurn {
        SummaryTurn {
            role: TurnRole::Customer,
            text: text.into(),
            intent: intent.map(str::to_string),
        }
    }

    #[test]
    fn an_upset_customer_asking_again_about_an_order_reads_like_an_agent_would_say_it() {
        let turns = [
            customer("where is order #48213?", Some("order_status")),
            customer("it was due March 3", Some("order_status")),
            customer(
                "this is ridiculous, 3rd time I'm asking!!!",
                Some("complaint"),
            ),
        ];
        let line = headline(
            Some(Rule::NegativeEmotion),
            "angry: VADER -0.52, '!!!'",
            &turns,
        );
        assert_eq!(line, "Upset: third time asking about order #48213");
        assert!(!line.contains("VADER"));
    }

    #[test]
    fn the_topic_is_the_intent_when_no_order_was_given() {
        let turns = [customer("can I return my boots", Some("returns"))];
        let line = headline(
            Some(Rule::AskedForHuman),
            "asked for a person: \"a human\"",
            &turns,
        );
        assert_eq!(line, "Asked for a person: about returns");
    }

    #[test]
    fn the_same_intent_twice_is_a_second_time() {
        let turns = [
            customer("how long does shipping take", Some("shipping_time")),
            customer(
                "how long does shipping take to Denver",
                Some("shipping_time"),
            ),
        ];
        let line = headline(
            Some(Rule::RepeatedQuestion),
            "same question again (shipping_time, 80% same words)",
            &turns,
        );
        assert_eq!(
            line,
            "Bot's answer did not help: second time asking about shipping time"
        );
    }

    #[test]
    fn without_a_topic_the_customer_is_quoted_and_scores_never_show() {
        let turns = [customer("WHY IS NOBODY ANSWERING ME", None)];
        let line = headline(
            Some(Rule::NegativeEmotion),
            "angry: VADER -0.61, ALL CAPS, profanity",
            &turns,
        );
        assert_eq!(
            line,
            "Upset, shouting and swearing: \"WHY IS NOBODY ANSWERING ME\""
        );
        let threat = headline(Some(Rule::Threat), "threat: \"sue you\"", &turns);
        assert!(threat.starts_with("Threatening (\"sue you\")"), "{threat}");
    }

    #[test]
    fn plain_reasons_are_kept_and_scores_are_not() {
        let flow = "asked for a person (\"agent\") in the booking flow at step `time`";
        assert_eq!(plain_evidence(Some(Rule::AskedForHuman), flow), Some(flow));
        assert_eq!(
            plain_evidence(Some(Rule::NegativeEmotion), "angry: VADER -0.52"),
            None
        );
    }

    #[test]
    fn a_headline_fits_one_card_line() {
        let long = "a".repeat(300);
        let turns = [customer(&long, None)];
        let line = headline(Some(Rule::Complex), "long text: 300 characters", &turns);
        assert!(line.chars().count() <= MAX_CHARS, "{line}");
        assert!(line.starts_with("Long message: \""));
    }
}
