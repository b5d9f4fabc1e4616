//! Multinomial logistic regression (softmax) over sparse TF-IDF features and, when an
//! embedder is available, a dense sentence embedding, trained at load time from the
//! intents' examples.
//!
//! Why not nearest neighbour: 1-NN copies the label of one example and is as confident
//! about a lucky match as about a real one. A linear model weighs every feature across
//! all examples of an intent and gives probabilities that mean something, which is what
//! the out-of-scope threshold needs. The problem is convex, so plain full-batch
//! gradient descent (Adam) from zero reaches the same model every time: training is
//! deterministic.

use super::features::Sparse;

/// The first bytes of a saved model.
const MAGIC: &[u8] = b"textdesk softmax model 1\n";

/// One training or query point.
#[derive(Debug, Clone)]
pub struct Example {
    pub sparse: Sparse,
    /// Unit-length sentence embedding, or empty when no embedder is configured.
    pub dense: Vec<f32>,
}

#[derive(Debug, Clone)]
pub struct TrainSettings {
    pub epochs: usize,
    pub learning_rate: f32,
    pub l2: f32,
    /// Scales the dense block relative to the sparse one.
    pub dense_weight: f32,
}

impl Default for TrainSettings {
    fn default() -> Self {
        Self {
            epochs: 300,
            learning_rate: 0.2,
            l2: 1e-5,
            dense_weight: 1.0,
        }
    }
}

#[derive(Debug, Clone)]
pub struct SoftmaxModel {
    classes: usize,
    sparse_dims: usize,
    dense_dims: usize,
    dense_weight: f32,
    /// Row-major `classes × (sparse_dims + dense_dims)`.
    weights: Vec<f32>,
    bias: Vec<f32>,
}

impl SoftmaxModel {
    /// Trains on `examples` labelled `labels[i] ∈ 0..classes`, example `i` counting
    /// `weights[i]` times (the built-in background set is many texts that together
    /// weigh as much as one intent).
    pub fn train(
        examples: &[Example],
        labels: &[usize],
        weights: &[f32],
        classes: usize,
        sparse_dims: usize,
        settings: &TrainSettings,
    ) -> Self {
        let dense_dims = examples.first().map(|e| e.dense.len()).unwrap_or(0);
        let width = sparse_dims + dense_dims;
        let mut model = Self {
            classes,
            sparse_dims,
            dense_dims,
            dense_weight: settings.dense_weight,
            weights: vec![0.0; classes * width],
            bias: vec![0.0; classes],
        };
        if examples.is_empty() || classes == 0 {
            return model;
        }
        let n: f32 = weights.iter().sum();
        let (beta1, beta2, eps) = (0.9f32, 0.999f32, 1e-8f32);
        let mut m_w = vec![0.0f32; model.weights.len()];
        let mut v_w = vec![0.0f32; model.weights.len()];
        let mut m_b = vec![0.0f32; classes];
        let mut v_b = vec![0.0f32; classes];
        let mut grad_w = vec![0.0f32; model.weights.len()];
        let mut grad_b = vec![0.0f32; classes];

        for epoch in 1..=settings.epochs {
            grad_w.iter_mut().for_each(|g| *g = 0.0);
            grad_b.iter_mut().for_each(|g| *g = 0.0);
            for ((example, &label), &weight) in examples.iter().zip(labels).zip(weights) {
                let probs = model.probabilities(example);
                for (class, p) in probs.iter().enumerate() {
                    let err = (p - if class == label { 1.0 } else { 0.0 }) * weight / n;
                    grad_b[class] += err;
                    let row = class * width;
                    for &(i, x) in &example.sparse {
                        grad_w[row + i as usize] += err * x;
                    }
                    for (j, x) in example.dense.iter().enumerate() {
                        grad_w[row + sparse_dims + j] += err * x * settings.dense_weight;
                    }
                }
            }
            let t = epoch as i32;
            let (c1, c2) = (1.0 - beta1.powi(t), 1.0 - beta2.powi(t));
            for k in 0..model.weights.len() {
                let g = grad_w[k] + settings.l2 * model.weights[k];
                m_w[k] = beta1 * m_w[k] + (1.0 - beta1) * g;
                v_w[k] = beta2 * v_w[k] + (1.0 - beta2) * g * g;
                model.weights[k] -=
                    settings.learning_rate * (m_w[k] / c1) / ((v_w[k] / c2).sqrt() + eps);
            }
            for k in 0..classes {
                let g = grad_b[k];
                m_b[k] = beta1 * m_b[k] + (1.0 - beta1) * g;
                v_b[k] = beta2 * v_b[k] + (1.0 - beta2) * g * g;
                model.bias[k] -=
                    settings.learning_rate * (m_b[k] / c1) / ((v_b[k] / c2).sqrt() + eps);
            }
        }
        model
    }

