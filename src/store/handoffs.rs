//! The handoff queue: conversations the bot gave to a human. A handoff goes
//! `waiting` → `assigned` → `resolved`; while it is open the conversation belongs to
//! people and the bot only answers compliance keywords.
//!
//! Every state change is one conditional `UPDATE` (e.g. claim only `WHERE status =
//! 'waiting'`), so two agents racing for the same handoff cannot both win, on SQLite
//! or across PostgreSQL instances. Each change appends its event in the same
//! transaction (see [`super::events`]).

use serde_json::json;
use sqlx::any::AnyRow;
use sqlx::{Any, Row, Transaction};

use super::audit::NewAudit;
use super::events::NewEvent;
use super::{
    AuditAction, AuditBy, ConversationStatus, Dialect, Label, NewOutbound, QueuedOutbound, Result,
    Store, StoreError,
};
use crate::sms::PhoneNumber;

/// How far back "the usual wait" for a human looks.
const USUAL_WAIT_WINDOW_MS: i64 = 14 * 24 * 3600 * 1000;

/// How long (ms of the clock turns are processed by) a usual wait read from the
/// handoffs serves before it is read again.
const USUAL_WAIT_FRESH_MS: i64 = 60_000;

#[derive(
    Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize, utoipa::ToSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum HandoffStatus {
    Waiting,
    Assigned,
    Resolved,
}

impl HandoffStatus {
    pub fn as_str(&self) -> &'static str {
        match self {
            HandoffStatus::Waiting => "waiting",
            HandoffStatus::Assigned => "assigned",
            HandoffStatus::Resolved => "resolved",
        }
    }
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "waiting" => Some(HandoffStatus::Waiting),
            "assigned" => Some(HandoffStatus::Assigned),
            "resolved" => Some(HandoffStatus::Resolved),
            _ => None,
        }
    }
}

/// A handoff the engine decided to open, committed with the inbound message.
#[derive(Debug, Clone)]
pub struct NewHandoff {
    /// 1 urgent … 4 low.
    pub priority: i64,
    pub rule: String,
    pub reason: String,
    pub intent: Option<String>,
    pub summary: String,
    pub summary_by: &'static str,
    /// The queue card's line, in an agent's words ("Upset: third time asking about
    /// order #48213"); `reason` keeps the rule's evidence for operators.
    pub headline: String,
}

/// What an inbound message does to the conversation's handoff.
#[derive(Debug, Clone)]
pub enum HandoffChange {
    Open(NewHandoff),
    /// The customer texted again while waiting: a fresh summary.
    Refresh {
        handoff_id: i64,
        summary: String,
        summary_by: &'static str,
        headline: String,
    },
}

/// The open handoff of a conversation, as the engine sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OpenHandoff {
    pub id: i64,
    pub status: HandoffStatus,
    pub assignee_id: Option<i64>,
    /// The escalation rule that opened it, and why (kept for refreshed summaries).
    pub rule: String,
    pub reason: String,
}

/// The columns [`open_handoff_from`] reads, of a handoff aliased `h` (NULL from a
/// LEFT JOIN that found none).
pub(super) const OPEN_HANDOFF_COLUMNS: &str = "h.id, h.status, h.assignee_id, h.rule, h.reason";

/// The open handoff in [`OPEN_HANDOFF_COLUMNS`] starting at column `first`, if any.
pub(super) fn open_handoff_from(row: &AnyRow, first: usize) -> Result<Option<OpenHandoff>> {
    let Some(id) = row.get::<Option<i64>, _>(first) else {
        return Ok(None);
    };
    let status: String = row.get(first + 1);
    Ok(Some(OpenHandoff {
        id,
        status: HandoffStatus::parse(&status)
            .ok_or_else(|| StoreError::Corrupt(format!("handoff status {status:?}")))?,
        assignee_id: row.get(first + 2),
        rule: row.get(first + 3),
        reason: row.get(first + 4),
    }))
}

/// The last customer text of a handoff, for the queue view.
#[derive(Debug, Clone, serde::Serialize, utoipa::ToSchema)]
pub struct LastMessage {
    pub body: String,
    pub at: i64,
}

