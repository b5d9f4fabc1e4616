//! Storing the texts the webhook kept ([`crate::store::Store::keep_arrivals`]) as
//! messages of their conversations, queued for the workers, in arrival order.
//!
//! Runs after every group commit of the webhook, and every poll besides: for texts kept
//! before a restart or by another instance, and after a failure. A text that cannot be
//! stored is tried again, alone, a few times, then set aside so the texts after it are
//! not held up; it stays kept and counted in the inbound backlog for an operator.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::watch;
use tracing::{debug, error, info, warn};

use super::Engine;
use crate::store::{MAX_ARRIVAL_ATTEMPTS, Received};

/// Texts stored per transaction. A webhook's commit may wait for one of these, so it
/// stays short: about 60 µs a text on SQLite.
const BATCH: usize = 64;

pub async fn run(engine: Arc<Engine>, poll: Duration, mut shutdown: watch::Receiver<bool>) {
    loop {
        store_all(&engine).await;
        tokio::select! {
            _ = engine.intake.kept() => {}
            _ = tokio::time::sleep(poll) => {}
            _ = shutdown.changed() => return,
        }
    }
}

/// Stores kept texts until none is left (or the database fails).
async fn store_all(engine: &Arc<Engine>) {
    match engine.store.has_arrivals().await {
        Ok(true) => {}
        Ok(false) => return,
        Err(e) => {
            warn!(error = %e, "cannot read the texts waiting to be stored; will try again");
            return;
        }
    }
    let mut batch = BATCH;
    loop {
        match engine.store.store_arrivals(batch).await {
            Ok(stored) if stored.is_empty() => return,
            Ok(stored) => {
                for (msg, received) in stored {
                    match received {
                        Received::Queued {
                            message_id,
                            conversation_id,
                            ready_at,
                        } => {
                            crate::telemetry::inbound_received();
                            info!(from = %msg.from, message_id, conversation_id, segments = msg.segments, media = msg.media_urls.len(), "inbound text stored");
                            debug!(body = %msg.body, "inbound text body");
                            super::burst::wake_when_ready(engine, ready_at);
                        }
                        Received::Duplicate { message_id } => {
                            info!(from = %msg.from, message_id, "the provider sent a stored text again; not reprocessed");
                        }
                    }
                }
                batch = BATCH;
            }
            Err(e) if batch > 1 => {
                // One text may be what the database refuses: try the oldest alone.
                warn!(error = %e, "storing kept texts failed; trying the oldest alone");
                batch = 1;
            }
            Err(e) => {
                match engine.store.count_arrival_failure().await {
                    Ok(Some((sid, attempts))) if attempts >= MAX_ARRIVAL_ATTEMPTS => {
                        error!(sid, attempts, error = %e, "a kept text cannot be stored; set aside (still kept, counted in the inbound backlog)");
                    }
                    Ok(_) => {
                        warn!(error = %e, "storing a kept text failed; will try again")
                    }
                    Err(e2) => {
                        warn!(error = %e, count = %e2, "storing a kept text failed; will try again")
                    }
                }
                return;
            }
        }
    }
}
