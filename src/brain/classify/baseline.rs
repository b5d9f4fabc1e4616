//! The yardsticks the local classifier must beat:
//!
//! - [`NearestNeighbour`]: TF-IDF (words) nearest neighbour. The text gets the label of
//!   the most similar example; below a similarity threshold it is out of scope. This
//!   is what many FAQ bots do.
//! - [`EmbeddingLogReg`]: sentence embeddings (the same MiniLM) and a plain
//!   L2-regularised logistic regression, out of scope below p = 0.4: the usual
//!   few-shot baseline in the intent-detection literature.

use super::features::{Sparse, Terms, Vectorizer, sparse_dot};
use super::logreg::{Example, SoftmaxModel, TrainSettings};
use crate::brain::intents::{IntentName, IntentSet};
use crate::knowledge::embed::{EmbedError, Embedder};

/// Out of scope below this probability, as the published baseline does it.
pub const EMBEDDING_LOGREG_THRESHOLD: f32 = 0.4;

pub struct EmbeddingLogReg {
    labels: Vec<IntentName>,
    model: SoftmaxModel,
}

impl EmbeddingLogReg {
    /// Trains on the examples' embeddings with inverse regularisation strength `c`
    /// (scikit-learn's `C`: the L2 penalty is `1 / (c · n)` per example).
    pub async fn train(
        set: &IntentSet,
        embedder: &dyn Embedder,
        c: f32,
    ) -> Result<Self, EmbedError> {
        let mut texts = Vec::new();
        let mut labels = Vec::new();
        for (index, intent) in set.intents.iter().enumerate() {
            for example in &intent.examples {
                texts.push(example.clone());
                labels.push(index);
            }
        }
        let examples: Vec<Example> = embedder
            .embed(&texts)
            .await?
            .into_iter()
            .map(|dense| Example {
                sparse: Vec::new(),
                dense,
            })
            .collect();
        let settings = TrainSettings {
            epochs: 500,
            learning_rate: 0.05,
            l2: 1.0 / (c * texts.len().max(1) as f32),
            dense_weight: 1.0,
        };
        let weights = vec![1.0; examples.len()];
        let model = SoftmaxModel::train(
            &examples,
            &labels,
            &weights,
            set.intents.len(),
            0,
            &settings,
        );
        Ok(Self {
            labels: set.names().cloned().collect(),
            model,
        })
    }

    /// The most likely intent and its probability, for an embedded text.
    pub fn best(&self, dense: Vec<f32>) -> (IntentName, f32) {
        let probs = self.model.probabilities(&Example {
            sparse: Vec::new(),
            dense,
        });
        probs
            .iter()
            .enumerate()
            .max_by(|a, b| a.1.total_cmp(b.1))
            .map(|(i, p)| (self.labels[i].clone(), *p))
            .unwrap_or((IntentName::out_of_scope(), 0.0))
    }
}

pub struct NearestNeighbour {
    vectorizer: Vectorizer,
    examples: Vec<(Sparse, IntentName)>,
}

impl NearestNeighbour {
    pub fn train(set: &IntentSet) -> Self {
        let labelled: Vec<(String, IntentName)> = set
            .intents
            .iter()
            .flat_map(|i| i.examples.iter().map(move |e| (e.clone(), i.name.clone())))
            .collect();
        let texts: Vec<String> = labelled.iter().map(|(t, _)| t.clone()).collect();
        let vectorizer = Vectorizer::fit_with(&texts, Terms::Words);
        let examples = labelled
            .into_iter()
            .map(|(t, n)| (vectorizer.transform(&t), n))
            .collect();
        Self {
            vectorizer,
            examples,
        }
    }

    /// The nearest example's intent and its cosine similarity.
    pub fn nearest(&self, text: &str) -> (IntentName, f32) {
        let query = self.vectorizer.transform(text);
        self.examples
            .iter()
            .map(|(v, name)| (name, sparse_dot(&query, v)))
            .max_by(|a, b| a.1.total_cmp(&b.1))
            .map(|(name, sim)| (name.clone(), sim))
            .unwrap_or((IntentName::out_of_scope(), 0.0))
    }

    pub fn classify(&self, text: &str, threshold: f32) -> IntentName {
        let (name, sim) = self.nearest(text);
        if sim < threshold {
            IntentName::out_of_scope()
        } else {
            name
        }
    }
}
