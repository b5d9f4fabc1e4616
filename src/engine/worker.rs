//! The inbound queue worker: claim → process → commit, forever.
//!
//! Several workers (in this process and in others sharing the database) run at once;
//! the claim query hands each conversation to one worker at a time, oldest message
//! first. A claimed row is leased: if this process dies, the lease expires and another
//! worker finishes the job. Committing the queue row as done and inserting the
//! replies happen in one transaction, so each inbound text yields its replies exactly
//! once.

use std::convert::Infallible;
use std::panic::AssertUnwindSafe;
use std::sync::Arc;
use std::time::Duration;

use futures_util::FutureExt;
use futures_util::future::join_all;
use tokio::sync::watch;
use tracing::{Instrument, debug, error, info, info_span, warn};

use super::Engine;
use super::pipeline;
use crate::brain::escalation::Rule;
use crate::brain::summary::headline;
use crate::store::{ClaimedInbound, Completion, NewHandoff, OutboundKind, StoreError};

/// After this many failed attempts a message is set aside for a person instead of
/// blocking its conversation forever.
const MAX_ATTEMPTS: i64 = 5;

/// Texts one worker claims with one statement and works on together. Every claim is a
/// turn at SQLite's single writer; taken one by one they, not the turns' work, bounded
/// the texts answered per second under a flood. Small, so a worker never sits on many
/// texts another worker could have started.
const TEXTS_AT_ONCE: usize = 4;

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
    let mut error_backoff = Duration::from_millis(100);
    loop {
        if *shutdown.borrow() {
            return;
        }
        let now = engine.now_ms();
        // Each claim has its own lease token: a worker whose lease expired (and was
        // taken over, even by a sibling in this process) can no longer commit.
        let owner = format!("{}:{:016x}", engine.instance_id, rand::random::<u64>());
        let claimed = engine
            .store
            .claim_inbound(
                &owner,
                now,
                settings.lease.as_millis() as i64,
                TEXTS_AT_ONCE,
            )
            .await;
        // Alive means the loop turns and the database answers the claim.
        if claimed.is_ok() {
            engine.heartbeat.beat();
        }
        match claimed {
            Ok(claims) if !claims.is_empty() => {
                error_backoff = Duration::from_millis(100);
                // Each of another conversation, so they are independent turns.
                join_all(claims.into_iter().map(|claim| {
                    let span = info_span!(
                        "inbound",
                        conversation_id = claim.conversation_id,
                        message_id = claim.message_id
                    );
                    async {
                        let started = std::time::Instant::now();
                        process(&engine, claim, settings.lease).await;
                        crate::telemetry::processed(started.elapsed().as_secs_f64());
                    }
                    .instrument(span)
                }))
                .await;
            }
            Ok(_) => {
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

/// Processes one claimed message, renewing its lease meanwhile. Errors, and a panic
/// in the pipeline, are recorded on the queue row and retried; the worker lives on.
/// A message that failed too often is set aside and handed to a person.
pub async fn process(engine: &Engine, claim: ClaimedInbound, lease: Duration) {
    if claim.attempts > MAX_ATTEMPTS {
        set_aside(engine, &claim).await;
        return;
    }
    let outcome = tokio::select! {
        outcome = guarded(try_process(engine, &claim)) => outcome,
        never = keep_lease(engine, &claim, lease) => match never {},
    };
    let error = match outcome {
        Ok(Ok(replies)) => {
            if replies > 0 {
                engine.outbound_ready.notify_waiters();
            }
            return;
        }
        Ok(Err(StoreError::LeaseLost(_))) => {
            warn!("another worker took over this message; dropping our result");
            return;
        }
        Ok(Err(e)) => e.to_string(),
        Err(panic) => {
            crate::telemetry::pipeline_panicked();
            panic
        }
    };
    let retry_in = 200 * (1_i64 << claim.attempts.clamp(1, 6));
    error!(error = %error, retry_in_ms = retry_in, "processing inbound message failed");
    let now = engine.now_ms();
    if let Err(e) = engine
        .store
        .retry_inbound_later(&claim, &error, now + retry_in)
        .await
    {
        error!(error = %e, "could not record the failure; the lease will expire instead");
    }
}

/// Runs `work`, turning a panic into an error that says where it came from: one bad
/// text must cost one attempt, not a worker.
async fn guarded<T>(work: impl Future<Output = T>) -> Result<T, String> {
    AssertUnwindSafe(work)
        .catch_unwind()
        .await
        .map_err(|panic| {
            let message = panic
                .downcast_ref::<&str>()
                .map(|s| s.to_string())
                .or_else(|| panic.downcast_ref::<String>().cloned())
                .unwrap_or_else(|| "a panic without a message".into());
            format!("the pipeline panicked: {message}")
        })
}

/// Renews the claim's lease every third of it for as long as the text is being
/// processed (a slow LLM with retries outlasts one lease): no sibling takes over a
/// text that is still in hand. Never returns; the caller drops it when done.
async fn keep_lease(engine: &Engine, claim: &ClaimedInbound, lease: Duration) -> Infallible {
    loop {
        tokio::time::sleep(lease / 3).await;
        let until = engine.now_ms() + lease.as_millis() as i64;
        match engine.store.renew_inbound_lease(claim, until).await {
            Ok(true) => {}
            Ok(false) => warn!("the lease on this text was lost; its result will be dropped"),
            Err(e) => warn!(error = %e, "could not renew the lease; retrying"),
        }
    }
}

/// Gives up on a text that failed [`MAX_ATTEMPTS`] times: it stays stored with its
/// error, stops blocking its conversation, and goes to a person (a handoff, an
/// event, and the acknowledgement to the customer), so nobody is left unanswered.
async fn set_aside(engine: &Engine, claim: &ClaimedInbound) {
    error!(
        attempts = claim.attempts,
        "inbound message failed too often; setting it aside for a person"
    );
    let policy = engine.policy();
    let why = Rule::SetAside;
    let handoff = NewHandoff {
        priority: why.priority().as_i64(),
        rule: why.as_str().to_string(),
        reason: format!(
            "textdesk failed to process this text {} times",
            claim.attempts - 1
        ),
        intent: None,
        summary: "The bot could not process the customer's latest text. Read it in the thread and answer them."
            .into(),
        summary_by: "textdesk",
        headline: headline(Some(why), "", &[]),
    };
    let acknowledgement = pipeline::reply(
        &policy.texts.acknowledgement,
        OutboundKind::Reply,
        policy.replies.max_segments,
    );
    match engine
        .store
        .set_aside_inbound(claim, &handoff, &acknowledgement, engine.now_ms())
        .await
    {
        Ok(()) => {
            engine.outbound_ready.notify_waiters();
            engine.events_ready.notify_one();
        }
        Err(e) => error!(error = %e, "could not set the message aside; it will be retried"),
    }
}

async fn try_process(engine: &Engine, claim: &ClaimedInbound) -> Result<usize, StoreError> {
    let mut ctx = engine.store.inbound_context(claim).await?;
    let policy = engine.policy();
    super::burst::read_as_one(&mut ctx, engine.burst_window(), &policy);
    let now = engine.now_ms();
    let flows = engine.flows();
    let booked = super::booked::BookedSlots::new(engine);
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
    decision.outcome.gap = pipeline::gap_of(&decision);
    debug!(body = %ctx.body, "inbound text");
    info!(
        from = %ctx.phone,
        reason = ?decision.reason,
        intent = decision.outcome.understanding.as_ref().and_then(|u| u.intent.as_deref()),
        replies = decision.outcome.replies.len(),
        consent_change = decision.outcome.consent_change.as_ref().map(|c| c.to.as_str()),
        "processed inbound text"
    );
    let llm_fallback = decision.outcome.llm_fallback;
    let wrote_events = ctx.handoff.is_some()
        || decision.outcome.handoff.is_some()
        || decision.outcome.flow_completed.is_some();
    let ids = engine
        .completions
        .commit(Completion {
            claim: claim.clone(),
            ctx,
            outcome: decision.outcome,
            now,
        })
        .await?;
    if llm_fallback {
        crate::telemetry::llm_fallback();
    }
    if wrote_events {
        engine.events_ready.notify_one();
    }
    Ok(ids.len())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_panic_in_the_work_is_an_error_that_says_so() {
        let ok = guarded(async { 7 }).await;
        assert_eq!(ok, Ok(7));
        let panicked = guarded(async {
            if ok.is_ok() {
                panic!("index out of bounds");
            }
        })
        .await;
        assert_eq!(
            panicked,
            Err("the pipeline panicked: index out of bounds".to_string())
        );
        let formatted = guarded(async {
            let n = 3;
            if n > 2 {
                panic!("{n} is too many");
            }
        })
        .await;
        assert_eq!(
            formatted,
            Err("the pipeline panicked: 3 is too many".into())
        );
    }
}
