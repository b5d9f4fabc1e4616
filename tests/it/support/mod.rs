//! Test support: start the real textdesk (HTTP server, workers, outbox) on a random
//! loopback port against a fresh database, and talk to it like Twilio does. The
//! database is a SQLite file in a temp dir, or a fresh PostgreSQL database when
//! `TEXTDESK_TEST_POSTGRES_URL` is set (see [`test_database_url`]).
#![allow(dead_code)]

pub mod agents;
pub mod db_lock;
pub mod fake_twilio;
pub mod nginx;
pub mod process;
pub mod qdrant;
pub mod restart;

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use textdesk::app::{self, Running};
use textdesk::clock::{Clock, SystemClock};
use textdesk::config::Config;
use textdesk::sms::twilio::compute_signature;
use textdesk::store::{Store, TranscriptEntry};

pub const AUTH_TOKEN: &str = "test-auth-token-0123456789abcdef";
pub const BUSINESS_NUMBER: &str = "+15555550100";

pub struct TestApp {
    pub running: Running,
    pub base_url: String,
    pub config: Config,
    pub http: reqwest::Client,
    _dir: PathBuf,
}

/// An HTTP client for talking to the app under test (and anything else on loopback).
pub fn http_client() -> reqwest::Client {
    textdesk::http::client_builder().build().unwrap()
}

pub fn repo_path(rel: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join(rel)
}

/// A copy of the shipped `prompts/` files (not its subfolders), for a test to edit.
pub fn copy_prompts() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    for entry in std::fs::read_dir(repo_path("prompts")).unwrap() {
        let entry = entry.unwrap();
        if entry.file_type().unwrap().is_file() {
            std::fs::copy(entry.path(), dir.path().join(entry.file_name())).unwrap();
        }
    }
    dir
}

/// A copy of the shipped `knowledge/` folder, for a test that publishes into it.
pub fn copy_knowledge() -> tempfile::TempDir {
    fn copy_dir(from: &std::path::Path, to: &std::path::Path) {
        std::fs::create_dir_all(to).unwrap();
        for entry in std::fs::read_dir(from).unwrap() {
            let entry = entry.unwrap();
            let target = to.join(entry.file_name());
            if entry.file_type().unwrap().is_dir() {
                copy_dir(&entry.path(), &target);
            } else {
                std::fs::copy(entry.path(), &target).unwrap();
            }
        }
    }
    let dir = tempfile::tempdir().unwrap();
    copy_dir(&repo_path("knowledge"), dir.path());
    dir
}

/// A configuration for tests: temp data dir, repo prompts, port 0, fast polling.
pub fn test_config(dir: &std::path::Path) -> Config {
    let mut config = Config::default();
    config.listen = "127.0.0.1:0".parse().unwrap();
    config.data_dir = dir.to_path_buf();
    config.prompts_dir = repo_path("prompts");
    config.knowledge_dir = repo_path("knowledge");
    config.twilio.auth_token = Some(AUTH_TOKEN.to_string());
    config.worker.poll_ms = 50;
    config.worker.lease_secs = 5;
    // Each text is its own turn in stories; bursts have their own tests.
    config.worker.burst_ms = 0;
    // Stopping needs no drain for a load balancer here; its own tests set one.
    config.server.drain_ms = 0;
    config.outbox.base_backoff_ms = 50;
    config.outbox.max_backoff_ms = 200;
    // Story tests run on words and BM25; the dense model has tests of its own.
    config.embeddings.provider = textdesk::config::EmbeddingsProvider::None;
    config
}

impl TestApp {
    pub async fn spawn() -> Self {
        Self::spawn_with(|_| {}).await
    }

    pub async fn spawn_with(adjust: impl FnOnce(&mut Config)) -> Self {
        Self::spawn_with_clock(Arc::new(SystemClock), adjust).await
    }

    /// Starts textdesk on the given clock (e.g. a [`ManualClock`] pinned to a time).
    pub async fn spawn_with_clock(clock: Arc<dyn Clock>, adjust: impl FnOnce(&mut Config)) -> Self {
        // Kept after the test: the knowledge index flushes when the last handle to it
        // drops, which can be after the test body returns.
        let dir = tempfile::Builder::new()
            .prefix("textdesk-test-")
            .tempdir_in(env!("CARGO_TARGET_TMPDIR"))
            .expect("temp dir");
        let mut config = test_config(dir.path());
        config.database_url = test_database_url().await;
        adjust(&mut config);
        let running = app::start_with_clock(&config, clock)
            .await
            .expect("textdesk starts");
        let base_url = format!("http://{}", running.addr);
        // Twilio signs the URL it calls; our public URL is the loopback address.
        config.public_url = Some(base_url.clone());
        Self {
            running,
            base_url,
            config,
            http: crate::support::http_client(),
            _dir: dir.keep(),
        }
    }

