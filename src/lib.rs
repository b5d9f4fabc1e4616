//! textdesk: a self-hostable, two-way SMS customer-service service.
//!
//! The flow of one text, and the folder that owns each step:
//! `sms` (the carrier edge) → `api` (HTTP) → `store` (durable rows) → `engine`
//! (one conversation at a time) → `sms::providers` (outbound).

pub mod sms;
