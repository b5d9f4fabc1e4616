//! Sending texts through Twilio's Messages REST API.
//!
//! One [`Provider::send`] is one `POST /2010-04-01/Accounts/{sid}/Messages.json`,
//! retried in-call on 429, 5xx and network errors with exponential backoff and full
//! jitter (a 429's `Retry-After` wins, capped at `max_backoff`). When the budget runs
//! out the outbox gets [`SendError::Retryable`] and tries again later. Other 4xx are
//! [`SendError::Permanent`] with Twilio's error code, and 21610 is
//! [`SendError::RecipientOptedOut`]. A request that may have reached Twilio without an
//! answer (a timeout once connected, a success whose body was cut off) is never
//! retried in-call: it is [`SendError::Uncertain`], and [`Provider::find_sent`] reads
//! Twilio's message list for the same recipient and body before the outbox resends.
//!
//! Never logged: the auth token, the body (only at `debug`), full phone numbers, and
//! Twilio's error *message* (it can quote the number) — logs carry its code.

use std::fmt;
use std::time::Duration;

use rand::Rng;
use reqwest::StatusCode;
use reqwest::header::RETRY_AFTER;

use super::{Accepted, OutboundSms, Provider, SendError};

pub const DEFAULT_API_BASE: &str = "https://api.twilio.com";
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(10);
pub const DEFAULT_MAX_ATTEMPTS: u32 = 4;
pub const DEFAULT_BASE_BACKOFF: Duration = Duration::from_millis(500);
pub const DEFAULT_MAX_BACKOFF: Duration = Duration::from_secs(8);

/// Twilio error code: the recipient replied STOP (or the carrier blocked us for them).
pub const ERROR_OPTED_OUT: i64 = 21610;

/// How to reach Twilio. `Debug` hides the auth token.
#[derive(Clone)]
pub struct TwilioConfig {
    pub account_sid: String,
    pub auth_token: String,
    /// The sending number; used when `messaging_service_sid` is `None`.
    pub from: Option<String>,
    /// Send through a messaging service (sender pool); wins over `from` when both are set.
    pub messaging_service_sid: Option<String>,
    /// Scheme and host only; tests point this at a mock server.
    pub api_base: String,
    /// Per-request timeout.
    pub timeout: Duration,
    /// Requests per `send`, counting the first.
    pub max_attempts: u32,
    pub base_backoff: Duration,
    pub max_backoff: Duration,
}

impl TwilioConfig {
    /// A config with the default endpoint, timeout and retry budget.
    pub fn new(account_sid: impl Into<String>, auth_token: impl Into<String>) -> Self {
        Self {
            account_sid: account_sid.into(),
            auth_token: auth_token.into(),
            from: None,
            messaging_service_sid: None,
            api_base: DEFAULT_API_BASE.to_string(),
            timeout: DEFAULT_TIMEOUT,
            max_attempts: DEFAULT_MAX_ATTEMPTS,
            base_backoff: DEFAULT_BASE_BACKOFF,
            max_backoff: DEFAULT_MAX_BACKOFF,
        }
    }
}

impl fmt::Debug for TwilioConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TwilioConfig")
            .field("account_sid", &self.account_sid)
            .field("auth_token", &"<redacted>")
            .field("from", &self.from.as_deref().map(crate::sms::phone::mask))
            .field("messaging_service_sid", &self.messaging_service_sid)
            .field("api_base", &self.api_base)
            .field("timeout", &self.timeout)
            .field("max_attempts", &self.max_attempts)
            .field("base_backoff", &self.base_backoff)
            .field("max_backoff", &self.max_backoff)
            .finish()
    }
}

