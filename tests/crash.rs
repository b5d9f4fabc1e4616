//! Crash safety with the real binary: an acknowledged text survives SIGKILL and gets
//! exactly one reply after a restart.

#[path = "support/mod.rs"]
mod support;

use std::net::TcpListener;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use support::{AUTH_TOKEN, inbound_params, repo_path, sid, test_database_url};
use textdesk::sms::twilio::compute_signature;
use textdesk::store::{Direction, Store};
use wiremock::matchers::{method, path_regex};
use wiremock::{Mock, MockServer, ResponseTemplate};

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Starts `textdesk serve` on `port` with its data in `data_dir` and its database at
/// `database_url` (the SQLite file in `data_dir` when `None`).
fn start_textdesk(
    data_dir: &Path,
    database_url: Option<&str>,
    port: u16,
    twilio_api: Option<&str>,
) -> Child {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_textdesk"));
    cmd.arg("serve")
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("TEXTDESK_LISTEN", format!("127.0.0.1:{port}"))
        .env("TEXTDESK_DATA_DIR", data_dir)
        .env("TEXTDESK_PROMPTS_DIR", repo_path("prompts"))
        .env("TEXTDESK_KNOWLEDGE_DIR", repo_path("knowledge"))
        .env("TWILIO_AUTH_TOKEN", AUTH_TOKEN)
        .env("TEXTDESK_WORKER_LEASE_SECS", "2")
        .env("TEXTDESK_EMBEDDINGS", "none")
        .env("TEXTDESK_WORKER_POLL_MS", "50")
        .env("TEXTDESK_OUTBOX_BASE_BACKOFF_MS", "100")
        .env("TEXTDESK_OUTBOX_MAX_BACKOFF_MS", "300")
        .env("TEXTDESK_OUTBOX_MAX_ATTEMPTS", "1000")
        .env("TEXTDESK_OUTBOX_SEND_TIMEOUT_MS", "1000")
        .env("RUST_LOG", "warn")
        .stdout(Stdio::null())
        .stderr(Stdio::inherit());
    if let Some(url) = database_url {
        cmd.env("TEXTDESK_DATABASE_URL", url);
    }
    if let Some(api) = twilio_api {
        cmd.env("TEXTDESK_PROVIDER", "twilio")
            .env("TWILIO_ACCOUNT_SID", "ACtest00000000000000000000000000")
            .env("TWILIO_FROM_NUMBER", "+15555550100")
            .env("TEXTDESK_TWILIO_API_BASE", api);
    }
    cmd.spawn().expect("textdesk binary starts")
}