    /// The trained parameters, for [`super::model_cache`]: a magic line, then the
    /// weights and the biases as little-endian `f32`s.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(MAGIC.len() + 4 * (self.weights.len() + self.bias.len()));
        out.extend_from_slice(MAGIC);
        for x in self.weights.iter().chain(&self.bias) {
            out.extend_from_slice(&x.to_le_bytes());
        }
        out
    }

    /// A model saved by [`Self::to_bytes`] for this shape; `None` when the bytes are
    /// not one (another shape, a truncated file, another format).
    pub fn from_bytes(
        bytes: &[u8],
        classes: usize,
        sparse_dims: usize,
        dense_dims: usize,
        settings: &TrainSettings,
    ) -> Option<Self> {
        let floats = bytes.strip_prefix(MAGIC)?;
        let weights = classes * (sparse_dims + dense_dims);
        if floats.len() != 4 * (weights + classes) {
            return None;
        }
        let mut values = floats
            .chunks_exact(4)
            .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]));
        Some(Self {
            classes,
            sparse_dims,
            dense_dims,
            dense_weight: settings.dense_weight,
            weights: values.by_ref().take(weights).collect(),
            bias: values.collect(),
        })
    }

    /// Class probabilities for one point (they sum to 1).
    pub fn probabilities(&self, example: &Example) -> Vec<f32> {
        let width = self.sparse_dims + self.dense_dims;
        let mut logits: Vec<f32> = (0..self.classes)
            .map(|class| {
                let row = &self.weights[class * width..(class + 1) * width];
                let mut z = self.bias[class];
                for &(i, x) in &example.sparse {
                    if (i as usize) < self.sparse_dims {
                        z += row[i as usize] * x;
                    }
                }
                if example.dense.len() == self.dense_dims {
                    for (j, x) in example.dense.iter().enumerate() {
                        z += row[self.sparse_dims + j] * x * self.dense_weight;
                    }
                }
                z
            })
            .collect();
        let max = logits.iter().copied().fold(f32::NEG_INFINITY, f32::max);
        let mut sum = 0.0;
        for z in &mut logits {
            *z = (*z - max).exp();
            sum += *z;
        }
        for z in &mut logits {
            *z /= sum;
        }
        logits
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn learns_a_separable_problem_and_is_deterministic() {
        let ex = |i: u32| Example {
            sparse: vec![(i, 1.0)],
            dense: vec![],
        };
        let examples = vec![ex(0), ex(1), ex(2), ex(0), ex(1), ex(2)];
        let labels = vec![0, 1, 2, 0, 1, 2];
        let weights = vec![1.0; examples.len()];
        let a = SoftmaxModel::train(
            &examples,
            &labels,
            &weights,
            3,
            3,
            &TrainSettings::default(),
        );
        let b = SoftmaxModel::train(
            &examples,
            &labels,
            &weights,
            3,
            3,
            &TrainSettings::default(),
        );
        let p = a.probabilities(&ex(1));
        assert!(p[1] > 0.8, "{p:?}");
        assert_eq!(p, b.probabilities(&ex(1)));
        let sum: f32 = p.iter().sum();
        assert!((sum - 1.0).abs() < 1e-5);
    }
}