/// A handoff with what an agent needs to pick it up.
#[derive(Debug, Clone, serde::Serialize, utoipa::ToSchema)]
pub struct Handoff {
    pub id: i64,
    pub conversation_id: i64,
    pub contact_id: i64,
    /// The customer's number, E.164.
    #[serde(serialize_with = "super::model::serialize_e164")]
    #[schema(value_type = String)]
    pub phone: PhoneNumber,
    pub status: HandoffStatus,
    pub priority: i64,
    pub rule: String,
    /// The rule's evidence, for operators ("angry: VADER -0.71, '!!!'").
    pub reason: String,
    /// Why the customer needs a person, in an agent's words: what the inbox's queue
    /// card shows ("Upset: third time asking about order #48213").
    pub headline: String,
    pub intent: Option<String>,
    pub summary: String,
    pub summary_by: String,
    pub assignee_id: Option<i64>,
    pub assignee: Option<String>,
    pub hand_back: Option<bool>,
    pub created_at: i64,
    pub claimed_at: Option<i64>,
    pub first_response_at: Option<i64>,
    pub holding_sent_at: Option<i64>,
    pub resolved_at: Option<i64>,
    pub last_message: Option<LastMessage>,
}

const SELECT: &str =
    "SELECT h.id, h.conversation_id, h.contact_id, c.phone, h.status, h.priority, h.rule,
        h.reason, h.intent, h.summary, h.summary_by, h.assignee_id, a.name, h.hand_back,
        h.created_at, h.claimed_at, h.first_response_at, h.holding_sent_at, h.resolved_at,
        (SELECT m.body FROM messages m WHERE m.conversation_id = h.conversation_id
           AND m.direction = 'inbound' ORDER BY m.id DESC LIMIT 1),
        (SELECT m.created_at FROM messages m WHERE m.conversation_id = h.conversation_id
           AND m.direction = 'inbound' ORDER BY m.id DESC LIMIT 1),
        h.headline
    FROM handoffs h JOIN contacts c ON c.id = h.contact_id
    LEFT JOIN agents a ON a.id = h.assignee_id";

fn handoff_from_row(r: &AnyRow) -> Result<Handoff> {
    let phone: String = r.get(3);
    let status: String = r.get(4);
    let hand_back: Option<i64> = r.get(13);
    let last_body: Option<String> = r.get(19);
    let last_at: Option<i64> = r.get(20);
    let reason: String = r.get(7);
    let headline: String = r.get(21);
    Ok(Handoff {
        id: r.get(0),
        conversation_id: r.get(1),
        contact_id: r.get(2),
        phone: PhoneNumber::parse(&phone)
            .map_err(|e| StoreError::Corrupt(format!("contact phone: {e}")))?,
        status: HandoffStatus::parse(&status)
            .ok_or_else(|| StoreError::Corrupt(format!("handoff status {status:?}")))?,
        priority: r.get(5),
        rule: r.get(6),
        // Handoffs opened before headlines existed show their reason.
        headline: if headline.is_empty() {
            reason.clone()
        } else {
            headline
        },
        reason,
        intent: r.get(8),
        summary: r.get(9),
        summary_by: r.get(10),
        assignee_id: r.get(11),
        assignee: r.get(12),
        hand_back: hand_back.map(|v| v != 0),
        created_at: r.get(14),
        claimed_at: r.get(15),
        first_response_at: r.get(16),
        holding_sent_at: r.get(17),
        resolved_at: r.get(18),
        last_message: last_body
            .zip(last_at)
            .map(|(body, at)| LastMessage { body, at }),
    })
}

/// What the router wanted, in a refusal's words.
const ASSIGN: &str = "assign it";

/// A handoff state change for [`Store::change_handoff`]: which handoff, what the
/// agent wanted (for the conflict message), what becomes of the conversation, and
/// the event to append.
struct Change {
    id: i64,
    /// An agent whose row is locked (PostgreSQL) before the update, so that checks
    /// on that agent's load in the update see every committed assignment.
    serialize_on_agent: Option<i64>,
    wanted: &'static str,
    conversation: ConversationAfter,
    event: &'static str,
    payload: serde_json::Value,
    /// Who is acting, and what the audit log calls it.
    by: AuditBy,
    audit: AuditAction,
    now: i64,
}

/// What a handoff change does to its conversation.
enum ConversationAfter {
    /// A person has it, waiting for an agent or assigned to one.
    Status(ConversationStatus),
    /// Hand back: the bot has it again, with its state reset.
    BackToBot,
    /// Close it: the customer's next text starts a new conversation.
    Resolved,
}

