//! The optional language model: an OpenAI-compatible endpoint (OpenAI, Ollama, vLLM,
//! llama.cpp) through async-openai. Nothing in textdesk requires it; every caller has
//! a local fallback, and this module makes failing fast cheap (timeouts, a circuit
//! breaker) and leaking impossible (redaction before anything leaves).
//!
//! - [`config`]: [`LlmSettings`], the `llm` section of the configuration.
//! - [`client`]: [`LlmClient`] — `classify`, `answer`, `summarize`, each guarded by the
//!   breaker and a timeout, with counters for metrics.
//! - [`prompts`]: the operator's templates in `prompts/` (minijinja), checked at load.
//! - [`guard`]: what an answer must be before a customer reads it (plain text, only
//!   the passages' links, numbers and promises).
//! - [`schema`]: the JSON schema of a classification and the parser that enforces it.
//! - [`redact`]: card numbers (Luhn-checked), SSNs, IBANs, security codes.
//! - [`budget`]: token counting (o200k_base) and budget cuts.
//! - [`circuit`]: stop calling a failing endpoint for a while.
//!
//! Must not: log prompts or message bodies above `debug`, or be required to start.

pub mod budget;
pub mod circuit;
pub mod client;
pub mod config;
pub mod guard;
pub mod prompts;
pub mod schema;

pub use client::{LlmClient, LlmStats, Passage, Turn, TurnRole};
pub use config::{LlmSettings, LlmTask, StructuredOutput};
pub use prompts::PromptTemplates;
pub use schema::LlmClassification;

/// Why a language-model call produced nothing usable; every variant means "fall back".
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LlmError {
    #[error("the language model did not reply within the timeout")]
    Timeout,
    #[error("the language model is paused after repeated failures (circuit open)")]
    CircuitOpen,
    #[error("language model request failed: {0}")]
    Http(String),
    #[error("language model reply unusable: {0}")]
    InvalidResponse(String),
    #[error("prompt template: {0}")]
    Template(String),
    #[error("language model settings: {0}")]
    Config(String),
}
