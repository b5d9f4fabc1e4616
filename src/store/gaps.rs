//! What the bot could not handle, and what people taught it: the customer texts marked
//! as gaps, agents' verdicts on bot texts (feedback), the agents' replies a knowledge
//! draft is made from, and the drafts' review status. The clustering and drafting
//! themselves are [`crate::gaps`]'s; this file only reads and writes rows.

use std::collections::BTreeMap;

use serde_json::json;
use sqlx::Row;

use super::audit::NewAudit;
use super::{AuditAction, AuditBy, Result, Store, StoreError};
use crate::gaps::{FeedbackKind, GapKind, SuggestionKind, SuggestionStatus};

/// A customer text the bot could not handle, as stored (not yet redacted).
#[derive(Debug, Clone)]
pub struct GapText {
    /// The customer's text.
    pub message_id: i64,
    pub conversation_id: i64,
    pub contact_id: i64,
    pub body: String,
    pub kind: GapKind,
    /// The intents the bot was torn between, best first.
    pub intents: Vec<String>,
    pub created_at: i64,
    /// Names the contact is known by (display name, `name` attribute): redacted.
    pub names: Vec<String>,
}

/// An agent's text in a conversation after a gap: what the bot should have known.
#[derive(Debug, Clone)]
pub struct AgentAnswer {
    pub conversation_id: i64,
    pub body: String,
}

/// A customer text an agent said was another intent than the bot took it for.
#[derive(Debug, Clone)]
pub struct RelabelledText {
    /// The customer's text.
    pub message_id: i64,
    pub conversation_id: i64,
    pub body: String,
    /// What the bot took it for.
    pub classified: Option<String>,
    /// What the agent said it is.
    pub intent: String,
    /// Names the contact is known by: redacted.
    pub names: Vec<String>,
}

/// A suggestion's row: what it would change, its review status and where it came from.
#[derive(Debug, Clone, serde::Serialize, utoipa::ToSchema)]
pub struct SuggestionRow {
    pub id: i64,
    pub kind: SuggestionKind,
    pub slug: String,
    pub title: String,
    pub status: SuggestionStatus,
    /// The conversations whose agents' answers it was drafted from.
    pub sources: Vec<i64>,
    /// Customers the cluster cost when it was drafted.
    pub customers: i64,
    /// The knowledge file it became, once accepted (`learned/pets-in-store.md`).
    pub published_as: Option<String>,
    pub decided_by: Option<String>,
    pub created_at: i64,
    pub decided_at: Option<i64>,
    /// For an intent example: the intent it is an example of.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub intent: Option<String>,
    /// For an intent example: the customer's text, redacted, as it would be added.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub example: Option<String>,
}

/// Bot texts in a period, and how many of them agents marked.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct FeedbackCounts {
    /// Bot texts sent in the period.
    pub bot_texts: i64,
    pub wrong_answer: i64,
    pub should_have_handed_over: i64,
}

impl Store {
    /// Customer texts marked as gaps in `[from, until)`, oldest first, with the names
    /// their contact is known by; erased texts are left out.
    pub async fn gap_texts(&self, from: i64, until: i64) -> Result<Vec<GapText>> {
        let rows = sqlx::query(
            "SELECT m.id, m.conversation_id, m.contact_id, m.body, m.gap, m.gap_intents,
                    m.created_at, c.display_name, c.attributes
             FROM messages m JOIN contacts c ON c.id = m.contact_id
             WHERE m.gap IS NOT NULL AND m.created_at >= $1 AND m.created_at < $2
               AND m.body <> $3
             ORDER BY m.id",
        )
        .bind(from)
        .bind(until)
        .bind(super::ERASED)
        .fetch_all(&self.pool)
        .await?;
        let mut texts = Vec::with_capacity(rows.len());
        for row in rows {
            let gap: String = row.try_get("gap")?;
            let Some(kind) = GapKind::parse(&gap) else {
                return Err(StoreError::Corrupt(format!("unknown gap kind {gap:?}")));
            };
            let intents: Option<String> = row.try_get("gap_intents")?;
            texts.push(GapText {
                message_id: row.try_get("id")?,
                conversation_id: row.try_get("conversation_id")?,
                contact_id: row.try_get("contact_id")?,
                body: row.try_get("body")?,
                kind,
                intents: intents
                    .and_then(|i| serde_json::from_str(&i).ok())
                    .unwrap_or_default(),
                created_at: row.try_get("created_at")?,
                names: known_names(row.try_get("display_name")?, row.try_get("attributes")?),
            });
        }
        texts.extend(self.feedback_gaps(from, until).await?);
        texts.sort_by_key(|t| t.message_id);
        // A text both marked by the engine and by an agent counts once.
        texts.dedup_by_key(|t| t.message_id);
        Ok(texts)
    }

