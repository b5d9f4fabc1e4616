//! The brain: understanding a text (intent, confidence) and, as it grows, deciding and
//! composing the answer. Everything here works offline; an LLM, when configured, only
//! makes it better.
//!
//! - [`intents`]: the operator's `prompts/intents.toml`, validated with file:line errors.
//! - [`classify`]: the local classifier and the TF-IDF baseline it is measured against.

pub mod classify;
pub mod compose;
pub mod intents;
pub mod state;
pub mod think;
