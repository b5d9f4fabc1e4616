//! Why the bot could not handle a customer's text: the kinds of gap, as stored on the
//! message (`messages.gap`) or read from an agent's verdict on a bot text.

use serde::Serialize;

use crate::brain::escalation::Rule;

/// One reason a text counts as a gap in the bot's knowledge.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum GapKind {
    /// No intent fitted and the knowledge base had nothing close: the bot asked a
    /// clarifying question.
    OutOfScope,
    /// An intent fitted but the knowledge base had no passage for it: the bot asked a
    /// clarifying question.
    LowRetrieval,
    /// Handed over after the bot missed twice in a row.
    NotUnderstood,
    /// Handed over because the bot's answer would have repeated itself.
    RepeatedQuestion,
    /// Handed over because the text was too long or asked too many things.
    Complex,
    /// Handed over because the customer said the answers did not help.
    NotHelped,
    /// An agent marked the bot's answer to it wrong.
    WrongAnswer,
    /// An agent marked that a person should have answered it.
    ShouldHaveHandedOver,
}

impl GapKind {
    pub const ALL: [GapKind; 8] = [
        GapKind::OutOfScope,
        GapKind::LowRetrieval,
        GapKind::NotUnderstood,
        GapKind::RepeatedQuestion,
        GapKind::Complex,
        GapKind::NotHelped,
        GapKind::WrongAnswer,
        GapKind::ShouldHaveHandedOver,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            GapKind::OutOfScope => "out_of_scope",
            GapKind::LowRetrieval => "low_retrieval",
            GapKind::NotUnderstood => "not_understood",
            GapKind::RepeatedQuestion => "repeated_question",
            GapKind::Complex => "complex",
            GapKind::NotHelped => "not_helped",
            GapKind::WrongAnswer => "wrong_answer",
            GapKind::ShouldHaveHandedOver => "should_have_handed_over",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|k| k.as_str() == s)
    }

    /// The handoffs that mean the bot did not know: not the ones a customer asked for,
    /// or that anger or a sensitive topic made a person's job whatever the bot knew.
    pub fn of_rule(rule: Rule) -> Option<Self> {
        match rule {
            Rule::NotUnderstood => Some(GapKind::NotUnderstood),
            Rule::RepeatedQuestion => Some(GapKind::RepeatedQuestion),
            Rule::Complex => Some(GapKind::Complex),
            Rule::NotHelped => Some(GapKind::NotHelped),
            _ => None,
        }
    }
}

/// A gap as the engine records it on the customer's text.
#[derive(Debug, Clone, PartialEq)]
pub struct GapMark {
    pub kind: GapKind,
    /// The intents the bot was torn between (the clarifying menu's options, or the
    /// classifier's best guesses), best first.
    pub intents: Vec<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_kind_reads_back_from_its_name() {
        for kind in GapKind::ALL {
            assert_eq!(GapKind::parse(kind.as_str()), Some(kind));
        }
        assert_eq!(GapKind::parse("asked_for_human"), None);
    }

    #[test]
    fn only_handoffs_for_what_the_bot_did_not_know_are_gaps() {
        assert_eq!(
            GapKind::of_rule(Rule::NotUnderstood),
            Some(GapKind::NotUnderstood)
        );
        assert_eq!(GapKind::of_rule(Rule::AskedForHuman), None);
        assert_eq!(GapKind::of_rule(Rule::NegativeEmotion), None);
    }
}
