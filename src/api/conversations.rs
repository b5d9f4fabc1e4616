//! Conversations for agents: find by phone, read the thread, reply, add notes.

use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::{get, post};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::auth::CurrentAgent;
use super::extract::{Json, Path, Query};
use super::{ApiError, AppState};
use crate::brain::summary::trim_to;
use crate::sms::{PhoneNumber, segments};
use crate::store::{
    Agent, Author, ConversationDetail, ConversationInfo, NewOutbound, Note, OutboundKind,
    PastConversation,
};

/// Longest agent text accepted, in segments: longer texts cost a lot and arrive
/// badly on old phones; split them.
pub(super) const MAX_AGENT_SEGMENTS: u32 = 10;

/// A past conversation's first text in the history, cut for a one-line listing.
const FIRST_TEXT_CHARS: usize = 160;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/api/v1/conversations", get(list))
        .route("/api/v1/conversations/{id}", get(show))
        .route("/api/v1/conversations/{id}/history", get(history))
        .route("/api/v1/conversations/{id}/messages", post(send_message))
        .route("/api/v1/conversations/{id}/notes", post(add_note))
}

#[derive(Deserialize, IntoParams)]
pub struct ListQuery {
    /// The contact's phone number, E.164 (e.g. +13035550199).
    #[param(pattern = r"^\+[1-9][0-9]{7,14}$")]
    phone: String,
}

#[utoipa::path(
    get, path = "/api/v1/conversations", tag = "conversations",
    params(ListQuery),
    responses(
        (status = 200, description = "The contact's conversations, newest first", body = [ConversationInfo]),
        (status = 400, description = "Not an E.164 number"),
    ),
    security(("bearer" = []))
)]
pub async fn list(
    _agent: CurrentAgent,
    State(state): State<AppState>,
    Query(query): Query<ListQuery>,
) -> Result<Json<Vec<ConversationInfo>>, ApiError> {
    let phone = PhoneNumber::parse(&query.phone).map_err(|e| {
        ApiError::BadRequest(format!("\"phone\" is not an E.164 phone number: {e}"))
    })?;
    Ok(Json(state.engine.store.conversations_of(&phone).await?))
}

#[utoipa::path(
    get, path = "/api/v1/conversations/{id}", tag = "conversations",
    params(("id" = i64, Path, description = "Conversation id")),
    responses(
        (status = 200, description = "Thread, notes, handoff and consent", body = ConversationDetail),
        (status = 404, description = "No such conversation"),
    ),
    security(("bearer" = []))
)]
pub async fn show(
    _agent: CurrentAgent,
    State(state): State<AppState>,
    Path(id): Path<i64>,
) -> Result<Json<ConversationDetail>, ApiError> {
    state
        .engine
        .store
        .conversation_detail(id)
        .await?
        .map(Json)
        .ok_or_else(|| ApiError::NotFound(format!("conversation {id} not found")))
}

#[utoipa::path(
    get, path = "/api/v1/conversations/{id}/history", tag = "conversations",
    params(("id" = i64, Path, description = "Conversation id")),
    responses(
        (status = 200, description = "The same contact's other conversations, newest first \
            (at most 20): when, how it ended, its first text (cut at 160 characters on a \
            sentence or word), its handoff's headline, \
            the agent and the labels", body = [PastConversation]),
        (status = 404, description = "No such conversation"),
    ),
    security(("bearer" = []))
)]
pub async fn history(
    _agent: CurrentAgent,
    State(state): State<AppState>,
    Path(id): Path<i64>,
) -> Result<Json<Vec<PastConversation>>, ApiError> {
    let mut past = state
        .engine
        .store
        .other_conversations(id)
        .await?
        .ok_or_else(|| ApiError::NotFound(format!("conversation {id} not found")))?;
    for conversation in &mut past {
        if let Some(text) = &mut conversation.first_text {
            *text = trim_to(text, FIRST_TEXT_CHARS);
        }
    }
    Ok(Json(past))
}

#[derive(Deserialize, ToSchema)]
pub struct MessageRequest {
    /// The text to send, as written: agents' texts are not rewritten (the inbox
    /// offers GSM look-alikes before sending).
    #[schema(pattern = r"\S")]
    pub body: String,
}

