//! Fans the database's event log out to this process's live subscribers (the agents'
//! SSE streams). One task tails the `events` table — woken at once by changes made in
//! this process, and polling for those made by other instances sharing the database —
//! and broadcasts each new event in id order.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::{broadcast, watch};

use super::Engine;
use crate::store::Event;

/// How often the log is read when nothing in this process signalled a change: the
/// delay before an agent on this instance sees another instance's event.
const POLL: Duration = Duration::from_millis(500);

/// Subscribers that fall this far behind are told to catch up from the database.
const CAPACITY: usize = 1024;

pub fn channel() -> broadcast::Sender<Arc<Event>> {
    broadcast::channel(CAPACITY).0
}

/// Tails the event log until shutdown.
pub async fn run(engine: Arc<Engine>, mut shutdown: watch::Receiver<bool>) {
    let mut last = loop {
        match engine.store.last_event_id().await {
            Ok(id) => break id,
            Err(e) => {
                tracing::error!(error = %e, "reading the event log failed; retrying");
                tokio::select! {
                    _ = tokio::time::sleep(Duration::from_secs(1)) => {}
                    _ = shutdown.changed() => return,
                }
            }
        }
    };
    loop {
        tokio::select! {
            _ = engine.events_ready.notified() => {}
            _ = tokio::time::sleep(POLL) => {}
            _ = shutdown.changed() => return,
        }
        loop {
            match engine.store.events_after(last, 500).await {
                Ok(events) if events.is_empty() => break,
                Ok(events) => {
                    for event in events {
                        last = event.id;
                        // No subscribers is fine: the log is the record.
                        let _ = engine.events.send(Arc::new(event));
                    }
                }
                Err(e) => {
                    tracing::warn!(error = %e, "reading the event log failed");
                    break;
                }
            }
        }
    }
}
