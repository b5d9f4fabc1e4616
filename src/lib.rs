//! textdesk: a self-hostable, two-way SMS customer-service service.
//!
//! The flow of one text, and the folder that owns each step:
//!
//! ```text
//! carrier → api (webhook, signature) → store (message + queue row, then 200)
//!         → engine::worker (one conversation at a time) → engine::pipeline (decide)
//!         → store (queue row done + outbox, one transaction)
//!         → engine::dispatcher → sms::providers (Twilio REST / log)
//! store::events (the log) → integrations (signed webhooks to the operator's CRM)
//! ```
//!
//! [`app`] wires these together for `textdesk serve` and for the tests.

pub mod analytics;
pub mod api;
pub mod app;
pub mod brain;
pub mod cli;
pub mod clock;
pub mod config;
pub mod conversation_tests;
pub mod engine;
pub mod flows;
pub mod gaps;
pub mod http;
pub mod integrations;
pub mod knowledge;
pub mod llm;
pub mod lookups;
pub mod redact;
pub mod replies;
pub mod sms;
pub mod store;
pub mod telemetry;
pub mod watch;
