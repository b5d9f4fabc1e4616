//! Sentence embeddings: text → dense vector, for knowledge chunks and for the
//! classifier. One [`Embedder`] is chosen at start (local model, OpenAI-compatible
//! endpoint, or none) and shared.

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
}

#[derive(Debug, thiserror::Error)]
pub enum EmbedError {
    #[error("embedding model files missing or unreadable: {0}")]
    Model(String),
    #[error("embedding failed: {0}")]
    Inference(String),
    #[error("embedding endpoint failed: {0}")]
    Remote(String),
}