/// A [`TwilioConfig`] that cannot work, found at start-up rather than on first send.
#[derive(Debug, thiserror::Error)]
pub enum TwilioConfigError {
    #[error("twilio.account_sid must be Twilio's AC… account sid (letters and digits only)")]
    AccountSid,
    #[error("twilio.auth_token is empty")]
    AuthToken,
    #[error("set twilio.from (a sending number) or twilio.messaging_service_sid")]
    NoSender,
    #[error("twilio.max_attempts must be at least 1")]
    MaxAttempts,
    #[error("could not build the HTTP client: {0}")]
    Client(#[source] reqwest::Error),
}

/// Sends texts with Twilio's REST API.
pub struct TwilioProvider {
    config: TwilioConfig,
    messages_url: String,
    http: reqwest::Client,
}

impl fmt::Debug for TwilioProvider {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TwilioProvider")
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

/// What one request came to, before the retry loop decides.
enum Attempt {
    Sent(Accepted),
    /// Worth trying again; `retry_after` is the server's wish, if it said one.
    Transient {
        reason: String,
        retry_after: Option<Duration>,
    },
    Final(SendError),
}

impl TwilioProvider {
    pub fn new(config: TwilioConfig) -> Result<Self, TwilioConfigError> {
        let sid = &config.account_sid;
        if sid.is_empty() || !sid.chars().all(|c| c.is_ascii_alphanumeric()) {
            return Err(TwilioConfigError::AccountSid);
        }
        if config.auth_token.is_empty() {
            return Err(TwilioConfigError::AuthToken);
        }
        let has = |o: &Option<String>| o.as_deref().is_some_and(|s| !s.trim().is_empty());
        if !has(&config.from) && !has(&config.messaging_service_sid) {
            return Err(TwilioConfigError::NoSender);
        }
        if config.max_attempts == 0 {
            return Err(TwilioConfigError::MaxAttempts);
        }
        let http = crate::http::client_builder()
            .timeout(config.timeout)
            .build()
            .map_err(TwilioConfigError::Client)?;
        let messages_url = format!(
            "{}/2010-04-01/Accounts/{}/Messages.json",
            config.api_base.trim_end_matches('/'),
            config.account_sid
        );
        Ok(Self {
            config,
            messages_url,
            http,
        })
    }

    fn form<'a>(&'a self, sms: &'a OutboundSms) -> Vec<(&'static str, &'a str)> {
        let mut form = vec![("To", sms.to.as_str()), ("Body", sms.body.as_str())];
        match (&self.config.messaging_service_sid, &self.config.from) {
            (Some(service), _) if !service.trim().is_empty() => {
                form.push(("MessagingServiceSid", service.as_str()))
            }
            (_, Some(from)) => form.push(("From", from.as_str())),
            // Ruled out by `new`.
            _ => {}
        }
        if let Some(callback) = &sms.status_callback {
            form.push(("StatusCallback", callback.as_str()));
        }
        form
    }

    async fn attempt(&self, form: &[(&str, &str)]) -> Attempt {
        let response = self
            .http
            .post(&self.messages_url)
            .basic_auth(&self.config.account_sid, Some(&self.config.auth_token))
            .form(form)
            .send()
            .await;
        let response = match response {
            Ok(r) => r,
            Err(e) if e.is_builder() => {
                return Attempt::Final(SendError::Permanent {
                    code: None,
                    message: format!("could not build the request to Twilio: {e}"),
                });
            }
            // Never connected: Twilio cannot have taken the text.
            Err(e) if e.is_connect() => {
                return Attempt::Transient {
                    reason: format!("could not connect to Twilio: {e}"),
                    retry_after: None,
                };
            }
            // Sent, perhaps taken, but no answer: resending could text the customer twice.
            Err(e) => {
                let kind = if e.is_timeout() {
                    "timed out"
                } else {
                    "failed"
                };
                return Attempt::Final(SendError::Uncertain(format!(
                    "request to Twilio {kind} after it was sent: {e}"
                )));
            }
        };

        let status = response.status();
        let retry_after = retry_after(response.headers());
        let body = match response.bytes().await {
            Ok(b) => b,
            // A success we cannot read may still have been sent: do not send it twice.
            Err(e) if status.is_success() => {
                return Attempt::Final(SendError::Uncertain(format!(
                    "Twilio answered {status} but the body could not be read: {e}"
                )));
            }
            Err(e) => {
                return Attempt::Transient {
                    reason: format!("Twilio answered {status} and the body could not be read: {e}"),
                    retry_after,
                };
            }
        };
        classify(status, retry_after, &body)
    }

