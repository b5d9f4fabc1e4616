//! Prometheus metrics: the counters and histograms the engine records as it works,
//! and the gauges read from the database when `GET /metrics` is scraped.
//!
//! Recording goes through the `metrics` facade (a no-op until a recorder is
//! installed), so library code never depends on the exporter. [`install`] sets the
//! process-wide Prometheus recorder once; later calls (several test apps in one
//! process) share it. Metric names are the constants below; the README lists them.

use std::sync::OnceLock;

use metrics::{counter, gauge, histogram};
use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle};

use crate::store::{Store, StoreError};

pub const MESSAGES_IN: &str = "textdesk_messages_inbound_total";
pub const MESSAGES_OUT: &str = "textdesk_messages_outbound_total";
pub const SEGMENTS_OUT: &str = "textdesk_segments_sent_total";
pub const PROCESSING_SECONDS: &str = "textdesk_processing_seconds";
pub const LLM_SECONDS: &str = "textdesk_llm_request_seconds";
pub const LLM_FALLBACKS: &str = "textdesk_llm_fallbacks_total";
pub const LLM_ANSWERS_REFUSED: &str = "textdesk_llm_answers_refused_total";
pub const LOOKUP_SECONDS: &str = "textdesk_lookup_seconds";
pub const OUTBOX_RETRIES: &str = "textdesk_outbox_retries_total";
pub const INBOUND_SPOOLED: &str = "textdesk_inbound_spooled_total";
pub const OUTBOX_RECONCILED: &str = "textdesk_outbox_reconciled_total";
pub const OUTBOX_FAILED: &str = "textdesk_outbox_failed_total";
pub const PIPELINE_PANICS: &str = "textdesk_pipeline_panics_total";
pub const QUEUE_DEPTH: &str = "textdesk_inbound_queue_depth";
pub const QUEUE_AGE: &str = "textdesk_inbound_queue_oldest_seconds";
pub const OUTBOX_DEPTH: &str = "textdesk_outbox_pending";
pub const HANDOFFS_WAITING: &str = "textdesk_handoffs_waiting";

/// Buckets for the latency histograms, in seconds (inbound processing without an LLM
/// takes milliseconds; with one, seconds).
const BUCKETS: &[f64] = &[
    0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0,
];

static HANDLE: OnceLock<Option<PrometheusHandle>> = OnceLock::new();

/// Installs the Prometheus recorder for this process (once) and returns its handle;
/// `None` if another recorder was installed first.
pub fn install() -> Option<&'static PrometheusHandle> {
    HANDLE
        .get_or_init(|| {
            let recorder = PrometheusBuilder::new()
                .set_buckets(BUCKETS)
                .map_err(|e| tracing::warn!(error = %e, "metrics buckets refused"))
                .ok()?
                .build_recorder();
            let handle = recorder.handle();
            match metrics::set_global_recorder(recorder) {
                Ok(()) => {
                    describe();
                    Some(handle)
                }
                Err(e) => {
                    tracing::warn!(error = %e, "a metrics recorder was already installed; /metrics is empty");
                    None
                }
            }
        })
        .as_ref()
}

