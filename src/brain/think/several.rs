//! A text that asks several things ("do you ship to canada and can I return
//! there?"): each question is searched on its own, read with its own intent, and
//! answered from its own file. The answers go out together when they fit the segment
//! budget; when they do not, the first is answered and the customer is told what to
//! ask next, rather than one answer silently dropping the other question.

use super::{Brain, Retrieved, TurnInput, Understanding, describe, source_of};
use crate::brain::compose;
use crate::brain::intents::Action;
use crate::brain::questions;
use crate::knowledge::Hit;
use crate::sms::segments;

/// Units of one concatenated GSM segment: the budget unit the parts share.
const UNITS_PER_SEGMENT: usize = 153;

/// One question of the text and the passages found for it, best first (never none).
pub(super) struct Asked {
    pub question: String,
    pub hits: Vec<Hit>,
}

impl Brain {
    /// The questions of `text` with their passages, one entry per file that answers
    /// them (questions answered by the same file are read together). `None` when the
    /// text asks one thing, or everything it asks is answered by one file.
    pub(super) async fn retrieve_each(&self, text: &str, k: usize) -> Option<Vec<Asked>> {
        let parts = questions::split(text);
        if parts.len() < 2 {
            return None;
        }
        let model = self.model();
        let mut asked: Vec<Asked> = Vec::new();
        for part in parts {
            let classification = model.classifier.classify(&part).await;
            let intent = model
                .set
                .get(classification.intent.as_str())
                .filter(|i| matches!(i.action, Action::Answer | Action::Lookup(_)));
            let hits = self.retrieve(&part, intent, k).await;
            // A question nothing answers adds nothing to the reply.
            let Some(file) = hits.first().map(|h| h.chunk.file.clone()) else {
                continue;
            };
            match asked.iter_mut().find(|a| a.hits[0].chunk.file == file) {
                Some(same) => {
                    same.question.push(' ');
                    same.question.push_str(&part);
                }
                None => asked.push(Asked {
                    question: part,
                    hits,
                }),
            }
        }
        (asked.len() >= 2).then_some(asked)
    }

    /// The reply to a text that asks several things, and what was retrieved; `None`
    /// when the text asks one thing (the caller answers it as usual).
    pub(super) async fn answer_each(
        &self,
        text: &str,
        input: &TurnInput<'_>,
        understanding: &Understanding,
    ) -> Option<(Option<(&'static str, String)>, Vec<Retrieved>)> {
        let asked = self.retrieve_each(text, 3).await?;
        let retrieved: Vec<Retrieved> = asked.iter().flat_map(|a| describe(&a.hits)).collect();
        if self.llm_for(crate::llm::LlmTask::Answer).is_some() && !understanding.llm_fallback {
            // The model reads every question's passages and answers them in its own
            // words within the budget; it falls back to the local composer itself.
            let hits = interleave(&asked);
            let (reply, composer) = self
                .compose(text, &hits[0], &hits, input, understanding.llm_fallback)
                .await;
            return Some((reply.map(|r| (composer, r)), retrieved));
        }
        let reply = self
            .all_answers(&asked)
            .or_else(|| self.first_answer_and_what_else(&asked))?;
        Some((Some(("local", reply)), retrieved))
    }

    /// Every question answered in its share of the budget, in the order asked.
    fn all_answers(&self, asked: &[Asked]) -> Option<String> {
        let max_segments = self.settings.max_segments;
        let budget = max_segments as usize * UNITS_PER_SEGMENT;
        let share = (budget - (asked.len() - 1)) / asked.len();
        let parts = asked
            .iter()
            .map(|a| {
                compose::compose_part(&a.question, source_of(&a.hits[0]), |t| {
                    segments::count(t).units as usize <= share
                })
            })
            .collect::<Option<Vec<String>>>()?;
        let reply = parts.join(" ");
        (segments::count(&reply).segments <= max_segments).then_some(reply)
    }

    /// The first question answered, and the others named so the customer can ask
    /// them next.
    fn first_answer_and_what_else(&self, asked: &[Asked]) -> Option<String> {
        let others: Vec<String> = asked[1..]
            .iter()
            .map(|a| {
                let chunk = &a.hits[0].chunk;
                chunk.title.clone().unwrap_or_else(|| chunk.heading_trail())
            })
            .collect();
        let tail = format!(
            " You also asked about {}: text me that next and I'll answer it.",
            others.join(" and ")
        );
        let max_segments = self.settings.max_segments;
        let first = compose::compose_part(&asked[0].question, source_of(&asked[0].hits[0]), |t| {
            segments::count(&format!("{t}{tail}")).segments <= max_segments
        })?;
        Some(format!("{first}{tail}"))
    }
}

/// The passages of every question, taking turns: each question's best first.
pub(super) fn interleave(asked: &[Asked]) -> Vec<Hit> {
    let depth = asked.iter().map(|a| a.hits.len()).max().unwrap_or(0);
    (0..depth)
        .flat_map(|rank| asked.iter().filter_map(move |a| a.hits.get(rank)))
        .cloned()
        .collect()
}