    /// One page (the newest 50) of Twilio's texts to `to`, from our sender.
    async fn recent_to(&self, to: &str) -> Result<Vec<ListedMessage>, SendError> {
        #[derive(serde::Deserialize)]
        struct Page {
            messages: Vec<ListedMessage>,
        }
        let mut query = vec![("To", to), ("PageSize", "50")];
        if let Some(from) = self.config.from.as_deref().filter(|f| !f.trim().is_empty()) {
            query.push(("From", from));
        }
        let unavailable =
            |e: &dyn fmt::Display| SendError::Retryable(format!("listing Twilio messages: {e}"));
        let response = self
            .http
            .get(&self.messages_url)
            .basic_auth(&self.config.account_sid, Some(&self.config.auth_token))
            .query(&query)
            .send()
            .await
            .map_err(|e| unavailable(&e))?;
        let status = response.status();
        if status.is_client_error() && status != StatusCode::TOO_MANY_REQUESTS {
            // The list cannot be read with these credentials (or at this address):
            // nothing to learn there, so the text is sent again.
            tracing::warn!(%status, "Twilio's message list cannot be read; resending without checking");
            return Ok(Vec::new());
        }
        if !status.is_success() {
            return Err(unavailable(&format!("Twilio answered {status}")));
        }
        let page: Page = response.json().await.map_err(|e| unavailable(&e))?;
        Ok(page.messages)
    }
}

/// A text in Twilio's message list (the fields reconciliation needs).
#[derive(serde::Deserialize)]
struct ListedMessage {
    sid: String,
    #[serde(default)]
    body: Option<String>,
    #[serde(default)]
    status: Option<String>,
}

/// Turns one HTTP answer into an [`Attempt`].
fn classify(status: StatusCode, retry_after: Option<Duration>, body: &[u8]) -> Attempt {
    #[derive(serde::Deserialize)]
    struct Created {
        sid: String,
    }
    #[derive(serde::Deserialize)]
    struct TwilioError {
        code: Option<i64>,
        message: Option<String>,
    }

    if status.is_success() {
        return match serde_json::from_slice::<Created>(body) {
            Ok(c) if !c.sid.is_empty() => Attempt::Sent(Accepted {
                provider_message_id: c.sid,
            }),
            _ => Attempt::Final(SendError::Permanent {
                code: None,
                message: format!("Twilio answered {status} without a message sid"),
            }),
        };
    }
    let parsed = serde_json::from_slice::<TwilioError>(body).ok();
    let code = parsed.as_ref().and_then(|e| e.code);
    let message = parsed
        .and_then(|e| e.message)
        .unwrap_or_else(|| format!("HTTP {status}: {}", snippet(body)));
    if code == Some(ERROR_OPTED_OUT) {
        return Attempt::Final(SendError::RecipientOptedOut);
    }
    if status == StatusCode::TOO_MANY_REQUESTS || status.is_server_error() {
        let code = code.map(|c| format!(" (code {c})")).unwrap_or_default();
        return Attempt::Transient {
            reason: format!("Twilio answered {status}{code}"),
            retry_after,
        };
    }
    Attempt::Final(SendError::Permanent { code, message })
}

/// The start of a non-JSON error body, for the error message.
fn snippet(body: &[u8]) -> String {
    let text = String::from_utf8_lossy(body);
    let mut s: String = text.trim().chars().take(200).collect();
    if s.is_empty() {
        s.push_str("(empty body)");
    }
    s
}

/// `Retry-After` as whole seconds; the HTTP-date form is ignored (we use our backoff).
fn retry_after(headers: &reqwest::header::HeaderMap) -> Option<Duration> {
    let secs = headers
        .get(RETRY_AFTER)?
        .to_str()
        .ok()?
        .trim()
        .parse::<u64>()
        .ok()?;
    Some(Duration::from_secs(secs))
}

/// The pause after the `attempt`-th failed request (1 for the first failure): a
/// uniformly random duration between zero and `min(max, base · 2^(attempt−1))`
/// ("full jitter"), so clients that failed together do not retry together.
pub fn backoff_delay<R: Rng + ?Sized>(
    attempt: u32,
    base: Duration,
    max: Duration,
    rng: &mut R,
) -> Duration {
    let factor = 1u32
        .checked_shl(attempt.saturating_sub(1))
        .unwrap_or(u32::MAX);
    let ceiling = base.saturating_mul(factor).min(max);
    let ceiling_nanos = u64::try_from(ceiling.as_nanos()).unwrap_or(u64::MAX);
    Duration::from_nanos(rng.random_range(0..=ceiling_nanos))
}

#[async_trait::async_trait]
impl Provider for TwilioProvider {
    fn name(&self) -> &'static str {
        "twilio"
    }

