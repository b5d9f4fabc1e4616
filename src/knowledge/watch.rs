//! Live reload: a debounced watcher on the knowledge directory triggers a sync after
//! each burst of changes to `*.md` files. A failing sync is logged and the index keeps
//! serving what it had.

use std::sync::Arc;
use std::time::Duration;

use std::path::PathBuf;

use notify::RecursiveMode;
use notify::event::{EventKind, ModifyKind};
use notify_debouncer_full::{DebounceEventResult, new_debouncer};
use tokio::sync::{mpsc, watch};
use tokio::task::JoinHandle;

use super::document::is_knowledge_file;
use super::{Knowledge, KnowledgeError};

/// Quiet time after the last change before re-indexing (an editor's save is several
/// events).
pub const DEBOUNCE: Duration = Duration::from_millis(300);

pub fn spawn(knowledge: Arc<Knowledge>, mut shutdown: watch::Receiver<bool>) -> Result<JoinHandle<()>, KnowledgeError> {
    let dir = knowledge.knowledge_dir().to_path_buf();
    let watch_err = |reason: String| KnowledgeError::Watch { path: dir.display().to_string(), reason };
    let (tx, mut rx) = mpsc::unbounded_channel::<()>();
    let mut debouncer = new_debouncer(DEBOUNCE, None, move |result: DebounceEventResult| match result {
        Ok(events) => {
            let relevant = events.iter().any(|e| is_relevant(e.kind, &e.paths));
            if relevant {
                let _ = tx.send(());
            }
        }
        Err(errors) => {
            for error in errors {
                tracing::warn!(%error, "knowledge watcher error");
            }
        }
    })
    .map_err(|e| watch_err(e.to_string()))?;
    debouncer.watch(&dir, RecursiveMode::Recursive).map_err(|e| watch_err(e.to_string()))?;
    tracing::info!(dir = %dir.display(), "watching knowledge files for changes");

    Ok(tokio::spawn(async move {
        // Dropping the debouncer stops the watcher, so it lives as long as this task.
        let _debouncer = debouncer;
        loop {
            let changed = tokio::select! {
                changed = rx.recv() => changed.is_some(),
                _ = shutdown.wait_for(|stop| *stop) => false,
            };
            if !changed {
                break;
            }
            // Coalesce whatever else arrived meanwhile into this sync.
            while rx.try_recv().is_ok() {}
            match knowledge.reindex().await {
                Ok(report)
                    if report.written + report.deleted + report.payload_updated == 0 && report.errors.is_empty() =>
                {
                    tracing::debug!("knowledge files changed; index already up to date")
                }
                Ok(report) => tracing::info!(
                    documents = report.documents,
                    chunks = report.chunks,
                    written = report.written,
                    deleted = report.deleted,
                    embedded = report.embedded,
                    errors = report.errors.len(),
                    "knowledge re-indexed"
                ),
                Err(error) => tracing::error!(%error, "knowledge re-index failed; the previous index keeps serving"),
            }
        }
    }))
}

/// A change that can alter the index: a knowledge file (or a directory that may hold
/// some) created, written, renamed or removed. Reads are not changes — the sync itself
/// reads every file, and reacting to that would loop.
fn is_relevant(kind: EventKind, paths: &[PathBuf]) -> bool {
    let changes_content = matches!(
        kind,
        EventKind::Create(_)
            | EventKind::Remove(_)
            | EventKind::Modify(ModifyKind::Data(_) | ModifyKind::Name(_) | ModifyKind::Any)
    );
    let may_hold_knowledge = paths.iter().any(|p| is_knowledge_file(p) || p.extension().is_none());
    changes_content && may_hold_knowledge
}

#[cfg(test)]
mod tests {
    use super::*;
    use notify::event::{AccessKind, CreateKind, DataChange};

    #[test]
    fn writes_count_and_reads_do_not() {
        let file = vec![PathBuf::from("/kb/returns.md")];
        assert!(is_relevant(EventKind::Modify(ModifyKind::Data(DataChange::Any)), &file));
        assert!(is_relevant(EventKind::Create(CreateKind::File), &file));
        assert!(!is_relevant(EventKind::Access(AccessKind::Any), &file));
        assert!(!is_relevant(EventKind::Create(CreateKind::File), &[PathBuf::from("/kb/notes.txt")]));
        assert!(is_relevant(EventKind::Remove(notify::event::RemoveKind::Folder), &[PathBuf::from("/kb/billing")]));
    }
}
