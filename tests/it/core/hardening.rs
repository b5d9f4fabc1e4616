//! Hardening at the edges: stopping with clients attached, bodies too large or too
//! slow, too many connections, numbers in logs, and a text that can never be
//! processed.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::json;
use textdesk::api::auth::{generate_token, hash_token};
use textdesk::clock::ManualClock;
use textdesk::store::Role;

use crate::support::db_lock::WriteLock;
use crate::support::process::{free_port, open_store, textdesk_command, wait_healthy};
use crate::support::{TestApp, sid};

/// `GET /api/v1/events` held open; `true` once the server ended the stream.
async fn stream_ends(response: reqwest::Response, within: Duration) -> bool {
    let mut response = response;
    let read_to_end = async { while let Ok(Some(_)) = response.chunk().await {} };
    tokio::time::timeout(within, read_to_end).await.is_ok()
}

#[tokio::test]
async fn when_stopping_readyz_says_so_at_once_and_live_streams_end() {
    let app = TestApp::spawn_with(|c| c.server.drain_ms = 3_000).await;
    app.wait_for_knowledge().await;
    let ana = app.add_agent("ana", Role::Agent).await;
    let stream = app.api_get(&ana.token, "/api/v1/events").await;
    assert_eq!(stream.status(), 200);
    // Ready once a worker has turned its loop.
    let mut ready_before = false;
    for _ in 0..200 {
        if app.get("/readyz").await.status() == 200 {
            ready_before = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    assert!(ready_before, "ready before stopping");

    let stop = app.running.shutdown_handle();
    stop.send(true).unwrap();
    // Still serving during the drain, but no longer ready.
    let ready = app.get("/readyz").await;
    assert_eq!(ready.status(), 503);
    let body: serde_json::Value = ready.json().await.unwrap();
    assert_eq!(body["status"], "stopping");
    assert!(
        stream_ends(stream, Duration::from_secs(2)).await,
        "the event stream ends when stopping begins"
    );
}

/// A data directory (and database) for the real binary with one agent, ana, whose
/// token is returned, and a free port to serve it on.
async fn data_with_an_agent() -> (tempfile::TempDir, Option<String>, u16, String) {
    let dir = tempfile::tempdir().unwrap();
    let db = crate::support::test_database_url().await;
    let store = open_store(dir.path(), db.as_deref()).await;
    let token = generate_token();
    store
        .create_agent("ana", Role::Agent, &hash_token(&token), 0)
        .await
        .unwrap();
    (dir, db, free_port(), token)
}

#[tokio::test]
async fn sigterm_with_an_agent_stream_open_exits_within_the_grace_period() {
    let (dir, db, port, token) = data_with_an_agent().await;
    let mut child = textdesk_command(dir.path(), db.as_deref(), port, None)
        .env("TEXTDESK_SHUTDOWN_GRACE_SECS", "5")
        .spawn()
        .unwrap();
    wait_healthy(port).await;
    let stream = crate::support::http_client()
        .get(format!("http://127.0.0.1:{port}/api/v1/events"))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(stream.status(), 200);

    let signalled = Instant::now();
    let killed = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(killed.success());
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if signalled.elapsed() > Duration::from_secs(20) {
            child.kill().unwrap();
            panic!("still running 20 s after SIGTERM with an event stream open");
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    println!(
        "exited {:?} after SIGTERM with an event stream open",
        signalled.elapsed()
    );
    assert!(status.success(), "{status}");
    assert!(stream_ends(stream, Duration::from_secs(1)).await);
}

#[tokio::test]
async fn a_body_too_large_is_refused_with_a_json_413() {
    let app = TestApp::spawn().await;
    let admin = app.add_agent("root", Role::Admin).await;
    let phone = "+15555550401";
    app.text(phone, "hi", &sid()).await;
    app.settle().await;
    let conversation = app
        .store()
        .conversations_of(&textdesk::sms::PhoneNumber::parse(phone).unwrap())
        .await
        .unwrap()[0]
        .id;
    let note = "x".repeat(2 * 1024 * 1024);
    let refused = app
        .api_post(
            &admin.token,
            &format!("/api/v1/conversations/{conversation}/notes"),
            json!({ "body": note }),
        )
        .await;
    assert_eq!(refused.status(), 413);
    let body: serde_json::Value = refused.json().await.unwrap();
    assert!(body["error"].is_string(), "{body}");
    // An ordinary note still goes in.
    let ok = app
        .api_post(
            &admin.token,
            &format!("/api/v1/conversations/{conversation}/notes"),
            json!({ "body": "called them back" }),
        )
        .await;
    assert_eq!(ok.status(), 201);
}

/// Writes `head` and keeps the connection open; the reply, if any, within `wait`.
fn raw_request(addr: &str, head: &str, wait: Duration) -> String {
    let mut socket = TcpStream::connect(addr).unwrap();
    socket.set_read_timeout(Some(wait)).unwrap();
    socket.write_all(head.as_bytes()).unwrap();
    let mut reply = Vec::new();
    let mut buf = [0u8; 4096];
    while let Ok(n) = socket.read(&mut buf) {
        if n == 0 {
            break;
        }
        reply.extend_from_slice(&buf[..n]);
        if reply.windows(4).any(|w| w == b"\r\n\r\n") {
            break;
        }
    }
    String::from_utf8_lossy(&reply).into_owned()
}

#[tokio::test]
async fn a_body_that_trickles_in_times_out_and_connections_are_capped() {
    let app = TestApp::spawn_with(|c| {
        c.server.body_timeout_secs = 1;
        c.server.max_connections = 3;
    })
    .await;
    let addr = app.running.addr.to_string();

    // Ten bytes of a promised hundred, then nothing: 408, not a connection held forever.
    let head = format!(
        "POST /webhooks/twilio HTTP/1.1\r\nHost: {addr}\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: 100\r\n\r\nFrom=%2B1"
    );
    let reply = tokio::task::spawn_blocking({
        let addr = addr.clone();
        move || raw_request(&addr, &head, Duration::from_secs(5))
    })
    .await
    .unwrap();
    assert!(reply.starts_with("HTTP/1.1 408"), "{reply}");

    // Three idle connections take every place; a fourth client waits until one closes.
    let idle: Vec<TcpStream> = (0..3).map(|_| TcpStream::connect(&addr).unwrap()).collect();
    tokio::time::sleep(Duration::from_millis(200)).await;
    let fresh = reqwest::Client::builder()
        .pool_max_idle_per_host(0)
        .build()
        .unwrap();
    let url = format!("{}/healthz", app.base_url);
    let waiting = tokio::time::timeout(Duration::from_millis(700), fresh.get(&url).send()).await;
    assert!(
        waiting.is_err(),
        "a fourth connection is not served while three are open"
    );
    drop(idle);
    let served = tokio::time::timeout(Duration::from_secs(5), fresh.get(&url).send())
        .await
        .expect("served once a place is free")
        .unwrap();
    assert_eq!(served.status(), 200);
}

#[tokio::test]
async fn a_phone_number_in_a_request_path_never_reaches_the_log() {
    let (dir, db, port, token) = data_with_an_agent().await;
    let mut child = textdesk_command(dir.path(), db.as_deref(), port, None)
        // The default level, and the spans' fields in every line.
        .env("RUST_LOG", "info,tower_http=debug")
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    wait_healthy(port).await;
    let client = crate::support::http_client();
    for path in [
        "/api/v1/contacts/%2B13035550199",
        "/api/v1/contacts/+13035550199",
        "/api/v1/admin/consent?phone=%2B13035550199",
    ] {
        let response = client
            .get(format!("http://127.0.0.1:{port}{path}"))
            .bearer_auth(&token)
            .send()
            .await
            .unwrap();
        assert!(response.status().is_client_error(), "{path}");
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    let output = tokio::task::spawn_blocking(move || {
        let mut log = String::new();
        child
            .stderr
            .take()
            .unwrap()
            .read_to_string(&mut log)
            .unwrap();
        child.wait().unwrap();
        log
    })
    .await
    .unwrap();
    assert!(
        output.contains("/api/v1/contacts/{phone}"),
        "requests are logged by route: {output}"
    );
    assert!(!output.contains("3035550199"), "{output}");
}

#[tokio::test]
async fn a_text_that_can_never_be_processed_goes_to_a_person_with_an_acknowledgement() {
    let clock = ManualClock::at(1_796_749_200_000);
    let app = TestApp::spawn_with_clock(clock.clone(), |_| {}).await;
    let admin = app.add_agent("root", Role::Admin).await;
    let phone = "+15555550402";
    app.text(phone, "hi", &sid()).await;
    app.settle().await;
    assert_eq!(app.outbound(phone).await.len(), 1);

    // The contact's stored attributes no longer parse: every attempt fails.
    sqlx::any::install_default_drivers();
    let pool = sqlx::AnyPool::connect(&app.config.database_url())
        .await
        .unwrap();
    sqlx::query("UPDATE contacts SET attributes = '{broken' WHERE phone = $1")
        .bind(phone)
        .execute(&pool)
        .await
        .unwrap();
    app.text(phone, "where is my order?", &sid()).await;

    // Each retry waits longer; the pinned clock skips the waits.
    let mut handoffs = Vec::new();
    for _ in 0..200 {
        clock.advance(20_000);
        tokio::time::sleep(Duration::from_millis(50)).await;
        handoffs = app.handoffs(&admin.token, "waiting").await;
        if !handoffs.is_empty() {
            break;
        }
    }
    assert_eq!(handoffs.len(), 1, "set aside for a person");
    assert_eq!(handoffs[0]["rule"], "set_aside", "{:?}", handoffs[0]);
    let events = app.store().events_after(0, 500).await.unwrap();
    let set_aside: Vec<_> = events
        .iter()
        .filter(|e| e.kind == "message.set_aside")
        .collect();
    assert_eq!(set_aside.len(), 1);
    assert_eq!(set_aside[0].payload["attempts"], 5, "{:?}", set_aside[0]);
    let out = app.outbound(phone).await;
    assert_eq!(out.len(), 2, "the customer is told a person will follow up");
    assert!(out[1].body.contains("get back to you"), "{}", out[1].body);
}

#[tokio::test]
async fn a_text_the_database_cannot_take_is_kept_acknowledged_and_answered_later() {
    let app = TestApp::spawn_with(|c| c.webhook.write_timeout_ms = 300).await;
    app.wait_for_knowledge().await;
    let phone = "+15555550181";
    let lock = WriteLock::take(&app.config.database_url()).await;
    // Acknowledged (text() asserts a 2xx) although the database cannot store it.
    app.text(phone, "what are your hours?", &sid()).await;
    let spool = app.config.data_dir.join("spool").join("inbound.jsonl");
    let kept = std::fs::read_to_string(&spool).expect("the text is in the spool");
    assert_eq!(kept.lines().count(), 1, "{kept}");
    assert!(app.transcript(phone).await.is_empty());

    lock.release().await;
    // The text reaches the database twice (the webhook's own write, which waited for
    // the lock after the webhook gave up on it, and the spool's replay) and is stored once.
    let mut replies = Vec::new();
    for _ in 0..400 {
        replies = app.outbound(phone).await;
        if !replies.is_empty() && !spool.exists() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    assert_eq!(replies.len(), 1, "answered once the database is back");
    assert!(!spool.exists(), "the spool is emptied once replayed");
    app.settle().await;
    assert_eq!(app.transcript(phone).await.len(), 2, "one text, one reply");
    // Twilio's retry of the same text, had it made one, counts once.
    app.text(phone, "what are your hours?", &kept_sid(&kept))
        .await;
    app.settle().await;
    assert_eq!(app.outbound(phone).await.len(), 1);
}

fn kept_sid(line: &str) -> String {
    let value: serde_json::Value = serde_json::from_str(line.trim()).unwrap();
    value["sid"].as_str().unwrap().to_string()
}