    /// Waits until the knowledge base has been indexed, so answers can use it.
    pub async fn wait_for_knowledge(&self) {
        let knowledge = self
            .running
            .engine
            .brain
            .as_ref()
            .and_then(|b| b.knowledge().cloned())
            .expect("the knowledge base opens in tests");
        for _ in 0..400 {
            if knowledge.status().chunks > 0 {
                return;
            }
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
        panic!("the knowledge base was not indexed in time");
    }

    /// Runs a `textdesk` command (the real binary) on this app's data and database.
    pub fn cli(&self, args: &[&str]) -> std::process::Output {
        let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_textdesk"));
        cmd.args(args)
            .env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .env("TEXTDESK_DATA_DIR", &self.config.data_dir)
            .current_dir(&self.config.data_dir);
        if let Some(url) = &self.config.database_url {
            cmd.env("TEXTDESK_DATABASE_URL", url);
        }
        cmd.output().expect("textdesk runs")
    }

    pub fn store(&self) -> &Store {
        &self.running.engine.store
    }

    /// A customer's text: a signed inbound-SMS webhook with Twilio's usual fields.
    /// Every text a test sends must be kept: a refused one (a 5xx the provider would
    /// not retry) fails here, not as a missing reply later.
    pub async fn text(&self, from: &str, body: &str, sid: &str) -> reqwest::Response {
        let response = self
            .post_signed("/webhooks/twilio", &inbound_params(from, body, sid))
            .await;
        assert!(
            response.status().is_success(),
            "the webhook refused {body:?}: {}",
            response.status()
        );
        response
    }

    pub async fn post_signed(&self, path: &str, params: &[(String, String)]) -> reqwest::Response {
        let url = format!("{}{}", self.base_url, path);
        let signature = compute_signature(AUTH_TOKEN, &url, params);
        self.http
            .post(&url)
            .header("X-Twilio-Signature", signature)
            .form(params)
            .send()
            .await
            .expect("request reaches textdesk")
    }

    /// Waits until every queued inbound text is processed and the outbox is empty.
    pub async fn settle(&self) {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
        loop {
            let (inbound, _) = self.store().inbound_backlog(0).await.unwrap();
            let outbound = self.store().outbox_backlog().await.unwrap();
            if inbound == 0 && outbound == 0 {
                return;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "textdesk did not settle: {inbound} inbound, {outbound} outbound pending"
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    pub async fn transcript(&self, phone: &str) -> Vec<TranscriptEntry> {
        self.store().transcript(phone, None).await.unwrap()
    }

    /// The bot's and system's texts to this phone, in order.
    pub async fn outbound(&self, phone: &str) -> Vec<TranscriptEntry> {
        self.transcript(phone)
            .await
            .into_iter()
            .filter(|e| e.direction == textdesk::store::Direction::Outbound)
            .collect()
    }
}

pub fn inbound_params(from: &str, body: &str, sid: &str) -> Vec<(String, String)> {
    [
        ("ToCountry", "US"),
        ("SmsMessageSid", sid),
        ("NumMedia", "0"),
        ("From", from),
        ("To", BUSINESS_NUMBER),
        ("Body", body),
        ("NumSegments", "1"),
        ("MessageSid", sid),
        ("AccountSid", "ACtest00000000000000000000000000"),
        ("ApiVersion", "2010-04-01"),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect()
}

/// The database a test should use: `None` means the SQLite file in the test's data
/// dir (the default); with `TEXTDESK_TEST_POSTGRES_URL` set to an admin URL of a
/// throw-away cluster (`scripts/postgres.sh start`), a freshly created, uniquely named
/// database on it.
pub async fn test_database_url() -> Option<String> {
    use sqlx::{Connection, Executor};
    let admin = std::env::var("TEXTDESK_TEST_POSTGRES_URL")
        .ok()
        .filter(|u| !u.is_empty())?;
    let name = format!(
        "textdesk_test_{}_{:016x}",
        std::process::id(),
        rand::random::<u64>()
    );
    let mut conn = sqlx::PgConnection::connect(&admin)
        .await
        .unwrap_or_else(|e| panic!("TEXTDESK_TEST_POSTGRES_URL={admin} does not connect: {e}"));
    conn.execute(format!("CREATE DATABASE {name}").as_str())
        .await
        .unwrap_or_else(|e| panic!("CREATE DATABASE {name}: {e}"));
    conn.close().await.ok();
    let mut url = url::Url::parse(&admin).expect("TEXTDESK_TEST_POSTGRES_URL is a URL");
    url.set_path(&name);
    Some(url.to_string())
}

/// A fresh Twilio-looking message sid.
pub fn sid() -> String {
    format!("SM{:032x}", rand::random::<u128>())
}
