//! Debounced watching of an operator-owned folder (`knowledge/`, `prompts/`): an
//! editor's save is a burst of events, so changes are reported once per quiet period,
//! and only changes that can alter content count — reads never do (a reload reads
//! every file, and reacting to that would loop).

use std::path::Path;
use std::time::Duration;

use notify::RecursiveMode;
use notify::event::{EventKind, ModifyKind};
use notify_debouncer_full::{DebounceEventResult, Debouncer, RecommendedCache, new_debouncer};
use tokio::sync::mpsc;

/// Quiet time after the last change before reacting.
pub const DEBOUNCE: Duration = Duration::from_millis(300);

/// A running watch: `changed` yields once per burst of relevant changes. Dropping the
/// watch stops it.
pub struct FolderWatch {
    _debouncer: Debouncer<notify::RecommendedWatcher, RecommendedCache>,
    changed: mpsc::UnboundedReceiver<()>,
}

impl FolderWatch {
    /// Watches `dir`; `wanted(path)` says which paths matter.
    pub fn start(
        dir: &Path,
        recursive: bool,
        wanted: fn(&Path) -> bool,
    ) -> Result<Self, notify::Error> {
        let (tx, changed) = mpsc::unbounded_channel::<()>();
        let mut debouncer =
            new_debouncer(
                DEBOUNCE,
                None,
                move |result: DebounceEventResult| match result {
                    Ok(events) => {
                        if events
                            .iter()
                            .any(|e| changes_content(e.kind) && e.paths.iter().any(|p| wanted(p)))
                        {
                            let _ = tx.send(());
                        }
                    }
                    Err(errors) => {
                        for error in errors {
                            tracing::warn!(%error, "file watcher error");
                        }
                    }
                },
            )?;
        let mode = if recursive {
            RecursiveMode::Recursive
        } else {
            RecursiveMode::NonRecursive
        };
        debouncer.watch(dir, mode)?;
        Ok(Self {
            _debouncer: debouncer,
            changed,
        })
    }

    /// Waits for the next burst of changes (coalescing any already queued); `false`
    /// when the watcher has stopped.
    pub async fn next_change(&mut self) -> bool {
        let got = self.changed.recv().await.is_some();
        while self.changed.try_recv().is_ok() {}
        got
    }
}

/// Created, removed, renamed or written — not read.
pub fn changes_content(kind: EventKind) -> bool {
    matches!(
        kind,
        EventKind::Create(_)
            | EventKind::Remove(_)
            | EventKind::Modify(ModifyKind::Data(_) | ModifyKind::Name(_) | ModifyKind::Any)
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use notify::event::{AccessKind, CreateKind, DataChange, RemoveKind};

    #[test]
    fn writes_count_and_reads_do_not() {
        assert!(changes_content(EventKind::Modify(ModifyKind::Data(
            DataChange::Any
        ))));
        assert!(changes_content(EventKind::Create(CreateKind::File)));
        assert!(changes_content(EventKind::Remove(RemoveKind::Folder)));
        assert!(!changes_content(EventKind::Access(AccessKind::Any)));
    }
}
