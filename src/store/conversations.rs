//! Conversations as agents read them: the thread with who wrote what and what the
//! bot understood, the private notes, and the contact's consent.

use serde_json::json;
use sqlx::Row;

use super::audit::NewAudit;
use super::events::NewEvent;
use super::{
    AuditAction, AuditBy, Author, Consent, ConversationStatus, Direction, Handoff, Result, Store,
    StoreError,
};
use crate::sms::PhoneNumber;

#[derive(Debug, Clone, serde::Serialize, utoipa::ToSchema)]
pub struct ConversationInfo {
    pub id: i64,
    pub contact_id: i64,
    #[serde(serialize_with = "super::model::serialize_e164")]
    #[schema(value_type = String)]
    pub phone: PhoneNumber,
    /// The number as agents' screens show it, e.g. +1303***0199.
    pub phone_masked: String,
    pub consent: Consent,
    pub status: ConversationStatus,
    pub created_at: i64,
    pub updated_at: i64,
    pub resolved_at: Option<i64>,
}

/// One message of a thread, with what the brain made of it.
#[derive(Debug, Clone, serde::Serialize, utoipa::ToSchema)]
pub struct ThreadMessage {
    pub id: i64,
    pub direction: Direction,
    pub author: Author,
    /// The agent who wrote it, for agent messages.
    pub agent: Option<String>,
    pub body: String,
    pub intent: Option<String>,
    pub confidence: Option<f64>,
    pub sentiment: Option<f64>,
    pub encoding: String,
    pub segments: i64,
    pub delivery_status: String,
    pub created_at: i64,
    /// An agent's verdict on a bot text (the latest), if one was given.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub feedback: Option<crate::gaps::FeedbackKind>,
}

#[derive(Debug, Clone, serde::Serialize, utoipa::ToSchema)]
pub struct Note {
    pub id: i64,
    pub conversation_id: i64,
    pub handoff_id: Option<i64>,
    pub agent: String,
    pub body: String,
    pub created_at: i64,
}

/// Everything an agent sees about one conversation.
#[derive(Debug, Clone, serde::Serialize, utoipa::ToSchema)]
pub struct ConversationDetail {
    #[serde(flatten)]
    #[schema(inline)]
    pub info: ConversationInfo,
    pub handoff: Option<Handoff>,
    pub messages: Vec<ThreadMessage>,
    pub notes: Vec<Note>,
    /// The conversation's labels, in name order.
    pub labels: Vec<String>,
}

/// One of a contact's other conversations, as the inbox's history panel lists it:
/// enough to tell a returning customer's earlier problems apart at a glance.
#[derive(Debug, Clone, serde::Serialize, utoipa::ToSchema)]
pub struct PastConversation {
    pub id: i64,
    pub status: ConversationStatus,
    pub created_at: i64,
    pub resolved_at: Option<i64>,
    /// Messages in it, both ways.
    pub messages: i64,
    /// The customer's first text in it (the API cuts it for a one-line listing).
    pub first_text: Option<String>,
    /// Its latest handoff's headline ("Upset: about order #48213"), if it had one.
    pub headline: Option<String>,
    /// The agent its latest handoff was assigned to.
    pub agent: Option<String>,
    pub labels: Vec<String>,
}

/// How many of a contact's other conversations the history lists.
const HISTORY_LIMIT: i64 = 20;

const INFO: &str =
    "SELECT v.id, v.contact_id, c.phone, c.consent, v.status, v.created_at, v.updated_at,
        v.resolved_at
    FROM conversations v JOIN contacts c ON c.id = v.contact_id";

fn info_from_row(r: &sqlx::any::AnyRow) -> Result<ConversationInfo> {
    let phone: String = r.get(2);
    let consent: String = r.get(3);
    let phone = PhoneNumber::parse(&phone)
        .map_err(|e| StoreError::Corrupt(format!("contact phone: {e}")))?;
    Ok(ConversationInfo {
        id: r.get(0),
        contact_id: r.get(1),
        phone_masked: phone.masked(),
        phone,
        consent: Consent::parse(&consent)
            .ok_or_else(|| StoreError::Corrupt(format!("consent {consent:?}")))?,
        status: {
            let status: String = r.get(4);
            ConversationStatus::parse(&status)
                .ok_or_else(|| StoreError::Corrupt(format!("conversation status {status:?}")))?
        },
        created_at: r.get(5),
        updated_at: r.get(6),
        resolved_at: r.get(7),
    })
}

/// A conversation's contact as the sending hours need them (see
/// [`crate::engine::sending`]), and when the customer last texted.
#[derive(Debug, Clone)]
pub struct ConversationReach {
    pub phone: String,
    pub timezone: Option<String>,
    /// The contact's `state` attribute.
    pub state: Option<String>,
    pub last_customer_text_at: Option<i64>,
}

