//! The outbox dispatcher: hands queued texts to the SMS provider and records what
//! happened.
//!
//! Consent is checked again at send time: a reply queued before the contact opted out
//! is canceled, while compliance texts (the STOP confirmation, HELP, START) still go.
//! Transient failures are retried with exponential backoff and jitter, durably (the
//! next attempt time is a column), so a restart does not reset or lose them.
//!
//! A send whose outcome is unknown (the provider did not answer within
//! `send_timeout`, or the process stopped mid-send) is *uncertain*: the row stays in
//! flight and, before it is sent again, the provider is asked whether it already took
//! the text ([`Provider::find_sent`]). Recording a result is retried while the lease
//! is held, and a result that still could not be recorded is reconciled the same way.

use std::sync::Arc;
use std::time::Duration;

use futures_util::future::join_all;
use rand::Rng;
use tokio::sync::watch;
use tracing::{Instrument, error, info, info_span, warn};

use super::Engine;
use crate::sms::providers::{OutboundSms, Provider, SendError};
use crate::store::{ClaimedOutbound, Consent, ConsentChange, DeliveryResult, OutboundKind};

#[derive(Debug, Clone)]
pub struct DispatchSettings {
    pub max_attempts: u32,
    pub base_backoff: Duration,
    pub max_backoff: Duration,
    /// Longest a single provider call may take; the lease is a little longer.
    pub send_timeout: Duration,
    pub poll: Duration,
    /// Delivery-status callback URL handed to the provider.
    pub status_callback: Option<String>,
}

/// Texts one dispatcher claims and sends at once. A provider's API answers in
/// tens to hundreds of milliseconds; one text at a time, that latency, not the
/// provider's capacity, would bound the texts sent per second.
const TEXTS_AT_ONCE: usize = 16;

pub async fn run(
    engine: Arc<Engine>,
    provider: Arc<dyn Provider>,
    settings: DispatchSettings,
    mut shutdown: watch::Receiver<bool>,
) {
    let owner = engine.instance_id.clone();
    // Room for a reconciliation question and a send, each bounded by send_timeout,
    // and for recording the result.
    let lease = settings.send_timeout * 2 + Duration::from_secs(5);
    let lease_ms = lease.as_millis() as i64;
    let mut error_backoff = Duration::from_millis(100);
    loop {
        if *shutdown.borrow() {
            return;
        }
        let now = engine.now_ms();
        match engine
            .store
            .claim_due_outbound(&owner, now, lease_ms, TEXTS_AT_ONCE)
            .await
        {
            Ok(claims) if !claims.is_empty() => {
                error_backoff = Duration::from_millis(100);
                if claims.len() == TEXTS_AT_ONCE {
                    // Maybe more is due: an idle sibling takes the next ones meanwhile
                    // instead of waiting for its poll.
                    engine.outbound_ready.notify_one();
                }
                // A little before the lease lapses, so a sibling never sees it early.
                let lease_ends = tokio::time::Instant::now() + lease - Duration::from_secs(1);
                // One text per contact, so sending them together keeps each
                // contact's texts in order.
                let results = join_all(claims.into_iter().map(|claim| {
                    let span = info_span!("outbound", message_id = claim.message_id);
                    async {
                        let result = deliver(&engine, provider.as_ref(), &settings, &claim).await;
                        (claim, result)
                    }
                    .instrument(span)
                }))
                .await;
                record_all(&engine, &settings, results, lease_ends).await;
            }
            Ok(_) => {
                tokio::select! {
                    _ = engine.outbound_ready.notified() => {}
                    _ = tokio::time::sleep(settings.poll) => {}
                    _ = shutdown.changed() => {}
                }
            }
            Err(e) => {
                error!(error = %e, "claiming outbound work failed; retrying in {:?}", error_backoff);
                tokio::select! {
                    _ = tokio::time::sleep(error_backoff) => {}
                    _ = shutdown.changed() => {}
                }
                error_backoff = (error_backoff * 2).min(Duration::from_secs(10));
            }
        }
    }
}