#[derive(Serialize, ToSchema)]
pub struct SentMessage {
    pub message_id: i64,
    pub conversation_id: i64,
    pub body: String,
    /// GSM-7 or UCS-2.
    pub encoding: String,
    pub segments: u32,
    /// Characters (GSM-7 septets or UTF-16 units) left in the last segment.
    pub remaining_in_segment: u32,
    /// `queued`: in the outbox, going now; `scheduled`: the customer has not texted
    /// for a day and it is outside their sending hours, so it goes at `send_at`.
    /// Delivery status follows on the conversation.
    pub status: String,
    /// When it goes (epoch ms).
    pub send_at: i64,
}

#[utoipa::path(
    post, path = "/api/v1/conversations/{id}/messages", tag = "conversations",
    params(("id" = i64, Path, description = "Conversation id")),
    request_body = MessageRequest,
    responses(
        (status = 201, description = "Queued for sending", body = SentMessage),
        (status = 400, description = "Empty or too long"),
        (status = 403, description = "The conversation's handoff is assigned to another agent"),
        (status = 409, description = "The contact opted out"),
    ),
    security(("bearer" = []))
)]
pub async fn send_message(
    agent: CurrentAgent,
    State(state): State<AppState>,
    Path(id): Path<i64>,
    Json(request): Json<MessageRequest>,
) -> Result<(StatusCode, Json<SentMessage>), ApiError> {
    let body = request.body.trim_end();
    if body.trim().is_empty() {
        return Err(ApiError::BadRequest("\"body\" must not be empty".into()));
    }
    let count = segments::count(body);
    if count.segments > MAX_AGENT_SEGMENTS {
        return Err(ApiError::BadRequest(format!(
            "the text is {} segments ({}); the limit is {MAX_AGENT_SEGMENTS}: shorten or split it",
            count.segments,
            count.encoding.as_str()
        )));
    }
    may_act_on(&state, &agent, id).await?;
    let text = NewOutbound {
        author: Author::Agent,
        kind: OutboundKind::Reply,
        body: body.to_string(),
        encoding: count.encoding.as_str(),
        segments: count.segments,
        units: count.units,
    };
    let now = state.engine.now_ms();
    let queued = state.engine.send_agent_text(id, agent.id, &text).await?;
    Ok((
        StatusCode::CREATED,
        Json(SentMessage {
            message_id: queued.message_id,
            conversation_id: id,
            body: text.body,
            encoding: count.encoding.as_str().to_string(),
            segments: count.segments,
            remaining_in_segment: segments::remaining_in_last_segment(body),
            status: if queued.send_at > now {
                "scheduled"
            } else {
                "queued"
            }
            .into(),
            send_at: queued.send_at,
        }),
    ))
}

#[derive(Deserialize, ToSchema)]
pub struct NoteRequest {
    /// Private to the team; never sent to the customer.
    #[schema(pattern = r"\S")]
    pub body: String,
}

#[utoipa::path(
    post, path = "/api/v1/conversations/{id}/notes", tag = "conversations",
    params(("id" = i64, Path, description = "Conversation id")),
    request_body = NoteRequest,
    responses(
        (status = 201, description = "Note added", body = Note),
        (status = 400, description = "Empty note"),
        (status = 404, description = "No such conversation"),
    ),
    security(("bearer" = []))
)]
pub async fn add_note(
    agent: CurrentAgent,
    State(state): State<AppState>,
    Path(id): Path<i64>,
    Json(request): Json<NoteRequest>,
) -> Result<(StatusCode, Json<Note>), ApiError> {
    if request.body.trim().is_empty() {
        return Err(ApiError::BadRequest("\"body\" must not be empty".into()));
    }
    let note = state
        .engine
        .add_note(id, agent.id, request.body.trim())
        .await?;
    Ok((StatusCode::CREATED, Json(note)))
}

/// Replying is for the agent the conversation's handoff is assigned to, or an admin.
/// A conversation with no assigned handoff (waiting, resolved, or never escalated)
/// may be texted by any agent: proactive outreach is part of the job.
async fn may_act_on(state: &AppState, agent: &Agent, conversation_id: i64) -> Result<(), ApiError> {
    if agent.is_admin() {
        return Ok(());
    }
    let open = state.engine.store.open_handoff_of(conversation_id).await?;
    match open.and_then(|h| h.assignee_id) {
        Some(owner) if owner != agent.id => Err(ApiError::Forbidden(format!(
            "conversation {conversation_id} is assigned to another agent; ask them or an admin to transfer it"
        ))),
        _ => Ok(()),
    }
}