    /// The customer texts whose bot answers agents marked, in `[from, until)` by the
    /// customer's text.
    async fn feedback_gaps(&self, from: i64, until: i64) -> Result<Vec<GapText>> {
        let rows = sqlx::query(
            "SELECT f.kind, q.id, q.conversation_id, q.contact_id, q.body, q.intent,
                    q.created_at, c.display_name, c.attributes
             FROM bot_feedback f
             JOIN messages b ON b.id = f.message_id
             JOIN messages q ON q.id = (
                 SELECT MAX(p.id) FROM messages p
                 WHERE p.conversation_id = b.conversation_id AND p.author = 'customer'
                   AND p.id < b.id)
             JOIN contacts c ON c.id = q.contact_id
             WHERE q.created_at >= $1 AND q.created_at < $2 AND q.body <> $3
             ORDER BY q.id, f.id",
        )
        .bind(from)
        .bind(until)
        .bind(super::ERASED)
        .fetch_all(&self.pool)
        .await?;
        let mut texts = Vec::with_capacity(rows.len());
        for row in rows {
            let kind: String = row.try_get("kind")?;
            let kind = match FeedbackKind::parse(&kind) {
                Some(FeedbackKind::WrongAnswer) => GapKind::WrongAnswer,
                Some(FeedbackKind::ShouldHaveHandedOver) => GapKind::ShouldHaveHandedOver,
                None => return Err(StoreError::Corrupt(format!("unknown feedback {kind:?}"))),
            };
            let intent: Option<String> = row.try_get("intent")?;
            texts.push(GapText {
                message_id: row.try_get("id")?,
                conversation_id: row.try_get("conversation_id")?,
                contact_id: row.try_get("contact_id")?,
                body: row.try_get("body")?,
                kind,
                intents: intent.into_iter().filter(|i| i != "out_of_scope").collect(),
                created_at: row.try_get("created_at")?,
                names: known_names(row.try_get("display_name")?, row.try_get("attributes")?),
            });
        }
        Ok(texts)
    }

    /// What agents texted in each conversation after its gap text (`(conversation,
    /// gap message id)` pairs), and the corrections they gave with their feedback.
    pub async fn agent_answers(&self, gaps: &[(i64, i64)]) -> Result<Vec<AgentAnswer>> {
        let mut answers = Vec::new();
        for &(conversation_id, after) in gaps {
            let rows = sqlx::query(
                "SELECT body FROM messages
                 WHERE conversation_id = $1 AND author = 'agent' AND id > $2 AND body <> $3
                 ORDER BY id",
            )
            .bind(conversation_id)
            .bind(after)
            .bind(super::ERASED)
            .fetch_all(&self.pool)
            .await?;
            let corrections = sqlx::query(
                "SELECT f.correction AS body FROM bot_feedback f JOIN messages b ON b.id = f.message_id
                 WHERE b.conversation_id = $1 AND b.id > $2 AND f.correction IS NOT NULL
                 ORDER BY f.id",
            )
            .bind(conversation_id)
            .bind(after)
            .fetch_all(&self.pool)
            .await?;
            for row in rows.iter().chain(&corrections) {
                answers.push(AgentAnswer {
                    conversation_id,
                    body: row.try_get("body")?,
                });
            }
        }
        Ok(answers)
    }

    /// Every agent's name, for redaction (agents sign texts with them).
    pub async fn agent_names(&self) -> Result<Vec<String>> {
        let rows = sqlx::query("SELECT name FROM agents ORDER BY id")
            .fetch_all(&self.pool)
            .await?;
        rows.iter()
            .map(|r| r.try_get("name").map_err(Into::into))
            .collect()
    }

