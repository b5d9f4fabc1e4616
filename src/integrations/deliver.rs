//! The deliverer: one task per configured endpoint that fans the event log out into
//! delivery rows and POSTs them, signed, from the durable queue.
//!
//! Delivery times (attempts, backoff, leases, the signature's timestamp) are wall-clock:
//! receivers check the signature's age against their own clock, and a retry schedule
//! is about the network, not about business hours a test may pin.

use std::sync::Arc;
use std::time::Duration;

use reqwest::header::CONTENT_TYPE;
use tokio::sync::broadcast::error::RecvError;
use tokio::sync::watch;
use tokio::task::JoinSet;
use tracing::{error, info, warn};

use super::{events, signing};
use crate::clock::{Clock, SystemClock};
use crate::config::{Config, WebhookEndpoint};
use crate::engine::Engine;
use crate::engine::dispatcher::retry_delay;
use crate::store::{ClaimedDelivery, DeliveryOutcome, StoreError};

/// How long after it was written an event may still be preceded by a lower id that
/// commits later (PostgreSQL allocates ids before commit); the fan-out cursor stays
/// behind this window and re-reads it.
const SETTLE_MS: i64 = 5_000;

/// Events read from the log per fan-out pass.
const FAN_OUT_BATCH: i64 = 500;

/// Bytes of a failing receiver's answer kept as the delivery's last error.
const ERROR_SNIPPET: usize = 200;

#[derive(Debug, Clone)]
pub struct DeliverySettings {
    pub max_attempts: u32,
    pub base_backoff: Duration,
    pub max_backoff: Duration,
    /// One POST; the lease on a delivery is a little longer.
    pub timeout: Duration,
    /// How often to look for due retries and other instances' events.
    pub poll: Duration,
}

impl DeliverySettings {
    pub fn from_config(config: &Config) -> Self {
        let i = &config.integrations;
        Self {
            max_attempts: i.max_attempts,
            base_backoff: Duration::from_millis(i.base_backoff_ms),
            max_backoff: Duration::from_millis(i.max_backoff_ms),
            timeout: Duration::from_millis(i.timeout_ms),
            poll: Duration::from_millis(config.worker.poll_ms),
        }
    }
}

/// Starts one deliverer per configured endpoint on `tasks`, on `runtime` (none
/// without endpoints).
pub fn spawn(
    tasks: &mut JoinSet<()>,
    engine: &Arc<Engine>,
    config: &Config,
    shutdown: &watch::Receiver<bool>,
    runtime: &tokio::runtime::Handle,
) {
    let endpoints = config.webhook_endpoints();
    if endpoints.is_empty() {
        return;
    }
    let settings = DeliverySettings::from_config(config);
    let client = match crate::http::client_builder()
        .user_agent(concat!("textdesk-webhooks/", env!("CARGO_PKG_VERSION")))
        .timeout(settings.timeout)
        // A redirect is the receiver's misconfiguration; following it would send the
        // signed event somewhere the operator did not name.
        .redirect(reqwest::redirect::Policy::none())
        .build()
    {
        Ok(client) => client,
        Err(e) => {
            error!(error = %e, "cannot build the webhook HTTP client; outbound webhooks are off");
            return;
        }
    };
    // Events written from now on reach endpoints configured for the first time.
    let started_at = engine.now_ms();
    for endpoint in endpoints {
        info!(endpoint = %host(&endpoint.url), events = ?endpoint.events, "outbound webhooks on");
        let deliverer = Deliverer {
            engine: engine.clone(),
            endpoint,
            client: client.clone(),
            settings: settings.clone(),
            wall: Arc::new(SystemClock),
        };
        tasks.spawn_on(deliverer.run(started_at, shutdown.clone()), runtime);
    }
}

struct Deliverer {
    engine: Arc<Engine>,
    endpoint: WebhookEndpoint,
    client: reqwest::Client,
    settings: DeliverySettings,
    wall: Arc<dyn Clock>,
}

impl Deliverer {
    async fn run(self, started_at: i64, mut shutdown: watch::Receiver<bool>) {
        let store = &self.engine.store;
        while let Err(e) = store
            .start_webhook_cursor(&self.endpoint.url, started_at, self.wall.now_ms())
            .await
        {
            error!(error = %e, endpoint = %host(&self.endpoint.url), "starting webhook fan-out failed; retrying");
            tokio::select! {
                _ = tokio::time::sleep(Duration::from_secs(1)) => {}
                _ = shutdown.changed() => return,
            }
        }
        // The live event broadcast only wakes us early; the log is read either way.
        let mut woken = self.engine.events.subscribe();
        let mut broadcast_open = true;
        loop {
            if *shutdown.borrow() {
                return;
            }
            self.fan_out().await;
            self.deliver_due(&shutdown).await;
            tokio::select! {
                recv = woken.recv(), if broadcast_open => {
                    if matches!(recv, Err(RecvError::Closed)) {
                        broadcast_open = false;
                    }
                }
                _ = tokio::time::sleep(self.settings.poll) => {}
                _ = shutdown.changed() => {}
            }
        }
    }

