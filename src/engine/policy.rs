//! `prompts/policy.toml`: the texts the engine sends for compliance and housekeeping,
//! and the limits that keep the bot polite. Operators own the file; it is validated on
//! load and a mistake is reported with the file and line.

use std::path::{Path, PathBuf};

use serde::Deserialize;

pub use super::handoff::HandoffTexts;
pub use super::hours::BusinessHours;
use crate::sms::keywords::{self, KeywordFamily, Spotted};
use crate::sms::sending_hours::SendingHours;

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Policy {
    pub business: Business,
    pub texts: Texts,
    pub replies: Replies,
    pub limits: Limits,
    pub handoff: HandoffTexts,
    /// When the team works; without it the team counts as always in.
    #[serde(default)]
    pub hours: Option<BusinessHours>,
    /// When a conversation goes to a person (see [`crate::brain::escalation`]).
    #[serde(default)]
    pub escalation: crate::brain::escalation::EscalationSettings,
    /// The English compliance keywords (STOP, START, HELP and their families).
    #[serde(default)]
    pub keywords: KeywordFamily,
    /// Who gets a new handoff (see [`super::routing`]); off unless set.
    #[serde(default)]
    pub routing: super::routing::RoutingSettings,
    /// Response and resolution targets per priority (see [`super::sla`]); none
    /// unless set.
    #[serde(default)]
    pub sla: super::sla::SlaSettings,
    /// What a customer writing in another language is told, by ISO 639-1 code ("es"),
    /// and the compliance keywords in it.
    #[serde(default)]
    pub languages: std::collections::BTreeMap<String, LanguageTexts>,
    /// When the business may start a text: `sending_hours.toml` beside this file
    /// (the TCPA's 8:00 to 21:00 without it).
    #[serde(skip)]
    pub sending_hours: SendingHours,
}

/// The three compliance texts, in one language.
#[derive(Debug, Clone, Copy)]
pub struct ComplianceTexts<'a> {
    pub opt_out: &'a str,
    pub opt_in: &'a str,
    pub help: &'a str,
}

/// `[languages.<code>]`: the bot answers in English; a customer writing in this
/// language is offered a person in it, and handed over when they say yes.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LanguageTexts {
    /// The offer, in the customer's language.
    pub offer: String,
    /// Words that accept it ("si", "sí", "por favor").
    pub yes: Vec<String>,
    /// Sent with the handoff, in the customer's language.
    pub handed_over: String,
    /// The compliance keywords in this language (ALTO, BAJA, AYUDA…); a customer who
    /// uses one gets `opt_out`, `opt_in` or `help` below, in this language.
    #[serde(default)]
    pub keywords: Option<KeywordFamily>,
    #[serde(default)]
    pub opt_out: Option<String>,
    #[serde(default)]
    pub opt_in: Option<String>,
    #[serde(default)]
    pub help: Option<String>,
}

