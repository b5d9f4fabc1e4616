//! The default provider: texts go nowhere but the log.
//!
//! Useful for development and dry runs — every send succeeds with a fresh
//! `LOG…` id, and one info line records the masked recipient and the length. The
//! body is only written at `debug`, like everywhere else.

use super::{Accepted, OutboundSms, Provider, SendError};

/// Records texts as sent without contacting anyone.
#[derive(Debug, Clone, Default)]
pub struct LogProvider;

impl LogProvider {
    pub fn new() -> Self {
        Self
    }
}

#[async_trait::async_trait]
impl Provider for LogProvider {
    fn name(&self) -> &'static str {
        "log"
    }

    async fn send(&self, sms: &OutboundSms) -> Result<Accepted, SendError> {
        let provider_message_id = format!("LOG{:032x}", rand::random::<u128>());
        tracing::info!(
            provider = "log",
            to = %sms.to,
            chars = sms.body.chars().count(),
            message_id = %provider_message_id,
            "text logged instead of sent"
        );
        tracing::debug!(provider = "log", message_id = %provider_message_id, body = %sms.body);
        Ok(Accepted {
            provider_message_id,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sms::PhoneNumber;

    #[tokio::test]
    async fn every_send_is_accepted_with_a_fresh_log_id() {
        let provider = LogProvider::new();
        let sms = OutboundSms {
            to: PhoneNumber::parse("+15555550123").unwrap(),
            body: "Your order shipped.".into(),
            status_callback: None,
        };
        let a = provider.send(&sms).await.unwrap().provider_message_id;
        let b = provider.send(&sms).await.unwrap().provider_message_id;
        for id in [&a, &b] {
            assert_eq!(id.len(), 35, "{id}");
            assert!(id.starts_with("LOG"));
            assert!(
                id[3..]
                    .chars()
                    .all(|c| c.is_ascii_hexdigit() && !c.is_ascii_uppercase())
            );
        }
        assert_ne!(a, b);
        assert_eq!(provider.name(), "log");
    }
}
