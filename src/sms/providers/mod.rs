//! Outbound channels: where a reply goes once it leaves the outbox.
//!
//! A [`Provider`] sends one text and classifies the result so the outbox can decide
//! what to do next: [`SendError::Retryable`] is tried again later with backoff,
//! [`SendError::Permanent`] is recorded as failed, and [`SendError::RecipientOptedOut`]
//! (Twilio error 21610) also records the opt-out on the contact.
//! [`SendError::Uncertain`] means the request may have reached the provider (it did
//! not answer in time): before any resend the outbox asks the provider with
//! [`Provider::find_sent`], so a slow provider never makes a customer get a text twice.
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
    /// The request may have reached the provider, which did not say whether it took
    /// the text (a timeout after sending, an answer cut off).
    #[error("provider outcome unknown: {0}")]
    Uncertain(String),
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

    /// The provider's ids of recent texts to `sms.to` with exactly `sms.body`, newest
    /// first: asked after an uncertain send, before sending again. A provider that
    /// cannot be asked answers none, and the text is sent again (a possible duplicate
    /// rather than a lost text).
    async fn find_sent(&self, sms: &OutboundSms) -> Result<Vec<String>, SendError> {
        let _ = sms;
        Ok(Vec::new())
    }
}
