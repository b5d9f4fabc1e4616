//! The real `textdesk` binary as a child process, for tests that kill, restart or run
//! several instances of it.

use std::net::TcpListener;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use textdesk::sms::twilio::compute_signature;
use textdesk::store::Store;

use super::{AUTH_TOKEN, inbound_params, repo_path, sid};

pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Starts `textdesk serve` on `port` with its data in `data_dir` and its database at
/// `database_url` (the SQLite file in `data_dir` when `None`).
pub fn start_textdesk(
    data_dir: &Path,
    database_url: Option<&str>,
    port: u16,
    twilio_api: Option<&str>,
) -> Child {
    textdesk_command(data_dir, database_url, port, twilio_api)
        .spawn()
        .expect("textdesk binary starts")
}

/// The command [`start_textdesk`] runs, for a test to add settings (`env`) to.
pub fn textdesk_command(
    data_dir: &Path,
    database_url: Option<&str>,
    port: u16,
    twilio_api: Option<&str>,
) -> Command {
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
        .env("TEXTDESK_WORKER_BURST_MS", "0")
        .env("TEXTDESK_DRAIN_MS", "0")
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
    cmd
}

/// How long a test waits for a process to come up or for work to finish. Generous: CI
/// runs a hundred of these tests at once on two cores, and a test that waits longer still
/// passes as soon as the condition holds.
const PATIENCE: Duration = Duration::from_secs(60);

pub async fn wait_healthy(port: u16) {
    let client = crate::support::http_client();
    let deadline = tokio::time::Instant::now() + PATIENCE;
    while tokio::time::Instant::now() < deadline {
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
    panic!(
        "textdesk did not become healthy on port {port} within {}s",
        PATIENCE.as_secs()
    );
}

pub async fn post_text(port: u16, from: &str, body: &str) -> reqwest::StatusCode {
    post_webhook(port, from, body, &sid())
        .await
        .expect("webhook reaches textdesk")
}

/// Posts a signed inbound webhook with a given message sid (a retry repeats it, as
/// Twilio does); `Err` when the process is not there to answer.
pub async fn post_webhook(
    port: u16,
    from: &str,
    body: &str,
    sid: &str,
) -> Result<reqwest::StatusCode, reqwest::Error> {
    let url = format!("http://127.0.0.1:{port}/webhooks/twilio");
    let params = inbound_params(from, body, sid);
    let signature = compute_signature(AUTH_TOKEN, &url, &params);
    crate::support::http_client()
        .post(&url)
        .header("X-Twilio-Signature", signature)
        .form(&params)
        .timeout(Duration::from_secs(10))
        .send()
        .await
        .map(|r| r.status())
}

/// The store the textdesk process uses, opened beside it.
pub async fn open_store(data_dir: &Path, database_url: Option<&str>) -> Store {
    let sqlite = format!(
        "sqlite://{}?mode=rwc",
        data_dir.join("textdesk.db").display()
    );
    Store::open(database_url.unwrap_or(&sqlite)).await.unwrap()
}

pub async fn wait_until<F, Fut>(what: &str, mut check: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let deadline = tokio::time::Instant::now() + PATIENCE;
    while tokio::time::Instant::now() < deadline {
        if check().await {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!(
        "timed out after {}s waiting until {what}",
        PATIENCE.as_secs()
    );
}
