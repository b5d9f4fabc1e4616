//! How a customer text feels, read locally: the VADER compound score plus the signals
//! VADER under-weights in text messages — SHOUTING, runs of "!!!", profanity, and
//! threats to leave, sue or charge back.
//!
//! This is measurement only; [`super::escalation`] decides what the numbers mean. It
//! needs no network and no model download, so it runs on every message, and its
//! compound score is the sentiment stored on a message when no LLM judged it.

use std::sync::LazyLock;

use regex::Regex;
use rustrict::{CensorStr, Type};
use serde::Serialize;
use vader_sentiment::SentimentIntensityAnalyzer;

use super::escalation::{EscalationSettings, find_phrase, normalize};

/// Built once: the first use parses VADER's lexicon (~7,500 entries).
static VADER: LazyLock<SentimentIntensityAnalyzer<'static>> =
    LazyLock::new(SentimentIntensityAnalyzer::new);

/// Reassurances built from a negative word: the Rust port of VADER scores "no worries"
/// and "no problem" about -0.6 (the Python original reads them as positive), which
/// would make a polite customer look angry. They are scored as "fine" instead.
static FRIENDLY_NEGATIONS: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(
        r"(?i)\b(?:no (?:worries|worry|problems?|prob|probs|big deal|rush|hurry|stress)|not a problem|don'?t worry)\b",
    )
    .expect("static regex")
});

/// The signals of one text.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Mood {
    /// VADER compound score: -1 (most negative) … 1 (most positive).
    pub compound: f32,
    /// Mostly upper-case letters (and long enough for that to mean shouting).
    pub caps: bool,
    /// The longest run of "!" in the text ("!!!" is 3).
    pub exclamations: u32,
    /// Swearing, as `rustrict` or the operator's extra word list sees it.
    pub profanity: bool,
    /// The threat phrase found (e.g. "chargeback"), if any.
    pub threat: Option<String>,
}

/// Reads the mood of one customer text.
pub fn read(text: &str, settings: &EscalationSettings) -> Mood {
    let normalized = normalize(text);
    Mood {
        compound: compound(text),
        caps: shouting(text, settings),
        exclamations: longest_exclamation_run(text),
        profanity: profane(text, &normalized, settings),
        threat: find_phrase(&normalized, &settings.threat_phrases).map(str::to_string),
    }
}

/// The VADER compound score alone (for history turns, trends and summaries).
pub fn compound(text: &str) -> f32 {
    let text = FRIENDLY_NEGATIONS.replace_all(text, "fine");
    VADER
        .polarity_scores(&text)
        .get("compound")
        .copied()
        .unwrap_or(0.0) as f32
}

fn shouting(text: &str, settings: &EscalationSettings) -> bool {
    let letters: Vec<char> = text.chars().filter(|c| c.is_alphabetic()).collect();
    if letters.len() < settings.caps_min_letters {
        return false;
    }
    let upper = letters.iter().filter(|c| c.is_uppercase()).count();
    upper as f32 / letters.len() as f32 >= settings.caps_share
}

fn longest_exclamation_run(text: &str) -> u32 {
    let (mut longest, mut run) = (0u32, 0u32);
    for c in text.chars() {
        if c == '!' {
            run += 1;
            longest = longest.max(run);
        } else {
            run = 0;
        }
    }
    longest
}

fn profane(text: &str, normalized: &str, settings: &EscalationSettings) -> bool {
    // Profane or offensive at any severity; "mean" alone ("you are useless") is left to
    // VADER, which scores it, so that ordinary complaints are not called swearing.
    text.is((Type::PROFANE | Type::OFFENSIVE) & Type::MILD_OR_HIGHER)
        || find_phrase(normalized, &settings.extra_profanity).is_some()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mood(text: &str) -> Mood {
        read(text, &EscalationSettings::default())
    }

    #[test]
    fn vader_scores_anger_below_zero_and_thanks_above() {
        assert!(mood("this is ridiculous, 3rd time I'm asking!!!").compound < -0.2);
        assert!(mood("thanks!!! you guys are great").compound > 0.5);
        assert_eq!(mood("where is my order").compound, 0.0);
    }

    #[test]
    fn reassurances_are_not_read_as_negative() {
        for text in [
            "no worries, take your time",
            "No problem!",
            "not a problem",
            "dont worry about it",
        ] {
            assert!(
                mood(text).compound >= 0.0,
                "{text}: {}",
                mood(text).compound
            );
        }
        assert!(mood("no, this is a problem").compound < 0.0);
    }

    #[test]
    fn caps_means_mostly_capitals_and_enough_letters() {
        let cases = [
            ("WHERE IS MY ORDER", true),
            ("WHERE IS MY ORDER, it was due monday", false),
            ("OK", false),
            ("UPS says TH-48213 shipped", false),
        ];
        for (text, caps) in cases {
            assert_eq!(mood(text).caps, caps, "{text}");
        }
    }

    #[test]
    fn exclamation_runs_are_counted() {
        let cases = [("hi!", 1), ("what!!! no!!", 3), ("ok", 0), ("!! ! !!!!", 4)];
        for (text, run) in cases {
            assert_eq!(mood(text).exclamations, run, "{text}");
        }
    }

    #[test]
    fn profanity_is_found_even_disguised_but_not_inside_innocent_words() {
        let swearing = [
            "where the fuck is my order",
            "this is bullshit",
            "f*ck this",
            "wtf",
        ];
        for text in swearing {
            assert!(mood(text).profanity, "{text}");
        }
        let clean = [
            "where is my order",
            "I live in Scunthorpe",
            "can I return a shell jacket",
            "do you sell cocktail shakers",
            "this is ridiculous",
        ];
        for text in clean {
            assert!(!mood(text).profanity, "{text}");
        }
    }

    #[test]
    fn threats_name_the_phrase() {
        assert_eq!(
            mood("I'm filing a chargeback").threat.as_deref(),
            Some("chargeback")
        );
        assert_eq!(mood("cancel my order please").threat, None);
    }
}
