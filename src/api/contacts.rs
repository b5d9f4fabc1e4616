//! Contacts for agents: look one up by number, set the time zone that decides when
//! business-started flows may text them (a customer who moved away from their area
//! code's zone), and what the team knows about them (attributes such as `name` or
//! `preferred_store`, which the bot's templates read as `contact.<key>`).

use std::collections::BTreeMap;

use axum::Router;
use axum::extract::State;
use axum::routing::{get, post};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::auth::{AdminAgent, CurrentAgent};
use super::extract::{Json, Path};
use super::{ApiError, AppState};
use crate::flows::quiet::contact_zone_and_source;
use crate::sms::PhoneNumber;
use crate::store::{AuditBy, Contact, Erased};

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/api/v1/contacts/{phone}", get(show).patch(update))
        .route("/api/v1/admin/contacts/{phone}/forget", post(forget))
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
#[serde(deny_unknown_fields)]
pub struct ContactUpdate {
    /// An IANA zone ("America/New_York"), or `null` (or "") to go back to the area
    /// code's. Left out: unchanged.
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<String>)]
    pub timezone: Option<Option<String>>,
    /// Attributes to set (a string) or remove (`null`); the others are kept. Names
    /// are letters, digits and `_` (at most 40), values at most 200 characters, and
    /// a contact has at most 30.
    #[serde(default)]
    #[schema(value_type = Option<Object>)]
    pub attributes: Option<BTreeMap<String, Option<String>>>,
}

/// A field that is present, even as `null`, is `Some`: `null` clears, absent leaves.
fn present<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<Option<String>>, D::Error> {
    Option::<String>::deserialize(d).map(Some)
}

const MAX_ATTRIBUTES: usize = 30;
const MAX_ATTRIBUTE_NAME: usize = 40;
const MAX_ATTRIBUTE_VALUE: usize = 200;

fn check_attributes(changes: &BTreeMap<String, Option<String>>) -> Result<(), ApiError> {
    for (name, value) in changes {
        let valid = !name.is_empty()
            && name.len() <= MAX_ATTRIBUTE_NAME
            && !name.starts_with(|c: char| c.is_ascii_digit())
            && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
        if !valid {
            return Err(ApiError::BadRequest(format!(
                "attribute name {name:?}: use letters, digits and _ (at most {MAX_ATTRIBUTE_NAME}), not starting with a digit"
            )));
        }
        if let Some(v) = value
            && v.chars().count() > MAX_ATTRIBUTE_VALUE
        {
            return Err(ApiError::BadRequest(format!(
                "attribute {name:?} is {} characters; at most {MAX_ATTRIBUTE_VALUE}",
                v.chars().count()
            )));
        }
    }
    Ok(())
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
    post, path = "/api/v1/admin/contacts/{phone}/forget", tag = "admin",
    params(("phone" = String, Path, description = "E.164 number, e.g. +13035550199 (%2B for +)", pattern = r"^\+[1-9][0-9]{7,14}$")),
    responses(
        (status = 200, description = "Erased: the contact's messages, notes and summaries read \
            `[erased]`, their name and attributes are gone, texts queued for them canceled; \
            the number, consent and consent ledger are kept as proof of an opt-out", body = Erased),
        (status = 400, description = "Not an E.164 number"),
        (status = 403, description = "Not an admin"),
        (status = 404, description = "No contact with this number"),
    ),
    security(("bearer" = []))
)]
pub async fn forget(
    AdminAgent(admin): AdminAgent,
    State(state): State<AppState>,
    Path(phone): Path<String>,
) -> Result<Json<Erased>, ApiError> {
    let phone = parse_phone(&phone)?;
    let erased = crate::engine::retention::forget(
        &state.engine.store,
        &phone,
        &admin.name,
        AuditBy::Agent(admin.id),
        state.engine.now_ms(),
    )
    .await?;
    Ok(Json(erased.ok_or_else(|| not_found(&phone))?))
}

#[utoipa::path(
    patch, path = "/api/v1/contacts/{phone}", tag = "contacts",
    params(("phone" = String, Path, description = "E.164 number, e.g. +13035550199 (%2B for +)", pattern = r"^\+[1-9][0-9]{7,14}$")),
    request_body = ContactUpdate,
    responses(
        (status = 200, description = "Updated", body = ContactView),
        (status = 400, description = "Not an E.164 number, not an IANA time zone, or an attribute name or value out of bounds"),
        (status = 404, description = "No contact with this number"),
    ),
    security(("bearer" = []))
)]
pub async fn update(
    agent: CurrentAgent,
    State(state): State<AppState>,
    Path(phone): Path<String>,
    Json(update): Json<ContactUpdate>,
) -> Result<Json<ContactView>, ApiError> {
    let phone = parse_phone(&phone)?;
    let now = state.engine.now_ms();
    let store = &state.engine.store;
    if let Some(changes) = &update.attributes {
        check_attributes(changes)?;
    }
    if let Some(timezone) = &update.timezone {
        // "" clears, like null: a form's emptied field means "no zone of their own".
        let timezone = timezone
            .as_deref()
            .map(str::trim)
            .filter(|name| !name.is_empty());
        if let Some(name) = timezone {
            crate::clock::time_zone(name)
                .map_err(|e| ApiError::BadRequest(format!("\"timezone\": {e}")))?;
        }
        store
            .set_contact_timezone(&phone, timezone, AuditBy::Agent(agent.id), now)
            .await?
            .ok_or_else(|| not_found(&phone))?;
    }
    if let Some(changes) = &update.attributes {
        let current = store
            .contact(&phone)
            .await?
            .ok_or_else(|| not_found(&phone))?;
        let mut merged = current.attributes;
        for (key, value) in changes {
            match value {
                Some(v) => merged.insert(key.clone(), v.clone()),
                None => merged.remove(key),
            };
        }
        if merged.len() > MAX_ATTRIBUTES {
            return Err(ApiError::BadRequest(format!(
                "a contact has at most {MAX_ATTRIBUTES} attributes; remove some (set them to null) first"
            )));
        }
        store
            .update_contact_attributes(&phone, changes, AuditBy::Agent(agent.id), now)
            .await?;
    }
    let contact = store
        .contact(&phone)
        .await?
        .ok_or_else(|| not_found(&phone))?;
    Ok(Json(view(&state, contact)))
}

/// A number from a path or query, or a 400 that says how to write it.
pub(super) fn parse_phone(raw: &str) -> Result<PhoneNumber, ApiError> {
    PhoneNumber::parse(raw).map_err(|e| {
        ApiError::BadRequest(format!(
            "{raw:?} is not an E.164 phone number ({e}); write + as %2B in a URL"
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
