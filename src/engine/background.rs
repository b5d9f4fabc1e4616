//! The runtime the engine's own work runs on (workers answering texts, dispatchers,
//! sweeps), at a lower CPU priority than the webhook's.
//!
//! Under a burst every core is busy answering texts, and a webhook sharing the
//! runtime with that work waits behind it: acknowledgements slowed to the pace of
//! answers and their p99 grew to tens of milliseconds, while a provider retries (and
//! in the end gives up) when a `200` is slow. An acknowledgement is a few hundred
//! microseconds of work and an answer a few milliseconds, so acknowledging first
//! costs the answers almost nothing, and they catch up when the burst is over. With
//! idle cores the background runtime gets all of them, as before.
//!
//! Threads the background runtime starts (its blocking pool, and threads started from
//! it) inherit its priority. SQLite's connection threads are started with the store,
//! before any background work ([`crate::store::Store::open`] opens every connection
//! at once), so a webhook's commit never runs at the background's priority.

use std::sync::OnceLock;

use thread_priority::{ThreadPriority, ThreadPriorityValue, set_current_thread_priority};
use tokio::runtime::{Builder, Handle, Runtime};
use tracing::warn;

/// The background runtime, started on first use and kept for the life of the process
/// (every engine in the process shares it; tasks end with their engine's shutdown).
/// Falls back to the caller's runtime when a runtime cannot be started.
pub fn handle() -> Handle {
    static RUNTIME: OnceLock<Option<Runtime>> = OnceLock::new();
    let runtime = RUNTIME.get_or_init(|| {
        Builder::new_multi_thread()
            .thread_name("textdesk-engine")
            .on_thread_start(lower_priority)
            .enable_all()
            .build()
            .inspect_err(|e| {
                warn!(error = %e, "cannot start the background runtime; answering texts on the webhook's runtime");
            })
            .ok()
    });
    match runtime {
        Some(runtime) => runtime.handle().clone(),
        None => Handle::current(),
    }
}

/// Lowers the calling thread's CPU priority (on Linux its nice value, which is a
/// thread's own). Lowering needs no privilege; when it fails anyway the thread keeps
/// the default priority.
fn lower_priority() {
    /// On a scale of 0 (lowest) to 99: nice 9 on Linux, where such a thread gets about
    /// an eighth of the CPU a default-priority thread that wants it gets.
    const PRIORITY: u8 = 25;
    let lowered = ThreadPriorityValue::try_from(PRIORITY)
        .map_err(|e| e.to_string())
        .and_then(|value| {
            set_current_thread_priority(ThreadPriority::Crossplatform(value))
                .map_err(|e| e.to_string())
        });
    if let Err(e) = lowered {
        warn!(error = %e, "cannot lower the background runtime's priority; webhooks share the CPU evenly with answers");
    }
}
