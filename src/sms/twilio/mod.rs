//! Twilio's side of the SMS edge: the webhook form body, the `X-Twilio-Signature`
//! header, inbound messages and delivery status callbacks.
//!
//! Everything here is pure parsing and checking — no HTTP, no storage. The API layer
//! reads the raw body, verifies the signature with [`verify_signature`], then turns
//! the parameters into an [`InboundSms`] or a [`StatusCallback`]; each error carries a
//! reason fit for a 400 response. Sending texts lives in `sms::providers::twilio`.

pub mod form;
pub mod inbound;
pub mod signature;
pub mod status;

pub use form::{FormError, parse_form};
pub use inbound::{InboundError, InboundSms, Media};
pub use signature::{compute_signature, verify_signature};
pub use status::{DeliveryStatus, StatusCallback, StatusError, UnknownStatus};

/// The first value of parameter `name`, if present. Twilio sends each field once;
/// when a body repeats a name, the first occurrence wins.
pub(crate) fn param<'a>(params: &'a [(String, String)], name: &str) -> Option<&'a str> {
    params
        .iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.as_str())
}
