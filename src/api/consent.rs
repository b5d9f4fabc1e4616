//! The consent ledger over HTTP: a contact's consent and every change of it (admin),
//! consent recorded by an agent who spoke with the customer, by a system (a sign-up
//! form) through the admin API, or imported as CSV.

use axum::Router;
use axum::extract::rejection::StringRejection;
use axum::extract::{DefaultBodyLimit, State};
use axum::http::StatusCode;
use axum::routing::{get, post};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::auth::{AdminAgent, CurrentAgent};
use super::contacts::parse_phone;
use super::extract::{Json, Path, Query};
use super::{ApiError, AppState};
use crate::engine::consent::{self, ImportReport, Statement};
use crate::sms::PhoneNumber;
use crate::store::{Consent, ConsentRecord, ConsentSource, Recorded};

/// 10 MB: a few hundred thousand rows of `phone,consent,detail`.
const MAX_IMPORT_BYTES: usize = 10 * 1024 * 1024;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/api/v1/admin/consent", get(show).post(record_by_api))
        // An import file is larger than any JSON body of the API.
        .route(
            "/api/v1/admin/consent/import",
            post(import).layer(DefaultBodyLimit::max(MAX_IMPORT_BYTES)),
        )
        .route("/api/v1/contacts/{phone}/consent", post(record_by_agent))
}

/// A contact's consent and its ledger.
#[derive(Serialize, ToSchema)]
pub struct ConsentView {
    /// E.164.
    pub phone: String,
    /// `implied` (texted us: replies only), `opted_in` (express consent: flows may
    /// start) or `opted_out`.
    pub consent: Consent,
    /// Whether texts the business starts (flows) may go to this contact.
    pub express: bool,
    /// Every change, oldest first.
    pub ledger: Vec<ConsentRecord>,
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ConsentQuery {
    /// E.164 number (`%2B` for `+`).
    pub phone: String,
}

/// Consent stated by a system (`POST /api/v1/admin/consent`).
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ApiStatement {
    /// E.164 number.
    pub phone: String,
    /// `opted_in` (express consent given) or `opted_out`.
    pub consent: String,
    /// The evidence: what the customer agreed to, where and when.
    pub detail: String,
}

/// Consent stated by an agent (`POST /api/v1/contacts/{phone}/consent`).
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AgentStatement {
    /// `opted_in` or `opted_out`.
    pub consent: String,
    /// What the customer said, where and when ("asked on the phone to stop texts").
    pub detail: String,
}

#[utoipa::path(
    get, path = "/api/v1/admin/consent", tag = "admin",
    params(ConsentQuery),
    responses(
        (status = 200, description = "The contact's consent and every change of it", body = ConsentView),
        (status = 400, description = "Not an E.164 number"),
        (status = 403, description = "Not an admin"),
        (status = 404, description = "No contact with this number"),
    ),
    security(("bearer" = []))
)]
pub async fn show(
    _admin: AdminAgent,
    State(state): State<AppState>,
    Query(query): Query<ConsentQuery>,
) -> Result<Json<ConsentView>, ApiError> {
    let phone = parse_phone(&query.phone)?;
    Ok(Json(view(&state, &phone).await?))
}

#[utoipa::path(
    post, path = "/api/v1/admin/consent", tag = "admin",
    request_body = ApiStatement,
    responses(
        (status = 201, description = "Recorded (source `api`); the contact is created when new", body = ConsentView),
        (status = 400, description = "Not an E.164 number, a consent other than opted_in/opted_out, or no detail"),
        (status = 403, description = "Not an admin"),
    ),
    security(("bearer" = []))
)]
pub async fn record_by_api(
    AdminAgent(admin): AdminAgent,
    State(state): State<AppState>,
    Json(body): Json<ApiStatement>,
) -> Result<(StatusCode, Json<ConsentView>), ApiError> {
    let statement =
        Statement::parse(&body.phone, &body.consent, &body.detail).map_err(ApiError::BadRequest)?;
    record(&state, &statement, ConsentSource::Api, &admin.name).await
}

#[utoipa::path(
    post, path = "/api/v1/contacts/{phone}/consent", tag = "contacts",
    params(("phone" = String, Path, description = "E.164 number, e.g. +13035550199 (%2B for +)", pattern = r"^\+[1-9][0-9]{7,14}$")),
    request_body = AgentStatement,
    responses(
        (status = 201, description = "Recorded (source `agent`, with the agent's name)", body = ConsentView),
        (status = 400, description = "Not an E.164 number, a consent other than opted_in/opted_out, or no detail"),
    ),
    security(("bearer" = []))
)]
pub async fn record_by_agent(
    agent: CurrentAgent,
    State(state): State<AppState>,
    Path(phone): Path<String>,
    Json(body): Json<AgentStatement>,
) -> Result<(StatusCode, Json<ConsentView>), ApiError> {
    let statement =
        Statement::parse(&phone, &body.consent, &body.detail).map_err(ApiError::BadRequest)?;
    record(&state, &statement, ConsentSource::Agent, &agent.name).await
}

#[utoipa::path(
    post, path = "/api/v1/admin/consent/import", tag = "admin",
    request_body(content = String, content_type = "text/csv",
        description = "A header naming `phone`, `consent` (opted_in / opted_out) and `detail` \
            (the evidence), then one row per contact; other columns are ignored"),
    responses(
        (status = 200, description = "Every row recorded (source `import`), except opt-ins for \
            contacts who have opted out since, which are listed", body = ImportReport),
        (status = 403, description = "Not an admin"),
        (status = 413, description = "Larger than 10 MB: split the file"),
        (status = 422, description = "A row that cannot be read, named by its line; nothing was imported"),
    ),
    security(("bearer" = []))
)]
pub async fn import(
    AdminAgent(admin): AdminAgent,
    State(state): State<AppState>,
    body: Result<String, StringRejection>,
) -> Result<Json<ImportReport>, ApiError> {
    let body = body.map_err(|rejection| {
        super::extract::body_rejected(rejection.status(), rejection.body_text(), &rejection)
    })?;
    let statements = consent::parse_import(&body).map_err(|message| ApiError::Malformed {
        status: StatusCode::UNPROCESSABLE_ENTITY,
        message: format!("nothing was imported: {message}"),
    })?;
    let report = consent::import(
        &state.engine.store,
        &statements,
        Some(&admin.name),
        state.engine.now_ms(),
    )
    .await?;
    Ok(Json(report))
}

async fn record(
    state: &AppState,
    statement: &Statement,
    source: ConsentSource,
    actor: &str,
) -> Result<(StatusCode, Json<ConsentView>), ApiError> {
    let store = &state.engine.store;
    match consent::record(store, statement, source, Some(actor), state.engine.now_ms()).await? {
        Recorded::Changed { .. } => {}
        // Only imports are refused this way.
        Recorded::KeptOptOut => {
            return Err(ApiError::Conflict(
                "this contact has opted out; only they (START) or a person who spoke with them may undo it".into(),
            ));
        }
    }
    Ok((
        StatusCode::CREATED,
        Json(view(state, &statement.phone).await?),
    ))
}

async fn view(state: &AppState, phone: &PhoneNumber) -> Result<ConsentView, ApiError> {
    let store = &state.engine.store;
    let contact = store
        .consent_by_phone(phone.as_str())
        .await?
        .ok_or_else(|| {
            ApiError::NotFound(format!("no contact with the number {}", phone.masked()))
        })?;
    Ok(ConsentView {
        phone: phone.as_str().to_string(),
        consent: contact.consent,
        express: contact.consent == Consent::OptedIn,
        ledger: store.consent_ledger(phone).await?,
    })
}