    async fn fan_out(&self) {
        let endpoint = &self.endpoint;
        let result = self
            .engine
            .store
            .fan_out_webhooks(
                &endpoint.url,
                self.engine.now_ms() - SETTLE_MS,
                FAN_OUT_BATCH,
                self.wall.now_ms(),
                |event| {
                    events::public_type(&event.kind)
                        .filter(|t| endpoint.wants(t))
                        .map(str::to_string)
                },
                events::render,
            )
            .await;
        if let Err(e) = result {
            warn!(error = %e, endpoint = %host(&endpoint.url), "webhook fan-out failed; retrying");
        }
    }

    /// Sends every delivery that is due now, one at a time.
    async fn deliver_due(&self, shutdown: &watch::Receiver<bool>) {
        let lease_ms = (self.settings.timeout + Duration::from_secs(5)).as_millis() as i64;
        while !*shutdown.borrow() {
            let claimed = self
                .engine
                .store
                .claim_webhook_delivery(
                    &self.endpoint.url,
                    &self.engine.instance_id,
                    self.wall.now_ms(),
                    lease_ms,
                )
                .await;
            match claimed {
                Ok(Some(claim)) => self.attempt(claim).await,
                Ok(None) => return,
                Err(e) => {
                    warn!(error = %e, endpoint = %host(&self.endpoint.url), "claiming a webhook delivery failed");
                    return;
                }
            }
        }
    }

    async fn attempt(&self, claim: ClaimedDelivery) {
        let (status_code, error) = self.post(&claim).await;
        let endpoint = host(&self.endpoint.url);
        let outcome = match error {
            None => {
                info!(%endpoint, event = %claim.event_type, delivery_id = claim.id, attempt = claim.attempts, "webhook delivered");
                DeliveryOutcome::Delivered {
                    status_code: status_code.unwrap_or(200),
                }
            }
            Some(error) if (claim.attempts as u32) < self.settings.max_attempts => {
                let delay = retry_delay(
                    claim.attempts as u32,
                    self.settings.base_backoff,
                    self.settings.max_backoff,
                    &mut rand::rng(),
                );
                warn!(%endpoint, event = %claim.event_type, delivery_id = claim.id, attempt = claim.attempts, ?status_code, retry_in = ?delay, "webhook not accepted; will retry");
                DeliveryOutcome::RetryAt {
                    at: self.wall.now_ms() + delay.as_millis() as i64,
                    status_code,
                    error,
                }
            }
            Some(error) => {
                error!(%endpoint, event = %claim.event_type, delivery_id = claim.id, attempts = claim.attempts, ?status_code, "giving up on this webhook delivery");
                DeliveryOutcome::Failed { status_code, error }
            }
        };
        match self
            .engine
            .store
            .finish_webhook_delivery(&claim, &outcome, self.wall.now_ms())
            .await
        {
            Ok(()) => {}
            Err(StoreError::LeaseLost(id)) => {
                warn!(
                    delivery_id = id,
                    "webhook delivery was taken over by another deliverer"
                )
            }
            Err(e) => {
                error!(error = %e, "recording a webhook attempt failed; retried after its lease")
            }
        }
    }

    /// One signed POST: the receiver's status code, and why it does not count as
    /// delivered (`None` for any 2xx).
    async fn post(&self, claim: &ClaimedDelivery) -> (Option<u16>, Option<String>) {
        let timestamp = self.wall.now_ms().div_euclid(1000);
        let signature = signing::sign(&self.endpoint.secret, timestamp, claim.body.as_bytes());
        let sent = self
            .client
            .post(&self.endpoint.url)
            .header(CONTENT_TYPE, "application/json")
            .header("X-Textdesk-Event", &claim.event_type)
            .header("X-Textdesk-Delivery", claim.id.to_string())
            .header("X-Textdesk-Signature", signature)
            .body(claim.body.clone())
            .send()
            .await;
        match sent {
            Ok(response) if response.status().is_success() => {
                (Some(response.status().as_u16()), None)
            }
            Ok(mut response) => {
                let status = response.status();
                // Only the start of the answer: enough to see why, never a large page.
                let snippet = match response.chunk().await {
                    Ok(Some(bytes)) => {
                        let text = String::from_utf8_lossy(&bytes);
                        text.chars().take(ERROR_SNIPPET).collect::<String>()
                    }
                    _ => String::new(),
                };
                let error = if snippet.trim().is_empty() {
                    format!("HTTP {status}")
                } else {
                    format!("HTTP {status}: {}", snippet.trim())
                };
                (Some(status.as_u16()), Some(error))
            }
            // Without the URL: it may carry a token in its query string.
            Err(e) if e.is_timeout() => (
                None,
                Some(format!("no answer within {:?}", self.settings.timeout)),
            ),
            Err(e) => (None, Some(e.without_url().to_string())),
        }
    }
}

/// The endpoint's host, for logs (its path or query may hold a token).
fn host(url: &str) -> String {
    url::Url::parse(url)
        .ok()
        .and_then(|u| {
            u.host_str().map(|h| match u.port() {
                Some(port) => format!("{h}:{port}"),
                None => h.to_string(),
            })
        })
        .unwrap_or_else(|| "<invalid url>".into())
}
