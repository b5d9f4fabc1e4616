//! Learning from the people over HTTP: the gaps report and knowledge suggestions for
//! admins, and agents' verdicts on bot texts. The work is [`crate::gaps`]'s.

use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::{get, post};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::brain::intents::IntentName;
use crate::gaps::suggest::{self, Suggestion};
use crate::gaps::{
    self, ClusterSettings, FeedbackKind, GapReport, GapsError, SuggestionKind, examples,
};
use crate::store::SuggestionRow;

use super::auth::{AdminAgent, CurrentAgent};
use super::extract::{Json, Path, Query};
use super::{ApiError, AppState};

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/api/v1/admin/gaps", get(gaps_report))
        .route(
            "/api/v1/admin/suggestions",
            get(list_suggestions).post(draft_suggestions),
        )
        .route("/api/v1/admin/suggestions/{id}/accept", post(accept))
        .route("/api/v1/admin/suggestions/{id}/reject", post(reject))
        .route("/api/v1/messages/{id}/feedback", post(feedback))
}

/// The period of texts to read.
#[derive(Debug, Deserialize, ToSchema)]
pub struct Since {
    /// How far back: a number and m, h, d or w (default 30d).
    pub since: Option<String>,
}

impl From<GapsError> for ApiError {
    fn from(e: GapsError) -> Self {
        match e {
            GapsError::Store(e) => e.into(),
            GapsError::DraftMissing(_) | GapsError::Exists(_) | GapsError::Intents(_) => {
                ApiError::Conflict(e.to_string())
            }
            other => {
                tracing::error!(error = %other, "knowledge suggestion failed");
                ApiError::Unavailable(other.to_string())
            }
        }
    }
}

/// `[now - since, now]`.
fn period(state: &AppState, since: Option<&str>) -> Result<(i64, i64), ApiError> {
    let since = since.unwrap_or("30d");
    let span = crate::analytics::parse_span(since).ok_or_else(|| {
        ApiError::BadRequest(format!(
            "since={since:?}: use a number and m, h, d or w (e.g. 30d)"
        ))
    })?;
    // Through this millisecond: a text that just arrived is in the report.
    let now = state.engine.now_ms() + 1;
    Ok((now - span, now))
}

async fn report(state: &AppState, since: Option<&str>) -> Result<GapReport, ApiError> {
    let (from, until) = period(state, since)?;
    let embedder = state.knowledge.as_ref().and_then(|k| k.embedder());
    Ok(gaps::find(
        &state.engine.store,
        embedder.map(|e| e.as_ref()),
        from,
        until,
        ClusterSettings::default(),
    )
    .await?)
}

fn knowledge_dir(state: &AppState) -> Result<std::path::PathBuf, ApiError> {
    state
        .knowledge
        .as_ref()
        .map(|k| k.knowledge_dir().to_path_buf())
        .ok_or_else(|| {
            ApiError::Unavailable("the knowledge base is not running; see the server log".into())
        })
}

#[utoipa::path(
    get, path = "/api/v1/admin/gaps", tag = "admin",
    params(("since" = Option<String>, Query, description = "How far back, e.g. 30d (default)")),
    responses(
        (status = 200, description = "The texts the bot could not handle, redacted and grouped \
            by meaning, most customers first, with examples, the intents they were taken for \
            and the trend against the period before", body = GapReport),
        (status = 403, description = "Not an admin"),
    ),
    security(("bearer" = []))
)]
pub async fn gaps_report(
    _admin: AdminAgent,
    State(state): State<AppState>,
    Query(query): Query<Since>,
) -> Result<Json<GapReport>, ApiError> {
    Ok(Json(report(&state, query.since.as_deref()).await?))
}

#[utoipa::path(
    get, path = "/api/v1/admin/suggestions", tag = "admin",
    responses(
        (status = 200, description = "Knowledge drafts, newest first, each with its status, \
            source conversations and, while pending, the file's text", body = [Suggestion]),
        (status = 403, description = "Not an admin"),
    ),
    security(("bearer" = []))
)]
pub async fn list_suggestions(
    _admin: AdminAgent,
    State(state): State<AppState>,
) -> Result<Json<Vec<Suggestion>>, ApiError> {
    let dir = knowledge_dir(&state)?;
    Ok(Json(suggest::list(&state.engine.store, &dir).await?))
}

