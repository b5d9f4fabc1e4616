//! The audit log: what people did (agents through the API and the inbox, the operator
//! at the command line), who, when and to what. Each entry is appended in the same
//! transaction as the action it records, so the log never claims an action that was
//! rolled back nor misses one that committed. Entries name their targets by id
//! ("handoff 12", "contact 4") and never hold a message's words or a phone number:
//! the log outlives erasure.

use sqlx::any::AnyRow;
use sqlx::{Any, Row, Transaction};

use super::{Result, Store, StoreError};

/// What a person did.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize, utoipa::ToSchema,
)]
pub enum AuditAction {
    #[serde(rename = "handoff.claimed")]
    HandoffClaimed,
    /// The router gave a waiting handoff to an agent.
    #[serde(rename = "handoff.assigned")]
    HandoffAssigned,
    #[serde(rename = "handoff.released")]
    HandoffReleased,
    #[serde(rename = "handoff.transferred")]
    HandoffTransferred,
    #[serde(rename = "handoff.resolved")]
    HandoffResolved,
    /// An agent's text to the customer.
    #[serde(rename = "message.sent")]
    MessageSent,
    #[serde(rename = "note.added")]
    NoteAdded,
    #[serde(rename = "label.added")]
    LabelAdded,
    #[serde(rename = "label.removed")]
    LabelRemoved,
    #[serde(rename = "contact.updated")]
    ContactUpdated,
    #[serde(rename = "contact.erased")]
    ContactErased,
    /// An agent and their token were created.
    #[serde(rename = "agent.added")]
    AgentAdded,
    #[serde(rename = "agent.revoked")]
    AgentRevoked,
    #[serde(rename = "webhook.redelivered")]
    WebhookRedelivered,
    /// Conversations or messages were exported (a copy of customers' data left).
    #[serde(rename = "data.exported")]
    DataExported,
    /// An agent marked a bot text: a wrong answer, or one a person should have given.
    #[serde(rename = "bot.feedback")]
    BotFeedback,
    /// An admin published a knowledge draft.
    #[serde(rename = "suggestion.accepted")]
    SuggestionAccepted,
    #[serde(rename = "suggestion.rejected")]
    SuggestionRejected,
}

impl AuditAction {
    pub const ALL: [AuditAction; 18] = [
        AuditAction::HandoffClaimed,
        AuditAction::HandoffAssigned,
        AuditAction::HandoffReleased,
        AuditAction::HandoffTransferred,
        AuditAction::HandoffResolved,
        AuditAction::MessageSent,
        AuditAction::NoteAdded,
        AuditAction::LabelAdded,
        AuditAction::LabelRemoved,
        AuditAction::ContactUpdated,
        AuditAction::ContactErased,
        AuditAction::AgentAdded,
        AuditAction::AgentRevoked,
        AuditAction::WebhookRedelivered,
        AuditAction::DataExported,
        AuditAction::BotFeedback,
        AuditAction::SuggestionAccepted,
        AuditAction::SuggestionRejected,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            AuditAction::HandoffClaimed => "handoff.claimed",
            AuditAction::HandoffAssigned => "handoff.assigned",
            AuditAction::HandoffReleased => "handoff.released",
            AuditAction::HandoffTransferred => "handoff.transferred",
            AuditAction::HandoffResolved => "handoff.resolved",
            AuditAction::MessageSent => "message.sent",
            AuditAction::NoteAdded => "note.added",
            AuditAction::LabelAdded => "label.added",
            AuditAction::LabelRemoved => "label.removed",
            AuditAction::ContactUpdated => "contact.updated",
            AuditAction::ContactErased => "contact.erased",
            AuditAction::AgentAdded => "agent.added",
            AuditAction::AgentRevoked => "agent.revoked",
            AuditAction::WebhookRedelivered => "webhook.redelivered",
            AuditAction::DataExported => "data.exported",
            AuditAction::BotFeedback => "bot.feedback",
            AuditAction::SuggestionAccepted => "suggestion.accepted",
            AuditAction::SuggestionRejected => "suggestion.rejected",
        }
    }

    pub fn parse(name: &str) -> Option<AuditAction> {
        Self::ALL.into_iter().find(|a| a.as_str() == name)
    }
}

/// Who did it: an agent (the log keeps their name as it was then), the operator at
/// the command line, or textdesk's router assigning a handoff.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AuditBy {
    Agent(i64),
    CommandLine,
    Routing,
}

impl AuditBy {
    fn agent_id(self) -> Option<i64> {
        match self {
            AuditBy::Agent(id) => Some(id),
            AuditBy::CommandLine | AuditBy::Routing => None,
        }
    }

