//! The SMS edge: everything that knows how text messages work and nothing about
//! intents or agents.
//!
//! - [`phone`]: E.164 numbers and masking for logs.
//! - [`segments`]: GSM-7 / UCS-2 encoding, exact segment counting, smart encoding and
//!   fitting a reply to a segment budget by whole sentences.
//! - [`keywords`]: the carrier compliance keywords (STOP, START, HELP families).
//! - [`reactions`]: a phone's `Liked “…”` texts, which are not messages to answer.
//! - [`twilio`]: Twilio's webhook form, its `X-Twilio-Signature`, and status callbacks.
//! - [`providers`]: where outbound texts go (`log` by default, Twilio's REST API).

pub mod keywords;
pub mod phone;
pub mod providers;
pub mod reactions;
pub mod revocation;
pub mod segments;
pub mod sending_hours;
pub mod twilio;

pub use phone::PhoneNumber;
