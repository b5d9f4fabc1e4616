//! Lookups: answers from the business's own systems. "Where is order #12345?" needs
//! the order system, not the knowledge base. An operator describes each lookup in
//! `prompts/lookups/<name>.toml` (the request, what to read from the JSON answer, and
//! the replies for found / not found / failed), and an intent uses it with
//! `action = "lookup"`.
//!
//! This folder owns the files ([`file`](mod@file)), reading slot values out of texts
//! ([`slots`]), the templates ([`template`]) and the HTTP call ([`call`]). When to
//! ask for a slot and what the customer is told is a step of the turn:
//! [`crate::engine::lookup`].

pub mod call;
pub mod file;
pub mod slots;
pub mod template;

pub use call::{LookupCaller, LookupResult};
pub use file::{Lookup, LookupError, LookupSet, SlotSpec};
pub use slots::SlotKind;
pub use template::Today;
