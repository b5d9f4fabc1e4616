//! Carrier compliance keywords (CTIA / Twilio Advanced Opt-Out families), per language.
//!
//! A keyword counts only when it is the whole message: "STOP", "stop.", " Stop! " are
//! opt-outs; "please stop sending me coupons" is an ordinary message that the brain
//! reads. Matching ignores case, accents, surrounding whitespace and punctuation, and
//! the spaces inside a short text ("opt out" is OPTOUT, "arrêt" is ARRET).
//!
//! The words are data: English in `[keywords]` of `prompts/policy.toml`, other
//! languages in `[languages.<code>.keywords]`, so a customer who texts ALTO gets the
//! confirmation in Spanish. `YES` is only an opt-in while the contact is opted out;
//! otherwise it is an ordinary answer (e.g. to a yes/no question), so the caller passes
//! the consent state.

use serde::Deserialize;

/// What a whole-message keyword asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Keyword {
    /// STOP, STOPALL, UNSUBSCRIBE, CANCEL, END, QUIT, OPTOUT, REVOKE (ALTO, BAJA…).
    OptOut,
    /// START, UNSTOP, and YES while opted out.
    OptIn,
    /// HELP, INFO (AYUDA…).
    Help,
}

/// The opt-out words Twilio acts on by itself (it blocks texts to a number that sent
/// one, whatever textdesk does), so the English family must keep them: otherwise
/// textdesk would think a contact subscribed whom the carrier no longer lets us text.
pub const PROVIDER_OPT_OUTS: &[&str] = &[
    "STOP",
    "STOPALL",
    "UNSUBSCRIBE",
    "CANCEL",
    "END",
    "QUIT",
    "OPTOUT",
    "REVOKE",
];
const PROVIDER_OPT_INS: &[&str] = &["START", "UNSTOP"];
const PROVIDER_HELP: &[&str] = &["HELP", "INFO"];

/// One language's keywords: `[keywords]` (English) or `[languages.<code>.keywords]`.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct KeywordFamily {
    pub opt_out: Vec<String>,
    #[serde(default)]
    pub opt_in: Vec<String>,
    #[serde(default)]
    pub help: Vec<String>,
}

impl KeywordFamily {
    /// The English family Twilio and the carriers act on; the default `[keywords]`.
    pub fn english() -> Self {
        let owned = |words: &[&str]| words.iter().map(|w| w.to_string()).collect();
        Self {
            opt_out: owned(PROVIDER_OPT_OUTS),
            opt_in: owned(PROVIDER_OPT_INS),
            help: owned(PROVIDER_HELP),
        }
    }

    /// The keyword this whole message is in this family, if it is one. `YES` is only
    /// checked by the English family (see [`detect`]).
    pub fn find(&self, body: &str) -> Option<Keyword> {
        let word = normalize(body)?;
        let listed = |words: &[String]| words.iter().any(|w| fold(w) == word);
        if listed(&self.opt_out) {
            Some(Keyword::OptOut)
        } else if listed(&self.opt_in) {
            Some(Keyword::OptIn)
        } else if listed(&self.help) {
            Some(Keyword::Help)
        } else {
            None
        }
    }

    /// Every word with what it asks for, as matched (upper case, no accents).
    pub fn words(&self) -> impl Iterator<Item = (String, Keyword)> + '_ {
        fn of(words: &[String], keyword: Keyword) -> impl Iterator<Item = (String, Keyword)> + '_ {
            words.iter().map(move |w| (fold(w), keyword))
        }
        of(&self.opt_out, Keyword::OptOut)
            .chain(of(&self.opt_in, Keyword::OptIn))
            .chain(of(&self.help, Keyword::Help))
    }

    /// Checks a family as an operator wrote it: every word a single keyword, and for
    /// English the words the provider acts on itself kept.
    pub fn validate(&self, english: bool) -> Result<(), String> {
        if self.opt_out.is_empty() {
            return Err("`opt_out` must list at least one word".into());
        }
        for (word, _) in self.words() {
            if word.is_empty() || word.chars().count() > LONGEST_KEYWORD {
                return Err(format!(
                    "{word:?} cannot be a keyword: use 1 to {LONGEST_KEYWORD} letters"
                ));
            }
        }
        if english {
            for (required, kind, key) in [
                (PROVIDER_OPT_OUTS, Keyword::OptOut, "opt_out"),
                (PROVIDER_OPT_INS, Keyword::OptIn, "opt_in"),
                (PROVIDER_HELP, Keyword::Help, "help"),
            ] {
                for word in required {
                    if !self.words().any(|(w, k)| w == *word && k == kind) {
                        return Err(format!(
                            "`{key}` must keep {word}: Twilio and the carriers act on it whatever this file says, so textdesk must too"
                        ));
                    }
                }
            }
        }
        Ok(())
    }
}

