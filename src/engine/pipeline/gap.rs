//! Whether a decided turn is a gap in what the bot knows (see [`crate::gaps`]): a
//! clarifying question instead of an answer, or a handoff because the bot did not
//! understand or could not help. Recorded on the customer's text with the turn.

use super::{Decision, Reason};
use crate::brain::escalation::Rule;
use crate::brain::think::Decision as BrainDecision;
use crate::gaps::{GapKind, GapMark};
use crate::store::HandoffChange;

/// Intents kept as "torn between" for a gap: enough to name the confusion.
const TORN_BETWEEN: usize = 3;

/// The gap this turn reveals, if any.
pub fn gap_of(decision: &Decision) -> Option<GapMark> {
    let thought = decision.thought.as_ref();
    let guesses = || -> Vec<String> {
        let Some(understanding) = thought.map(|t| &t.understanding) else {
            return Vec::new();
        };
        let mut names: Vec<String> = understanding
            .candidates
            .iter()
            .map(|(name, _)| name)
            .chain(std::iter::once(&understanding.intent))
            .filter(|name| !name.is_out_of_scope())
            .map(|name| name.to_string())
            .collect();
        names.dedup();
        names.truncate(TORN_BETWEEN);
        names
    };
    if let Some(HandoffChange::Open(handoff)) = &decision.outcome.handoff {
        let kind = Rule::parse(&handoff.rule).and_then(GapKind::of_rule)?;
        return Some(GapMark {
            kind,
            intents: guesses(),
        });
    }
    // A menu the turn did not send (a lookup took the text on instead) is no gap.
    if decision.reason != Reason::Clarified {
        return None;
    }
    let thought = thought?;
    match &thought.decision {
        BrainDecision::Clarify { options } => {
            let kind = if thought.understanding.intent.is_out_of_scope() {
                GapKind::OutOfScope
            } else {
                GapKind::LowRetrieval
            };
            let mut intents = options.clone();
            intents.truncate(TORN_BETWEEN);
            Some(GapMark { kind, intents })
        }
        _ => None,
    }
}
