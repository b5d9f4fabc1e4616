//! all-MiniLM-L6-v2 run in-process on the CPU with candle: BERT forward pass, masked
//! mean pooling over the tokens, L2 normalisation — the same pipeline as the
//! sentence-transformers model card, so vectors match the Python reference.
//!
//! The model files (`config.json`, `tokenizer.json`, `model.safetensors`) are fetched by
//! `scripts/fetch-model.sh`; this module only reads them. Inference is CPU-bound and
//! runs on tokio's blocking pool, never on an async worker thread.

use std::path::Path;
use std::sync::Arc;

use candle_core::{DType, Device, Tensor};
use candle_nn::VarBuilder;
use candle_transformers::models::bert::{BertModel, Config, DTYPE};
use tokenizers::{PaddingParams, PaddingStrategy, Tokenizer};

use super::{EmbedError, Embedder};

/// Model id used in cache keys and logs.
pub const MODEL_ID: &str = "local:all-MiniLM-L6-v2";
/// Length of every vector.
pub const DIMENSIONS: usize = 384;
/// Longest input in tokens, counting `[CLS]` and `[SEP]`; the rest is cut off. Matches
/// the model's `max_seq_length` (the shipped tokenizer.json says 128, which is wrong
/// for sentence-transformers' pipeline).
pub const MAX_TOKENS: usize = 256;
/// Texts per forward pass: large enough to amortise overhead, small enough that one
/// long text does not pad 1000 short ones to 256 tokens.
const BATCH_SIZE: usize = 32;

/// Runs all-MiniLM-L6-v2 locally. Cheap to clone; clones share the loaded model.
#[derive(Clone)]
pub struct LocalEmbedder {
    model: Arc<Model>,
}

struct Model {
    bert: BertModel,
    tokenizer: Tokenizer,
    device: Device,
}

impl LocalEmbedder {
    /// Loads the model from a folder holding `config.json`, `tokenizer.json` and
    /// `model.safetensors` (see `scripts/fetch-model.sh`).
    pub fn load(dir: &Path) -> Result<Self, EmbedError> {
        let missing: Vec<_> = ["config.json", "tokenizer.json", "model.safetensors"]
            .into_iter()
            .filter(|f| !dir.join(f).is_file())
            .collect();
        if !missing.is_empty() {
            return Err(EmbedError::Model(format!(
                "{} missing from {}; run scripts/fetch-model.sh to download all-MiniLM-L6-v2",
                missing.join(", "),
                dir.display()
            )));
        }

        let config_path = dir.join("config.json");
        let config_text =
            std::fs::read_to_string(&config_path).map_err(|e| model_err(&config_path, e))?;
        let config: Config =
            serde_json::from_str(&config_text).map_err(|e| model_err(&config_path, e))?;
        if config.hidden_size != DIMENSIONS {
            return Err(EmbedError::Model(format!(
                "{} has hidden_size {}, expected {DIMENSIONS} for all-MiniLM-L6-v2",
                config_path.display(),
                config.hidden_size
            )));
        }

        let tokenizer_path = dir.join("tokenizer.json");
        let mut tokenizer =
            Tokenizer::from_file(&tokenizer_path).map_err(|e| model_err(&tokenizer_path, e))?;
        // tokenizer.json pads every input to 128 and truncates at 128; we pad to the
        // longest text in each batch and truncate at the model's real limit.
        let mut padding = tokenizer
            .get_padding()
            .cloned()
            .unwrap_or_else(|| PaddingParams {
                pad_token: "[PAD]".into(),
                pad_id: 0,
                ..PaddingParams::default()
            });
        padding.strategy = PaddingStrategy::BatchLongest;
        tokenizer.with_padding(Some(padding));
        let mut truncation = tokenizer.get_truncation().cloned().unwrap_or_default();
        truncation.max_length = MAX_TOKENS;
        tokenizer
            .with_truncation(Some(truncation))
            .map_err(|e| model_err(&tokenizer_path, e))?;

        let device = Device::Cpu;
        let weights_path = dir.join("model.safetensors");
        let weights = std::fs::read(&weights_path).map_err(|e| model_err(&weights_path, e))?;
        let vb = VarBuilder::from_buffered_safetensors(weights, DTYPE, &device)
            .map_err(|e| model_err(&weights_path, e))?;
        let bert = BertModel::load(vb, &config).map_err(|e| model_err(&weights_path, e))?;

        tracing::info!(dir = %dir.display(), "loaded local embedding model all-MiniLM-L6-v2");
        Ok(Self {
            model: Arc::new(Model {
                bert,
                tokenizer,
                device,
            }),
        })
    }

    /// Embeds on the calling thread. For CLI tools and benchmarks; async code calls
    /// [`Embedder::embed`], which moves this work off the async workers.
    pub fn embed_blocking(&self, texts: &[String]) -> Result<Vec<Vec<f32>>, EmbedError> {
        self.model.embed(texts)
    }
}

