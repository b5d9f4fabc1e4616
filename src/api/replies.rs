//! `GET /api/v1/replies`: the team's saved replies (`prompts/replies/`), filled in for
//! a conversation when one is named, with their segment counts, so the inbox can
//! insert one when an agent types `/` and its shortcut.

use axum::Router;
use axum::extract::State;
use axum::routing::get;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::auth::CurrentAgent;
use super::extract::{Json, Query};
use super::{ApiError, AppState};
use crate::knowledge::document::FileError;
use crate::replies::{SavedReply, render};
use crate::sms::segments;

pub fn router() -> Router<AppState> {
    Router::new().route("/api/v1/replies", get(list))
}

#[derive(Deserialize, IntoParams)]
pub struct RepliesQuery {
    /// Fill each reply in for this conversation (its contact, slots, the team's
    /// hours) and for you as the agent.
    conversation_id: Option<i64>,
}

/// A saved reply, filled in when a conversation was named.
#[derive(Serialize, ToSchema)]
pub struct ReplyView {
    #[serde(flatten)]
    #[schema(inline)]
    pub reply: SavedReply,
    /// The text to send, filled in for the conversation (absent without one, or
    /// when it could not be filled in: see `render_error`).
    pub text: Option<String>,
    /// GSM-7 or UCS-2, and the segments `text` takes.
    pub encoding: Option<String>,
    pub segments: Option<u32>,
    pub render_error: Option<String>,
}

/// The saved replies, and why the last edit of the folder did not load, if it did not
/// (the last good replies are listed meanwhile).
#[derive(Serialize, ToSchema)]
pub struct RepliesView {
    pub replies: Vec<ReplyView>,
    #[schema(value_type = Option<Object>)]
    pub error: Option<FileError>,
}

#[utoipa::path(
    get, path = "/api/v1/replies", tag = "conversations",
    params(RepliesQuery),
    responses(
        (status = 200, description = "Saved replies by shortcut, filled in for the conversation", body = RepliesView),
        (status = 404, description = "No such conversation"),
    ),
    security(("bearer" = []))
)]
pub async fn list(
    agent: CurrentAgent,
    State(state): State<AppState>,
    Query(query): Query<RepliesQuery>,
) -> Result<Json<RepliesView>, ApiError> {
    let saved = state.engine.saved_replies();
    let vars = match query.conversation_id {
        Some(id) => Some(state.engine.saved_reply_vars(id, &agent.name).await?),
        None => None,
    };
    let replies = saved
        .set
        .replies
        .iter()
        .map(|reply| {
            let filled = vars.as_ref().map(|vars| render(reply, vars));
            let (text, render_error) = match filled {
                Some(Ok(text)) => (Some(text), None),
                Some(Err(e)) => (None, Some(e)),
                None => (None, None),
            };
            let count = text.as_deref().map(segments::count);
            ReplyView {
                reply: reply.clone(),
                encoding: count.as_ref().map(|c| c.encoding.as_str().to_string()),
                segments: count.as_ref().map(|c| c.segments),
                text,
                render_error,
            }
        })
        .collect();
    Ok(Json(RepliesView {
        replies,
        error: saved.error.clone(),
    }))
}
