//! Carrier compliance keywords (CTIA / Twilio Advanced Opt-Out families).
//!
//! A keyword counts only when it is the whole message: "STOP", "stop.", " Stop! " are
//! opt-outs; "please stop sending me coupons" is an ordinary message that the brain
//! reads. Matching ignores case, surrounding whitespace and punctuation.
//!
//! `YES` is only an opt-in while the contact is opted out; otherwise it is an ordinary
//! answer (e.g. to a yes/no question), so the caller passes the consent state.

/// What a whole-message keyword asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Keyword {
    /// STOP, STOPALL, UNSUBSCRIBE, CANCEL, END, QUIT, OPTOUT, REVOKE.
    OptOut,
    /// START, UNSTOP, and YES while opted out.
    OptIn,
    /// HELP, INFO.
    Help,
}

const OPT_OUT: &[&str] = &[
    "STOP",
    "STOPALL",
    "UNSUBSCRIBE",
    "CANCEL",
    "END",
    "QUIT",
    "OPTOUT",
    "REVOKE",
];
const OPT_IN: &[&str] = &["START", "UNSTOP"];
const HELP: &[&str] = &["HELP", "INFO"];

/// Classifies a message as a compliance keyword, if it is one.
///
/// `opted_out` says whether the sender is currently opted out, which turns a lone
/// `YES` into an opt-in.
pub fn detect(body: &str, opted_out: bool) -> Option<Keyword> {
    let word = normalize(body)?;
    let word = word.as_str();
    if OPT_OUT.contains(&word) {
        Some(Keyword::OptOut)
    } else if OPT_IN.contains(&word) || (opted_out && word == "YES") {
        Some(Keyword::OptIn)
    } else if HELP.contains(&word) {
        Some(Keyword::Help)
    } else {
        None
    }
}

/// Upper-cases the message and strips punctuation and whitespace around and inside
/// it ("Opt-out", "opt out" → "OPTOUT"); returns `None` for anything longer than a
/// keyword could be, so ordinary sentences are never mistaken for one.
fn normalize(body: &str) -> Option<String> {
    const LONGEST_KEYWORD_WITH_SLACK: usize = 24;
    let trimmed = body.trim();
    if trimmed.is_empty() || trimmed.chars().count() > LONGEST_KEYWORD_WITH_SLACK {
        return None;
    }
    // Two or more words cannot be a keyword, except the spaced spelling "opt out".
    let words: Vec<&str> = trimmed.split_whitespace().collect();
    if words.len() > 2 {
        return None;
    }
    let letters: String = trimmed
        .chars()
        .filter(|c| c.is_alphanumeric())
        .flat_map(char::to_uppercase)
        .collect();
    if words.len() == 2 && letters != "OPTOUT" {
        return None;
    }
    (!letters.is_empty()).then_some(letters)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn whole_message_keywords_in_any_case_and_punctuation() {
        for stop in [
            "STOP",
            "stop",
            " Stop! ",
            "stop.",
            "StopAll",
            "unsubscribe",
            "Cancel",
            "END",
            "quit",
            "opt-out",
            "opt out",
            "REVOKE",
        ] {
            assert_eq!(detect(stop, false), Some(Keyword::OptOut), "{stop:?}");
        }
        for start in ["START", "start!", "Unstop"] {
            assert_eq!(detect(start, true), Some(Keyword::OptIn), "{start:?}");
        }
        for help in ["HELP", "help?", "Info"] {
            assert_eq!(detect(help, false), Some(Keyword::Help), "{help:?}");
        }
    }

    #[test]
    fn yes_is_an_opt_in_only_while_opted_out() {
        assert_eq!(detect("yes", true), Some(Keyword::OptIn));
        assert_eq!(detect("yes", false), None);
    }

    #[test]
    fn keywords_inside_sentences_are_ordinary_text() {
        assert_eq!(detect("please stop sending coupons", false), None);
        assert_eq!(detect("I need help with my order", false), None);
        assert_eq!(detect("stop it", false), None);
        assert_eq!(detect("", false), None);
        assert_eq!(detect("!!!", false), None);
    }
}
