//! Sentence embeddings: text → dense vector, for knowledge chunks and for the
//! classifier. One [`Embedder`] is chosen at start (local model, OpenAI-compatible
//! endpoint, or none) and shared.
//!
//! - [`LocalEmbedder`] runs all-MiniLM-L6-v2 in-process on the CPU (candle).
//! - [`OpenAiEmbedder`] calls any OpenAI-compatible `/embeddings` endpoint.
//! - [`CachedEmbedder`] wraps either with an on-disk cache so unchanged text is never
//!   embedded twice.
//! - [`QueryBatcher`], right around the model, embeds a customer's text once per turn
//!   and concurrent customers' texts in one pass.
//!
//! Every embedder returns unit-length vectors, so [`cosine`] is a dot product in
//! practice. This module does not chunk text or store vectors for search; the index
//! owns that.

pub mod cache;
pub mod local;
pub mod openai;
pub mod queries;

pub use cache::CachedEmbedder;
pub use local::LocalEmbedder;
pub use openai::OpenAiEmbedder;
pub use queries::QueryBatcher;

/// Turns texts into L2-normalised vectors of a fixed size.
#[async_trait::async_trait]
pub trait Embedder: Send + Sync {
    /// Identifies the model, e.g. `local:all-MiniLM-L6-v2`; part of cache keys, so two
    /// models never share cached vectors.
    fn model_id(&self) -> &str;

    /// Length of every vector this embedder returns.
    fn dimensions(&self) -> usize;

    /// Embeds a batch; the result has one vector per input, in order.
    async fn embed(&self, texts: &[String]) -> Result<Vec<Vec<f32>>, EmbedError>;

    /// Embeds one customer text (a search query or a text to classify). Separate from
    /// [`Embedder::embed`] so caches can refuse it: customer texts are personal data
    /// and must never be written to disk.
    async fn embed_query(&self, text: &str) -> Result<Vec<f32>, EmbedError> {
        let mut vectors = self.embed(&[text.to_string()]).await?;
        vectors
            .pop()
            .ok_or_else(|| EmbedError::Inference("the embedder returned no vector".into()))
    }
}

#[derive(Debug, thiserror::Error)]
pub enum EmbedError {
    #[error("embedding model files missing or unreadable: {0}")]
    Model(String),
    #[error("embedding failed: {0}")]
    Inference(String),
    #[error("embedding endpoint failed: {0}")]
    Remote(String),
    #[error("embedding cache unusable: {0}")]
    Cache(String),
}

/// Cosine similarity of two vectors, in `[-1, 1]`.
///
/// Returns `0.0` when the lengths differ or either vector is all zeros, so a bad
/// vector ranks last instead of poisoning a sort with NaN.
pub fn cosine(a: &[f32], b: &[f32]) -> f32 {
    if a.len() != b.len() {
        return 0.0;
    }
    let (mut dot, mut na, mut nb) = (0.0f32, 0.0f32, 0.0f32);
    for (x, y) in a.iter().zip(b) {
        dot += x * y;
        na += x * x;
        nb += y * y;
    }
    if na == 0.0 || nb == 0.0 {
        return 0.0;
    }
    (dot / (na.sqrt() * nb.sqrt())).clamp(-1.0, 1.0)
}

/// Scales `v` to unit length in place; an all-zero vector is left as it is.
pub(crate) fn normalize(v: &mut [f32]) {
    let norm = v.iter().map(|x| x * x).sum::<f32>().sqrt();
    if norm > 0.0 {
        for x in v.iter_mut() {
            *x /= norm;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cosine_of_a_vector_with_itself_is_one() {
        let v = [0.3, -1.2, 4.0];
        assert!((cosine(&v, &v) - 1.0).abs() < 1e-6);
    }

    #[test]
    fn cosine_ignores_scale_and_sees_opposites() {
        assert!((cosine(&[1.0, 2.0], &[2.0, 4.0]) - 1.0).abs() < 1e-6);
        assert!((cosine(&[1.0, 2.0], &[-1.0, -2.0]) + 1.0).abs() < 1e-6);
        assert!(cosine(&[1.0, 0.0], &[0.0, 1.0]).abs() < 1e-6);
    }

    #[test]
    fn cosine_of_mismatched_or_zero_vectors_is_zero() {
        assert_eq!(cosine(&[1.0, 2.0], &[1.0]), 0.0);
        assert_eq!(cosine(&[0.0, 0.0], &[1.0, 1.0]), 0.0);
        assert_eq!(cosine(&[], &[]), 0.0);
    }

    #[test]
    fn normalize_gives_unit_length_and_leaves_zeros_alone() {
        let mut v = [3.0, 4.0];
        normalize(&mut v);
        assert!((v[0] - 0.6).abs() < 1e-6 && (v[1] - 0.8).abs() < 1e-6);
        let mut z = [0.0, 0.0];
        normalize(&mut z);
        assert_eq!(z, [0.0, 0.0]);
    }
}