#[async_trait::async_trait]
impl Embedder for LocalEmbedder {
    fn model_id(&self) -> &str {
        MODEL_ID
    }

    fn dimensions(&self) -> usize {
        DIMENSIONS
    }

    async fn embed(&self, texts: &[String]) -> Result<Vec<Vec<f32>>, EmbedError> {
        if texts.is_empty() {
            return Ok(Vec::new());
        }
        // A pass runs on one thread (see `one_thread_per_model_pass` in main.rs), so a
        // long list (a knowledge base being indexed) is cut into one part per core,
        // embedded side by side.
        let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
        let part = texts.len().div_ceil(cores).max(BATCH_SIZE);
        let passes: Vec<_> = texts
            .chunks(part)
            .map(|part| {
                let model = Arc::clone(&self.model);
                let part = part.to_vec();
                tokio::task::spawn_blocking(move || model.embed(&part))
            })
            .collect();
        let mut vectors = Vec::with_capacity(texts.len());
        for pass in passes {
            vectors.extend(pass.await.map_err(|e| {
                EmbedError::Inference(format!("embedding task did not finish: {e}"))
            })??);
        }
        Ok(vectors)
    }
}

impl Model {
    /// Embeds in passes of texts of similar length: a pass costs its number of texts
    /// times its longest text's tokens, so a short text batched with a long one is
    /// paid for at the long one's length.
    fn embed(&self, texts: &[String]) -> Result<Vec<Vec<f32>>, EmbedError> {
        let mut by_length: Vec<usize> = (0..texts.len()).collect();
        by_length.sort_by_key(|&i| texts[i].len());
        let mut out = vec![Vec::new(); texts.len()];
        for batch in by_length.chunks(BATCH_SIZE) {
            let batch_texts: Vec<String> = batch.iter().map(|&i| texts[i].clone()).collect();
            for (&i, vector) in batch.iter().zip(self.embed_batch(&batch_texts)?) {
                out[i] = vector;
            }
        }
        Ok(out)
    }

    /// One forward pass: tokenize (padded to the longest text), run BERT, average the
    /// token vectors of real tokens only, and scale each result to unit length.
    fn embed_batch(&self, texts: &[String]) -> Result<Vec<Vec<f32>>, EmbedError> {
        let inputs: Vec<&str> = texts.iter().map(String::as_str).collect();
        let encodings = self
            .tokenizer
            .encode_batch(inputs, true)
            .map_err(|e| EmbedError::Inference(format!("tokenizing failed: {e}")))?;
        let rows = encodings.len();
        let cols = encodings.first().map_or(0, |e| e.get_ids().len());

        let mut ids = Vec::with_capacity(rows * cols);
        let mut type_ids = Vec::with_capacity(rows * cols);
        let mut mask = Vec::with_capacity(rows * cols);
        for enc in &encodings {
            if enc.get_ids().len() != cols {
                return Err(EmbedError::Inference(
                    "tokenizer returned unpadded batch".into(),
                ));
            }
            ids.extend_from_slice(enc.get_ids());
            type_ids.extend_from_slice(enc.get_type_ids());
            mask.extend_from_slice(enc.get_attention_mask());
        }

        let run = || -> candle_core::Result<Vec<Vec<f32>>> {
            let ids = Tensor::from_vec(ids, (rows, cols), &self.device)?;
            let type_ids = Tensor::from_vec(type_ids, (rows, cols), &self.device)?;
            let mask = Tensor::from_vec(mask, (rows, cols), &self.device)?;
            let hidden = self.bert.forward(&ids, &type_ids, Some(&mask))?; // (rows, cols, 384)

            // Masked mean pooling, as sentence-transformers' Pooling(mean_tokens) does:
            // padding positions contribute nothing, and the count is clamped at 1e-9.
            let mask = mask.to_dtype(DType::F32)?.unsqueeze(2)?; // (rows, cols, 1)
            let summed = hidden.broadcast_mul(&mask)?.sum(1)?; // (rows, 384)
            let counts = mask.sum(1)?.clamp(1e-9f32, f32::MAX)?; // (rows, 1)
            let mean = summed.broadcast_div(&counts)?;

            // Normalize(): x / max(‖x‖₂, 1e-12).
            let norms = mean
                .sqr()?
                .sum_keepdim(1)?
                .sqrt()?
                .clamp(1e-12f32, f32::MAX)?;
            mean.broadcast_div(&norms)?.to_vec2::<f32>()
        };
        run().map_err(|e| EmbedError::Inference(e.to_string()))
    }
}

fn model_err(path: &Path, e: impl std::fmt::Display) -> EmbedError {
    EmbedError::Model(format!("{}: {e}", path.display()))
}