async fn wait_healthy(port: u16) {
    let client = reqwest::Client::new();
    for _ in 0..200 {
        if let Ok(r) = client
            .get(format!("http://127.0.0.1:{port}/healthz"))
            .send()
            .await
        {
            if r.status().is_success() {
                return;
            }
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("textdesk did not become healthy on port {port}");
}

async fn post_text(port: u16, from: &str, body: &str) -> reqwest::StatusCode {
    let url = format!("http://127.0.0.1:{port}/webhooks/twilio");
    let params = inbound_params(from, body, &sid());
    let signature = compute_signature(AUTH_TOKEN, &url, &params);
    reqwest::Client::new()
        .post(&url)
        .header("X-Twilio-Signature", signature)
        .form(&params)
        .send()
        .await
        .expect("webhook reaches textdesk")
        .status()
}

/// The store the textdesk process uses, opened beside it.
async fn open_store(data_dir: &Path, database_url: Option<&str>) -> Store {
    let sqlite = format!(
        "sqlite://{}?mode=rwc",
        data_dir.join("textdesk.db").display()
    );
    Store::open(database_url.unwrap_or(&sqlite)).await.unwrap()
}

async fn wait_until<F, Fut>(what: &str, mut check: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    for _ in 0..400 {
        if check().await {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("timed out waiting until {what}");
}

#[tokio::test]
async fn sigkill_between_acknowledgement_and_send_still_yields_exactly_one_reply() {
    let dir = tempfile::tempdir().unwrap();
    let db = test_database_url().await;
    let twilio = MockServer::start().await;
    // Twilio is down: the reply cannot leave, it waits in the outbox.
    Mock::given(method("POST"))
        .and(path_regex(r"/Messages\.json$"))
        .respond_with(ResponseTemplate::new(503))
        .mount(&twilio)
        .await;

    let port = free_port();
    let mut textdesk = start_textdesk(dir.path(), db.as_deref(), port, Some(&twilio.uri()));
    wait_healthy(port).await;
    let phone = "+15555550160";
    assert_eq!(
        post_text(port, phone, "my tent pole snapped, can you help?").await,
        200
    );

    // The reply was attempted (and refused), so it is past the engine and not sent.
    wait_until("a send was attempted", || async {
        !twilio
            .received_requests()
            .await
            .unwrap_or_default()
            .is_empty()
    })
    .await;
    textdesk.kill().expect("SIGKILL");
    textdesk.wait().unwrap();

    // Twilio recovers; textdesk restarts on the same data.
    twilio.reset().await;
    Mock::given(method("POST"))
        .and(path_regex(r"/Messages\.json$"))
        .respond_with(
            ResponseTemplate::new(201)
                .set_body_json(serde_json::json!({"sid": "SMafterrestart01"})),
        )
        .mount(&twilio)
        .await;
    let port = free_port();
    let mut textdesk = start_textdesk(dir.path(), db.as_deref(), port, Some(&twilio.uri()));
    wait_healthy(port).await;

    let store = open_store(dir.path(), db.as_deref()).await;
    wait_until("the reply was sent", || async {
        store
            .transcript(phone, None)
            .await
            .unwrap()
            .iter()
            .any(|e| e.delivery_status == "sent")
    })
    .await;
    // Give a duplicate every chance to appear before counting.
    tokio::time::sleep(Duration::from_millis(1500)).await;
    textdesk.kill().unwrap();
    textdesk.wait().unwrap();

    assert_eq!(
        twilio.received_requests().await.unwrap().len(),
        1,
        "exactly one accepted send after restart"
    );
    let outbound: Vec<_> = store
        .transcript(phone, None)
        .await
        .unwrap()
        .into_iter()
        .filter(|e| e.direction == Direction::Outbound)
        .collect();
    assert_eq!(outbound.len(), 1, "{outbound:#?}");
    assert_eq!(outbound[0].delivery_status, "sent");
}

#[tokio::test]
async fn sigkill_right_after_a_burst_of_acknowledgements_loses_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let db = test_database_url().await;
    let port = free_port();
    let mut textdesk = start_textdesk(dir.path(), db.as_deref(), port, None);
    wait_healthy(port).await;

    let phones: Vec<String> = (0..40)
        .map(|i| format!("+1555555{:04}", 2000 + i))
        .collect();
    for phone in &phones {
        assert_eq!(post_text(port, phone, "hello, is anyone there?").await, 200);
    }
    textdesk.kill().expect("SIGKILL");
    textdesk.wait().unwrap();

    let port = free_port();
    let mut textdesk = start_textdesk(dir.path(), db.as_deref(), port, None);
    wait_healthy(port).await;
    let store = open_store(dir.path(), db.as_deref()).await;
    wait_until("every text was processed and sent", || async {
        store.inbound_backlog(0).await.unwrap().0 == 0 && store.outbox_backlog().await.unwrap() == 0
    })
    .await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    textdesk.kill().unwrap();
    textdesk.wait().unwrap();

    for phone in &phones {
        let transcript = store.transcript(phone, None).await.unwrap();
        let inbound = transcript
            .iter()
            .filter(|e| e.direction == Direction::Inbound)
            .count();
        let outbound = transcript
            .iter()
            .filter(|e| e.direction == Direction::Outbound)
            .count();
        assert_eq!((inbound, outbound), (1, 1), "{phone}: {transcript:#?}");
    }
}

/// Sends SIGTERM, as a container runtime or systemd does to stop the service.
fn sigterm(child: &Child) {
    let status = Command::new("kill")
        .arg("-TERM")
        .arg(child.id().to_string())
        .status()
        .expect("kill runs");
    assert!(status.success());
}

#[tokio::test]
async fn sigterm_during_a_burst_loses_nothing_acknowledged() {
    let dir = tempfile::tempdir().unwrap();
    let db = test_database_url().await;
    let port = free_port();
    let mut textdesk = start_textdesk(dir.path(), db.as_deref(), port, None);
    wait_healthy(port).await;

    // Sixty customers text at once; SIGTERM lands in the middle of the burst.
    let phones: Vec<String> = (0..60)
        .map(|i| format!("+1555556{:04}", 3000 + i))
        .collect();
    let mut burst = tokio::task::JoinSet::new();
    for (i, phone) in phones.iter().enumerate() {
        let phone = phone.clone();
        burst.spawn(async move {
            tokio::time::sleep(Duration::from_millis(5 * i as u64)).await;
            let url = format!("http://127.0.0.1:{port}/webhooks/twilio");
            let params = inbound_params(&phone, "hello, is anyone there?", &sid());
            let signature = compute_signature(AUTH_TOKEN, &url, &params);
            let acknowledged = reqwest::Client::new()
                .post(&url)
                .header("X-Twilio-Signature", signature)
                .form(&params)
                .send()
                .await
                .map(|r| r.status() == 200)
                .unwrap_or(false);
            (phone, acknowledged)
        });
    }
    tokio::time::sleep(Duration::from_millis(120)).await;
    sigterm(&textdesk);
    let mut acknowledged = Vec::new();
    while let Some(result) = burst.join_next().await {
        let (phone, ok) = result.unwrap();
        if ok {
            acknowledged.push(phone);
        }
    }
    // It stops by itself, promptly and cleanly, after finishing what it had in hand.
    let mut exited = None;
    for _ in 0..300 {
        if let Some(status) = textdesk.try_wait().unwrap() {
            exited = Some(status);
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let Some(status) = exited else {
        textdesk.kill().ok();
        panic!("textdesk did not exit within 15 s of SIGTERM");
    };
    assert!(status.success(), "exit status after SIGTERM: {status}");
    assert!(
        !acknowledged.is_empty(),
        "some texts were acknowledged before SIGTERM"
    );

    let port = free_port();
    let mut textdesk = start_textdesk(dir.path(), db.as_deref(), port, None);
    wait_healthy(port).await;
    let store = open_store(dir.path(), db.as_deref()).await;
    wait_until("every text was processed and sent", || async {
        store.inbound_backlog(0).await.unwrap().0 == 0 && store.outbox_backlog().await.unwrap() == 0
    })
    .await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    textdesk.kill().unwrap();
    textdesk.wait().unwrap();

    for phone in &acknowledged {
        let transcript = store.transcript(phone, None).await.unwrap();
        let inbound = transcript
            .iter()
            .filter(|e| e.direction == Direction::Inbound)
            .count();
        let outbound = transcript
            .iter()
            .filter(|e| e.direction == Direction::Outbound && e.delivery_status == "sent")
            .count();
        assert_eq!((inbound, outbound), (1, 1), "{phone}: {transcript:#?}");
    }
}