impl Store {
    /// Who a text in this conversation goes to, for the sending hours.
    pub async fn conversation_reach(&self, id: i64) -> Result<Option<ConversationReach>> {
        let row = sqlx::query(
            "SELECT c.phone, c.timezone, c.attributes,
                 (SELECT MAX(m.created_at) FROM messages m
                  WHERE m.contact_id = c.id AND m.direction = 'inbound')
             FROM conversations v JOIN contacts c ON c.id = v.contact_id WHERE v.id = $1",
        )
        .bind(id)
        .fetch_optional(&self.pool)
        .await?;
        row.map(|r| {
            let mut attributes =
                super::contacts::attributes_from(r.get::<Option<String>, _>(2).as_deref())?;
            Ok(ConversationReach {
                phone: r.get(0),
                timezone: r.get(1),
                state: attributes.remove("state"),
                last_customer_text_at: r.get(3),
            })
        })
        .transpose()
    }

    /// The contact's conversations, newest first.
    pub async fn conversations_of(&self, phone: &PhoneNumber) -> Result<Vec<ConversationInfo>> {
        sqlx::query(&format!("{INFO} WHERE c.phone = $1 ORDER BY v.id DESC"))
            .bind(phone.as_str())
            .fetch_all(&self.pool)
            .await?
            .iter()
            .map(info_from_row)
            .collect()
    }

    pub async fn conversation_info(&self, id: i64) -> Result<Option<ConversationInfo>> {
        sqlx::query(&format!("{INFO} WHERE v.id = $1"))
            .bind(id)
            .fetch_optional(&self.pool)
            .await?
            .as_ref()
            .map(info_from_row)
            .transpose()
    }

    /// The bot's memory of a conversation (slots, menu, flow) as stored, if any.
    pub async fn conversation_state(&self, id: i64) -> Result<Option<String>> {
        let state: Option<Option<String>> =
            sqlx::query_scalar("SELECT state FROM conversations WHERE id = $1")
                .bind(id)
                .fetch_optional(&self.pool)
                .await?;
        Ok(state.flatten())
    }

    pub async fn conversation_detail(&self, id: i64) -> Result<Option<ConversationDetail>> {
        let Some(info) = self.conversation_info(id).await? else {
            return Ok(None);
        };
        let messages = sqlx::query(
            "SELECT m.id, m.direction, m.author, a.name, m.body, m.intent, m.confidence, m.sentiment,
                    m.encoding, m.segments, m.delivery_status, m.created_at,
                    (SELECT f.kind FROM bot_feedback f WHERE f.message_id = m.id
                     ORDER BY f.id DESC LIMIT 1) AS feedback
             FROM messages m LEFT JOIN agents a ON a.id = m.agent_id
             WHERE m.conversation_id = $1 ORDER BY m.id",
        )
        .bind(id)
        .fetch_all(&self.pool)
        .await?
        .into_iter()
        .map(|r| {
            let direction: String = r.get(1);
            let author: String = r.get(2);
            ThreadMessage {
                id: r.get(0),
                direction: Direction::from_stored(&direction),
                author: Author::parse(&author).unwrap_or(Author::System),
                agent: r.get(3),
                body: r.get(4),
                intent: r.get(5),
                confidence: r.get(6),
                sentiment: r.get(7),
                encoding: r.get(8),
                segments: r.get(9),
                delivery_status: r.get(10),
                created_at: r.get(11),
                feedback: r
                    .get::<Option<String>, _>(12)
                    .and_then(|k| crate::gaps::FeedbackKind::parse(&k)),
            }
        })
        .collect();
        let notes = self.notes_of(id).await?;
        let handoff = self.latest_handoff_of(id).await?;
        let labels = self.labels_of(&[id]).await?.remove(&id).unwrap_or_default();
        Ok(Some(ConversationDetail {
            info,
            handoff,
            messages,
            notes,
            labels,
        }))
    }

