//! Outbound channels: where a reply goes once it leaves the outbox.
//!
//! A [`Provider`] sends one text and classifies the result so the outbox can decide
//! what to do next: [`SendError::Retryable`] is tried again later with backoff,
//! [`SendError::Permanent`] is recorded as failed, and [`SendError::RecipientOptedOut`]
//! (Twilio error 21610) also records the opt-out on the contact.
//!
//! Implementations: [`log::LogProvider`] (the default: records the text as sent and
//! prints a masked line) and [`twilio::TwilioProvider`] (Twilio's REST API).

pub mod log;
pub mod twilio;

use crate::sms::PhoneNumber;

/// One text ready to leave.
#[derive(Debug, Clone)]
pub struct OutboundSms {
    pub to: PhoneNumber,
    pub body: String,
    /// Where the provider should report delivery status, if it supports callbacks.
    pub status_callback: Option<String>,
}

/// The provider took the message; `provider_message_id` is its id (Twilio's `SM…` sid).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Accepted {
    pub provider_message_id: String,
}

#[derive(Debug, thiserror::Error)]
pub enum SendError {
    /// 429, 5xx or a network error: the same request may succeed later.
    #[error("provider temporarily unavailable: {0}")]
    Retryable(String),
    /// Any other rejection: retrying the same request will not help.
    #[error("provider rejected the message (code {code:?}): {message}")]
    Permanent { code: Option<i64>, message: String },
    /// The carrier says the recipient has opted out (Twilio 21610).
    #[error("recipient has opted out at the carrier (Twilio error 21610)")]
    RecipientOptedOut,
}

#[async_trait::async_trait]
pub trait Provider: Send + Sync {
    /// A short name for logs and metrics, e.g. `"log"` or `"twilio"`.
    fn name(&self) -> &'static str;

    /// Sends one text. Implementations may retry transient failures internally (with a
    /// bounded budget) before returning [`SendError::Retryable`].
    async fn send(&self, sms: &OutboundSms) -> Result<Accepted, SendError>;
}
