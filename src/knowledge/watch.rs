//! Live reload: a debounced watcher on the knowledge directory triggers a sync after
//! each burst of changes to `*.md` files. A failing sync is logged and the index keeps
//! serving what it had. After a failed search or sync (a Qdrant server down, restarted,
//! or back without our collection) it also syncs every [`RESYNC_EVERY`] until one
//! succeeds, so the index heals without a file change.

use std::path::Path;
use std::sync::Arc;

use tokio::sync::watch;
use tokio::task::JoinHandle;

use super::document::is_knowledge_file;
use super::{Knowledge, KnowledgeError};
use crate::watch::FolderWatch;

/// How often a failed index is synced again.
pub const RESYNC_EVERY: std::time::Duration = std::time::Duration::from_secs(5);

pub fn spawn(
    knowledge: Arc<Knowledge>,
    mut shutdown: watch::Receiver<bool>,
) -> Result<JoinHandle<()>, KnowledgeError> {
    let dir = knowledge.knowledge_dir().to_path_buf();
    let mut folder =
        FolderWatch::start(&dir, true, is_relevant).map_err(|e| KnowledgeError::Watch {
            path: dir.display().to_string(),
            reason: e.to_string(),
        })?;
    tracing::info!(dir = %dir.display(), "watching knowledge files for changes");

    Ok(tokio::spawn(async move {
        let mut resync = tokio::time::interval(RESYNC_EVERY);
        resync.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            let changed = tokio::select! {
                changed = folder.next_change() => changed,
                _ = resync.tick() => {
                    if !knowledge.needs_resync() {
                        continue;
                    }
                    true
                }
                _ = shutdown.wait_for(|stop| *stop) => false,
            };
            if !changed {
                break;
            }
            match knowledge.reindex().await {
                Ok(report)
                    if report.written + report.deleted + report.payload_updated == 0
                        && report.errors.is_empty() =>
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
                Err(error) => {
                    tracing::error!(%error, "knowledge re-index failed; the previous index keeps serving")
                }
            }
        }
    }))
}

/// A knowledge file, or a folder that may hold some.
fn is_relevant(path: &Path) -> bool {
    is_knowledge_file(path) || path.extension().is_none()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn markdown_files_and_folders_count() {
        assert!(is_relevant(Path::new("/kb/returns.md")));
        assert!(is_relevant(Path::new("/kb/billing")));
        assert!(!is_relevant(Path::new("/kb/notes.txt")));
    }
}
