//! The engine's sweeps (holding texts, routing, SLA misses, scheduled flow starts)
//! run on the same beat: a pass every few hundred milliseconds on each instance,
//! until shutdown. A failed pass (the database away for a moment) is logged and the
//! next one tries again; each pass is idempotent, so instances can overlap.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::watch;

use super::Engine;
use crate::store::StoreError;

/// Runs `pass` every `period` until `shutdown`; `doing` names it in the log
/// ("sending holding texts failed; will retry").
pub async fn every<F, Fut>(
    period: Duration,
    doing: &'static str,
    engine: Arc<Engine>,
    mut shutdown: watch::Receiver<bool>,
    pass: F,
) where
    F: Fn(Arc<Engine>) -> Fut,
    Fut: Future<Output = Result<usize, StoreError>>,
{
    loop {
        tokio::select! {
            _ = tokio::time::sleep(period) => {}
            _ = shutdown.changed() => return,
        }
        if let Err(e) = pass(engine.clone()).await {
            tracing::warn!(error = %e, "{doing} failed; will retry");
        }
    }
}