    /// The same contact's other conversations, newest first (at most 20): what a
    /// returning customer talked about before. `None` when `id` does not exist.
    pub async fn other_conversations(&self, id: i64) -> Result<Option<Vec<PastConversation>>> {
        let contact: Option<i64> =
            sqlx::query_scalar("SELECT contact_id FROM conversations WHERE id = $1")
                .bind(id)
                .fetch_optional(&self.pool)
                .await?;
        let Some(contact) = contact else {
            return Ok(None);
        };
        let rows = sqlx::query(
            "SELECT v.id, v.status, v.created_at, v.resolved_at,
                (SELECT COUNT(*) FROM messages m WHERE m.conversation_id = v.id),
                (SELECT m.body FROM messages m WHERE m.conversation_id = v.id
                   AND m.direction = 'inbound' ORDER BY m.id LIMIT 1),
                (SELECT CASE WHEN h.headline = '' THEN h.reason ELSE h.headline END
                   FROM handoffs h WHERE h.conversation_id = v.id ORDER BY h.id DESC LIMIT 1),
                (SELECT a.name FROM handoffs h JOIN agents a ON a.id = h.assignee_id
                   WHERE h.conversation_id = v.id ORDER BY h.id DESC LIMIT 1)
             FROM conversations v
             WHERE v.contact_id = $1 AND v.id <> $2
             ORDER BY v.id DESC LIMIT $3",
        )
        .bind(contact)
        .bind(id)
        .bind(HISTORY_LIMIT)
        .fetch_all(&self.pool)
        .await?;
        let ids: Vec<i64> = rows.iter().map(|r| r.get(0)).collect();
        let mut labels = self.labels_of(&ids).await?;
        rows.iter()
            .map(|r| {
                let id: i64 = r.get(0);
                let status: String = r.get(1);
                Ok(PastConversation {
                    id,
                    status: ConversationStatus::parse(&status).ok_or_else(|| {
                        StoreError::Corrupt(format!("conversation status {status:?}"))
                    })?,
                    created_at: r.get(2),
                    resolved_at: r.get(3),
                    messages: r.get(4),
                    first_text: r.get(5),
                    headline: r.get(6),
                    agent: r.get(7),
                    labels: labels.remove(&id).unwrap_or_default(),
                })
            })
            .collect::<Result<Vec<_>>>()
            .map(Some)
    }

    async fn notes_of(&self, conversation_id: i64) -> Result<Vec<Note>> {
        Ok(sqlx::query(
            "SELECT n.id, n.conversation_id, n.handoff_id, a.name, n.body, n.created_at
             FROM notes n JOIN agents a ON a.id = n.agent_id
             WHERE n.conversation_id = $1 ORDER BY n.id",
        )
        .bind(conversation_id)
        .fetch_all(&self.pool)
        .await?
        .into_iter()
        .map(|r| Note {
            id: r.get(0),
            conversation_id: r.get(1),
            handoff_id: r.get(2),
            agent: r.get(3),
            body: r.get(4),
            created_at: r.get(5),
        })
        .collect())
    }

    /// Adds an agent's private note (never sent to the customer).
    pub async fn add_note(
        &self,
        conversation_id: i64,
        agent_id: i64,
        body: &str,
        now: i64,
    ) -> Result<Note> {
        let (_writing, mut tx) = self.begin_write().await?;
        let touched = sqlx::query("UPDATE conversations SET updated_at = $2 WHERE id = $1")
            .bind(conversation_id)
            .bind(now)
            .execute(&mut *tx)
            .await?;
        if touched.rows_affected() != 1 {
            tx.rollback().await?;
            return Err(StoreError::NotFound {
                what: "conversation",
                id: conversation_id.to_string(),
            });
        }
        let handoff_id: Option<i64> = sqlx::query_scalar(
            "SELECT id FROM handoffs WHERE conversation_id = $1 ORDER BY id DESC LIMIT 1",
        )
        .bind(conversation_id)
        .fetch_optional(&mut *tx)
        .await?;
        let row = sqlx::query(
            "INSERT INTO notes (conversation_id, handoff_id, agent_id, body, created_at)
             VALUES ($1, $2, $3, $4, $5) RETURNING id",
        )
        .bind(conversation_id)
        .bind(handoff_id)
        .bind(agent_id)
        .bind(body)
        .bind(now)
        .fetch_one(&mut *tx)
        .await?;
        let id: i64 = row.get(0);
        let agent: String = sqlx::query_scalar("SELECT name FROM agents WHERE id = $1")
            .bind(agent_id)
            .fetch_one(&mut *tx)
            .await?;
        Self::append_event(
            &mut tx,
            NewEvent {
                kind: "note.created",
                handoff_id,
                conversation_id: Some(conversation_id),
                payload: json!({ "note_id": id, "agent": agent, "body": body }),
            },
            now,
        )
        .await?;
        Self::append_audit(
            &mut tx,
            NewAudit {
                by: AuditBy::Agent(agent_id),
                action: AuditAction::NoteAdded,
                target: format!("note {id}"),
                conversation_id: Some(conversation_id),
                detail: json!({ "handoff_id": handoff_id }),
            },
            now,
        )
        .await?;
        tx.commit().await?;
        Ok(Note {
            id,
            conversation_id,
            handoff_id,
            agent,
            body: body.to_string(),
            created_at: now,
        })
    }
}
