//! Customer texts, embedded once and together.
//!
//! A turn needs the customer's text as a vector twice (the classifier, then the
//! search), and under load many turns need one at the same moment. [`QueryBatcher`]
//! sits right around the model: it remembers the last few query vectors in memory
//! (never on disk: customer texts are personal data), and it hands the model every
//! query that is waiting as one batch, so one forward pass serves them all. Nothing
//! waits on purpose: a lone query goes to the model at once; queries that arrive
//! while the model is busy share its next pass.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex, OnceLock};

use tokio::sync::{Semaphore, mpsc, oneshot};

use super::{EmbedError, Embedder};

/// How many recent query vectors are remembered (a turn's texts, for its few
/// searches; not a cache of the traffic).
const REMEMBERED: usize = 256;

/// The most queries one model pass takes.
const LARGEST_BATCH: usize = 32;

type Reply = oneshot::Sender<Result<Vec<f32>, EmbedError>>;

pub struct QueryBatcher<E> {
    inner: Arc<E>,
    recent: Mutex<VecDeque<(String, Vec<f32>)>>,
    /// Started on the first query, inside the runtime.
    queries: OnceLock<mpsc::UnboundedSender<(String, Reply)>>,
}

impl<E: Embedder + 'static> QueryBatcher<E> {
    pub fn new(inner: E) -> Self {
        Self {
            inner: Arc::new(inner),
            recent: Mutex::new(VecDeque::with_capacity(REMEMBERED)),
            queries: OnceLock::new(),
        }
    }

    fn remembered(&self, text: &str) -> Option<Vec<f32>> {
        let recent = self.recent.lock().unwrap_or_else(|e| e.into_inner());
        recent
            .iter()
            .find(|(t, _)| t == text)
            .map(|(_, v)| v.clone())
    }

    fn remember(&self, text: &str, vector: &[f32]) {
        let mut recent = self.recent.lock().unwrap_or_else(|e| e.into_inner());
        if recent.len() == REMEMBERED {
            recent.pop_front();
        }
        recent.push_back((text.to_string(), vector.to_vec()));
    }

    fn sender(&self) -> &mpsc::UnboundedSender<(String, Reply)> {
        self.queries.get_or_init(|| {
            let (queries, waiting) = mpsc::unbounded_channel();
            tokio::spawn(run(Arc::clone(&self.inner), waiting));
            queries
        })
    }
}

async fn run<E: Embedder + 'static>(
    model: Arc<E>,
    mut waiting: mpsc::UnboundedReceiver<(String, Reply)>,
) {
    // One pass per core at most: more would only slow each other down.
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let passes = Arc::new(Semaphore::new(cores));
    loop {
        // Take a pass first: while every core is busy, queries pile up for the next one.
        let Ok(pass) = Arc::clone(&passes).acquire_owned().await else {
            return;
        };
        // Waits for one query, then takes every other one already waiting.
        let mut batch = Vec::with_capacity(LARGEST_BATCH);
        if waiting.recv_many(&mut batch, LARGEST_BATCH).await == 0 {
            return;
        }
        let model = Arc::clone(&model);
        tokio::spawn(async move {
            answer(&*model, batch).await;
            drop(pass);
        });
    }
}

async fn answer<E: Embedder>(model: &E, batch: Vec<(String, Reply)>) {
    let (texts, replies): (Vec<String>, Vec<Reply>) = batch.into_iter().unzip();
    match model.embed(&texts).await {
        Ok(vectors) if vectors.len() == texts.len() => {
            for (reply, vector) in replies.into_iter().zip(vectors) {
                let _ = reply.send(Ok(vector));
            }
        }
        result => {
            let why = match result {
                Ok(vectors) => format!("{} vectors for {} texts", vectors.len(), texts.len()),
                Err(e) => e.to_string(),
            };
            for reply in replies {
                let _ = reply.send(Err(EmbedError::Inference(why.clone())));
            }
        }
    }
}

#[async_trait::async_trait]
impl<E: Embedder + 'static> Embedder for QueryBatcher<E> {
    fn model_id(&self) -> &str {
        self.inner.model_id()
    }

    fn dimensions(&self) -> usize {
        self.inner.dimensions()
    }

    async fn embed(&self, texts: &[String]) -> Result<Vec<Vec<f32>>, EmbedError> {
        self.inner.embed(texts).await
    }

    async fn embed_query(&self, text: &str) -> Result<Vec<f32>, EmbedError> {
        if let Some(vector) = self.remembered(text) {
            return Ok(vector);
        }
        let (reply, answer) = oneshot::channel();
        self.sender()
            .send((text.to_string(), reply))
            .map_err(|_| EmbedError::Inference("the query batcher stopped".into()))?;
        let vector = answer
            .await
            .map_err(|_| EmbedError::Inference("the query batcher stopped".into()))??;
        self.remember(text, &vector);
        Ok(vector)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};

    /// Counts model calls and texts; a text's vector is its length.
    #[derive(Default)]
    struct Counting {
        calls: AtomicUsize,
        texts: AtomicUsize,
    }

    #[async_trait::async_trait]
    impl Embedder for Counting {
        fn model_id(&self) -> &str {
            "counting"
        }
        fn dimensions(&self) -> usize {
            1
        }
        async fn embed(&self, texts: &[String]) -> Result<Vec<Vec<f32>>, EmbedError> {
            self.calls.fetch_add(1, Ordering::SeqCst);
            self.texts.fetch_add(texts.len(), Ordering::SeqCst);
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
            Ok(texts.iter().map(|t| vec![t.len() as f32]).collect())
        }
    }

    #[tokio::test]
    async fn a_text_asked_twice_is_embedded_once_and_concurrent_texts_share_a_pass() {
        let batcher = Arc::new(QueryBatcher::new(Counting::default()));
        assert_eq!(batcher.embed_query("abc").await.unwrap(), vec![3.0]);
        assert_eq!(batcher.embed_query("abc").await.unwrap(), vec![3.0]);
        assert_eq!(batcher.inner.calls.load(Ordering::SeqCst), 1);

        let texts: Vec<String> = (0..20).map(|i| "x".repeat(i + 10)).collect();
        let answers =
            futures_util::future::join_all(texts.iter().map(|t| batcher.embed_query(t))).await;
        for (text, answer) in texts.iter().zip(answers) {
            assert_eq!(answer.unwrap(), vec![text.len() as f32], "in order");
        }
        assert_eq!(batcher.inner.texts.load(Ordering::SeqCst), 21);
        // The first texts go alone (one pass per core); the rest wait and share a pass.
        let calls = batcher.inner.calls.load(Ordering::SeqCst);
        let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
        assert!(
            calls <= 1 + cores + 1,
            "{calls} model calls for 20 concurrent texts"
        );
    }
}
