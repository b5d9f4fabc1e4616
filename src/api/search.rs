//! Finding and taking out what was written: `GET /api/v1/search` (any agent: words in
//! messages and notes, with filters, a page at a time) and
//! `GET /api/v1/conversations/export` (admins: every message or conversation of a
//! period as CSV or JSON lines, streamed).

use axum::Router;
use axum::body::Body;
use axum::extract::State;
use axum::http::header;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use futures_util::StreamExt;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::auth::{AdminAgent, CurrentAgent};
use super::extract::{Json, Query};
use super::{ApiError, AppState};
use crate::analytics::parse_time;
use crate::engine::export::{self, ExportFormat, ExportRows, ExportSpec};
use crate::sms::PhoneNumber;
use crate::store::{AuditAction, AuditBy, ConversationStatus, Label, SearchHit, SearchQuery};

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/api/v1/search", get(search))
        .route("/api/v1/conversations/export", get(export_conversations))
}

/// Hits per page unless `limit` says otherwise, and the most it may say.
const PAGE: i64 = 50;
const LARGEST_PAGE: i64 = 200;

#[derive(Deserialize, IntoParams)]
pub struct SearchParams {
    /// The words to find (all of them, whole words, any order).
    q: String,
    /// Only this contact's conversations (E.164).
    phone: Option<String>,
    /// Only conversations with this label.
    label: Option<String>,
    /// Only conversations in this status: bot, waiting, assigned or resolved.
    status: Option<String>,
    /// Only conversations a handoff of which was assigned to this agent (name).
    agent: Option<String>,
    /// From (inclusive): RFC 3339, a date (midnight UTC) or epoch ms.
    from: Option<String>,
    /// Until (exclusive), in the same forms.
    to: Option<String>,
    /// Hits per page, 1 to 200 (default 50).
    limit: Option<i64>,
    /// Hits to skip: the next page starts at `offset + limit`.
    offset: Option<i64>,
}

/// A page of hits, newest first.
#[derive(Serialize, ToSchema)]
pub struct SearchPage {
    pub hits: Vec<SearchHit>,
    /// The `offset` of the next page; absent on the last.
    pub next_offset: Option<i64>,
}

fn bad(message: String) -> ApiError {
    ApiError::BadRequest(message)
}

fn time(name: &str, value: Option<&str>) -> Result<Option<i64>, ApiError> {
    value
        .map(str::trim)
        .filter(|v| !v.is_empty())
        .map(|v| {
            parse_time(v).ok_or_else(|| {
                bad(format!(
                    "\"{name}\": {v:?} is not a time; use RFC 3339, a date (2026-12-01) or epoch ms"
                ))
            })
        })
        .transpose()
}

fn nonempty(value: &Option<String>) -> Option<&str> {
    value.as_deref().map(str::trim).filter(|v| !v.is_empty())
}

#[utoipa::path(
    get, path = "/api/v1/search", tag = "conversations",
    params(SearchParams),
    responses(
        (status = 200, description = "Messages and notes with every word, newest first", body = SearchPage),
        (status = 400, description = "No words, or a filter that does not parse"),
    ),
    security(("bearer" = []))
)]
pub async fn search(
    _agent: CurrentAgent,
    State(state): State<AppState>,
    Query(params): Query<SearchParams>,
) -> Result<Json<SearchPage>, ApiError> {
    if params.q.trim().is_empty() {
        return Err(bad("\"q\" must have at least one word".into()));
    }
    let limit = params.limit.unwrap_or(PAGE);
    if !(1..=LARGEST_PAGE).contains(&limit) {
        return Err(bad(format!("\"limit\" must be 1 to {LARGEST_PAGE}")));
    }
    let offset = params.offset.unwrap_or(0);
    if offset < 0 {
        return Err(bad("\"offset\" must not be negative".into()));
    }
    let query = SearchQuery {
        words: params.q.clone(),
        phone: nonempty(&params.phone)
            .map(|p| {
                PhoneNumber::parse(p)
                    .map_err(|e| bad(format!("\"phone\" is not an E.164 phone number: {e}")))
            })
            .transpose()?,
        label: nonempty(&params.label)
            .map(|l| Label::parse(l).map_err(|e| bad(format!("\"label\": {e}"))))
            .transpose()?,
        status: nonempty(&params.status)
            .map(|s| {
                ConversationStatus::parse(s).ok_or_else(|| {
                    bad(format!(
                        "\"status\" {s:?}: use bot, waiting, assigned or resolved"
                    ))
                })
            })
            .transpose()?,
        agent: nonempty(&params.agent).map(str::to_string),
        from: time("from", params.from.as_deref())?,
        to: time("to", params.to.as_deref())?,
        limit,
        offset,
    };
    let hits = state.engine.store.search(&query).await?;
    let next_offset = (hits.len() as i64 == limit).then_some(offset + limit);
    Ok(Json(SearchPage { hits, next_offset }))
}