    /// Records an agent's verdict on a bot text (a second verdict by the same agent
    /// replaces the first). Returns the conversation; `NotFound` for a text that is
    /// not the bot's.
    pub async fn record_feedback(
        &self,
        message_id: i64,
        agent_id: i64,
        kind: FeedbackKind,
        correction: Option<&str>,
        intent: Option<&str>,
        now: i64,
    ) -> Result<i64> {
        let (_writing, mut tx) = self.begin_write().await?;
        let conversation_id: Option<i64> =
            sqlx::query("SELECT conversation_id FROM messages WHERE id = $1 AND author = 'bot'")
                .bind(message_id)
                .fetch_optional(&mut *tx)
                .await?
                .map(|r| r.try_get("conversation_id"))
                .transpose()?;
        let Some(conversation_id) = conversation_id else {
            return Err(StoreError::NotFound {
                what: "bot message",
                id: message_id.to_string(),
            });
        };
        sqlx::query(
            "INSERT INTO bot_feedback
                 (message_id, conversation_id, agent_id, kind, correction, intent, created_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7)
             ON CONFLICT (message_id, agent_id)
             DO UPDATE SET kind = excluded.kind, correction = excluded.correction,
                           intent = excluded.intent, created_at = excluded.created_at",
        )
        .bind(message_id)
        .bind(conversation_id)
        .bind(agent_id)
        .bind(kind.as_str())
        .bind(correction)
        .bind(intent)
        .bind(now)
        .execute(&mut *tx)
        .await?;
        Self::append_audit(
            &mut tx,
            NewAudit {
                by: AuditBy::Agent(agent_id),
                action: AuditAction::BotFeedback,
                target: format!("message {message_id}"),
                conversation_id: Some(conversation_id),
                detail: json!({
                    "kind": kind.as_str(),
                    "correction": correction.is_some(),
                    "intent": intent,
                }),
            },
            now,
        )
        .await?;
        tx.commit().await?;
        Ok(conversation_id)
    }

    /// The verdicts on bot texts in a conversation: message id → kind (the latest).
    pub async fn conversation_feedback(
        &self,
        conversation_id: i64,
    ) -> Result<BTreeMap<i64, FeedbackKind>> {
        let rows = sqlx::query(
            "SELECT message_id, kind FROM bot_feedback WHERE conversation_id = $1 ORDER BY id",
        )
        .bind(conversation_id)
        .fetch_all(&self.pool)
        .await?;
        let mut marked = BTreeMap::new();
        for row in rows {
            let kind: String = row.try_get("kind")?;
            if let Some(kind) = FeedbackKind::parse(&kind) {
                marked.insert(row.try_get("message_id")?, kind);
            }
        }
        Ok(marked)
    }

    /// Bot texts sent in `[from, until)` and how many of them agents marked (each text
    /// once, whatever number of agents marked it).
    pub async fn feedback_counts(&self, from: i64, until: i64) -> Result<FeedbackCounts> {
        let bot_texts: i64 = sqlx::query(
            "SELECT COUNT(*) AS n FROM messages
             WHERE author = 'bot' AND created_at >= $1 AND created_at < $2",
        )
        .bind(from)
        .bind(until)
        .fetch_one(&self.pool)
        .await?
        .try_get("n")?;
        let rows = sqlx::query(
            "SELECT f.kind, COUNT(DISTINCT f.message_id) AS n
             FROM bot_feedback f JOIN messages b ON b.id = f.message_id
             WHERE b.created_at >= $1 AND b.created_at < $2
             GROUP BY f.kind",
        )
        .bind(from)
        .bind(until)
        .fetch_all(&self.pool)
        .await?;
        let mut counts = FeedbackCounts {
            bot_texts,
            ..Default::default()
        };
        for row in rows {
            let kind: String = row.try_get("kind")?;
            let n: i64 = row.try_get("n")?;
            match FeedbackKind::parse(&kind) {
                Some(FeedbackKind::WrongAnswer) => counts.wrong_answer = n,
                Some(FeedbackKind::ShouldHaveHandedOver) => counts.should_have_handed_over = n,
                None => {}
            }
        }
        Ok(counts)
    }

