//! Learning from the people: what customers asked that the bot could not handle (the
//! gaps), grouped by meaning, and knowledge drafted from how agents answered them.
//!
//! 1. The engine marks a customer text as a gap when the bot asked a clarifying
//!    question instead of answering (out of scope, or nothing in the knowledge base)
//!    or handed over because it did not understand or could not help ([`GapKind`]);
//!    agents add the texts whose bot answers they marked wrong.
//! 2. [`find`] redacts them (phone, e-mail, card, name), embeds them with the local
//!    model (or a word vector when embeddings are off), groups them by meaning
//!    ([`cluster`]: deterministic average linkage) and counts the customers each group
//!    cost, now and in the period before.
//! 3. [`suggest`] drafts a knowledge file from the agents' answers to a group
//!    ([`draft`]: extractive), into `knowledge/_suggested/`, which is never indexed.
//!    Nothing is published until an operator accepts it.
//!
//! It must not change what the bot says on its own: only an accepted file does.

pub mod cluster;
pub mod draft;
pub mod examples;
mod kind;
pub mod quality;
pub mod report;
pub mod suggest;
pub mod text;

pub use kind::{GapKind, GapMark};
pub use report::{GapCluster, GapReport, Trend};

use crate::knowledge::embed::Embedder;
use crate::store::{Store, StoreError};

/// An agent's verdict on one bot text.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize, utoipa::ToSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum FeedbackKind {
    /// The answer was wrong (or did not answer what was asked).
    WrongAnswer,
    /// The bot should not have answered: a person should have.
    ShouldHaveHandedOver,
}

impl FeedbackKind {
    pub fn as_str(self) -> &'static str {
        match self {
            FeedbackKind::WrongAnswer => "wrong_answer",
            FeedbackKind::ShouldHaveHandedOver => "should_have_handed_over",
        }
    }
    pub fn parse(s: &str) -> Option<Self> {
        [
            FeedbackKind::WrongAnswer,
            FeedbackKind::ShouldHaveHandedOver,
        ]
        .into_iter()
        .find(|k| k.as_str() == s)
    }
}

/// What a suggestion would change once accepted.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize, utoipa::ToSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum SuggestionKind {
    /// A knowledge file drafted from agents' answers, published into `knowledge/learned/`.
    Knowledge,
    /// A customer's text (redacted) that an agent said was another intent, added to
    /// that intent's `examples` in `intents.toml`.
    IntentExample,
}

impl SuggestionKind {
    pub fn as_str(self) -> &'static str {
        match self {
            SuggestionKind::Knowledge => "knowledge",
            SuggestionKind::IntentExample => "intent_example",
        }
    }
    pub fn parse(s: &str) -> Option<Self> {
        [Self::Knowledge, Self::IntentExample]
            .into_iter()
            .find(|k| k.as_str() == s)
    }
}

/// Where a knowledge draft stands.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize, utoipa::ToSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum SuggestionStatus {
    /// Waiting for an operator: a file under `knowledge/_suggested/`.
    Pending,
    /// Published into the knowledge base.
    Accepted,
    /// Turned down; its file is gone and its topic is not drafted again from the same
    /// conversations.
    Rejected,
}

impl SuggestionStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            SuggestionStatus::Pending => "pending",
            SuggestionStatus::Accepted => "accepted",
            SuggestionStatus::Rejected => "rejected",
        }
    }
    pub fn parse(s: &str) -> Option<Self> {
        [Self::Pending, Self::Accepted, Self::Rejected]
            .into_iter()
            .find(|k| k.as_str() == s)
    }
}

#[derive(Debug, thiserror::Error)]
pub enum GapsError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("cannot write the draft {path}: {source}; check that the knowledge folder is writable")]
    Write {
        path: String,
        source: std::io::Error,
    },
    #[error("the draft {0} is not in knowledge/_suggested/ any more; reject it and draft again")]
    DraftMissing(String),
    #[error("knowledge/{0} exists already; rename or remove it, then accept again")]
    Exists(String),
    #[error("the drafted file does not parse ({0}); this is a bug in the drafter")]
    Invalid(String),
    #[error("{0}")]
    Intents(String),
}

/// Texts grouped at most (of both periods, the most recent).
pub const MAX_TEXTS: usize = 4000;

/// How texts are grouped: the similarity two groups need to be one topic. Chosen on
/// `tests/gaps/labelled.jsonl` (`textdesk gaps eval`, which prints the other
/// thresholds too): the highest purity for about the best adjusted Rand index, since a
/// group that mixes two topics misleads, while a topic split in two only shows twice.
#[derive(Debug, Clone, Copy)]
pub struct ClusterSettings {
    /// Mean cosine similarity of the local model's vectors (all-MiniLM-L6-v2).
    pub dense_threshold: f32,
    /// Mean cosine similarity of the word vectors used without embeddings.
    pub lexical_threshold: f32,
}

impl Default for ClusterSettings {
    fn default() -> Self {
        Self {
            dense_threshold: 0.42,
            lexical_threshold: 0.15,
        }
    }
}

/// The gaps of `[from, until)`, grouped, with the trend against the period of the same
/// length before it.
pub async fn find(
    store: &Store,
    embedder: Option<&dyn Embedder>,
    from: i64,
    until: i64,
    settings: ClusterSettings,
) -> Result<GapReport, GapsError> {
    let previous_from = from - (until - from);
    let mut texts = store.gap_texts(previous_from, until).await?;
    // Grouping compares every pair: beyond this many texts the oldest are left out
    // (and counted) rather than holding hundreds of megabytes.
    let left_out = texts.len().saturating_sub(MAX_TEXTS);
    texts.drain(..left_out);
    let agents = store.agent_names().await?;
    let redacted: Vec<String> = texts
        .iter()
        .map(|t| {
            let mut names = t.names.clone();
            names.extend(agents.iter().cloned());
            crate::redact::redact_person(&t.body, &names)
        })
        .collect();
    let (vectors, dense) = text::vectors(embedder, &redacted).await;
    let threshold = if dense {
        settings.dense_threshold
    } else {
        settings.lexical_threshold
    };
    let labels = cluster::cluster(&vectors, threshold);
    let mut report = report::build(
        &texts,
        &redacted,
        &vectors,
        &labels,
        previous_from,
        from,
        until,
        dense,
    );
    report.left_out = left_out;
    Ok(report)
}
