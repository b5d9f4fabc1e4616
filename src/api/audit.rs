//! `GET /api/v1/admin/audit` (admin): who did what and when, newest first, a page at a
//! time. The entries are written by the store with each action; this only reads them.

use axum::Router;
use axum::extract::State;
use axum::routing::get;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::auth::AdminAgent;
use super::extract::{Json, Query};
use super::{ApiError, AppState};
use crate::analytics::parse_time;
use crate::store::{AuditAction, AuditEntry, AuditFilter};

pub fn router() -> Router<AppState> {
    Router::new().route("/api/v1/admin/audit", get(audit))
}

/// Entries per page unless `limit` says otherwise, and the most it may say.
const PAGE: i64 = 100;
const LARGEST_PAGE: i64 = 1000;

#[derive(Deserialize, IntoParams)]
pub struct AuditQuery {
    /// Only this agent's actions (their name), or `cli` for the command line's.
    actor: Option<String>,
    /// Only this action, e.g. `handoff.resolved` or `contact.erased`.
    action: Option<String>,
    /// Only actions on this conversation.
    conversation_id: Option<i64>,
    /// From (inclusive): RFC 3339, a date (midnight UTC) or epoch ms.
    since: Option<String>,
    /// Until (exclusive), in the same forms.
    until: Option<String>,
    /// The next page: `next_before` of the previous one.
    before: Option<i64>,
    /// Entries per page, 1 to 1000 (default 100).
    limit: Option<i64>,
}

/// A page of the audit log.
#[derive(Serialize, ToSchema)]
pub struct AuditPage {
    pub entries: Vec<AuditEntry>,
    /// Pass as `before` for the next (older) page; absent on the last page.
    pub next_before: Option<i64>,
}

#[utoipa::path(
    get, path = "/api/v1/admin/audit", tag = "admin",
    params(AuditQuery),
    responses(
        (status = 200, description = "Agents' and admins' actions (claim, release, transfer, \
            resolve, reply, note, contact edits and erasure, tokens added and revoked, webhook \
            redelivery), newest first; never message text or phone numbers", body = AuditPage),
        (status = 400, description = "Unknown action, unreadable time, or limit out of range"),
        (status = 403, description = "Not an admin"),
    ),
    security(("bearer" = []))
)]
pub async fn audit(
    _admin: AdminAgent,
    State(state): State<AppState>,
    Query(query): Query<AuditQuery>,
) -> Result<Json<AuditPage>, ApiError> {
    let filter = filter(query)?;
    let entries = state.engine.store.audit_log(&filter).await?;
    let next_before = (entries.len() as i64 == filter.limit)
        .then(|| entries.last().map(|e| e.id))
        .flatten();
    Ok(Json(AuditPage {
        entries,
        next_before,
    }))
}

fn filter(query: AuditQuery) -> Result<AuditFilter, ApiError> {
    let time = |name: &str, value: Option<String>| -> Result<Option<i64>, ApiError> {
        value
            .filter(|v| !v.trim().is_empty())
            .map(|v| {
                parse_time(&v).ok_or_else(|| {
                    ApiError::BadRequest(format!(
                        "\"{name}\": {v:?} is not a time; use RFC 3339, a date (2026-12-01) or epoch ms"
                    ))
                })
            })
            .transpose()
    };
    let action = query
        .action
        .filter(|a| !a.is_empty())
        .map(|a| {
            AuditAction::parse(&a).ok_or_else(|| {
                let known: Vec<&str> = AuditAction::ALL.iter().map(|a| a.as_str()).collect();
                ApiError::BadRequest(format!(
                    "unknown action {a:?}: use one of {}",
                    known.join(", ")
                ))
            })
        })
        .transpose()?;
    let limit = query.limit.unwrap_or(PAGE);
    if !(1..=LARGEST_PAGE).contains(&limit) {
        return Err(ApiError::BadRequest(format!(
            "\"limit\" must be 1 to {LARGEST_PAGE}, not {limit}"
        )));
    }
    Ok(AuditFilter {
        actor: query.actor.filter(|a| !a.is_empty()),
        action,
        conversation_id: query.conversation_id,
        since: time("since", query.since)?,
        until: time("until", query.until)?,
        before_id: query.before,
        limit,
    })
}