    /// The customer texts agents re-labelled (the text the bot answered before the
    /// marked bot text), oldest verdict first; erased texts are left out.
    pub async fn relabelled_texts(&self) -> Result<Vec<RelabelledText>> {
        let rows = sqlx::query(
            "SELECT f.intent AS corrected, q.id, q.conversation_id, q.body, q.intent,
                    c.display_name, c.attributes
             FROM bot_feedback f
             JOIN messages b ON b.id = f.message_id
             JOIN messages q ON q.id = (
                 SELECT MAX(p.id) FROM messages p
                 WHERE p.conversation_id = b.conversation_id AND p.author = 'customer'
                   AND p.id < b.id)
             JOIN contacts c ON c.id = q.contact_id
             WHERE f.intent IS NOT NULL AND q.body <> $1
             ORDER BY f.id",
        )
        .bind(super::ERASED)
        .fetch_all(&self.pool)
        .await?;
        rows.into_iter()
            .map(|row| {
                Ok(RelabelledText {
                    message_id: row.try_get("id")?,
                    conversation_id: row.try_get("conversation_id")?,
                    body: row.try_get("body")?,
                    classified: row.try_get("intent")?,
                    intent: row.try_get("corrected")?,
                    names: known_names(row.try_get("display_name")?, row.try_get("attributes")?),
                })
            })
            .collect()
    }

    /// Records a proposed intent example; `None` when one by that name exists (the
    /// text was proposed before, whatever became of it).
    pub async fn add_intent_example(
        &self,
        slug: &str,
        intent: &str,
        example: &str,
        conversation_id: i64,
        now: i64,
    ) -> Result<Option<SuggestionRow>> {
        let (_writing, mut tx) = self.begin_write().await?;
        let taken = sqlx::query("SELECT id FROM knowledge_suggestions WHERE slug = $1")
            .bind(slug)
            .fetch_optional(&mut *tx)
            .await?
            .is_some();
        if taken {
            return Ok(None);
        }
        let row = sqlx::query(&format!(
            "INSERT INTO knowledge_suggestions
                 (kind, slug, title, status, sources, customers, intent, example, created_at)
             VALUES ($1, $2, $3, 'pending', $4, 1, $5, $6, $7) RETURNING {SUGGESTION_COLUMNS}"
        ))
        .bind(SuggestionKind::IntentExample.as_str())
        .bind(slug)
        .bind(format!("An example of {intent}"))
        .bind(json!([conversation_id]).to_string())
        .bind(intent)
        .bind(example)
        .bind(now)
        .fetch_one(&mut *tx)
        .await?;
        let suggestion = suggestion_row(&row)?;
        tx.commit().await?;
        Ok(Some(suggestion))
    }

    /// Records a new draft. `Conflict` when a draft by that name exists.
    pub async fn add_suggestion(
        &self,
        slug: &str,
        title: &str,
        sources: &[i64],
        customers: i64,
        now: i64,
    ) -> Result<SuggestionRow> {
        let (_writing, mut tx) = self.begin_write().await?;
        let taken = sqlx::query("SELECT id FROM knowledge_suggestions WHERE slug = $1")
            .bind(slug)
            .fetch_optional(&mut *tx)
            .await?
            .is_some();
        if taken {
            return Err(StoreError::Conflict(format!(
                "a suggestion named {slug} exists already"
            )));
        }
        let row = sqlx::query(&format!(
            "INSERT INTO knowledge_suggestions (slug, title, status, sources, customers, created_at)
             VALUES ($1, $2, 'pending', $3, $4, $5) RETURNING {SUGGESTION_COLUMNS}"
        ))
        .bind(slug)
        .bind(title)
        .bind(json!(sources).to_string())
        .bind(customers)
        .bind(now)
        .fetch_one(&mut *tx)
        .await?;
        let suggestion = suggestion_row(&row)?;
        tx.commit().await?;
        Ok(suggestion)
    }

    /// Every draft, newest first.
    pub async fn suggestions(&self) -> Result<Vec<SuggestionRow>> {
        let rows = sqlx::query(&format!(
            "SELECT {SUGGESTION_COLUMNS} FROM knowledge_suggestions ORDER BY id DESC"
        ))
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(suggestion_row).collect()
    }

