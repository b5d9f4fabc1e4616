//! Contacts for agents: look one up by number, and set the time zone that decides
//! when business-started flows may text them (a customer who moved away from their
//! area code's zone).

use axum::Router;
use axum::extract::State;
use axum::routing::get;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::auth::CurrentAgent;
use super::extract::{Json, Path};
use super::{ApiError, AppState};
use crate::flows::quiet::contact_zone_and_source;
use crate::sms::PhoneNumber;
use crate::store::Contact;

pub fn router() -> Router<AppState> {
    Router::new().route("/api/v1/contacts/{phone}", get(show).patch(update))
}

/// A contact and the time zone textdesk uses for them.
#[derive(Serialize, ToSchema)]
pub struct ContactView {
    #[serde(flatten)]
    #[schema(inline)]
    pub contact: Contact,
    /// The zone in effect: the contact's own, else their area code's, else the
    /// business's.
    pub effective_timezone: String,
    /// Where `effective_timezone` comes from: `contact`, `area_code` or `business`.
    pub timezone_source: &'static str,
}

#[derive(Deserialize, ToSchema)]
pub struct ContactUpdate {
    /// An IANA zone ("America/New_York"), or `null` (or "") to go back to the area
    /// code's.
    pub timezone: Option<String>,
}

#[utoipa::path(
    get, path = "/api/v1/contacts/{phone}", tag = "contacts",
    params(("phone" = String, Path, description = "E.164 number, e.g. +13035550199 (%2B for +)", pattern = r"^\+[1-9][0-9]{7,14}$")),
    responses(
        (status = 200, description = "The contact", body = ContactView),
        (status = 400, description = "Not an E.164 number"),
        (status = 404, description = "No contact with this number"),
    ),
    security(("bearer" = []))
)]
pub async fn show(
    _agent: CurrentAgent,
    State(state): State<AppState>,
    Path(phone): Path<String>,
) -> Result<Json<ContactView>, ApiError> {
    let phone = parse_phone(&phone)?;
    let contact = state.engine.store.contact(&phone).await?;
    let contact = contact.ok_or_else(|| not_found(&phone))?;
    Ok(Json(view(&state, contact)))
}

#[utoipa::path(
    patch, path = "/api/v1/contacts/{phone}", tag = "contacts",
    params(("phone" = String, Path, description = "E.164 number, e.g. +13035550199 (%2B for +)", pattern = r"^\+[1-9][0-9]{7,14}$")),
    request_body = ContactUpdate,
    responses(
        (status = 200, description = "Updated", body = ContactView),
        (status = 400, description = "Not an E.164 number, or not an IANA time zone"),
        (status = 404, description = "No contact with this number"),
    ),
    security(("bearer" = []))
)]
pub async fn update(
    _agent: CurrentAgent,
    State(state): State<AppState>,
    Path(phone): Path<String>,
    Json(update): Json<ContactUpdate>,
) -> Result<Json<ContactView>, ApiError> {
    let phone = parse_phone(&phone)?;
    // "" clears, like null: a form's emptied field means "no zone of their own".
    let timezone = update
        .timezone
        .as_deref()
        .map(str::trim)
        .filter(|name| !name.is_empty());
    if let Some(name) = timezone {
        crate::clock::time_zone(name)
            .map_err(|e| ApiError::BadRequest(format!("\"timezone\": {e}")))?;
    }
    let now = state.engine.now_ms();
    let contact = state
        .engine
        .store
        .set_contact_timezone(&phone, timezone, now)
        .await?;
    let contact = contact.ok_or_else(|| not_found(&phone))?;
    Ok(Json(view(&state, contact)))
}

fn parse_phone(raw: &str) -> Result<PhoneNumber, ApiError> {
    PhoneNumber::parse(raw).map_err(|e| {
        ApiError::BadRequest(format!(
            "{raw:?} is not an E.164 phone number ({e}); write + as %2B in the path"
        ))
    })
}

fn not_found(phone: &PhoneNumber) -> ApiError {
    ApiError::NotFound(format!("no contact with the number {}", phone.masked()))
}

fn view(state: &AppState, contact: Contact) -> ContactView {
    let business =
        crate::engine::pipeline::business_zone(&state.engine.policy(), &state.engine.flows());
    let (zone, source) = contact_zone_and_source(
        contact.timezone.as_deref(),
        contact.phone.as_str(),
        &business,
    );
    ContactView {
        effective_timezone: zone.iana_name().unwrap_or("UTC").to_string(),
        timezone_source: source.as_str(),
        contact,
    }
}
