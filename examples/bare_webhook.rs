//! `bare-webhook`: the limit `scripts/bench.sh` compares textdesk with. An axum
//! endpoint that reads a Twilio webhook's form with textdesk's own parser and answers
//! the same empty TwiML, storing and verifying nothing: what acknowledging costs on
//! this machine when nothing else is done.
//!
//! Usage: `cargo run --release --example bare-webhook -- 127.0.0.1:8099`.

use axum::Router;
use axum::body::Bytes;
use axum::http::{StatusCode, header};
use axum::response::IntoResponse;
use axum::routing::post;

async fn inbound(body: Bytes) -> impl IntoResponse {
    match textdesk::sms::twilio::parse_form(&body) {
        Ok(params) if params.iter().any(|(k, _)| k == "MessageSid") => (
            StatusCode::OK,
            [(header::CONTENT_TYPE, "text/xml")],
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?><Response></Response>",
        ),
        _ => (
            StatusCode::BAD_REQUEST,
            [(header::CONTENT_TYPE, "text/plain")],
            "not a Twilio webhook",
        ),
    }
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let addr = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "127.0.0.1:8099".to_string());
    let app = Router::new().route("/webhooks/twilio", post(inbound));
    let listener = tokio::net::TcpListener::bind(&addr).await?;
    println!("bare webhook endpoint on http://{}", listener.local_addr()?);
    axum::serve(listener, app).await?;
    Ok(())
}