    pub async fn suggestion(&self, id: i64) -> Result<Option<SuggestionRow>> {
        let row = sqlx::query(&format!(
            "SELECT {SUGGESTION_COLUMNS} FROM knowledge_suggestions WHERE id = $1"
        ))
        .bind(id)
        .fetch_optional(&self.pool)
        .await?;
        row.as_ref().map(suggestion_row).transpose()
    }

    /// Accepts or rejects a pending draft, with an audit entry. `Conflict` when it was
    /// decided already (two admins at once: the second is told).
    pub async fn decide_suggestion(
        &self,
        id: i64,
        status: SuggestionStatus,
        published_as: Option<&str>,
        by: (i64, &str),
        now: i64,
    ) -> Result<SuggestionRow> {
        let (_writing, mut tx) = self.begin_write().await?;
        let row = sqlx::query(&format!(
            "UPDATE knowledge_suggestions
             SET status = $2, published_as = $3, decided_by = $4, decided_at = $5
             WHERE id = $1 AND status = 'pending' RETURNING {SUGGESTION_COLUMNS}"
        ))
        .bind(id)
        .bind(status.as_str())
        .bind(published_as)
        .bind(by.1)
        .bind(now)
        .fetch_optional(&mut *tx)
        .await?;
        let Some(row) = row else {
            return Err(StoreError::Conflict(format!(
                "suggestion {id} was already accepted or rejected"
            )));
        };
        let suggestion = suggestion_row(&row)?;
        let action = match status {
            SuggestionStatus::Accepted => AuditAction::SuggestionAccepted,
            _ => AuditAction::SuggestionRejected,
        };
        Self::append_audit(
            &mut tx,
            NewAudit {
                by: AuditBy::Agent(by.0),
                action,
                target: format!("suggestion {id}"),
                conversation_id: None,
                detail: json!({
                    "kind": suggestion.kind.as_str(),
                    "slug": suggestion.slug,
                    "intent": suggestion.intent,
                    "published_as": published_as,
                }),
            },
            now,
        )
        .await?;
        tx.commit().await?;
        Ok(suggestion)
    }
}

const SUGGESTION_COLUMNS: &str = "id, kind, slug, title, status, sources, customers, published_as, \
     decided_by, created_at, decided_at, intent, example";

fn suggestion_row(row: &sqlx::any::AnyRow) -> Result<SuggestionRow> {
    let status: String = row.try_get("status")?;
    let sources: String = row.try_get("sources")?;
    let kind: String = row.try_get("kind")?;
    Ok(SuggestionRow {
        id: row.try_get("id")?,
        kind: SuggestionKind::parse(&kind)
            .ok_or_else(|| StoreError::Corrupt(format!("unknown suggestion kind {kind:?}")))?,
        slug: row.try_get("slug")?,
        title: row.try_get("title")?,
        status: SuggestionStatus::parse(&status)
            .ok_or_else(|| StoreError::Corrupt(format!("unknown suggestion status {status:?}")))?,
        sources: serde_json::from_str(&sources)
            .map_err(|e| StoreError::Corrupt(format!("suggestion sources: {e}")))?,
        customers: row.try_get("customers")?,
        published_as: row.try_get("published_as")?,
        decided_by: row.try_get("decided_by")?,
        created_at: row.try_get("created_at")?,
        decided_at: row.try_get("decided_at")?,
        intent: row.try_get("intent")?,
        example: row.try_get("example")?,
    })
}

/// The names a contact is known by: the display name and the `name` attribute.
fn known_names(display_name: Option<String>, attributes: Option<String>) -> Vec<String> {
    let mut names: Vec<String> = display_name.into_iter().collect();
    if let Some(attributes) = attributes
        .and_then(|a| serde_json::from_str::<BTreeMap<String, serde_json::Value>>(&a).ok())
    {
        for key in ["name", "first_name", "last_name"] {
            if let Some(name) = attributes.get(key).and_then(|v| v.as_str()) {
                names.push(name.to_string());
            }
        }
    }
    names.retain(|n| !n.trim().is_empty());
    names
}
