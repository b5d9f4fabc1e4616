//! Outbound integrations: the operator's webhook endpoints hear about what happens
//! (`conversation.escalated`, `handoff.resolved`, `flow.completed`, `contact.opted_out`,
//! `contact.opted_in`, `message.delivery_failed`) as signed JSON POSTs.
//!
//! The event log (`store::events`) is the single source: every change is appended to it
//! in the transaction that makes it, so nothing is announced that did not happen. Per
//! endpoint, a task fans new log events out into durable delivery rows (exactly once per
//! event and endpoint, whatever the number of instances), then POSTs them with retries,
//! exponential backoff and jitter, until delivered or out of attempts; operators see the
//! rows, with their last error, at `GET /api/v1/admin/webhooks`.
//!
//! This module must not decide *what* happened (the store and engine do) nor log a
//! secret or a message body at info.

mod deliver;
pub mod events;
pub mod signing;

pub use deliver::{DeliverySettings, spawn};
pub use events::EVENT_TYPES;
pub use signing::{VerifyError, sign, verify};