/// Sends one claimed text (or finds that it went, or must not go) and says how the
/// attempt ended; [`record_all`] writes it down.
async fn deliver(
    engine: &Engine,
    provider: &dyn Provider,
    settings: &DispatchSettings,
    claim: &ClaimedOutbound,
) -> DeliveryResult {
    if claim.consent == Consent::OptedOut && claim.kind == OutboundKind::Reply {
        info!(to = %claim.to, "contact opted out after this reply was queued; not sending");
        DeliveryResult::Canceled
    } else {
        let sms = OutboundSms {
            to: claim.to.clone(),
            body: claim.body.clone(),
            status_callback: settings.status_callback.clone(),
        };
        match reconcile(engine, provider, settings, claim, &sms).await {
            Ok(Some(result)) => result,
            Ok(None) => {
                let sent =
                    match tokio::time::timeout(settings.send_timeout, provider.send(&sms)).await {
                        Ok(result) => result,
                        Err(_) => Err(SendError::Uncertain(format!(
                            "no answer within {:?}",
                            settings.send_timeout
                        ))),
                    };
                classify(engine, settings, claim, sent).await
            }
            Err(error) if claim.attempts as u32 >= settings.max_attempts => {
                error!(to = %claim.to, attempts = claim.attempts, %error, "giving up on this text: the provider never said whether it took it");
                crate::telemetry::outbound_failed();
                DeliveryResult::Failed {
                    code: None,
                    error: format!("outcome unknown: {error}"),
                }
            }
            Err(error) => {
                warn!(to = %claim.to, %error, "could not ask the provider about an uncertain send; asking again later");
                DeliveryResult::Uncertain {
                    at: engine.now_ms() + settings.base_backoff.as_millis() as i64,
                    error,
                }
            }
        }
    }
}

/// Records the results of one claim's sends in one transaction: under load the
/// database's writer, not the provider, limits the texts sent per second. If that
/// transaction fails, each result is recorded on its own ([`record`]).
async fn record_all(
    engine: &Engine,
    settings: &DispatchSettings,
    results: Vec<(ClaimedOutbound, DeliveryResult)>,
    lease_ends: tokio::time::Instant,
) {
    match engine
        .store
        .finish_outbound_all(&results, engine.now_ms())
        .await
    {
        Ok(lost) => {
            for outbox_id in lost {
                warn!(
                    outbox_id,
                    "the lease on this text was lost before its result was recorded; the new owner settles it"
                );
            }
        }
        Err(e) => {
            warn!(error = %e, "recording the delivery results together failed; recording each");
            for (claim, result) in &results {
                record(engine, settings, claim, result, lease_ends).await;
            }
        }
    }
}

/// Before sending a text whose earlier attempt never settled: did the provider take
/// it? `Some(Sent)` when it did (an id no other message holds); `None` to send.
async fn reconcile(
    engine: &Engine,
    provider: &dyn Provider,
    settings: &DispatchSettings,
    claim: &ClaimedOutbound,
    sms: &OutboundSms,
) -> Result<Option<DeliveryResult>, String> {
    if claim.unsettled_since.is_none() {
        return Ok(None);
    }
    let found = match tokio::time::timeout(settings.send_timeout, provider.find_sent(sms)).await {
        Ok(found) => found.map_err(|e| e.to_string())?,
        Err(_) => return Err("the provider did not answer the question in time".into()),
    };
    for provider_message_id in found {
        let recorded = engine
            .store
            .provider_message_recorded(&provider_message_id)
            .await
            .map_err(|e| e.to_string())?;
        if !recorded {
            info!(to = %claim.to, %provider_message_id, "the earlier attempt had gone through; not sending again");
            crate::telemetry::outbound_reconciled(true);
            return Ok(Some(DeliveryResult::Sent {
                provider_message_id,
            }));
        }
    }
    info!(to = %claim.to, "the earlier attempt never reached the provider; sending");
    crate::telemetry::outbound_reconciled(false);
    Ok(None)
}

/// Records how the attempt ended, retrying while the lease is ours: a send recorded
/// late is better than one repeated after the lease lapses.
async fn record(
    engine: &Engine,
    settings: &DispatchSettings,
    claim: &ClaimedOutbound,
    result: &DeliveryResult,
    lease_ends: tokio::time::Instant,
) {
    let mut pause = Duration::from_millis(50);
    loop {
        match engine
            .store
            .finish_outbound(claim, result, engine.now_ms())
            .await
        {
            Ok(()) => return,
            Err(e) if tokio::time::Instant::now() + pause < lease_ends => {
                warn!(error = %e, retry_in = ?pause, "recording the delivery result failed; retrying");
                tokio::time::sleep(pause).await;
                pause = (pause * 2).min(settings.max_backoff);
            }
            Err(e) => {
                error!(error = %e, "recording the delivery result failed; the row is reconciled with the provider after its lease");
                return;
            }
        }
    }
}