impl Default for KeywordFamily {
    fn default() -> Self {
        Self::english()
    }
}

/// A keyword and the language it was written in: `None` for English.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Spotted<'a> {
    pub keyword: Keyword,
    pub language: Option<&'a str>,
}

/// Classifies a message as a compliance keyword of any family, English first.
/// `opted_out` says whether the sender is currently opted out, which turns a lone
/// `YES` into an opt-in.
pub fn detect<'a>(
    body: &str,
    opted_out: bool,
    english: &KeywordFamily,
    others: impl IntoIterator<Item = (&'a str, &'a KeywordFamily)>,
) -> Option<Spotted<'a>> {
    if let Some(keyword) = english.find(body) {
        return Some(Spotted {
            keyword,
            language: None,
        });
    }
    if opted_out && normalize(body).as_deref() == Some("YES") {
        return Some(Spotted {
            keyword: Keyword::OptIn,
            language: None,
        });
    }
    others.into_iter().find_map(|(code, family)| {
        family.find(body).map(|keyword| Spotted {
            keyword,
            language: Some(code),
        })
    })
}

/// Longest keyword, in letters.
const LONGEST_KEYWORD: usize = 16;

/// The message as a keyword would be written: upper case, no accents, letters and
/// digits only; `None` for anything longer than a keyword could be (more than three
/// words or 24 characters), so ordinary sentences are never mistaken for one.
fn normalize(body: &str) -> Option<String> {
    const LONGEST_WITH_SLACK: usize = 24;
    let trimmed = body.trim();
    if trimmed.is_empty()
        || trimmed.chars().count() > LONGEST_WITH_SLACK
        || trimmed.split_whitespace().count() > 3
    {
        return None;
    }
    let word = fold(trimmed);
    (!word.is_empty()).then_some(word)
}

/// Upper case, accents dropped (ARRÊT → ARRET), only letters and digits.
fn fold(text: &str) -> String {
    use unicode_normalization::UnicodeNormalization;
    text.nfd()
        .filter(|c| c.is_alphanumeric())
        .flat_map(char::to_uppercase)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn english(body: &str, opted_out: bool) -> Option<Keyword> {
        detect(body, opted_out, &KeywordFamily::english(), []).map(|s| s.keyword)
    }

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
            assert_eq!(english(stop, false), Some(Keyword::OptOut), "{stop:?}");
        }
        for start in ["START", "start!", "Unstop"] {
            assert_eq!(english(start, true), Some(Keyword::OptIn), "{start:?}");
        }
        for help in ["HELP", "help?", "Info"] {
            assert_eq!(english(help, false), Some(Keyword::Help), "{help:?}");
        }
    }

    #[test]
    fn yes_is_an_opt_in_only_while_opted_out() {
        assert_eq!(english("yes", true), Some(Keyword::OptIn));
        assert_eq!(english("yes", false), None);
    }

    #[test]
    fn keywords_inside_sentences_are_ordinary_text() {
        assert_eq!(english("please stop sending coupons", false), None);
        assert_eq!(english("I need help with my order", false), None);
        assert_eq!(english("stop it", false), None);
        assert_eq!(english("", false), None);
        assert_eq!(english("!!!", false), None);
    }

    #[test]
    fn other_languages_match_without_accents_and_say_which() {
        let spanish = KeywordFamily {
            opt_out: vec!["ALTO".into(), "BAJA".into()],
            opt_in: vec!["INICIAR".into()],
            help: vec!["AYUDA".into()],
        };
        let french = KeywordFamily {
            opt_out: vec!["ARRÊT".into()],
            opt_in: vec![],
            help: vec!["AIDE".into()],
        };
        let families = [("es", &spanish), ("fr", &french)];
        let spot = |body| detect(body, false, &KeywordFamily::english(), families);
        assert_eq!(
            spot("Alto."),
            Some(Spotted {
                keyword: Keyword::OptOut,
                language: Some("es")
            })
        );
        assert_eq!(spot("ayuda").unwrap().language, Some("es"));
        assert_eq!(spot("arret").unwrap().language, Some("fr"));
        assert_eq!(spot("Arrêt !").unwrap().keyword, Keyword::OptOut);
        assert_eq!(spot("STOP").unwrap().language, None, "English first");
        assert_eq!(spot("alto ahí, ¿dónde está mi pedido?"), None);
    }

    #[test]
    fn the_english_family_keeps_what_the_provider_acts_on() {
        assert!(KeywordFamily::english().validate(true).is_ok());
        let mut family = KeywordFamily::english();
        family.opt_out.retain(|w| w != "QUIT");
        let err = family.validate(true).unwrap_err();
        assert!(err.contains("QUIT"), "{err}");
        assert!(
            family.validate(false).is_ok(),
            "other languages choose freely"
        );
    }
}