#[derive(Deserialize, IntoParams)]
pub struct ExportParams {
    /// `csv` (default) or `jsonl`.
    format: Option<String>,
    /// `message` (default: one row per message) or `conversation`.
    per: Option<String>,
    /// From (inclusive): RFC 3339, a date (midnight UTC) or epoch ms; default: the
    /// beginning.
    from: Option<String>,
    /// Until (exclusive), in the same forms; default: now.
    to: Option<String>,
}

#[utoipa::path(
    get, path = "/api/v1/conversations/export", tag = "admin",
    params(ExportParams),
    responses(
        (status = 200, description = "One row per message (id, conversation_id, phone, direction, \
            author, agent, body, intent, encoding, segments, delivery_status, created_at) or per \
            conversation (id, phone, status, created_at, resolved_at, messages, handoffs, labels), \
            oldest first, streamed", content_type = "text/csv"),
        (status = 400, description = "Unknown format or row kind, or an unreadable time"),
        (status = 403, description = "Not an admin"),
    ),
    security(("bearer" = []))
)]
pub async fn export_conversations(
    AdminAgent(admin): AdminAgent,
    State(state): State<AppState>,
    Query(params): Query<ExportParams>,
) -> Result<Response, ApiError> {
    let format = match nonempty(&params.format) {
        None => ExportFormat::Csv,
        Some(name) => ExportFormat::parse(name)
            .ok_or_else(|| bad(format!("\"format\" {name:?}: use csv or jsonl")))?,
    };
    let rows = match nonempty(&params.per) {
        None => ExportRows::Messages,
        Some(name) => ExportRows::parse(name)
            .ok_or_else(|| bad(format!("\"per\" {name:?}: use message or conversation")))?,
    };
    let now = state.engine.now_ms();
    let spec = ExportSpec {
        format,
        rows,
        from: time("from", params.from.as_deref())?.unwrap_or(0),
        to: time("to", params.to.as_deref())?.unwrap_or(i64::MAX),
    };
    let store = state.engine.store.clone();
    store
        .record_audit(
            AuditBy::Agent(admin.id),
            AuditAction::DataExported,
            "conversations",
            serde_json::json!({
                "per": params.per.as_deref().unwrap_or("message"),
                "format": params.format.as_deref().unwrap_or("csv"),
                "from": spec.from,
                "to": spec.to,
            }),
            now,
        )
        .await?;
    let extension = match format {
        ExportFormat::Csv => "csv",
        ExportFormat::JsonLines => "jsonl",
    };
    // An error after the first bytes cannot change the status any more: it ends the
    // body early, which the client sees as a broken transfer, and is logged.
    let body = export::stream(store, spec).map(|chunk| {
        chunk.map_err(|e| {
            tracing::error!(error = %e, "export stopped");
            std::io::Error::other(e.to_string())
        })
    });
    Ok((
        [
            (header::CONTENT_TYPE, format.content_type().to_string()),
            (
                header::CONTENT_DISPOSITION,
                format!("attachment; filename=\"textdesk-export.{extension}\""),
            ),
        ],
        Body::from_stream(body),
    )
        .into_response())
}