    /// The actor's name when it is not an agent.
    fn name(self) -> &'static str {
        match self {
            AuditBy::Routing => "routing",
            AuditBy::Agent(_) | AuditBy::CommandLine => COMMAND_LINE,
        }
    }
}

/// The name the log gives the command line.
pub const COMMAND_LINE: &str = "cli";

/// One entry about to be written.
pub(super) struct NewAudit {
    pub by: AuditBy,
    pub action: AuditAction,
    /// What it was done to: "handoff 12", "agent ana", "delivery 7".
    pub target: String,
    pub conversation_id: Option<i64>,
    /// Ids and settings, never words a customer wrote or their number.
    pub detail: serde_json::Value,
}

/// One entry of the log.
#[derive(Debug, Clone, serde::Serialize, utoipa::ToSchema)]
pub struct AuditEntry {
    pub id: i64,
    /// The agent's id; absent for the command line.
    pub actor_id: Option<i64>,
    /// The agent's name when they acted, or "cli".
    pub actor: String,
    pub action: AuditAction,
    pub target: String,
    pub conversation_id: Option<i64>,
    #[schema(value_type = Object)]
    pub detail: serde_json::Value,
    /// Epoch milliseconds.
    pub created_at: i64,
}

/// Which entries to read, newest first.
#[derive(Debug, Clone, Default)]
pub struct AuditFilter {
    /// Only this agent's (by name; "cli" for the command line).
    pub actor: Option<String>,
    pub action: Option<AuditAction>,
    pub conversation_id: Option<i64>,
    /// Epoch milliseconds, inclusive.
    pub since: Option<i64>,
    /// Epoch milliseconds, exclusive.
    pub until: Option<i64>,
    /// Entries with an id below this one: the next page after the last id seen.
    pub before_id: Option<i64>,
    pub limit: i64,
}

impl Store {
    /// Appends an entry inside the action's own transaction.
    pub(super) async fn append_audit(
        tx: &mut Transaction<'static, Any>,
        entry: NewAudit,
        now: i64,
    ) -> Result<()> {
        sqlx::query(
            "INSERT INTO audit_log (actor_id, actor, action, target, conversation_id, detail, created_at)
             VALUES ($1, COALESCE((SELECT name FROM agents WHERE id = $1), $2), $3, $4, $5, $6, $7)",
        )
        .bind(entry.by.agent_id())
        .bind(entry.by.name())
        .bind(entry.action.as_str())
        .bind(&entry.target)
        .bind(entry.conversation_id)
        .bind(entry.detail.to_string())
        .bind(now)
        .execute(&mut **tx)
        .await?;
        Ok(())
    }

    /// Records an action that changes nothing else (an export: a read that copies
    /// customers' data out), in a transaction of its own.
    pub async fn record_audit(
        &self,
        by: AuditBy,
        action: AuditAction,
        target: &str,
        detail: serde_json::Value,
        now: i64,
    ) -> Result<()> {
        let (_writing, mut tx) = self.begin_write().await?;
        Self::append_audit(
            &mut tx,
            NewAudit {
                by,
                action,
                target: target.to_string(),
                conversation_id: None,
                detail,
            },
            now,
        )
        .await?;
        tx.commit().await?;
        Ok(())
    }

    /// Entries matching `filter`, newest first.
    pub async fn audit_log(&self, filter: &AuditFilter) -> Result<Vec<AuditEntry>> {
        let rows = sqlx::query(
            "SELECT id, actor_id, actor, action, target, conversation_id, detail, created_at
             FROM audit_log
             WHERE ($1 IS NULL OR actor = $1) AND ($2 IS NULL OR action = $2)
               AND ($3 IS NULL OR conversation_id = $3) AND ($4 IS NULL OR created_at >= $4)
               AND ($5 IS NULL OR created_at < $5) AND ($6 IS NULL OR id < $6)
             ORDER BY id DESC LIMIT $7",
        )
        .bind(filter.actor.as_deref())
        .bind(filter.action.map(AuditAction::as_str))
        .bind(filter.conversation_id)
        .bind(filter.since)
        .bind(filter.until)
        .bind(filter.before_id)
        .bind(filter.limit)
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(entry_from_row).collect()
    }
}

fn entry_from_row(r: &AnyRow) -> Result<AuditEntry> {
    let action: String = r.get(3);
    let detail: String = r.get(6);
    Ok(AuditEntry {
        id: r.get(0),
        actor_id: r.get(1),
        actor: r.get(2),
        action: AuditAction::parse(&action)
            .ok_or_else(|| StoreError::Corrupt(format!("audit action {action:?}")))?,
        target: r.get(4),
        conversation_id: r.get(5),
        detail: serde_json::from_str(&detail).unwrap_or(serde_json::Value::Null),
        created_at: r.get(7),
    })
}
