//! The yardstick: TF-IDF (words) nearest neighbour. The text gets the label of the
//! most similar example; below a similarity threshold it is out of scope. This is
//! what many FAQ bots do, and what the local classifier must clearly beat.

use super::features::{Sparse, Terms, Vectorizer, sparse_dot};
use crate::brain::intents::{IntentName, IntentSet};

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