fn describe() {
    use metrics::{Unit, describe_counter, describe_gauge, describe_histogram};
    describe_counter!(
        MESSAGES_IN,
        "Inbound texts accepted from the provider (stored and queued)."
    );
    describe_counter!(MESSAGES_OUT, "Outbound texts handed to the provider.");
    describe_counter!(
        SEGMENTS_OUT,
        "SMS segments handed to the provider (a cost proxy)."
    );
    describe_histogram!(
        PROCESSING_SECONDS,
        Unit::Seconds,
        "Inbound text processing: claim to commit."
    );
    describe_histogram!(
        LLM_SECONDS,
        Unit::Seconds,
        "Language-model requests, by outcome."
    );
    describe_histogram!(
        LOOKUP_SECONDS,
        Unit::Seconds,
        "Lookups in the business's systems, by lookup and outcome (found, not_found, failed)."
    );
    describe_counter!(
        LLM_FALLBACKS,
        "Texts the local brain understood because the LLM failed."
    );
    describe_counter!(
        LLM_ANSWERS_REFUSED,
        "LLM answers the output guards refused (markdown-only, foreign link, number, price or promise); the local composer answered."
    );
    describe_counter!(
        OUTBOX_RETRIES,
        "Send attempts that failed transiently and were rescheduled."
    );
    describe_counter!(
        INBOUND_SPOOLED,
        "Inbound texts the database could not store in time, kept in the local spool and acknowledged."
    );
    describe_counter!(
        OUTBOX_RECONCILED,
        "Uncertain sends checked with the provider before a resend, by outcome (already_sent, not_sent)."
    );
    describe_counter!(OUTBOX_FAILED, "Outbound texts given up on.");
    describe_counter!(
        PIPELINE_PANICS,
        "Inbound texts whose processing panicked (retried; the worker lives on)."
    );
    describe_gauge!(QUEUE_DEPTH, "Inbound texts waiting to be processed.");
    describe_gauge!(
        QUEUE_AGE,
        Unit::Seconds,
        "Age of the oldest unprocessed inbound text."
    );
    describe_gauge!(OUTBOX_DEPTH, "Outbound texts not yet sent.");
    describe_gauge!(HANDOFFS_WAITING, "Handoffs no agent has claimed yet.");
}

pub fn inbound_received() {
    counter!(MESSAGES_IN).increment(1);
}

pub fn outbound_sent(segments: u32) {
    counter!(MESSAGES_OUT).increment(1);
    counter!(SEGMENTS_OUT).increment(u64::from(segments));
}

pub fn outbound_retry() {
    counter!(OUTBOX_RETRIES).increment(1);
}

pub fn inbound_spooled() {
    counter!(INBOUND_SPOOLED).increment(1);
}

/// An uncertain send was checked with the provider: `taken` when it had gone through.
pub fn outbound_reconciled(taken: bool) {
    let outcome = if taken { "already_sent" } else { "not_sent" };
    counter!(OUTBOX_RECONCILED, "outcome" => outcome).increment(1);
}

pub fn outbound_failed() {
    counter!(OUTBOX_FAILED).increment(1);
}

pub fn pipeline_panicked() {
    counter!(PIPELINE_PANICS).increment(1);
}

pub fn processed(seconds: f64) {
    histogram!(PROCESSING_SECONDS).record(seconds);
}

pub fn llm_request(seconds: f64, ok: bool) {
    let outcome = if ok { "ok" } else { "error" };
    histogram!(LLM_SECONDS, "outcome" => outcome).record(seconds);
}

pub fn llm_fallback() {
    counter!(LLM_FALLBACKS).increment(1);
}

/// An LLM answer the output guards refused; the local composer answered instead.
pub fn llm_answer_refused() {
    counter!(LLM_ANSWERS_REFUSED).increment(1);
}

/// A call to the business's own system (`prompts/lookups/`), by lookup and outcome.
pub fn lookup(name: &str, outcome: &'static str, seconds: f64) {
    histogram!(LOOKUP_SECONDS, "lookup" => name.to_string(), "outcome" => outcome).record(seconds);
}

/// The exposition text: gauges refreshed from the database, then everything.
pub async fn render(store: &Store, now: i64) -> Result<String, StoreError> {
    let gauges = store.operational_gauges(now).await?;
    gauge!(QUEUE_DEPTH).set(gauges.inbound_pending as f64);
    gauge!(QUEUE_AGE).set(gauges.inbound_oldest_ms.unwrap_or(0).max(0) as f64 / 1000.0);
    gauge!(OUTBOX_DEPTH).set(gauges.outbox_pending as f64);
    gauge!(HANDOFFS_WAITING).set(gauges.handoffs_waiting as f64);
    Ok(install().map(|h| h.render()).unwrap_or_default())
}