impl LanguageTexts {
    /// Whether the text accepts the offer: one of the `yes` words (or "yes"), as a
    /// whole word or phrase.
    pub fn accepts(&self, text: &str) -> bool {
        let words: Vec<String> = text
            .split(|c: char| !c.is_alphanumeric())
            .filter(|w| !w.is_empty())
            .map(str::to_lowercase)
            .collect();
        let joined = format!(" {} ", words.join(" "));
        self.yes
            .iter()
            .map(|y| y.trim().to_lowercase())
            .chain(["yes".to_string()])
            .filter(|y| !y.is_empty())
            .any(|y| joined.contains(&format!(" {y} ")))
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Business {
    pub name: String,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Texts {
    pub acknowledgement: String,
    pub help: String,
    pub opt_out: String,
    pub opt_in: String,
    pub media_unsupported: String,
    /// The one question for a text that may be an opt-out but is not clear ("how do
    /// I stop getting these?", "stop sending me coupons"); nothing changes until the
    /// customer replies STOP.
    #[serde(default = "default_opt_out_question")]
    pub opt_out_question: String,
}

fn default_opt_out_question() -> String {
    "Reply STOP to stop all texts from us. Otherwise, text us your question any time.".into()
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Replies {
    pub max_segments: u32,
}

/// How the bot keeps from flooding a machine without going quiet on a person (see
/// [`super::guard`]).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Limits {
    /// Bot replies within the window after which texts arriving at machine speed get
    /// no more (a silent handoff instead).
    pub max_bot_replies: u32,
    pub window_secs: u64,
    /// A text arriving within this many seconds of the message before it came at
    /// machine speed.
    #[serde(default = "Limits::default_machine_secs")]
    pub machine_secs: u64,
    /// Bot replies within the window after which even a person texting at human pace
    /// is handed to the team, and told so.
    #[serde(default = "Limits::default_max_replies_to_person")]
    pub max_replies_to_person: u32,
    /// How many times within the window the same HELP answer (or the START answer
    /// to a contact already subscribed) is sent; later ones are stored, unanswered.
    /// The STOP confirmation always goes, once.
    #[serde(default = "Limits::default_max_compliance_repeats")]
    pub max_compliance_repeats: usize,
}

impl Limits {
    fn default_machine_secs() -> u64 {
        10
    }
    fn default_max_replies_to_person() -> u32 {
        30
    }
    fn default_max_compliance_repeats() -> usize {
        2
    }
}

#[derive(Debug, thiserror::Error)]
pub enum PolicyError {
    #[error("{path}: cannot read: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{path}: {message}")]
    Invalid { path: PathBuf, message: String },
}

impl Policy {
    /// Whether the team is working at `now` (always, without `[hours]`).
    pub fn team_is_in(&self, now: i64) -> bool {
        self.hours.as_ref().is_none_or(|h| h.is_open(now))
    }

    /// When the team is next in, in the customer's words, if it is out at `now`.
    pub fn team_back(&self, now: i64) -> Option<String> {
        let hours = self.hours.as_ref()?;
        (!hours.is_open(now)).then(|| hours.describe_next_open(now))
    }

    /// The compliance keyword this whole text is, in English or in one of the
    /// `[languages]` (which it says). `opted_out` makes a lone YES an opt-in.
    pub fn keyword(&self, body: &str, opted_out: bool) -> Option<Spotted<'_>> {
        let others = self.languages.iter().filter_map(|(code, texts)| {
            texts
                .keywords
                .as_ref()
                .map(|family| (code.as_str(), family))
        });
        keywords::detect(body, opted_out, &self.keywords, others)
    }

    /// The STOP, START and HELP answers in `language` (English for `None`).
    pub fn compliance_texts(&self, language: Option<&str>) -> ComplianceTexts<'_> {
        let english = ComplianceTexts {
            opt_out: &self.texts.opt_out,
            opt_in: &self.texts.opt_in,
            help: &self.texts.help,
        };
        let Some(texts) = language.and_then(|code| self.languages.get(code)) else {
            return english;
        };
        ComplianceTexts {
            opt_out: texts.opt_out.as_deref().unwrap_or(english.opt_out),
            opt_in: texts.opt_in.as_deref().unwrap_or(english.opt_in),
            help: texts.help.as_deref().unwrap_or(english.help),
        }
    }

    /// Loads `policy.toml` from the prompts directory.
    pub fn load(prompts_dir: &Path) -> Result<Self, PolicyError> {
        let path = prompts_dir.join("policy.toml");
        let text = std::fs::read_to_string(&path).map_err(|source| PolicyError::Read {
            path: path.clone(),
            source,
        })?;
        let mut policy =
            Self::parse(&text).map_err(|message| PolicyError::Invalid { path, message })?;
        let path = prompts_dir.join("sending_hours.toml");
        match std::fs::read_to_string(&path) {
            Ok(text) => {
                policy.sending_hours = SendingHours::parse(&text)
                    .map_err(|message| PolicyError::Invalid { path, message })?;
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(source) => return Err(PolicyError::Read { path, source }),
        }
        Ok(policy)
    }

    /// Parses and validates the file's text; errors carry the line and column.
    pub fn parse(text: &str) -> Result<Self, String> {
        let policy: Policy = toml::from_str(text).map_err(|e| {
            // toml's message already says "at line N, column M" and quotes the line.
            e.to_string().trim_end().to_string()
        })?;
        policy.validate()?;
        Ok(policy)
    }

    fn validate(&self) -> Result<(), String> {
        let texts = [
            ("texts.acknowledgement", &self.texts.acknowledgement),
            ("texts.help", &self.texts.help),
            ("texts.opt_out", &self.texts.opt_out),
            ("texts.opt_in", &self.texts.opt_in),
            ("texts.media_unsupported", &self.texts.media_unsupported),
        ];
        for (key, text) in texts {
            if text.trim().is_empty() {
                return Err(format!("`{key}` must not be empty"));
            }
        }
        self.handoff.validate()?;
        self.routing.validate()?;
        for (code, texts) in &self.languages {
            if !["es", "fr"].contains(&code.as_str()) {
                return Err(format!(
                    "`languages.{code}`: textdesk recognises \"es\" and \"fr\" texts; remove the others"
                ));
            }
            if texts.offer.trim().is_empty()
                || texts.handed_over.trim().is_empty()
                || texts.yes.is_empty()
            {
                return Err(format!(
                    "`languages.{code}` needs `offer`, `yes` and `handed_over`"
                ));
            }
            let mut keyed = vec![("offer", &texts.offer), ("handed_over", &texts.handed_over)];
            if let Some(family) = &texts.keywords {
                family
                    .validate(false)
                    .map_err(|e| format!("`languages.{code}.keywords`: {e}"))?;
                for (key, text) in [
                    ("opt_out", &texts.opt_out),
                    ("opt_in", &texts.opt_in),
                    ("help", &texts.help),
                ] {
                    match text {
                        Some(text) if !text.trim().is_empty() => keyed.push((key, text)),
                        _ => {
                            return Err(format!(
                                "`languages.{code}` has keywords, so it needs `{key}`: the answer to them in that language"
                            ));
                        }
                    }
                }
            }
            for (key, text) in keyed {
                let segments =
                    crate::sms::segments::count(&crate::sms::segments::smart_encode(text)).segments;
                if segments > self.replies.max_segments {
                    return Err(format!(
                        "`languages.{code}.{key}` is {segments} SMS segments; replies.max_segments allows {} (accented letters make a segment 70 characters)",
                        self.replies.max_segments
                    ));
                }
            }
        }
        self.keywords
            .validate(true)
            .map_err(|e| format!("`keywords`: {e}"))?;
        self.validate_keywords_are_unique()?;
        self.escalation
            .validate()
            .map_err(|e| format!("`escalation`: {e}"))?;
        if let Some(hours) = &self.hours {
            hours.validate().map_err(|e| format!("`hours`: {e}"))?;
        }
        if !(1..=10).contains(&self.replies.max_segments) {
            return Err("`replies.max_segments` must be between 1 and 10".into());
        }
        if self.limits.max_bot_replies == 0 {
            return Err("`limits.max_bot_replies` must be at least 1".into());
        }
        if self.limits.max_compliance_repeats == 0 {
            return Err(
                "`limits.max_compliance_repeats` must be at least 1: carriers require HELP to be answered"
                    .into(),
            );
        }
        if self.limits.window_secs == 0 {
            return Err("`limits.window_secs` must be at least 1".into());
        }
        if self.limits.max_replies_to_person < self.limits.max_bot_replies {
            return Err(
                "`limits.max_replies_to_person` must be at least `limits.max_bot_replies`: \
                 a person is never capped sooner than a machine"
                    .into(),
            );
        }
        Ok(())
    }

    /// A word may mean one thing only: "BAJA" cannot be both an opt-out and a help.
    fn validate_keywords_are_unique(&self) -> Result<(), String> {
        let mut seen = std::collections::BTreeMap::new();
        let families = std::iter::once(("keywords".to_string(), &self.keywords)).chain(
            self.languages.iter().filter_map(|(code, texts)| {
                texts
                    .keywords
                    .as_ref()
                    .map(|family| (format!("languages.{code}.keywords"), family))
            }),
        );
        for (table, family) in families {
            for (word, _) in family.words() {
                if let Some(first) = seen.insert(word.clone(), table.clone()) {
                    return Err(format!(
                        "`{table}`: {word} is already a keyword in `{first}` (case and accents are ignored); keep one"
                    ));
                }
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_shipped_policy_is_valid() {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("prompts");
        let policy = Policy::load(&dir).expect("shipped policy.toml loads");
        assert_eq!(policy.replies.max_segments, 2);
    }

    #[test]
    fn a_mistake_is_reported_with_its_line() {
        let text = "[business]\nname = \"x\"\n[texts]\nacknowledgement = oops\n";
        let err = Policy::parse(text).unwrap_err();
        assert!(err.contains("line 4"), "{err}");
    }

    #[test]
    fn keywords_answer_in_the_language_they_were_written_in() {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("prompts");
        let policy = Policy::load(&dir).unwrap();
        let alto = policy.keyword("ALTO", false).unwrap();
        assert_eq!(alto.keyword, crate::sms::keywords::Keyword::OptOut);
        assert_eq!(alto.language, Some("es"));
        let texts = policy.compliance_texts(alto.language);
        assert_ne!(texts.opt_out, policy.texts.opt_out);
        assert!(texts.help.contains("ALTO"), "{}", texts.help);
        assert_eq!(policy.keyword("stop", false).unwrap().language, None);
    }

    #[test]
    fn a_keyword_in_two_families_is_an_error() {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("prompts/policy.toml");
        let text = std::fs::read_to_string(dir)
            .unwrap()
            .replace("opt_out = [\"ALTO\"", "opt_out = [\"Stop\", \"ALTO\"");
        let err = Policy::parse(&text).unwrap_err();
        assert!(err.contains("STOP is already a keyword"), "{err}");
    }

    #[test]
    fn an_unknown_key_is_an_error() {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("prompts/policy.toml");
        let text = std::fs::read_to_string(dir).unwrap() + "\n[limits2]\nx = 1\n";
        let err = Policy::parse(&text).unwrap_err();
        assert!(err.contains("limits2"), "{err}");
    }
}
