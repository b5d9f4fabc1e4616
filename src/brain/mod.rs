//! The brain: understanding a text (intent, confidence) and, as it grows, deciding and
//! composing the answer. Everything here works offline; an LLM, when configured, only
//! makes it better.
//!
//! - [`intents`]: the operator's `prompts/intents.toml`, validated with file:line errors.
//! - [`classify`]: the local classifier and the TF-IDF baseline it is measured against.
//! - [`sentiment`]: the local mood of a text (VADER, caps, "!!!", profanity, threats).
//! - [`escalation`]: the rules that hand a conversation to a person, with priority and why.
//! - [`summary`]: the handoff note an agent reads, by the LLM or locally.

pub mod classify;
pub mod compose;
pub mod escalation;
pub mod intents;
pub mod language;
pub mod questions;
pub mod sentiment;
pub mod state;
pub mod summary;
pub mod think;
