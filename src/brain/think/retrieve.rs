//! Retrieval for a turn: which passages answer the customer's question, read with
//! the intent it was understood as.

use std::collections::HashMap;

use super::Brain;
use super::several::interleave;
use crate::brain::intents::{Action, Intent};
use crate::knowledge::index::RRF_K;
use crate::knowledge::{Hit, SearchMode};

impl Brain {
    /// The `k` passages that answer `question`, read as `intent`, best first.
    ///
    /// Two rankings are fused: the customer's own words, and the same words with the
    /// intent's description (the topic in the operator's words). The description
    /// steers vague texts to the right document ("send these back" → returns, not
    /// refunds), but it names every part of a topic, so on its own it would outvote
    /// what the customer said: "how much is shipping" read with a description that
    /// lists international shipping got the Canada rates. So the customer's ranking
    /// weighs [`OWN_WORDS_WEIGHT`] times the steered one: the description decides
    /// between passages the customer's words leave close, and fills in when they
    /// find nothing. The best file comes first, then its best passage (see
    /// [`fuse_rankings`]), so the reply is that file's `sms` answer when it has one.
    pub(super) async fn retrieve(
        &self,
        question: &str,
        intent: Option<&Intent>,
        k: usize,
    ) -> Vec<Hit> {
        let own = self
            .search_in(question, FUSION_DEPTH, SearchMode::Hybrid)
            .await;
        let Some(description) = intent
            .map(|i| i.description.as_str())
            .filter(|d| !d.is_empty())
        else {
            return fuse_rankings(&[(own, OWN_WORDS_WEIGHT)], k);
        };
        let steered = self.search_about(question, description, FUSION_DEPTH).await;
        fuse_rankings(&[(own, OWN_WORDS_WEIGHT), (steered, 1.0)], k)
    }

    /// What a turn would retrieve for `text` on its own: understood as
    /// [`Brain::understand_text`] does, then [`Brain::retrieve`], or for a text that
    /// asks several things, each question's passages taking turns. For `knowledge eval`.
    pub async fn retrieve_for_text(&self, text: &str, k: usize) -> Vec<Hit> {
        let understanding = self.understand_text(text).await;
        let model = self.model();
        let intent = model.set.get(understanding.intent.as_str());
        if intent.is_none_or(|i| matches!(i.action, Action::Answer))
            && let Some(asked) = self.retrieve_each(text, k).await
        {
            return interleave(&asked);
        }
        self.retrieve(text, intent, k).await
    }
}

/// How much more the customer's own words count than the intent's description when
/// ranking passages (see [`Brain::retrieve`]).
const OWN_WORDS_WEIGHT: f32 = 2.0;

/// Passages each ranking contributes to the fusion.
const FUSION_DEPTH: usize = 10;

/// Weighted reciprocal rank fusion of passage rankings (the same `1 / (rank + k)` as
/// the index's own hybrid fusion, times each ranking's weight), grouped by file: the
/// best file's passages first, best first within it; the first `k`.
fn fuse_rankings(rankings: &[(Vec<Hit>, f32)], k: usize) -> Vec<Hit> {
    let mut fused: Vec<(Hit, f32)> = Vec::new();
    for (ranking, weight) in rankings {
        for (rank, hit) in ranking.iter().enumerate() {
            let score = weight / (rank as f32 + RRF_K as f32);
            let same = |(h, _): &&mut (Hit, f32)| {
                h.chunk.file == hit.chunk.file && h.chunk.ordinal == hit.chunk.ordinal
            };
            match fused.iter_mut().find(same) {
                Some((_, total)) => *total += score,
                None => fused.push((hit.clone(), score)),
            }
        }
    }
    // A file several of whose passages match is the file the customer means (the
    // domestic shipping file matches "what does shipping cost" in its summary, its
    // table and its notes; the international file in one section). Files rank by
    // the sum of their passages' scores, passages by their own within a file.
    let mut by_file: HashMap<String, f32> = HashMap::new();
    for (hit, score) in &fused {
        *by_file.entry(hit.chunk.file.clone()).or_default() += score;
    }
    fused.sort_by(|a, b| {
        by_file[&b.0.chunk.file]
            .total_cmp(&by_file[&a.0.chunk.file])
            .then(b.1.total_cmp(&a.1))
    });
    fused
        .into_iter()
        .take(k)
        .map(|(mut hit, score)| {
            hit.score = score;
            hit
        })
        .collect()
}
