//! The optional language model: an OpenAI-compatible endpoint (OpenAI, Ollama, vLLM,
//! llama.cpp) through async-openai. Nothing in textdesk requires it; every caller has
//! a local fallback, and this module makes failing fast cheap (timeouts, a circuit
//! breaker) and leaking impossible (redaction before anything leaves).
//!
//! - [`redact`]: card numbers (Luhn-checked), SSNs, IBANs, security codes.
//! - [`budget`]: token counting (o200k_base) and budget cuts.
//! - [`circuit`]: stop calling a failing endpoint for a while.

pub mod budget;
pub mod circuit;
pub mod redact;
