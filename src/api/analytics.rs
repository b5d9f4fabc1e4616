//! `GET /api/v1/analytics` (admin): the support lead's figures for a time window,
//! optionally per day, intent, agent or label. Definitions: [`crate::analytics`] and the
//! README.

use axum::Router;
use axum::extract::State;
use axum::routing::get;
use serde::Deserialize;
use utoipa::IntoParams;

use super::auth::AdminAgent;
use super::extract::{Json, Query};
use super::{ApiError, AppState};
use crate::analytics::{self, GroupBy, Report};

/// The window when `from` is not given: the week before `to`.
const DEFAULT_SPAN_MS: i64 = 7 * 86_400_000;

pub fn router() -> Router<AppState> {
    Router::new().route("/api/v1/analytics", get(analytics_report))
}

#[derive(Deserialize, IntoParams)]
pub struct AnalyticsQuery {
    /// Start, inclusive: RFC 3339, a date (midnight UTC) or epoch ms. Default: `to` − 7 days.
    from: Option<String>,
    /// End, exclusive. Default: now.
    to: Option<String>,
    /// `day`, `intent`, `agent` or `label` (a conversation counts under each of its labels).
    #[param(pattern = "^(day|intent|agent|label)?$")]
    group_by: Option<String>,
}

#[utoipa::path(
    get, path = "/api/v1/analytics", tag = "analytics",
    params(AnalyticsQuery),
    responses(
        (status = 200, description = "Figures for conversations started in the window", body = Report),
        (status = 400, description = "An unreadable time or group"),
        (status = 403, description = "Not an admin"),
    ),
    security(("bearer" = []))
)]
pub async fn analytics_report(
    _admin: AdminAgent,
    State(state): State<AppState>,
    Query(query): Query<AnalyticsQuery>,
) -> Result<Json<Report>, ApiError> {
    let time = |name: &str, value: &str| {
        analytics::parse_time(value).ok_or_else(|| {
            ApiError::BadRequest(format!(
                "\"{name}\" must be RFC 3339 (2026-12-02T00:00:00Z), a date (2026-12-02) or epoch milliseconds"
            ))
        })
    };
    let to = match query.to.as_deref().filter(|v| !v.trim().is_empty()) {
        Some(v) => time("to", v)?,
        None => state.engine.now_ms(),
    };
    let from = match query.from.as_deref().filter(|v| !v.trim().is_empty()) {
        Some(v) => time("from", v)?,
        None => to - DEFAULT_SPAN_MS,
    };
    if from >= to {
        return Err(ApiError::BadRequest(
            "\"from\" must be before \"to\"".into(),
        ));
    }
    let group_by = match query.group_by.as_deref().filter(|g| !g.is_empty()) {
        None => None,
        Some(g) => Some(GroupBy::parse(g).ok_or_else(|| {
            ApiError::BadRequest("\"group_by\" must be day, intent, agent or label".into())
        })?),
    };
    let facts = state.engine.store.conversation_facts(from, to).await?;
    let mut report = analytics::report(from, to, &facts, group_by);
    let feedback = state.engine.store.feedback_counts(from, to).await?;
    report.bot_answers = Some(analytics::BotAnswers::of(feedback));
    Ok(Json(report))
}
