//! Forgetting on schedule and on request: the background prune of records past their
//! retention window, and erasing one contact (a data-subject request) for the admin
//! API and `textdesk contact forget`. The store does the deleting and blanking; see
//! `store::retention` for what each keeps.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::watch;

use super::Engine;
use crate::config::RetentionSettings;
use crate::sms::PhoneNumber;
use crate::store::{AuditBy, Erased, Store, StoreError};

/// Prunes shortly after start, then every `settings.every_minutes`, until shutdown.
pub async fn run(
    engine: Arc<Engine>,
    settings: RetentionSettings,
    mut shutdown: watch::Receiver<bool>,
) {
    // Not at once: start-up has enough to do.
    let mut pause = Duration::from_secs(30);
    loop {
        tokio::select! {
            _ = tokio::time::sleep(pause) => {}
            _ = shutdown.changed() => return,
        }
        pause = Duration::from_secs(settings.every_minutes * 60);
        let cutoffs = settings.cutoffs(engine.now_ms());
        match engine.store.prune(&cutoffs).await {
            Ok(pruned) if pruned.total() > 0 => tracing::info!(
                queue_rows = pruned.queue_rows,
                deliveries = pruned.deliveries,
                events = pruned.events,
                messages_blanked = pruned.messages_blanked,
                "pruned records past their retention"
            ),
            Ok(_) => {}
            Err(e) => tracing::warn!(error = %e, "pruning old records failed; will try again"),
        }
    }
}

/// Erases a contact's conversations, keeping their number and consent ledger, and
/// names `by` (the admin or operator) in the event log and the audit log, where
/// `actor` did it. `None`: no such contact.
pub async fn forget(
    store: &Store,
    phone: &PhoneNumber,
    by: &str,
    actor: AuditBy,
    now: i64,
) -> Result<Option<Erased>, StoreError> {
    let erased = store.erase_contact(phone, by, actor, now).await?;
    if let Some(erased) = &erased {
        tracing::info!(to = %phone, by, messages = erased.messages, "contact erased on request");
    }
    Ok(erased)
}