#[utoipa::path(
    post, path = "/api/v1/admin/suggestions", tag = "admin",
    request_body = Since,
    responses(
        (status = 201, description = "Drafts written to knowledge/_suggested/ for the groups of \
            gaps agents answered (none twice from the same conversations), and intent examples \
            proposed from the texts agents re-labelled (each text once)", body = [Suggestion]),
        (status = 403, description = "Not an admin"),
    ),
    security(("bearer" = []))
)]
pub async fn draft_suggestions(
    _admin: AdminAgent,
    State(state): State<AppState>,
    Json(request): Json<Since>,
) -> Result<(StatusCode, Json<Vec<Suggestion>>), ApiError> {
    let dir = knowledge_dir(&state)?;
    let report = report(&state, request.since.as_deref()).await?;
    let policy = state.engine.policy();
    let llm = state.engine.brain.as_ref().and_then(|b| b.llm().cloned());
    let rows = suggest::suggest(
        &state.engine.store,
        &dir,
        &report,
        policy.replies.max_segments,
        llm.as_deref().map(|l| (l, policy.business.name.as_str())),
        state.engine.now_ms(),
    )
    .await?;
    let mut drafted: Vec<Suggestion> = rows.into_iter().map(|r| suggest::view(&dir, r)).collect();
    if let Some(brain) = &state.engine.brain {
        let proposed = examples::suggest(
            &state.engine.store,
            &brain.model().set,
            state.engine.now_ms(),
        )
        .await?;
        drafted.extend(proposed.into_iter().map(|r| suggest::view(&dir, r)));
    }
    Ok((StatusCode::CREATED, Json(drafted)))
}

async fn pending(state: &AppState, id: i64) -> Result<SuggestionRow, ApiError> {
    state
        .engine
        .store
        .suggestion(id)
        .await?
        .ok_or_else(|| ApiError::NotFound(format!("suggestion {id} not found")))
}

#[utoipa::path(
    post, path = "/api/v1/admin/suggestions/{id}/accept", tag = "admin",
    params(("id" = i64, Path, description = "Suggestion id")),
    responses(
        (status = 200, description = "Published as knowledge/learned/<name>.md; the knowledge \
            base indexes it within seconds. An intent example is added to its intent in \
            intents.toml, and the classifier is retrained when the file is reloaded", body = Suggestion),
        (status = 403, description = "Not an admin"),
        (status = 404, description = "No such suggestion"),
        (status = 409, description = "Already decided, its draft file is gone, a file by its \
            name is published already, or intents.toml would not load with the example"),
    ),
    security(("bearer" = []))
)]
pub async fn accept(
    AdminAgent(admin): AdminAgent,
    State(state): State<AppState>,
    Path(id): Path<i64>,
) -> Result<Json<Suggestion>, ApiError> {
    let dir = knowledge_dir(&state)?;
    let row = pending(&state, id).await?;
    if row.kind == SuggestionKind::IntentExample {
        let accepted = examples::accept(
            &state.engine.store,
            &state.prompts_dir,
            &row,
            (admin.id, &admin.name),
            state.engine.now_ms(),
        )
        .await?;
        return Ok(Json(suggest::view(&dir, accepted)));
    }
    let accepted = suggest::accept(
        &state.engine.store,
        &dir,
        &row,
        (admin.id, &admin.name),
        state.engine.now_ms(),
    )
    .await?;
    // Indexed now rather than at the watcher's next look, so the next text finds it.
    if let Some(knowledge) = &state.knowledge
        && let Err(e) = knowledge.reindex().await
    {
        tracing::warn!(error = %e, "re-indexing after an accepted suggestion failed; the watcher retries");
    }
    Ok(Json(accepted))
}

