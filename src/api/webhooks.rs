//! Twilio's webhooks: inbound texts (`POST /webhooks/twilio`) and delivery status
//! callbacks (`POST /webhooks/twilio/status`).
//!
//! Order of checks: size (413) → content type (415) → form syntax (400) → signature
//! (403) → field semantics (400). An inbound text is committed to the database before
//! the `200` goes back, so an acknowledged text is never lost; a repeated `MessageSid`
//! is acknowledged again without being processed twice. When the database cannot take
//! the text within `webhook.write_timeout_ms` (or fails), it is kept in the fsynced
//! local spool instead and acknowledged; the spool replays it when the database is back.

use axum::Router;
use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{DefaultBodyLimit, OriginalUri, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use tracing::{debug, error, warn};

use super::{ApiError, AppState};
use crate::sms::segments;
use crate::sms::twilio::{self, DeliveryStatus, InboundSms, StatusCallback};
use crate::store::NewInbound;

pub fn router(max_body_bytes: usize) -> Router<AppState> {
    Router::new()
        .route("/webhooks/twilio", post(inbound))
        .route("/webhooks/twilio/status", post(status))
        .layer(DefaultBodyLimit::max(max_body_bytes))
}

/// Twilio reads the response as TwiML; an empty `<Response/>` means "no reply here",
/// because replies go out through the REST API once the engine has decided.
fn empty_twiml() -> Response {
    (
        StatusCode::OK,
        [(header::CONTENT_TYPE, "text/xml; charset=utf-8")],
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?><Response/>",
    )
        .into_response()
}

async fn inbound(
    State(state): State<AppState>,
    OriginalUri(uri): OriginalUri,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, ApiError> {
    let params = signed_form(&state, &uri, &headers, body)?;
    let sms = InboundSms::from_params(&params).map_err(|e| ApiError::BadRequest(e.to_string()))?;
    let count = segments::count(&sms.body);
    let msg = NewInbound {
        provider_message_id: sms.message_sid.clone(),
        from: sms.from.clone(),
        body: sms.body.clone(),
        media_urls: sms.media.iter().map(|m| m.url.clone()).collect(),
        encoding: count.encoding.as_str(),
        segments: count.segments,
        units: count.units,
        received_at: state.engine.now_ms(),
        burst_wait_ms: crate::engine::burst::wait_ms(
            &sms.body,
            state.engine.burst_window(),
            &state.engine.policy(),
        ),
    };
    let kept = tokio::time::timeout(
        state.webhook_write_timeout,
        state.engine.intake.receive(msg.clone()),
    )
    .await
    .map_err(|_| format!("no answer within {:?}", state.webhook_write_timeout))
    .and_then(|kept| kept.map_err(|e| e.to_string()));
    if let Err(why) = kept {
        // Twilio would not retry a 500: keep the text here rather than lose it.
        if let Err(e) = state.spool.keep(&msg).await {
            error!(from = %sms.from, database = %why, spool = %e, "neither the database nor the spool could keep this text");
            return Err(ApiError::Unavailable(
                "the text could not be stored; try again".into(),
            ));
        }
        crate::telemetry::inbound_spooled();
        warn!(from = %sms.from, database = %why, "database unavailable; text kept in the local spool and acknowledged");
        return Ok(empty_twiml());
    }
    debug!(from = %sms.from, "inbound text kept");
    Ok(empty_twiml())
}

async fn status(
    State(state): State<AppState>,
    OriginalUri(uri): OriginalUri,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, ApiError> {
    let params = signed_form(&state, &uri, &headers, body)?;
    let callback =
        StatusCallback::from_params(&params).map_err(|e| ApiError::BadRequest(e.to_string()))?;
    let known = state
        .engine
        .store
        .update_delivery_status(
            &callback.message_sid,
            callback.status.as_str(),
            |s| s.parse::<DeliveryStatus>().map(|d| d.rank()).unwrap_or(0),
            callback.error_code,
            state.engine.now_ms(),
        )
        .await?;
    if !known {
        // Not ours (or not stored yet); a non-2xx would only make Twilio retry.
        debug!(sid = %callback.message_sid, "status callback for an unknown message");
    }
    Ok(StatusCode::NO_CONTENT.into_response())
}

/// Reads, parses and authenticates a Twilio form post.
fn signed_form(
    state: &AppState,
    uri: &axum::http::Uri,
    headers: &HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<Vec<(String, String)>, ApiError> {
    let body = body.map_err(|rejection| match rejection.status() {
        StatusCode::PAYLOAD_TOO_LARGE => ApiError::PayloadTooLarge(state.max_body_bytes),
        status => super::extract::body_rejected(
            status,
            format!("could not read the request body: {rejection}"),
            &rejection,
        ),
    })?;
    let content_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    if !content_type.starts_with("application/x-www-form-urlencoded") {
        return Err(ApiError::UnsupportedMediaType(
            "expected Content-Type: application/x-www-form-urlencoded, as Twilio sends",
        ));
    }
    let params = twilio::parse_form(&body).map_err(|e| ApiError::BadRequest(e.to_string()))?;
    if !state.insecure_skip_signature {
        let Some(token) = state.auth_token.as_deref() else {
            return Err(ApiError::Forbidden(
                "webhook signatures cannot be checked: TWILIO_AUTH_TOKEN is not set".into(),
            ));
        };
        let signature = headers
            .get("x-twilio-signature")
            .and_then(|v| v.to_str().ok())
            .ok_or_else(|| ApiError::Forbidden("missing X-Twilio-Signature header".into()))?;
        let path_and_query = uri
            .path_and_query()
            .map(|pq| pq.as_str())
            .unwrap_or(uri.path());
        let url = format!("{}{}", state.public_base_url, path_and_query);
        if !twilio::verify_signature(token, &url, &params, signature) {
            return Err(ApiError::Forbidden(
                "X-Twilio-Signature does not match this request".into(),
            ));
        }
    }
    Ok(params)
}
