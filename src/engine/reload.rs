//! Live reload of the operator's prompt files: `policy.toml` (with
//! `sending_hours.toml`), `intents.toml`,
//! `availability.toml`, `flows/*.toml`, `lookups/*.toml` and `replies/*.md` are
//! re-read after each burst of edits (debounced). A file that no longer validates is
//! reported with its file and line and changes nothing: the last good version keeps
//! serving. New intents retrain the classifier before they are swapped in, so a text
//! is always classified by a complete model.
//!
//! The LLM prompt templates are read at start only; restart after editing them.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use tokio::sync::watch;
use tokio::task::JoinHandle;

use super::Engine;
use super::policy::Policy;
use crate::brain::classify::{Classifier, ModelDirs};
use crate::brain::intents::IntentSet;
use crate::brain::think::IntentModel;
use crate::knowledge::embed::Embedder;
use crate::watch::FolderWatch;

/// How the classifier is retrained when `intents.toml` changes: as at the start.
pub struct Training {
    pub embedder: Option<Arc<dyn Embedder>>,
    pub threshold: Option<f32>,
    /// Where trained models are kept ([`Classifier::train_cached`]).
    pub models: ModelDirs,
}

/// Watches `prompts_dir`; returns the task that applies changes until `shutdown`.
pub fn spawn(
    engine: Arc<Engine>,
    prompts_dir: PathBuf,
    training: Training,
    mut shutdown: watch::Receiver<bool>,
) -> Result<JoinHandle<()>, notify::Error> {
    let mut folder = FolderWatch::start(&prompts_dir, true, is_prompt_file)?;
    tracing::info!(dir = %prompts_dir.display(), "watching prompt files for changes");
    Ok(tokio::spawn(async move {
        loop {
            let changed = tokio::select! {
                changed = folder.next_change() => changed,
                _ = shutdown.wait_for(|stop| *stop) => false,
            };
            if !changed {
                break;
            }
            reload(&engine, &prompts_dir, &training).await;
        }
    }))
}

fn is_prompt_file(path: &Path) -> bool {
    let folder = path.parent().and_then(|p| p.file_name());
    if folder.is_some_and(|n| n == crate::replies::FOLDER) {
        return path
            .file_name()
            .and_then(|n| n.to_str())
            .is_some_and(crate::replies::is_reply_file);
    }
    let in_folder = path
        .parent()
        .and_then(|p| p.file_name())
        .is_some_and(|n| n == "flows" || n == "lookups");
    (in_folder && path.extension().is_some_and(|x| x == "toml"))
        || matches!(
            path.file_name().and_then(|n| n.to_str()),
            Some("policy.toml" | "sending_hours.toml" | "intents.toml" | "availability.toml")
        )
}

/// Re-reads both files; each one that validates replaces the one in use.
pub async fn reload(engine: &Engine, prompts_dir: &Path, training: &Training) {
    match Policy::load(prompts_dir) {
        Ok(policy) => {
            engine.set_policy(policy);
            tracing::info!("policy.toml reloaded");
        }
        Err(e) => {
            tracing::error!(error = %e, "policy.toml not reloaded; the last good policy keeps serving")
        }
    }
    match crate::flows::FlowSet::load(prompts_dir) {
        Ok(flows) => {
            let count = flows.flows.len();
            engine.set_flows(flows);
            tracing::info!(flows = count, "flows reloaded");
        }
        Err(e) => {
            tracing::error!(error = %e, "flows not reloaded; the last good flows keep serving")
        }
    }
    match engine.load_lookups(prompts_dir) {
        Ok(lookups) => {
            let count = lookups.lookups.len();
            engine.set_lookups(lookups);
            tracing::info!(lookups = count, "lookups reloaded");
        }
        Err(e) => {
            tracing::error!(error = %e, "lookups not reloaded; the last good lookups keep serving")
        }
    }
    engine.load_saved_replies(prompts_dir);
    let Some(brain) = &engine.brain else { return };
    match IntentSet::load(prompts_dir) {
        Ok(set) => match Classifier::train_cached(
            &set,
            training.embedder.clone(),
            training.threshold,
            &training.models,
        )
        .await
        {
            Ok(classifier) => {
                let count = set.intents.len();
                brain.set_model(IntentModel { set, classifier });
                tracing::info!(
                    intents = count,
                    "intents.toml reloaded and the classifier retrained"
                );
            }
            Err(e) => {
                tracing::error!(error = %e, "intents.toml not reloaded: training failed; the last good intents keep serving")
            }
        },
        Err(e) => {
            tracing::error!(error = %e, "intents.toml not reloaded; the last good intents keep serving")
        }
    }
}