async fn classify(
    engine: &Engine,
    settings: &DispatchSettings,
    claim: &ClaimedOutbound,
    sent: Result<crate::sms::providers::Accepted, SendError>,
) -> DeliveryResult {
    match sent {
        Ok(accepted) => {
            info!(to = %claim.to, provider_message_id = %accepted.provider_message_id, "text handed to provider");
            crate::telemetry::outbound_sent(crate::sms::segments::count(&claim.body).segments);
            DeliveryResult::Sent {
                provider_message_id: accepted.provider_message_id,
            }
        }
        Err(SendError::Retryable(error)) if (claim.attempts as u32) < settings.max_attempts => {
            let at = next_attempt_at(engine, settings, claim);
            warn!(to = %claim.to, attempt = claim.attempts, retry_at = at, %error, "send failed; will retry");
            DeliveryResult::RetryAt { at, error }
        }
        Err(SendError::Uncertain(error)) if (claim.attempts as u32) < settings.max_attempts => {
            let at = next_attempt_at(engine, settings, claim);
            warn!(to = %claim.to, attempt = claim.attempts, ask_at = at, %error, "send outcome unknown; will ask the provider before any resend");
            DeliveryResult::Uncertain { at, error }
        }
        Err(SendError::Retryable(error) | SendError::Uncertain(error)) => {
            error!(to = %claim.to, attempts = claim.attempts, %error, "giving up on this text");
            crate::telemetry::outbound_failed();
            DeliveryResult::Failed { code: None, error }
        }
        Err(SendError::Permanent { code, message }) => {
            // Twilio's message text can quote the full phone number: log the code only.
            error!(to = %claim.to, ?code, "provider rejected the text");
            DeliveryResult::Failed {
                code,
                error: message,
            }
        }
        Err(SendError::RecipientOptedOut) => {
            warn!(to = %claim.to, "carrier reports the recipient opted out; recording it");
            let change = ConsentChange {
                to: Consent::OptedOut,
                source: crate::store::ConsentSource::Carrier,
                actor: None,
                detail: "twilio error 21610".into(),
            };
            if let Err(e) = engine
                .store
                .set_consent(claim.contact_id, &change, engine.now_ms())
                .await
            {
                error!(error = %e, "could not record the carrier opt-out");
            }
            DeliveryResult::Failed {
                code: Some(21610),
                error: "recipient opted out at the carrier".into(),
            }
        }
    }
}

/// When a claim that did not settle is tried again (counted as a retry).
fn next_attempt_at(engine: &Engine, settings: &DispatchSettings, claim: &ClaimedOutbound) -> i64 {
    let delay = retry_delay(
        claim.attempts as u32,
        settings.base_backoff,
        settings.max_backoff,
        &mut rand::rng(),
    );
    crate::telemetry::outbound_retry();
    engine.now_ms() + delay.as_millis() as i64
}

/// Exponential backoff with "equal jitter": half the exponential delay is fixed, the
/// other half random, so retries spread out but never collapse to zero.
pub fn retry_delay(attempt: u32, base: Duration, max: Duration, rng: &mut impl Rng) -> Duration {
    let exp = base
        .saturating_mul(1u32 << attempt.saturating_sub(1).min(16))
        .min(max);
    let half = exp / 2;
    half + Duration::from_millis(rng.random_range(0..=half.as_millis() as u64))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retry_delay_grows_and_is_capped() {
        let mut rng = rand::rng();
        let base = Duration::from_secs(2);
        let max = Duration::from_secs(60);
        for _ in 0..100 {
            let first = retry_delay(1, base, max, &mut rng);
            assert!(
                first >= Duration::from_secs(1) && first <= Duration::from_secs(2),
                "{first:?}"
            );
            let third = retry_delay(3, base, max, &mut rng);
            assert!(
                third >= Duration::from_secs(4) && third <= Duration::from_secs(8),
                "{third:?}"
            );
            let late = retry_delay(20, base, max, &mut rng);
            assert!(late >= Duration::from_secs(30) && late <= max, "{late:?}");
        }
    }
}
