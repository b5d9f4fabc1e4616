//! The local intent classifier: learns from `intents.toml` at load time and labels a
//! text with an intent and a calibrated confidence, or `out_of_scope`.
//!
//! Pipeline: TF-IDF over words, bigrams and character n-grams ([`features`]) plus the
//! sentence embedding when an embedder is configured → softmax regression
//! ([`logreg`]) over the intents and a background class learned from
//! `[out_of_scope] examples`. A text is out of scope when the background class wins
//! or the best intent's probability is below the threshold. [`baseline`] is the
//! TF-IDF 1-nearest-neighbour classifier we measure ourselves against.

pub mod baseline;
pub mod eval;
pub mod features;
pub mod logreg;

use std::sync::Arc;

use features::Vectorizer;
use logreg::{Example, SoftmaxModel, TrainSettings};

use crate::brain::intents::{IntentName, IntentSet};
use crate::knowledge::embed::{EmbedError, Embedder};

/// Default minimum probability for an intent to count; below it the text is
/// out of scope. Operators tune it with `textdesk classify --eval`.
pub const DEFAULT_THRESHOLD: f32 = 0.4;

#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Classification {
    /// The intent, or `out_of_scope`.
    pub intent: IntentName,
    /// Probability of the returned label: of the intent, or for `out_of_scope` that
    /// no intent applies.
    pub confidence: f32,
    /// The five most likely intents with their probabilities, best first (useful
    /// for clarifying questions even when the answer is out of scope).
    pub candidates: Vec<(IntentName, f32)>,
}

pub struct Classifier {
    labels: Vec<IntentName>,
    /// Index of the background class in the model's output, if trained with one.
    background: Option<usize>,
    vectorizer: Vectorizer,
    model: SoftmaxModel,
    embedder: Option<Arc<dyn Embedder>>,
    threshold: f32,
}

impl Classifier {
    /// Trains on the intents' examples (and the out-of-scope examples as a background
    /// class). Embeds the examples when an embedder is given.
    pub async fn train(
        set: &IntentSet,
        embedder: Option<Arc<dyn Embedder>>,
        threshold: f32,
    ) -> Result<Self, EmbedError> {
        let mut texts = Vec::new();
        let mut labels = Vec::new();
        let mut names: Vec<IntentName> = set.names().cloned().collect();
        for (index, intent) in set.intents.iter().enumerate() {
            // The description is one more way of saying what the intent is about.
            texts.push(intent.description.clone());
            labels.push(index);
            for example in &intent.examples {
                texts.push(example.clone());
                labels.push(index);
            }
        }
        let background = if set.out_of_scope_examples.is_empty() {
            None
        } else {
            names.push(IntentName::out_of_scope());
            let index = names.len() - 1;
            for example in &set.out_of_scope_examples {
                texts.push(example.clone());
                labels.push(index);
            }
            Some(index)
        };
        let vectorizer = Vectorizer::fit(&texts);
        let dense = match &embedder {
            Some(e) => e.embed(&texts).await?,
            None => vec![Vec::new(); texts.len()],
        };
        let examples: Vec<Example> = texts
            .iter()
            .zip(dense)
            .map(|(t, d)| Example {
                sparse: vectorizer.transform(t),
                dense: d,
            })
            .collect();
        let model = SoftmaxModel::train(
            &examples,
            &labels,
            names.len(),
            vectorizer.dimensions(),
            &TrainSettings::default(),
        );
        Ok(Self {
            labels: names,
            background,
            vectorizer,
            model,
            embedder,
            threshold,
        })
    }

    pub fn threshold(&self) -> f32 {
        self.threshold
    }

    pub fn with_threshold(mut self, threshold: f32) -> Self {
        self.threshold = threshold;
        self
    }

    /// Classifies one text, embedding it first when an embedder is configured. An
    /// embedder failure degrades to the sparse features rather than failing.
    pub async fn classify(&self, text: &str) -> Classification {
        let dense = match &self.embedder {
            Some(embedder) => match embedder.embed_query(text).await {
                Ok(v) => v,
                Err(e) => {
                    tracing::warn!(error = %e, "embedding failed; classifying on words only");
                    Vec::new()
                }
            },
            None => Vec::new(),
        };
        self.classify_embedded(text, dense)
    }

    /// Classifies with a precomputed embedding (empty when none).
    pub fn classify_embedded(&self, text: &str, dense: Vec<f32>) -> Classification {
        let example = Example {
            sparse: self.vectorizer.transform(text),
            dense,
        };
        let probs = self.model.probabilities(&example);
        let mut ranked: Vec<(usize, f32)> = probs
            .iter()
            .copied()
            .enumerate()
            .filter(|(i, _)| Some(*i) != self.background)
            .collect();
        ranked.sort_by(|a, b| b.1.total_cmp(&a.1));
        let candidates: Vec<(IntentName, f32)> = ranked
            .iter()
            .take(5)
            .map(|&(i, p)| (self.labels[i].clone(), p))
            .collect();
        let background_p = self.background.map(|i| probs[i]).unwrap_or(0.0);
        let (best, best_p) = ranked.first().copied().unwrap_or((0, 0.0));
        if ranked.is_empty() || best_p < self.threshold || background_p > best_p {
            return Classification {
                intent: IntentName::out_of_scope(),
                confidence: 1.0 - best_p,
                candidates,
            };
        }
        Classification {
            intent: self.labels[best].clone(),
            confidence: best_p,
            candidates,
        }
    }
}