/// Who is acting on a handoff: an admin may act on any, an agent only on their own.
#[derive(Debug, Clone, Copy)]
pub struct Actor {
    pub agent_id: i64,
    pub admin: bool,
}

impl Store {
    /// Opens a handoff inside the inbound message's transaction.
    pub(super) async fn open_handoff(
        tx: &mut Transaction<'static, Any>,
        conversation_id: i64,
        contact_id: i64,
        trigger_message_id: i64,
        new: &NewHandoff,
        now: i64,
    ) -> Result<i64> {
        let id: i64 = sqlx::query_scalar(
            "INSERT INTO handoffs (conversation_id, contact_id, status, priority, rule, reason, intent,
                 summary, summary_by, trigger_message_id, created_at, updated_at, headline)
             VALUES ($1, $2, 'waiting', $3, $4, $5, $6, $7, $8, $9, $10, $10, $11) RETURNING id",
        )
        .bind(conversation_id)
        .bind(contact_id)
        .bind(new.priority)
        .bind(&new.rule)
        .bind(&new.reason)
        .bind(&new.intent)
        .bind(&new.summary)
        .bind(new.summary_by)
        .bind(trigger_message_id)
        .bind(now)
        .bind(&new.headline)
        .fetch_one(&mut **tx)
        .await?;
        Self::set_conversation_status(tx, conversation_id, ConversationStatus::Waiting, now)
            .await?;
        Self::append_event(
            tx,
            NewEvent {
                kind: "handoff.created",
                handoff_id: Some(id),
                conversation_id: Some(conversation_id),
                payload: json!({
                    "priority": new.priority,
                    "rule": new.rule,
                    "reason": new.reason,
                    "headline": new.headline,
                    "intent": new.intent,
                    "summary": new.summary,
                }),
            },
            now,
        )
        .await?;
        Ok(id)
    }

    pub(super) async fn refresh_summary(
        tx: &mut Transaction<'static, Any>,
        handoff_id: i64,
        conversation_id: i64,
        summary: &str,
        summary_by: &str,
        headline: &str,
        now: i64,
    ) -> Result<()> {
        sqlx::query(
            "UPDATE handoffs SET summary = $2, summary_by = $3, updated_at = $4, headline = $5
             WHERE id = $1 AND status <> 'resolved'",
        )
        .bind(handoff_id)
        .bind(summary)
        .bind(summary_by)
        .bind(now)
        .bind(headline)
        .execute(&mut **tx)
        .await?;
        Self::append_event(
            tx,
            NewEvent {
                kind: "handoff.updated",
                handoff_id: Some(handoff_id),
                conversation_id: Some(conversation_id),
                payload: json!({ "summary": summary, "headline": headline }),
            },
            now,
        )
        .await
    }

    async fn set_conversation_status(
        tx: &mut Transaction<'static, Any>,
        conversation_id: i64,
        status: ConversationStatus,
        now: i64,
    ) -> Result<()> {
        sqlx::query("UPDATE conversations SET status = $2, updated_at = $3 WHERE id = $1")
            .bind(conversation_id)
            .bind(status.as_str())
            .bind(now)
            .execute(&mut **tx)
            .await?;
        Ok(())
    }

    /// The conversation's open handoff, if any.
    pub async fn open_handoff_of(&self, conversation_id: i64) -> Result<Option<OpenHandoff>> {
        let row = sqlx::query(&format!(
            "SELECT {OPEN_HANDOFF_COLUMNS} FROM handoffs h
             WHERE h.conversation_id = $1 AND h.status <> 'resolved'"
        ))
        .bind(conversation_id)
        .fetch_optional(&self.pool)
        .await?;
        match row {
            Some(row) => open_handoff_from(&row, 0),
            None => Ok(None),
        }
    }

    /// Handoffs in one status (all when `None`), of conversations with `label` when
    /// given: most urgent first, then oldest.
    pub async fn list_handoffs(
        &self,
        status: Option<HandoffStatus>,
        label: Option<&Label>,
    ) -> Result<Vec<Handoff>> {
        let rows = sqlx::query(&format!(
            "{SELECT} WHERE ($1 IS NULL OR h.status = $1)
               AND ($2 IS NULL OR EXISTS (SELECT 1 FROM conversation_labels l
                    WHERE l.conversation_id = h.conversation_id AND l.label = $2))
             ORDER BY h.priority, h.created_at, h.id LIMIT 500"
        ))
        .bind(status.map(|s| s.as_str()))
        .bind(label.map(Label::as_str))
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(handoff_from_row).collect()
    }

    pub async fn handoff(&self, id: i64) -> Result<Option<Handoff>> {
        sqlx::query(&format!("{SELECT} WHERE h.id = $1"))
            .bind(id)
            .fetch_optional(&self.pool)
            .await?
            .as_ref()
            .map(handoff_from_row)
            .transpose()
    }

    /// The conversation's latest handoff (open or resolved).
    pub async fn latest_handoff_of(&self, conversation_id: i64) -> Result<Option<Handoff>> {
        sqlx::query(&format!(
            "{SELECT} WHERE h.conversation_id = $1 ORDER BY h.id DESC LIMIT 1"
        ))
        .bind(conversation_id)
        .fetch_optional(&self.pool)
        .await?
        .as_ref()
        .map(handoff_from_row)
        .transpose()
    }

    async fn require_handoff(&self, id: i64) -> Result<Handoff> {
        self.handoff(id).await?.ok_or(StoreError::NotFound {
            what: "handoff",
            id: id.to_string(),
        })
    }

    /// Why a conditional update matched nothing, in words for a 409.
    async fn conflict(&self, id: i64, wanted: &str) -> StoreError {
        match self.handoff(id).await {
            Ok(Some(h)) => StoreError::Conflict(match (h.status, h.assignee) {
                (HandoffStatus::Assigned, Some(name)) => {
                    format!("handoff {id} is already assigned to {name}; cannot {wanted}")
                }
                // Still waiting after a refused assignment: the agent had no room.
                (HandoffStatus::Waiting, _) if wanted == ASSIGN => {
                    format!(
                        "handoff {id} is waiting, but the agent is at capacity; cannot {wanted}"
                    )
                }
                (status, _) => format!("handoff {id} is {}; cannot {wanted}", status.as_str()),
            }),
            Ok(None) => StoreError::NotFound {
                what: "handoff",
                id: id.to_string(),
            },
            Err(e) => e,
        }
    }

    /// Takes a waiting handoff. Of several agents racing, exactly one wins; the others
    /// get [`StoreError::Conflict`].
    pub async fn claim_handoff(&self, id: i64, agent_id: i64, now: i64) -> Result<Handoff> {
        self.take_waiting(id, agent_id, AuditBy::Agent(agent_id), None, now)
            .await
    }

    /// Assigns a waiting handoff to an agent on the router's decision
    /// ([`crate::engine::routing`]): as a claim, announced as `handoff.claimed` with
    /// `"by": "routing"`, and only while the agent holds fewer than `capacity`. A
    /// handoff claimed meanwhile, or an agent filled up meanwhile (by hand, or by
    /// another instance's router), is a [`StoreError::Conflict`].
    pub async fn assign_handoff(
        &self,
        id: i64,
        agent_id: i64,
        capacity: i64,
        now: i64,
    ) -> Result<Handoff> {
        self.take_waiting(id, agent_id, AuditBy::Routing, Some(capacity), now)
            .await
    }

    /// Gives a waiting handoff to `agent_id`, as they claim it or the router assigns
    /// it; with `capacity`, only while they hold fewer than that.
    async fn take_waiting(
        &self,
        id: i64,
        agent_id: i64,
        by: AuditBy,
        capacity: Option<i64>,
        now: i64,
    ) -> Result<Handoff> {
        const TAKE: &str = "UPDATE handoffs SET status = 'assigned', assignee_id = $2,
                 claimed_at = COALESCE(claimed_at, $3), updated_at = $3
             WHERE id = $1 AND status = 'waiting'";
        let sql = match capacity {
            None => format!("{TAKE} RETURNING conversation_id"),
            Some(_) => format!(
                "{TAKE} AND (SELECT COUNT(*) FROM handoffs o
                             WHERE o.assignee_id = $2 AND o.status = 'assigned') < $4
                 RETURNING conversation_id"
            ),
        };
        let mut update = sqlx::query(&sql).bind(id).bind(agent_id).bind(now);
        if let Some(capacity) = capacity {
            update = update.bind(capacity);
        }
        let routed = by == AuditBy::Routing;
        let change = Change {
            // Two routers (instances) filling the same agent at once would each count
            // the agent's load before the other's commit; taking the agent's row
            // first makes the second count after the first commits.
            serialize_on_agent: capacity.map(|_| agent_id),
            id,
            wanted: if routed { ASSIGN } else { "claim it" },
            conversation: ConversationAfter::Status(ConversationStatus::Assigned),
            event: "handoff.claimed",
            payload: if routed {
                json!({ "agent_id": agent_id, "by": "routing" })
            } else {
                json!({ "agent_id": agent_id })
            },
            by,
            audit: if routed {
                AuditAction::HandoffAssigned
            } else {
                AuditAction::HandoffClaimed
            },
            now,
        };
        self.change_handoff(update, change).await
    }

    /// Puts an assigned handoff back in the queue.
    pub async fn release_handoff(&self, id: i64, actor: Actor, now: i64) -> Result<Handoff> {
        self.reassign(id, actor, None, AuditAction::HandoffReleased, now)
            .await
    }

    /// Hands an assigned (or waiting) handoff to another agent.
    pub async fn transfer_handoff(
        &self,
        id: i64,
        actor: Actor,
        to_agent_id: i64,
        now: i64,
    ) -> Result<Handoff> {
        self.reassign(
            id,
            actor,
            Some(to_agent_id),
            AuditAction::HandoffTransferred,
            now,
        )
        .await
    }

    async fn reassign(
        &self,
        id: i64,
        actor: Actor,
        to: Option<i64>,
        action: AuditAction,
        now: i64,
    ) -> Result<Handoff> {
        let wanted = match to {
            Some(_) => "transfer it",
            None => "release it",
        };
        // An agent acts only on a handoff assigned to them; an admin on any open one.
        // A waiting handoff may be transferred (assigned to someone) by an admin only.
        let (status, conversation_status) = match to {
            Some(_) => (HandoffStatus::Assigned, ConversationStatus::Assigned),
            None => (HandoffStatus::Waiting, ConversationStatus::Waiting),
        };
        let update = sqlx::query(
            "UPDATE handoffs SET status = $2, assignee_id = $3,
                 claimed_at = CASE WHEN $3 IS NULL THEN claimed_at ELSE COALESCE(claimed_at, $4) END,
                 updated_at = $4
             WHERE id = $1 AND status <> 'resolved'
               AND ((status = 'assigned' AND assignee_id = $5) OR $6 = 1)
             RETURNING conversation_id",
        )
        .bind(id)
        .bind(status.as_str())
        .bind(to)
        .bind(now)
        .bind(actor.agent_id)
        .bind(i64::from(actor.admin));
        let change = Change {
            serialize_on_agent: None,
            id,
            wanted,
            conversation: ConversationAfter::Status(conversation_status),
            event: action.as_str(),
            payload: json!({ "by_agent_id": actor.agent_id, "to_agent_id": to }),
            by: AuditBy::Agent(actor.agent_id),
            audit: action,
            now,
        };
        self.change_handoff(update, change).await
    }

    /// Closes a handoff. With `hand_back` the bot answers the customer's next text in
    /// the same conversation (its state reset); without, the conversation is resolved
    /// and the next text starts a new one.
    pub async fn resolve_handoff(
        &self,
        id: i64,
        actor: Actor,
        hand_back: bool,
        now: i64,
    ) -> Result<Handoff> {
        let update = sqlx::query(
            "UPDATE handoffs SET status = 'resolved', resolved_at = $2, hand_back = $3, updated_at = $2
             WHERE id = $1 AND status <> 'resolved'
               AND ((status = 'assigned' AND assignee_id = $4) OR $5 = 1)
             RETURNING conversation_id",
        )
        .bind(id)
        .bind(now)
        .bind(i64::from(hand_back))
        .bind(actor.agent_id)
        .bind(i64::from(actor.admin));
        let change = Change {
            serialize_on_agent: None,
            id,
            wanted: "resolve it",
            conversation: if hand_back {
                ConversationAfter::BackToBot
            } else {
                ConversationAfter::Resolved
            },
            event: "handoff.resolved",
            payload: json!({ "by_agent_id": actor.agent_id, "hand_back": hand_back }),
            by: AuditBy::Agent(actor.agent_id),
            audit: AuditAction::HandoffResolved,
            now,
        };
        self.change_handoff(update, change).await
    }

    /// Runs one handoff state change: the conditional `update` (which must return the
    /// conversation id, or no row when the handoff is not in a state that allows it),
    /// then the conversation's side and the event, in one transaction. No row is a
    /// conflict explained by [`Self::conflict`].
    async fn change_handoff<'q>(
        &self,
        update: sqlx::query::Query<'q, Any, sqlx::any::AnyArguments<'q>>,
        change: Change,
    ) -> Result<Handoff> {
        let Change {
            id,
            serialize_on_agent,
            wanted,
            conversation,
            event,
            payload,
            by,
            audit,
            now,
        } = change;
        let (_writing, mut tx) = self.begin_write().await?;
        if let (Some(agent_id), Dialect::Postgres) = (serialize_on_agent, self.dialect) {
            sqlx::query("SELECT id FROM agents WHERE id = $1 FOR UPDATE")
                .bind(agent_id)
                .execute(&mut *tx)
                .await?;
        }
        let Some(row) = update.fetch_optional(&mut *tx).await? else {
            tx.rollback().await?;
            return Err(self.conflict(id, wanted).await);
        };
        let conversation_id: i64 = row.get(0);
        match conversation {
            ConversationAfter::Status(status) => {
                Self::set_conversation_status(&mut tx, conversation_id, status, now).await?;
            }
            ConversationAfter::BackToBot => {
                sqlx::query(
                    "UPDATE conversations SET status = 'bot', state = NULL, updated_at = $2 WHERE id = $1",
                )
                .bind(conversation_id)
                .bind(now)
                .execute(&mut *tx)
                .await?;
            }
            ConversationAfter::Resolved => {
                sqlx::query(
                    "UPDATE conversations SET status = 'resolved', resolved_at = $2, updated_at = $2
                     WHERE id = $1",
                )
                .bind(conversation_id)
                .bind(now)
                .execute(&mut *tx)
                .await?;
            }
        }
        Self::append_audit(
            &mut tx,
            NewAudit {
                by,
                action: audit,
                target: format!("handoff {id}"),
                conversation_id: Some(conversation_id),
                detail: payload.clone(),
            },
            now,
        )
        .await?;
        Self::append_event(
            &mut tx,
            NewEvent {
                kind: event,
                handoff_id: Some(id),
                conversation_id: Some(conversation_id),
                payload,
            },
            now,
        )
        .await?;
        tx.commit().await?;
        self.require_handoff(id).await
    }

    /// Queues an agent's text to the conversation's contact, sent at `send_at` (now,
    /// or when the sending hours open for a customer who has gone quiet). Refused
    /// when the contact opted out (the dispatcher checks again at send time). The
    /// first agent text of an open handoff is its first response.
    pub async fn queue_agent_message(
        &self,
        conversation_id: i64,
        agent_id: i64,
        text: &NewOutbound,
        now: i64,
        send_at: i64,
    ) -> Result<QueuedOutbound> {
        let (_writing, mut tx) = self.begin_write().await?;
        // Touch the conversation first: takes the write lock up front (see mod docs).
        let row = sqlx::query(
            "UPDATE conversations SET updated_at = $2 WHERE id = $1 RETURNING contact_id",
        )
        .bind(conversation_id)
        .bind(now)
        .fetch_optional(&mut *tx)
        .await?
        .ok_or(StoreError::NotFound {
            what: "conversation",
            id: conversation_id.to_string(),
        })?;
        let contact_id: i64 = row.get(0);
        let consent: String = sqlx::query_scalar("SELECT consent FROM contacts WHERE id = $1")
            .bind(contact_id)
            .fetch_one(&mut *tx)
            .await?;
        if consent == "opted_out" {
            tx.rollback().await?;
            return Err(StoreError::Refused(
                "the contact has opted out (replied STOP); texting them is not allowed until they reply START".into(),
            ));
        }
        let queued = Self::queue_outbound_at(
            &mut tx,
            conversation_id,
            contact_id,
            text,
            Some(agent_id),
            now,
            send_at,
        )
        .await?;
        let handoff_id: Option<i64> = sqlx::query_scalar(
            "UPDATE handoffs SET first_response_at = COALESCE(first_response_at, $2), updated_at = $2
             WHERE conversation_id = $1 AND status <> 'resolved' RETURNING id",
        )
        .bind(conversation_id)
        .bind(now)
        .fetch_optional(&mut *tx)
        .await?;
        Self::append_event(
            &mut tx,
            NewEvent {
                kind: "message.outbound",
                handoff_id,
                conversation_id: Some(conversation_id),
                payload: json!({
                    "message_id": queued.message_id,
                    "agent_id": agent_id,
                    "body": text.body,
                    "segments": text.segments,
                }),
            },
            now,
        )
        .await?;
        Self::append_audit(
            &mut tx,
            NewAudit {
                by: AuditBy::Agent(agent_id),
                action: AuditAction::MessageSent,
                target: format!("message {}", queued.message_id),
                conversation_id: Some(conversation_id),
                detail: json!({ "handoff_id": handoff_id, "segments": text.segments, "send_at": send_at }),
            },
            now,
        )
        .await?;
        tx.commit().await?;
        if handoff_id.is_some() {
            // Maybe a first answer: the usual wait is read again on the next turn.
            *self.usual_wait.lock().expect("usual wait cache") = None;
        }
        Ok(queued)
    }

    /// Sends the one "still waiting" text for each open handoff nobody has answered
    /// since `created_before`. Each handoff gets it at most once, even with several
    /// instances sweeping at the same time. Returns how many were queued.
    pub async fn queue_holding_messages(
        &self,
        created_before: i64,
        text: &NewOutbound,
        now: i64,
    ) -> Result<usize> {
        let due: Vec<(i64, i64, i64)> = sqlx::query(
            "SELECT h.id, h.conversation_id, h.contact_id FROM handoffs h
             JOIN contacts c ON c.id = h.contact_id
             WHERE h.status <> 'resolved' AND h.first_response_at IS NULL
               AND h.holding_sent_at IS NULL AND h.created_at <= $1 AND c.consent <> 'opted_out'
             ORDER BY h.id LIMIT 50",
        )
        .bind(created_before)
        .fetch_all(&self.pool)
        .await?
        .iter()
        .map(|r| (r.get(0), r.get(1), r.get(2)))
        .collect();
        let mut queued = 0;
        for (handoff_id, conversation_id, contact_id) in due {
            let (_writing, mut tx) = self.begin_write().await?;
            let marked = sqlx::query(
                "UPDATE handoffs SET holding_sent_at = $2, updated_at = $2
                 WHERE id = $1 AND holding_sent_at IS NULL AND first_response_at IS NULL
                   AND status <> 'resolved'",
            )
            .bind(handoff_id)
            .bind(now)
            .execute(&mut *tx)
            .await?;
            if marked.rows_affected() != 1 {
                tx.rollback().await?;
                continue;
            }
            Self::queue_outbound(&mut tx, conversation_id, contact_id, text, None, now).await?;
            tx.commit().await?;
            queued += 1;
        }
        Ok(queued)
    }

    /// The median time from handoff to first agent reply over recent handoffs (the
    /// last 50 answered within [`USUAL_WAIT_WINDOW_MS`]), or `None` with too little
    /// data.
    ///
    /// Every turn carries it (the expectation told to a customer being handed over),
    /// but it moves only when an agent first answers: it is read again after
    /// [`USUAL_WAIT_FRESH_MS`], or at once after an agent of this process answered.
    pub async fn median_first_response_ms(&self, now: i64) -> Result<Option<i64>> {
        if let Some((at, median)) = *self.usual_wait.lock().expect("usual wait cache")
            && (0..USUAL_WAIT_FRESH_MS).contains(&(now - at))
        {
            return Ok(median);
        }
        let median = self.read_median_first_response_ms(now).await?;
        *self.usual_wait.lock().expect("usual wait cache") = Some((now, median));
        Ok(median)
    }

    async fn read_median_first_response_ms(&self, now: i64) -> Result<Option<i64>> {
        let mut waits: Vec<i64> = sqlx::query_scalar(
            "SELECT first_response_at - created_at FROM handoffs
             WHERE first_response_at IS NOT NULL AND created_at >= $1
             ORDER BY created_at DESC LIMIT 50",
        )
        .bind(now - USUAL_WAIT_WINDOW_MS)
        .fetch_all(&self.pool)
        .await?;
        // Fewer than three answered handoffs say more about luck than about the team.
        if waits.len() < 3 {
            return Ok(None);
        }
        waits.sort_unstable();
        Ok(Some(waits[waits.len() / 2]))
    }
}