    #[tracing::instrument(skip_all, fields(provider = "twilio", to = %sms.to))]
    async fn send(&self, sms: &OutboundSms) -> Result<Accepted, SendError> {
        let form = self.form(sms);
        tracing::debug!(body = %sms.body, "sending");
        let max_attempts = self.config.max_attempts.max(1);
        let mut last_reason = String::new();
        for attempt in 1..=max_attempts {
            match self.attempt(&form).await {
                Attempt::Sent(accepted) => {
                    tracing::info!(
                        message_id = %accepted.provider_message_id,
                        chars = sms.body.chars().count(),
                        attempt,
                        "Twilio accepted the text"
                    );
                    return Ok(accepted);
                }
                Attempt::Final(err) => {
                    match &err {
                        SendError::Permanent { code, .. } => {
                            tracing::warn!(code = ?code, attempt, "Twilio rejected the text")
                        }
                        _ => tracing::info!(attempt, "{err}"),
                    }
                    return Err(err);
                }
                Attempt::Transient {
                    reason,
                    retry_after,
                } => {
                    if attempt == max_attempts {
                        last_reason = reason;
                        break;
                    }
                    let delay = match retry_after {
                        Some(wanted) => wanted.min(self.config.max_backoff),
                        None => backoff_delay(
                            attempt,
                            self.config.base_backoff,
                            self.config.max_backoff,
                            &mut rand::rng(),
                        ),
                    };
                    tracing::warn!(attempt, max_attempts, ?delay, %reason, "retrying Twilio send");
                    tokio::time::sleep(delay).await;
                }
            }
        }
        tracing::warn!(attempts = max_attempts, reason = %last_reason, "giving up on Twilio for now");
        Err(SendError::Retryable(format!(
            "{last_reason} (after {max_attempts} attempts)"
        )))
    }

    #[tracing::instrument(skip_all, fields(provider = "twilio", to = %sms.to))]
    async fn find_sent(&self, sms: &OutboundSms) -> Result<Vec<String>, SendError> {
        let found: Vec<String> = self
            .recent_to(sms.to.as_str())
            .await?
            .into_iter()
            // A text Twilio took and then failed was not sent: sending again is right.
            .filter(|m| !matches!(m.status.as_deref(), Some("failed" | "canceled")))
            .filter(|m| m.body.as_deref() == Some(sms.body.as_str()))
            .map(|m| m.sid)
            .collect();
        tracing::info!(
            matches = found.len(),
            "asked Twilio what became of an uncertain send"
        );
        Ok(found)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;
    use rand::rngs::StdRng;

    const BASE: Duration = Duration::from_millis(100);
    const MAX: Duration = Duration::from_secs(2);

    #[test]
    fn backoff_stays_under_a_doubling_ceiling() {
        let mut rng = StdRng::seed_from_u64(7);
        for (attempt, ceiling_ms) in [(1, 100), (2, 200), (3, 400), (4, 800), (5, 1600), (6, 2000)]
        {
            let ceiling = Duration::from_millis(ceiling_ms);
            let samples: Vec<Duration> = (0..500)
                .map(|_| backoff_delay(attempt, BASE, MAX, &mut rng))
                .collect();
            assert!(samples.iter().all(|d| *d <= ceiling), "attempt {attempt}");
            // Full jitter spreads over the whole range, not just near the ceiling.
            assert!(
                samples.iter().any(|d| *d < ceiling / 4),
                "attempt {attempt}"
            );
            assert!(
                samples.iter().any(|d| *d > ceiling * 3 / 4),
                "attempt {attempt}"
            );
        }
    }

    #[test]
    fn backoff_never_overflows() {
        let mut rng = StdRng::seed_from_u64(7);
        for attempt in [0, 31, 32, 64, u32::MAX] {
            assert!(backoff_delay(attempt, BASE, MAX, &mut rng) <= MAX);
        }
        let huge = Duration::MAX;
        assert!(backoff_delay(u32::MAX, huge, huge, &mut rng) <= huge);
        assert_eq!(
            backoff_delay(3, Duration::ZERO, MAX, &mut rng),
            Duration::ZERO
        );
    }

    #[test]
    fn opt_out_code_wins_over_status() {
        let body = br#"{"code": 21610, "message": "Attempt to send to unsubscribed recipient"}"#;
        assert!(matches!(
            classify(StatusCode::BAD_REQUEST, None, body),
            Attempt::Final(SendError::RecipientOptedOut)
        ));
    }

    #[test]
    fn non_json_error_keeps_the_status() {
        match classify(StatusCode::UNAUTHORIZED, None, b"nope") {
            Attempt::Final(SendError::Permanent {
                code: None,
                message,
            }) => {
                assert!(
                    message.contains("401") && message.contains("nope"),
                    "{message}"
                )
            }
            _ => panic!("expected Permanent"),
        }
    }

    #[test]
    fn config_is_checked_and_debug_hides_the_token() {
        let mut config = TwilioConfig::new("AC123", "s3cret-token");
        assert!(matches!(
            TwilioProvider::new(config.clone()),
            Err(TwilioConfigError::NoSender)
        ));
        config.from = Some("+15555550100".into());
        assert!(TwilioProvider::new(config.clone()).is_ok());
        assert!(!format!("{config:?}").contains("s3cret"));
        config.account_sid = "AC1/../x".into();
        assert!(matches!(
            TwilioProvider::new(config),
            Err(TwilioConfigError::AccountSid)
        ));
    }
}
