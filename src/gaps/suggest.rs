//! Knowledge suggestions: drafts written to `knowledge/_suggested/` (a folder the
//! knowledge base never indexes, see [`crate::knowledge::document::discover`]), listed
//! for review, and published by moving the file into `knowledge/learned/`, where the
//! watcher indexes it like any file an operator wrote. The database row keeps the
//! draft's status and sources; the file is the draft.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use serde::Serialize;
use utoipa::ToSchema;

use super::draft::{self, Draft};
use super::{GapReport, GapsError, SuggestionKind, SuggestionStatus};
use crate::llm::LlmClient;
use crate::store::{Store, SuggestionRow};

/// Drafts wait here; a name starting with `_` is never indexed.
pub const SUGGESTED_DIR: &str = "_suggested";
/// Accepted drafts are published here.
pub const LEARNED_DIR: &str = "learned";

/// A group is worth a draft when it cost at least this many customers and agents
/// answered at least this many of its conversations: one customer's odd question is
/// not yet a topic.
pub const MIN_CUSTOMERS: usize = 2;

/// A suggestion as an operator reviews it.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Suggestion {
    #[serde(flatten)]
    pub row: SuggestionRow,
    /// Where the file is, relative to the knowledge folder; for an intent example,
    /// `intents.toml` in the prompts folder.
    pub file: String,
    /// The file's text while it is pending (what accepting publishes).
    pub draft: Option<String>,
    /// The draft's `sms` answer while it is pending (what the bot would text).
    pub sms: Option<String>,
}

/// Drafts a knowledge file for each group of the report that agents answered and no
/// earlier suggestion came from, writes it under `_suggested/`, and records it.
/// With `llm`, the language model writes each draft's answer from the agents' answers
/// ([`draft::written`]); the extractive answer stays on any failure.
pub async fn suggest(
    store: &Store,
    knowledge_dir: &Path,
    report: &GapReport,
    max_segments: u32,
    llm: Option<(&LlmClient, &str)>,
    now: i64,
) -> Result<Vec<SuggestionRow>, GapsError> {
    let drafted_from: BTreeSet<i64> = store
        .suggestions()
        .await?
        .into_iter()
        .filter(|s| s.kind == SuggestionKind::Knowledge)
        .flat_map(|s| s.sources)
        .collect();
    let agents = store.agent_names().await?;
    let mut created = Vec::new();
    for cluster in &report.clusters {
        if cluster.customers < MIN_CUSTOMERS
            || cluster
                .conversations
                .iter()
                .any(|c| drafted_from.contains(c))
        {
            continue;
        }
        // Each conversation once, from its first text of the group: a customer who
        // asked twice got one set of answers.
        let mut first: std::collections::BTreeMap<i64, i64> = Default::default();
        for (&c, &m) in cluster.text_conversations.iter().zip(&cluster.message_ids) {
            first.entry(c).or_insert(m);
        }
        let pairs: Vec<(i64, i64)> = first.into_iter().collect();
        let answers = store.agent_answers(&pairs).await?;
        let answered: BTreeSet<i64> = answers.iter().map(|a| a.conversation_id).collect();
        if answered.len() < MIN_CUSTOMERS {
            continue;
        }
        // Agents' words are redacted as customers' are: they greet customers by name
        // and repeat numbers back.
        let mut names = cluster.names.clone();
        names.extend(agents.iter().cloned());
        let texts: Vec<String> = answers
            .iter()
            .map(|a| crate::redact::redact_person(&a.body, &names))
            .collect();
        let questions = questions_of(cluster);
        let Some(mut draft) = draft::draft(&questions, &texts, max_segments) else {
            continue;
        };
        if let Some((llm, business)) = llm {
            draft = draft::written(llm, draft, &questions[0], &texts, max_segments, business).await;
        }
        draft.check().map_err(GapsError::Invalid)?;
        draft.slug = free_slug(store, knowledge_dir, &draft.slug).await?;
        write_draft(knowledge_dir, &draft)?;
        let sources: Vec<i64> = answered.into_iter().collect();
        let row = store
            .add_suggestion(
                &draft.slug,
                &draft.title,
                &sources,
                cluster.customers as i64,
                now,
            )
            .await?;
        created.push(row);
    }
    Ok(created)
}

/// The group's questions for a draft: its examples first, then its other texts, each
/// once.
fn questions_of(cluster: &super::GapCluster) -> Vec<String> {
    let mut questions: Vec<String> = Vec::new();
    for text in cluster.examples.iter().chain(&cluster.redacted) {
        let text = text.trim().to_string();
        if !questions.iter().any(|q| q.eq_ignore_ascii_case(&text)) {
            questions.push(text);
        }
    }
    questions.truncate(12);
    questions
}

/// `slug`, or `slug-2`, `slug-3`… when a suggestion or a published file has it.
async fn free_slug(store: &Store, knowledge_dir: &Path, slug: &str) -> Result<String, GapsError> {
    let taken: BTreeSet<String> = store
        .suggestions()
        .await?
        .into_iter()
        .map(|s| s.slug)
        .collect();
    let mut candidate = slug.to_string();
    let mut n = 2;
    while taken.contains(&candidate)
        || knowledge_dir
            .join(LEARNED_DIR)
            .join(format!("{candidate}.md"))
            .exists()
    {
        candidate = format!("{slug}-{n}");
        n += 1;
    }
    Ok(candidate)
}