#[utoipa::path(
    post, path = "/api/v1/admin/suggestions/{id}/reject", tag = "admin",
    params(("id" = i64, Path, description = "Suggestion id")),
    responses(
        (status = 200, description = "Rejected: the draft file is removed", body = Suggestion),
        (status = 403, description = "Not an admin"),
        (status = 404, description = "No such suggestion"),
        (status = 409, description = "Already decided"),
    ),
    security(("bearer" = []))
)]
pub async fn reject(
    AdminAgent(admin): AdminAgent,
    State(state): State<AppState>,
    Path(id): Path<i64>,
) -> Result<Json<Suggestion>, ApiError> {
    let dir = knowledge_dir(&state)?;
    let row = pending(&state, id).await?;
    if row.kind == SuggestionKind::IntentExample {
        let rejected = examples::reject(
            &state.engine.store,
            &row,
            (admin.id, &admin.name),
            state.engine.now_ms(),
        )
        .await?;
        return Ok(Json(suggest::view(&dir, rejected)));
    }
    Ok(Json(
        suggest::reject(
            &state.engine.store,
            &dir,
            &row,
            (admin.id, &admin.name),
            state.engine.now_ms(),
        )
        .await?,
    ))
}

/// An agent's verdict on a bot text.
#[derive(Debug, Deserialize, ToSchema)]
pub struct FeedbackRequest {
    pub kind: FeedbackKind,
    /// What the bot should have said (optional); drafts of knowledge use it.
    pub correction: Option<String>,
    /// The intent the customer's text (the one the bot answered) really was, if the
    /// bot took it for another; proposed as an example of it for intents.toml.
    pub intent: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct FeedbackRecorded {
    pub message_id: i64,
    pub conversation_id: i64,
    pub kind: FeedbackKind,
}

/// `name` when it is one of the intents loaded now (not `out_of_scope`).
fn known_intent(state: &AppState, name: &str) -> Result<IntentName, ApiError> {
    let Some(brain) = &state.engine.brain else {
        return Err(ApiError::Unavailable(
            "the intent classifier is not running; see the server log".into(),
        ));
    };
    let model = brain.model();
    let known = IntentName::parse(name.trim())
        .ok()
        .filter(|n| model.set.get(n.as_str()).is_some());
    known.ok_or_else(|| {
        let names: Vec<&str> = model.set.names().map(IntentName::as_str).collect();
        ApiError::Unprocessable(format!(
            "intent {name:?} is not in intents.toml; use one of: {}",
            names.join(", ")
        ))
    })
}

/// The longest correction, in characters.
const MAX_CORRECTION_CHARS: usize = 1600;

#[utoipa::path(
    post, path = "/api/v1/messages/{id}/feedback", tag = "conversations",
    params(("id" = i64, Path, description = "The bot's message id")),
    request_body = FeedbackRequest,
    responses(
        (status = 200, description = "Recorded (a second verdict by the same agent replaces the \
            first); the customer's text counts as a gap", body = FeedbackRecorded),
        (status = 400, description = "Unknown kind, or a correction that is too long"),
        (status = 404, description = "No bot message with this id"),
        (status = 422, description = "An intent that intents.toml does not have (the error \
            lists the ones it has)"),
    ),
    security(("bearer" = []))
)]
pub async fn feedback(
    agent: CurrentAgent,
    State(state): State<AppState>,
    Path(id): Path<i64>,
    Json(request): Json<FeedbackRequest>,
) -> Result<Json<FeedbackRecorded>, ApiError> {
    let correction = request
        .correction
        .as_deref()
        .map(str::trim)
        .filter(|c| !c.is_empty());
    if correction.is_some_and(|c| c.chars().count() > MAX_CORRECTION_CHARS) {
        return Err(ApiError::BadRequest(format!(
            "the correction is longer than {MAX_CORRECTION_CHARS} characters; shorten it"
        )));
    }
    let intent = request
        .intent
        .as_deref()
        .map(|name| known_intent(&state, name))
        .transpose()?;
    let conversation_id = state
        .engine
        .store
        .record_feedback(
            id,
            agent.id,
            request.kind,
            correction,
            intent.as_ref().map(IntentName::as_str),
            state.engine.now_ms(),
        )
        .await?;
    Ok(Json(FeedbackRecorded {
        message_id: id,
        conversation_id,
        kind: request.kind,
    }))
}
