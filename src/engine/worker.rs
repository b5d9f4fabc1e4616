//! The inbound queue worker: claim → process → commit, forever.
//!
//! Several workers (in this process and in others sharing the database) run at once;
//! the claim query hands each conversation to one worker at a time, oldest message
//! first. A claimed row is leased: if this process dies, the lease expires and another
//! worker finishes the job. Committing the queue row as done and inserting the
//! replies happen in one transaction, so each inbound text yields its replies exactly
//! once.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::watch;
use tracing::{Instrument, debug, error, info, info_span, warn};

use super::Engine;
use super::pipeline;
use crate::store::{ClaimedInbound, StoreError};

/// After this many failed attempts a message is set aside as failed (and logged)
/// instead of blocking its conversation forever.
const MAX_ATTEMPTS: i64 = 5;

#[derive(Debug, Clone)]
pub struct WorkerSettings {
    pub lease: Duration,
    pub poll: Duration,
}

/// How long texts wait for the knowledge base's first sync before the workers answer
/// them anyway: an index that cannot be built must not keep customers waiting.
const KNOWLEDGE_READY_LIMIT: Duration = Duration::from_secs(60);

/// Texts that arrive right after a start (the knowledge base is still being indexed)
/// are stored and acknowledged as always, but answered once the brain can use the
/// knowledge base: answered from an empty index, every one would be "sorry, I didn't
/// get that". `/readyz` says 503 meanwhile (knowledge not indexed, workers not started).
async fn wait_for_knowledge(engine: &Engine, shutdown: &mut watch::Receiver<bool>) {
    let Some(knowledge) = engine.brain.as_ref().and_then(|b| b.knowledge()) else {
        return;
    };
    let deadline = tokio::time::Instant::now() + KNOWLEDGE_READY_LIMIT;
    while !knowledge.is_ready() && !*shutdown.borrow() {
        if tokio::time::Instant::now() >= deadline {
            warn!(
                "the knowledge base is still not indexed after {}s; answering texts without it",
                KNOWLEDGE_READY_LIMIT.as_secs()
            );
            return;
        }
        tokio::select! {
            _ = tokio::time::sleep(Duration::from_millis(50)) => {}
            _ = shutdown.changed() => {}
        }
    }
}

/// Runs one worker until `shutdown` turns true; the message in hand is finished first.
pub async fn run(
    engine: Arc<Engine>,
    settings: WorkerSettings,
    mut shutdown: watch::Receiver<bool>,
) {
    wait_for_knowledge(&engine, &mut shutdown).await;
    let owner = engine.instance_id.clone();
    let mut error_backoff = Duration::from_millis(100);
    loop {
        if *shutdown.borrow() {
            return;
        }
        let now = engine.now_ms();
        let claimed = engine
            .store
            .claim_next_inbound(&owner, now, settings.lease.as_millis() as i64)
            .await;
        // Alive means the loop turns and the database answers the claim.
        if claimed.is_ok() {
            engine.heartbeat.beat();
        }
        match claimed {
            Ok(Some(claim)) => {
                error_backoff = Duration::from_millis(100);
                let span = info_span!(
                    "inbound",
                    conversation_id = claim.conversation_id,
                    message_id = claim.message_id
                );
                let started = std::time::Instant::now();
                process(&engine, claim).instrument(span).await;
                crate::telemetry::processed(started.elapsed().as_secs_f64());
            }
            Ok(None) => {
                tokio::select! {
                    _ = engine.inbound_ready.notified() => {}
                    _ = tokio::time::sleep(settings.poll) => {}
                    _ = shutdown.changed() => {}
                }
            }
            Err(e) => {
                // The database is unreachable or busy: back off harder than when idle.
                error!(error = %e, "claiming inbound work failed; retrying in {:?}", error_backoff);
                tokio::select! {
                    _ = tokio::time::sleep(error_backoff) => {}
                    _ = shutdown.changed() => {}
                }
                error_backoff = (error_backoff * 2).min(Duration::from_secs(10));
            }
        }
    }
}

/// Processes one claimed message. Errors are recorded on the queue row and retried.
pub async fn process(engine: &Engine, claim: ClaimedInbound) {
    if claim.attempts > MAX_ATTEMPTS {
        error!(
            attempts = claim.attempts,
            "inbound message failed too often; setting it aside"
        );
        let _ = engine
            .store
            .fail_inbound(&claim, "too many failed attempts", engine.now_ms())
            .await;
        return;
    }
    match try_process(engine, &claim).await {
        Ok(replies) => {
            if replies > 0 {
                engine.outbound_ready.notify_waiters();
            }
        }
        Err(StoreError::LeaseLost(_)) => {
            warn!("another worker took over this message; dropping our result");
        }
        Err(e) => {
            let retry_in = 200 * (1_i64 << claim.attempts.clamp(1, 6));
            error!(error = %e, retry_in_ms = retry_in, "processing inbound message failed");
            let now = engine.now_ms();
            if let Err(e) = engine
                .store
                .retry_inbound_later(&claim, &e.to_string(), now + retry_in)
                .await
            {
                error!(error = %e, "could not record the failure; the lease will expire instead");
            }
        }
    }
}

async fn try_process(engine: &Engine, claim: &ClaimedInbound) -> Result<usize, StoreError> {
    let mut ctx = engine.store.inbound_context(claim).await?;
    let policy = engine.policy();
    super::burst::read_as_one(&mut ctx, engine.burst_window(), &policy);
    let now = engine.now_ms();
    let flows = engine.flows();
    let booked = engine.booked_slots().await?;
    let lookups = engine.lookups();
    let playbook = pipeline::Playbook {
        flows: &flows,
        booked: &booked,
        lookups: &lookups,
        caller: &engine.lookup_caller,
    };
    let mut decision =
        pipeline::decide(&ctx, &policy, engine.brain.as_deref(), Some(&playbook), now).await;
    if let Some(thought) = &decision.thought {
        let understanding = &thought.understanding;
        decision.outcome.understood_by = Some(understanding.source.as_str());
        decision.outcome.llm_fallback = understanding.llm_fallback;
    }
    debug!(body = %ctx.body, "inbound text");
    info!(
        from = %ctx.phone,
        reason = ?decision.reason,
        intent = decision.outcome.understanding.as_ref().and_then(|u| u.intent.as_deref()),
        replies = decision.outcome.replies.len(),
        consent_change = decision.outcome.consent_change.as_ref().map(|c| c.to.as_str()),
        "processed inbound text"
    );
    let ids = engine
        .store
        .complete_inbound(claim, &ctx, &decision.outcome, now)
        .await?;
    if decision.outcome.llm_fallback {
        crate::telemetry::llm_fallback();
    }
    if ctx.handoff.is_some()
        || decision.outcome.handoff.is_some()
        || decision.outcome.flow_completed.is_some()
    {
        engine.events_ready.notify_one();
    }
    Ok(ids.len())
}
