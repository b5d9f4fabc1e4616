//! `GET /api/v1/events`: the agents' live stream (Server-Sent Events).
//!
//! Each event carries its log id as the SSE `id`, so a reconnecting client (browsers
//! do it by themselves) sends `Last-Event-ID` and gets everything it missed from the
//! database before the live tail. A fresh connection starts at "now".

use std::collections::VecDeque;
use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::sse::{Event as SseEvent, KeepAlive, Sse};
use axum::routing::get;
use futures_util::{Stream, StreamExt};
use serde::Deserialize;
use tokio::sync::broadcast::{self, error::RecvError};
use utoipa::IntoParams;

use super::auth::StreamAgent;
use super::extract::Query;
use super::{ApiError, AppState};
use crate::store::{Event, Store};

/// Events read from the database per catch-up query.
const CATCH_UP_BATCH: i64 = 500;

pub fn router() -> Router<AppState> {
    Router::new().route("/api/v1/events", get(events))
}

#[derive(Deserialize, IntoParams)]
pub struct EventsQuery {
    /// Resume after this event id (same as the `Last-Event-ID` header, for clients
    /// that cannot set headers).
    after: Option<i64>,
}

#[utoipa::path(
    get, path = "/api/v1/events", tag = "events",
    params(
        EventsQuery,
        ("Last-Event-ID" = Option<i64>, Header, description = "Resume after this event id"),
        ("access_token" = Option<String>, Query, description = "The bearer token, for \
            browsers' EventSource, which cannot send an Authorization header (this \
            endpoint only)"),
    ),
    responses((
        status = 200,
        description = "text/event-stream: `id` is the event id, `event` its kind \
            (handoff.created, handoff.updated, handoff.claimed, handoff.released, \
            handoff.transferred, handoff.resolved, message.inbound, message.outbound, \
            note.created, contact.opted_out, contact.opted_in, message.delivery_failed, \
            message.set_aside), \
            `data` the event as JSON",
        content_type = "text/event-stream",
        body = String,
    )),
    security(("bearer" = []))
)]
pub async fn events(
    StreamAgent(agent): StreamAgent,
    State(state): State<AppState>,
    headers: HeaderMap,
    Query(query): Query<EventsQuery>,
) -> Result<Sse<impl Stream<Item = Result<SseEvent, Infallible>>>, ApiError> {
    let resume = headers
        .get("last-event-id")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<i64>().ok())
        .or(query.after);
    // Subscribe before reading the log, so nothing falls between the two.
    let live = state.engine.events.subscribe();
    let store = state.engine.store.clone();
    let last = match resume {
        Some(id) => id,
        None => store.last_event_id().await?,
    };
    let tail = Tail {
        store,
        live,
        last,
        pending: VecDeque::new(),
        catching_up: resume.is_some(),
        _presence: keep_seen(state.engine.clone(), agent.id),
    };
    let mut stopping = state.stopping.clone();
    let stream = futures_util::stream::unfold(tail, |mut tail| async move {
        let event = tail.next().await?;
        Some((Ok(to_sse(&event)), tail))
    })
    // A stream open when the process stops ends at once: the server's graceful
    // shutdown waits for every response, and this one never ends on its own. The
    // browser reconnects to another instance with Last-Event-ID and misses nothing.
    .take_until(async move {
        let _ = stopping.wait_for(|stop| *stop).await;
    });
    Ok(Sse::new(stream).keep_alive(KeepAlive::new().interval(Duration::from_secs(15))))
}

/// One subscriber's position: catch up from the database, then follow the broadcast,
/// never sending an id twice or out of order.
struct Tail {
    store: Store,
    live: broadcast::Receiver<Arc<Event>>,
    last: i64,
    pending: VecDeque<Arc<Event>>,
    catching_up: bool,
    /// Keeps the agent online (for routing) while the stream is open.
    _presence: Presence,
}

/// Marks an agent seen once a minute while their live stream is open; stops when the
/// stream is dropped (the client went away, or the server is stopping).
struct Presence(tokio::task::JoinHandle<()>);

impl Drop for Presence {
    fn drop(&mut self) {
        self.0.abort();
    }
}

fn keep_seen(engine: Arc<crate::engine::Engine>, agent_id: i64) -> Presence {
    Presence(tokio::spawn(async move {
        loop {
            tokio::time::sleep(Duration::from_secs(60)).await;
            if let Err(e) = engine.store.touch_agent(agent_id, engine.now_ms()).await {
                tracing::warn!(error = %e, "could not record that the agent is online");
            }
        }
    }))
}

impl Tail {
    async fn next(&mut self) -> Option<Arc<Event>> {
        loop {
            if let Some(event) = self.pending.pop_front() {
                if event.id > self.last {
                    self.last = event.id;
                    return Some(event);
                }
                continue;
            }
            if self.catching_up {
                match self.store.events_after(self.last, CATCH_UP_BATCH).await {
                    Ok(events) => {
                        self.catching_up = events.len() as i64 == CATCH_UP_BATCH;
                        self.pending.extend(events.into_iter().map(Arc::new));
                        continue;
                    }
                    Err(e) => {
                        tracing::warn!(error = %e, "event stream catch-up failed; ending the stream");
                        return None;
                    }
                }
            }
            match self.live.recv().await {
                Ok(event) => self.pending.push_back(event),
                // Too slow for the broadcast: read what was missed from the log.
                Err(RecvError::Lagged(_)) => self.catching_up = true,
                Err(RecvError::Closed) => return None,
            }
        }
    }
}

fn to_sse(event: &Event) -> SseEvent {
    SseEvent::default()
        .id(event.id.to_string())
        .event(event.kind.clone())
        .data(serde_json::to_string(event).unwrap_or_else(|_| "{}".into()))
}