fn draft_path(knowledge_dir: &Path, slug: &str) -> PathBuf {
    knowledge_dir.join(SUGGESTED_DIR).join(format!("{slug}.md"))
}

fn write_draft(knowledge_dir: &Path, draft: &Draft) -> Result<(), GapsError> {
    let path = draft_path(knowledge_dir, &draft.slug);
    write_new(&path, &draft.to_markdown())
}

/// Writes through a hidden temporary file and a rename, so the watcher never reads
/// half a file.
pub(super) fn write_new(path: &Path, text: &str) -> Result<(), GapsError> {
    let error = |source| GapsError::Write {
        path: path.display().to_string(),
        source,
    };
    let dir = path.parent().unwrap_or(Path::new("."));
    std::fs::create_dir_all(dir).map_err(error)?;
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let temporary = dir.join(format!(".{name}.tmp"));
    std::fs::write(&temporary, text).map_err(error)?;
    std::fs::rename(&temporary, path).map_err(error)
}

/// Every suggestion with its file, and the draft's text while pending.
pub async fn list(store: &Store, knowledge_dir: &Path) -> Result<Vec<Suggestion>, GapsError> {
    let rows = store.suggestions().await?;
    Ok(rows
        .into_iter()
        .map(|row| view(knowledge_dir, row))
        .collect())
}

pub fn view(knowledge_dir: &Path, row: SuggestionRow) -> Suggestion {
    if row.kind == SuggestionKind::IntentExample {
        // Not a knowledge file: the example goes into the prompts folder's intents.toml.
        return Suggestion {
            row,
            file: super::examples::INTENTS_FILE.to_string(),
            draft: None,
            sms: None,
        };
    }
    let (file, draft) = match (&row.status, &row.published_as) {
        (SuggestionStatus::Accepted, Some(published)) => (published.clone(), None),
        (SuggestionStatus::Pending, _) => (
            format!("{SUGGESTED_DIR}/{}.md", row.slug),
            std::fs::read_to_string(draft_path(knowledge_dir, &row.slug)).ok(),
        ),
        _ => (format!("{SUGGESTED_DIR}/{}.md", row.slug), None),
    };
    // An operator may have edited the draft into something that no longer parses:
    // the review then shows its text without an answer.
    let sms = draft.as_deref().and_then(|text| {
        crate::knowledge::document::parse(&file, text)
            .ok()
            .and_then(|d| d.meta.sms)
    });
    Suggestion {
        row,
        file,
        draft,
        sms,
    }
}

/// Publishes a pending draft: its file moves to `learned/` (the watcher indexes it),
/// then the row says so. An operator's edits to the draft file are published as
/// they are.
pub async fn accept(
    store: &Store,
    knowledge_dir: &Path,
    row: &SuggestionRow,
    by: (i64, &str),
    now: i64,
) -> Result<Suggestion, GapsError> {
    decided_already(row)?;
    let from = draft_path(knowledge_dir, &row.slug);
    let published = format!("{LEARNED_DIR}/{}.md", row.slug);
    let to = knowledge_dir.join(&published);
    let text =
        std::fs::read_to_string(&from).map_err(|_| GapsError::DraftMissing(row.slug.clone()))?;
    if to.exists() {
        return Err(GapsError::Exists(published));
    }
    write_new(&to, &text)?;
    // Of two admins accepting at once, one is recorded; the other's copy is taken back
    // (the same text, so the index never sees a difference).
    let decided = match store
        .decide_suggestion(
            row.id,
            SuggestionStatus::Accepted,
            Some(&published),
            by,
            now,
        )
        .await
    {
        Ok(decided) => decided,
        Err(e) => {
            if !matches!(e, crate::store::StoreError::Conflict(_)) {
                let _ = std::fs::remove_file(&to);
            }
            return Err(e.into());
        }
    };
    let _ = std::fs::remove_file(&from);
    Ok(view(knowledge_dir, decided))
}

/// Turns a pending draft down: its file is removed; the row stays, so the same
/// conversations are not drafted again.
pub async fn reject(
    store: &Store,
    knowledge_dir: &Path,
    row: &SuggestionRow,
    by: (i64, &str),
    now: i64,
) -> Result<Suggestion, GapsError> {
    decided_already(row)?;
    let decided = store
        .decide_suggestion(row.id, SuggestionStatus::Rejected, None, by, now)
        .await?;
    let _ = std::fs::remove_file(draft_path(knowledge_dir, &row.slug));
    Ok(view(knowledge_dir, decided))
}

fn decided_already(row: &SuggestionRow) -> Result<(), GapsError> {
    if row.kind != SuggestionKind::Knowledge {
        return Err(GapsError::Invalid(format!(
            "suggestion {} is not a knowledge draft",
            row.id
        )));
    }
    match row.status {
        SuggestionStatus::Pending => Ok(()),
        status => Err(GapsError::Store(crate::store::StoreError::Conflict(
            format!("suggestion {} was {} already", row.id, status.as_str()),
        ))),
    }
}
