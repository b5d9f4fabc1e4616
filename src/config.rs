//! One typed configuration, loaded once at start.
//!
//! Sources, later ones winning: the defaults written in [`Config::default`], the
//! optional `textdesk.toml` (or the file named by `--config` / `TEXTDESK_CONFIG`), then
//! environment variables. Every setting has a `textdesk.toml` key and an environment
//! variable; [`ENV_VARS`] is the single table of those names (the README's config table
//! mirrors it). Invalid values stop start-up with a message naming the key and where it
//! came from.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use figment::Figment;
use figment::providers::{Format, Serialized, Toml};
use serde::{Deserialize, Serialize};

/// How an environment variable's value is read: `Text` keeps it verbatim (a phone
/// number like `+15555550100` or an all-digit token must stay a string); `Number` and
/// booleans are parsed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EnvKind {
    Text,
    Number,
}
use EnvKind::{Number, Text};

/// Environment variable → dotted `textdesk.toml` key, and how its value is read.
pub const ENV_VARS: &[(&str, &str, EnvKind)] = &[
    ("TEXTDESK_LISTEN", "listen", Text),
    ("TEXTDESK_DATA_DIR", "data_dir", Text),
    ("TEXTDESK_PROMPTS_DIR", "prompts_dir", Text),
    ("TEXTDESK_KNOWLEDGE_DIR", "knowledge_dir", Text),
    ("TEXTDESK_SEED_DIR", "seed_dir", Text),
    ("TEXTDESK_PUBLIC_URL", "public_url", Text),
    (
        "TEXTDESK_SHUTDOWN_GRACE_SECS",
        "server.shutdown_grace_secs",
        Number,
    ),
    ("TEXTDESK_DRAIN_MS", "server.drain_ms", Number),
    ("TEXTDESK_MAX_CONNECTIONS", "server.max_connections", Number),
    ("TEXTDESK_PROVIDER", "provider", Text),
    ("TEXTDESK_LOG_FORMAT", "log_format", Text),
    ("DATABASE_URL", "database_url", Text),
    ("TEXTDESK_DATABASE_URL", "database_url", Text),
    ("QDRANT_URL", "qdrant.url", Text),
    ("QDRANT_API_KEY", "qdrant.api_key", Text),
    ("TEXTDESK_QDRANT_COLLECTION", "qdrant.collection", Text),
    ("TWILIO_ACCOUNT_SID", "twilio.account_sid", Text),
    ("TWILIO_AUTH_TOKEN", "twilio.auth_token", Text),
    ("TWILIO_FROM_NUMBER", "twilio.from_number", Text),
    (
        "TWILIO_MESSAGING_SERVICE_SID",
        "twilio.messaging_service_sid",
        Text,
    ),
    ("TEXTDESK_TWILIO_API_BASE", "twilio.api_base", Text),
    ("OPENAI_BASE_URL", "llm.base_url", Text),
    ("OPENAI_API_KEY", "llm.api_key", Text),
    ("TEXTDESK_LLM_CHAT_MODEL", "llm.chat_model", Text),
    ("TEXTDESK_LLM_TIMEOUT_MS", "llm.timeout_ms", Number),
    ("TEXTDESK_LLM_TASKS", "llm.tasks", Text),
    (
        "TEXTDESK_LLM_STRUCTURED_OUTPUT",
        "llm.structured_output",
        Text,
    ),
    ("TEXTDESK_BRAIN_THRESHOLD", "brain.threshold", Number),
    ("TEXTDESK_EMBEDDINGS", "embeddings.provider", Text),
    ("TEXTDESK_MODEL_DIR", "embeddings.model_dir", Text),
    (
        "TEXTDESK_EMBEDDINGS_CACHE_DIR",
        "embeddings.cache_dir",
        Text,
    ),
    ("TEXTDESK_EMBEDDINGS_SEED_DIR", "embeddings.seed_dir", Text),
    ("TEXTDESK_EMBEDDINGS_MODEL", "embeddings.model", Text),
    (
        "TEXTDESK_EMBEDDINGS_DIMENSIONS",
        "embeddings.dimensions",
        Number,
    ),
    (
        "TEXTDESK_INSECURE_SKIP_SIGNATURE",
        "webhook.insecure_skip_signature",
        Number,
    ),
    (
        "TEXTDESK_WEBHOOK_MAX_BODY_BYTES",
        "webhook.max_body_bytes",
        Number,
    ),
    (
        "TEXTDESK_WEBHOOK_WRITE_TIMEOUT_MS",
        "webhook.write_timeout_ms",
        Number,
    ),
    ("TEXTDESK_WORKER_LEASE_SECS", "worker.lease_secs", Number),
    ("TEXTDESK_WORKER_POLL_MS", "worker.poll_ms", Number),
    ("TEXTDESK_WORKER_CONCURRENCY", "worker.concurrency", Number),
    ("TEXTDESK_WORKER_BURST_MS", "worker.burst_ms", Number),
    (
        "TEXTDESK_OUTBOX_MAX_ATTEMPTS",
        "outbox.max_attempts",
        Number,
    ),
    (
        "TEXTDESK_OUTBOX_BASE_BACKOFF_MS",
        "outbox.base_backoff_ms",
        Number,
    ),
    (
        "TEXTDESK_OUTBOX_MAX_BACKOFF_MS",
        "outbox.max_backoff_ms",
        Number,
    ),
    (
        "TEXTDESK_OUTBOX_SEND_TIMEOUT_MS",
        "outbox.send_timeout_ms",
        Number,
    ),
    ("TEXTDESK_WEBHOOK_URL", "integrations.url", Text),
    ("TEXTDESK_WEBHOOK_SECRET", "integrations.secret", Text),
    (
        "TEXTDESK_INTEGRATIONS_MAX_ATTEMPTS",
        "integrations.max_attempts",
        Number,
    ),
    (
        "TEXTDESK_INTEGRATIONS_BASE_BACKOFF_MS",
        "integrations.base_backoff_ms",
        Number,
    ),
    (
        "TEXTDESK_INTEGRATIONS_MAX_BACKOFF_MS",
        "integrations.max_backoff_ms",
        Number,
    ),
    (
        "TEXTDESK_INTEGRATIONS_TIMEOUT_MS",
        "integrations.timeout_ms",
        Number,
    ),
    ("TEXTDESK_CSAT", "csat.enabled", Number),
    ("TEXTDESK_CSAT_AFTER_BOT", "csat.after_bot", Number),
    (
        "TEXTDESK_CSAT_BOT_IDLE_MINUTES",
        "csat.bot_idle_minutes",
        Number,
    ),
    ("TEXTDESK_CSAT_QUESTION", "csat.question", Text),
    ("TEXTDESK_CSAT_THANKS", "csat.thanks", Text),
    (
        "TEXTDESK_RETENTION_CONTENT_DAYS",
        "retention.content_days",
        Number,
    ),
];

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    /// Address the HTTP server binds.
    pub listen: SocketAddr,
    /// SQLite file, vector index and other local state.
    pub data_dir: PathBuf,
    /// Operator-owned prompt and policy files.
    pub prompts_dir: PathBuf,
    /// Operator-owned knowledge base (Markdown).
    pub knowledge_dir: PathBuf,
    /// Read-only state shipped with the demo prompts and knowledge, which a fresh
    /// data directory starts from instead of computing it: the vectors of the
    /// knowledge and intent examples (`embeddings/`) and the trained intent model
    /// (`classifier/`). Written by `scripts/seed-vectors.sh`; used only where it
    /// matches the files exactly.
    pub seed_dir: PathBuf,
    /// The public base URL Twilio calls (what it signs), e.g. `https://sms.example.com`.
    /// Defaults to `http://{listen}`.
    pub public_url: Option<String>,
    /// `sqlite://…` or `postgres://…`; defaults to `{data_dir}/textdesk.db`.
    pub database_url: Option<String>,
    pub provider: ProviderKind,
    pub log_format: LogFormat,
    pub twilio: TwilioSettings,
    pub server: ServerSettings,
    pub webhook: WebhookSettings,
    pub worker: WorkerSettings,
    pub outbox: OutboxSettings,
    /// Optional OpenAI-compatible language model; off unless a URL or key is set.
    pub llm: crate::llm::LlmSettings,
    pub brain: BrainConfig,
    pub embeddings: EmbeddingsSettings,
    /// Outbound webhooks (`[[webhooks]]` in `textdesk.toml`): endpoints that receive
    /// signed JSON events. See also `integrations.url` for a single one from the
    /// environment.
    pub webhooks: Vec<WebhookEndpoint>,
    pub integrations: IntegrationSettings,
    pub csat: CsatSettings,
    pub retention: RetentionSettings,
    /// A Qdrant server for the knowledge index; unset means the embedded index under
    /// `{data_dir}/qdrant/`.
    pub qdrant: QdrantSettings,
    /// Values for the lookups' environment variables (`env` in
    /// `prompts/lookups/*.toml`) that win over the process environment. Set by
    /// programs that run textdesk inside them (`textdesk test conversations` points
    /// lookups at its own fake server); never read from a file.
    #[serde(skip)]
    pub lookup_env: std::collections::BTreeMap<String, String>,
}

/// One receiver of outbound webhook events.
#[derive(Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WebhookEndpoint {
    /// Where events are POSTed (http or https).
    pub url: String,
    /// Key of the `X-Textdesk-Signature` HMAC; share it with the receiver only.
    pub secret: String,
    /// Public event names to send (e.g. `["conversation.escalated"]`); all when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub events: Option<Vec<String>>,
}

impl std::fmt::Debug for WebhookEndpoint {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WebhookEndpoint")
            .field("url", &self.url)
            .field("secret", &"<redacted>")
            .field("events", &self.events)
            .finish()
    }
}

impl WebhookEndpoint {
    /// Whether this endpoint wants events of this public type.
    pub fn wants(&self, event_type: &str) -> bool {
        self.events
            .as_ref()
            .is_none_or(|events| events.iter().any(|e| e == event_type))
    }
}

/// How outbound webhooks are delivered, and the single-endpoint shorthand.
#[derive(Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct IntegrationSettings {
    /// One endpoint without a `[[webhooks]]` table (env `TEXTDESK_WEBHOOK_URL`);
    /// needs `secret`. Receives every event.
    pub url: Option<String>,
    pub secret: Option<String>,
    /// Attempts per event and endpoint before the delivery is marked failed.
    pub max_attempts: u32,
    pub base_backoff_ms: u64,
    pub max_backoff_ms: u64,
    /// One POST; slower counts as a failed attempt.
    pub timeout_ms: u64,
}

impl std::fmt::Debug for IntegrationSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("IntegrationSettings")
            .field("url", &self.url)
            .field("secret", &redacted(&self.secret))
            .field("max_attempts", &self.max_attempts)
            .field("base_backoff_ms", &self.base_backoff_ms)
            .field("max_backoff_ms", &self.max_backoff_ms)
            .field("timeout_ms", &self.timeout_ms)
            .finish()
    }
}

impl Default for IntegrationSettings {
    fn default() -> Self {
        // About 19 hours of retries with the defaults (5 s doubling, capped at one
        // hour): a receiver that is down overnight still gets its events.
        Self {
            url: None,
            secret: None,
            max_attempts: 24,
            base_backoff_ms: 5_000,
            max_backoff_ms: 60 * 60 * 1_000,
            timeout_ms: 10_000,
        }
    }
}

/// The satisfaction survey sent when a conversation ends.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct CsatSettings {
    /// Survey after an agent resolves a handoff.
    pub enabled: bool,
    /// Also survey conversations the bot handled alone, once they go quiet.
    pub after_bot: bool,
    /// How long a bot-only conversation must be quiet before its survey.
    pub bot_idle_minutes: u64,
    pub question: String,
    pub thanks: String,
}

impl Default for CsatSettings {
    fn default() -> Self {
        Self {
            enabled: true,
            after_bot: false,
            bot_idle_minutes: 30,
            question: "How did we do? Reply 1-5 (5 = great).".to_string(),
            thanks: "Thanks for your feedback!".to_string(),
        }
    }
}

/// How long each kind of record is kept, in days; 0 keeps it forever. A background
/// job prunes every `every_minutes`. See the README's "Data retention and erasure".
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RetentionSettings {
    /// Finished inbound-queue and outbox rows (the messages themselves stay).
    pub queue_days: u64,
    /// Webhook deliveries delivered or given up on.
    pub deliveries_days: u64,
    /// The event log (events still owed to a webhook endpoint are kept).
    pub events_days: u64,
    /// The words of conversations (message bodies, notes, summaries), blanked after
    /// this many days; analytics counts stay. Off by default: the team decides.
    pub content_days: u64,
    pub every_minutes: u64,
}

impl Default for RetentionSettings {
    fn default() -> Self {
        Self {
            queue_days: 7,
            deliveries_days: 30,
            events_days: 90,
            content_days: 0,
            every_minutes: 60,
        }
    }
}

impl RetentionSettings {
    /// The oldest record of each kind to keep, as of `now` (epoch ms).
    pub fn cutoffs(&self, now: i64) -> crate::store::RetentionCutoffs {
        let before = |days: u64| (days > 0).then(|| now - (days as i64) * 86_400_000);
        crate::store::RetentionCutoffs {
            queue: before(self.queue_days),
            deliveries: before(self.deliveries_days),
            events: before(self.events_days),
            content: before(self.content_days),
        }
    }
}

#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct QdrantSettings {
    /// The server's gRPC address, e.g. `http://qdrant:6334`. Set, it replaces the
    /// embedded index, so several textdesk instances can share one knowledge index.
    pub url: Option<String>,
    pub api_key: Option<String>,
    /// The collection holding the knowledge chunks; created when missing.
    pub collection: String,
}

/// How a secret shows in `Debug` (and so in logs and panics): whether it is set.
pub fn redacted(secret: &Option<String>) -> Option<&'static str> {
    secret.as_ref().map(|_| "<redacted>")
}

impl std::fmt::Debug for QdrantSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("QdrantSettings")
            .field("url", &self.url)
            .field("api_key", &redacted(&self.api_key))
            .field("collection", &self.collection)
            .finish()
    }
}

impl Default for QdrantSettings {
    fn default() -> Self {
        Self {
            url: None,
            api_key: None,
            collection: "textdesk_knowledge".to_string(),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum EmbeddingsProvider {
    /// all-MiniLM-L6-v2 in-process, when `model_dir` holds it (scripts/fetch-model.sh).
    Local,
    /// The OpenAI-compatible endpoint of `[llm]` (its base URL and key).
    Openai,
    /// BM25 and word features only.
    None,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct EmbeddingsSettings {
    pub provider: EmbeddingsProvider,
    /// Where the local model's files are.
    pub model_dir: PathBuf,
    /// Vectors of knowledge chunks and intent examples; default `{data_dir}/embeddings`.
    pub cache_dir: Option<PathBuf>,
    /// Model name for `provider = "openai"`.
    pub model: String,
    /// Vector size for `provider = "openai"`.
    pub dimensions: usize,
}

impl Default for EmbeddingsSettings {
    fn default() -> Self {
        Self {
            provider: EmbeddingsProvider::Local,
            model_dir: PathBuf::from("./models/all-MiniLM-L6-v2"),
            cache_dir: None,
            model: "text-embedding-3-small".to_string(),
            dimensions: 1536,
        }
    }
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct BrainConfig {
    /// Minimum classifier confidence for an intent; below it a text is out of scope.
    /// Unset: 0.40, lower for sets of more than 30 intents
    /// (`brain::classify::default_threshold`).
    pub threshold: Option<f32>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ProviderKind {
    /// Records outbound texts as sent and prints a masked line. Needs nothing.
    Log,
    /// Twilio's REST API.
    Twilio,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    Text,
    Json,
}

#[derive(Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct TwilioSettings {
    pub account_sid: Option<String>,
    pub auth_token: Option<String>,
    /// The sending number (E.164); or set `messaging_service_sid`.
    pub from_number: Option<String>,
    pub messaging_service_sid: Option<String>,
    /// Twilio's REST base URL; only tests and proxies change it.
    pub api_base: String,
}

impl std::fmt::Debug for TwilioSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TwilioSettings")
            .field("account_sid", &self.account_sid)
            .field("auth_token", &redacted(&self.auth_token))
            .field("from_number", &self.from_number)
            .field("messaging_service_sid", &self.messaging_service_sid)
            .field("api_base", &self.api_base)
            .finish()
    }
}

/// How the HTTP server protects itself and stops.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ServerSettings {
    /// After SIGTERM, how long in-flight work may take before the process exits
    /// anyway (what is left is in the database and is finished after a restart).
    pub shutdown_grace_secs: u64,
    /// After SIGTERM, how long `/readyz` answers 503 while requests are still served,
    /// so a load balancer stops sending new ones before the listener closes.
    pub drain_ms: u64,
    /// Larger JSON bodies on the agent and admin API are refused with 413.
    pub max_json_bytes: usize,
    /// A request whose body has not arrived within this long is refused with 408.
    pub body_timeout_secs: u64,
    /// Connections served at once; further ones wait to be accepted.
    pub max_connections: usize,
}

impl Default for ServerSettings {
    fn default() -> Self {
        Self {
            shutdown_grace_secs: 10,
            drain_ms: 1000,
            // A note or an agent's text is at most a few kilobytes.
            max_json_bytes: 64 * 1024,
            body_timeout_secs: 10,
            max_connections: 1024,
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct WebhookSettings {
    /// Development only: accept webhooks without a valid `X-Twilio-Signature`.
    pub insecure_skip_signature: bool,
    /// Larger request bodies are refused with 413.
    pub max_body_bytes: usize,
    /// Longest the webhook waits for the database to store a text; past it (or on a
    /// database error) the text goes to the local spool and is acknowledged.
    pub write_timeout_ms: u64,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct WorkerSettings {
    /// How long a claimed inbound message stays reserved for one worker. A crashed
    /// worker's messages are retried by another after this long.
    pub lease_secs: u64,
    /// How often an idle worker looks for work it was not notified about (other
    /// processes sharing the database, expired leases).
    pub poll_ms: u64,
    /// Inbound workers (and outbox dispatchers) per process. Each conversation is still
    /// handled by one worker at a time. Unset: by database ([`Config::workers`]).
    pub concurrency: Option<usize>,
    /// Texts from one customer arriving less than this apart ("hi" / "my order" / "its
    /// late") are read as one turn; 0 reads each text alone. Keywords (STOP, HELP)
    /// and texts to a conversation a person has never wait.
    pub burst_ms: u64,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct OutboxSettings {
    /// Delivery attempts (each may include the provider's own quick retries) before a
    /// text is marked failed.
    pub max_attempts: u32,
    pub base_backoff_ms: u64,
    pub max_backoff_ms: u64,
    /// Longest one provider call may take before it counts as a transient failure.
    pub send_timeout_ms: u64,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            listen: SocketAddr::from(([127, 0, 0, 1], 8080)),
            data_dir: PathBuf::from("./data"),
            prompts_dir: PathBuf::from("./prompts"),
            knowledge_dir: PathBuf::from("./knowledge"),
            seed_dir: PathBuf::from("./seed"),
            public_url: None,
            database_url: None,
            provider: ProviderKind::Log,
            log_format: LogFormat::Text,
            twilio: TwilioSettings::default(),
            server: ServerSettings::default(),
            webhook: WebhookSettings::default(),
            worker: WorkerSettings::default(),
            outbox: OutboxSettings::default(),
            llm: crate::llm::LlmSettings::default(),
            brain: BrainConfig::default(),
            embeddings: EmbeddingsSettings::default(),
            webhooks: Vec::new(),
            integrations: IntegrationSettings::default(),
            csat: CsatSettings::default(),
            retention: RetentionSettings::default(),
            qdrant: QdrantSettings::default(),
            lookup_env: Default::default(),
        }
    }
}

impl Default for TwilioSettings {
    fn default() -> Self {
        Self {
            account_sid: None,
            auth_token: None,
            from_number: None,
            messaging_service_sid: None,
            api_base: "https://api.twilio.com".to_string(),
        }
    }
}

impl Default for WebhookSettings {
    fn default() -> Self {
        // Twilio's own limit for a Body is 1,600 characters; 64 KiB leaves room for
        // every other field and ten media URLs while refusing anything abusive.
        Self {
            insecure_skip_signature: false,
            max_body_bytes: 64 * 1024,
            // Well inside Twilio's 15 s wait for the webhook's answer.
            write_timeout_ms: 5_000,
        }
    }
}

impl Default for WorkerSettings {
    fn default() -> Self {
        Self {
            lease_secs: 30,
            poll_ms: 500,
            concurrency: None,
            // Long enough for a second thumb-typed text, short enough not to be felt.
            burst_ms: 2000,
        }
    }
}

impl Default for OutboxSettings {
    fn default() -> Self {
        Self {
            max_attempts: 8,
            base_backoff_ms: 2_000,
            max_backoff_ms: 10 * 60 * 1_000,
            send_timeout_ms: 10_000,
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("invalid configuration: {0}")]
    Invalid(String),
    #[error("invalid configuration: `{key}`: {reason}")]
    Key { key: &'static str, reason: String },
}

impl Config {
    /// Loads defaults, then `file` (if given, it must exist; otherwise `./textdesk.toml`
    /// when present), then the environment.
    pub fn load(file: Option<&Path>) -> Result<Self, ConfigError> {
        let mut figment = Figment::from(Serialized::defaults(Config::default()));
        match file {
            Some(path) if !path.exists() => {
                return Err(ConfigError::Invalid(format!(
                    "config file {} does not exist",
                    path.display()
                )));
            }
            Some(path) => figment = figment.merge(Toml::file(path)),
            None => figment = figment.merge(Toml::file("textdesk.toml")),
        }
        figment = figment.merge(EnvVars);
        let config: Config = figment.extract().map_err(describe)?;
        config.validate()?;
        Ok(config)
    }

    fn validate(&self) -> Result<(), ConfigError> {
        if self.server.max_connections == 0 {
            return Err(ConfigError::Key {
                key: "server.max_connections",
                reason: "must be at least 1".into(),
            });
        }
        if let Some(url) = &self.public_url {
            let parsed = url::Url::parse(url).map_err(|e| ConfigError::Key {
                key: "public_url",
                reason: format!("{e} (expected e.g. https://sms.example.com)"),
            })?;
            if !matches!(parsed.scheme(), "http" | "https") {
                return Err(ConfigError::Key {
                    key: "public_url",
                    reason: "must start with http:// or https://".into(),
                });
            }
        }
        if let Some(url) = &self.database_url {
            if !(url.starts_with("sqlite:")
                || url.starts_with("postgres://")
                || url.starts_with("postgresql://"))
            {
                return Err(ConfigError::Key {
                    key: "database_url",
                    reason: "must start with sqlite: or postgres://".into(),
                });
            }
        }
        if let Some(url) = &self.qdrant.url {
            let parsed = url::Url::parse(url).map_err(|e| ConfigError::Key {
                key: "qdrant.url",
                reason: format!("{e} (expected the gRPC address, e.g. http://qdrant:6334)"),
            })?;
            if !matches!(parsed.scheme(), "http" | "https") {
                return Err(ConfigError::Key {
                    key: "qdrant.url",
                    reason: "must start with http:// or https:// (the gRPC port, normally 6334)"
                        .into(),
                });
            }
        }
        if self.qdrant.collection.trim().is_empty() {
            return Err(ConfigError::Key {
                key: "qdrant.collection",
                reason: "must not be empty".into(),
            });
        }
        if self.provider == ProviderKind::Twilio {
            let t = &self.twilio;
            if t.account_sid.as_deref().unwrap_or("").is_empty() {
                return Err(ConfigError::Key {
                    key: "twilio.account_sid",
                    reason: "required when provider = \"twilio\" (env TWILIO_ACCOUNT_SID)".into(),
                });
            }
            if t.auth_token.as_deref().unwrap_or("").is_empty() {
                return Err(ConfigError::Key {
                    key: "twilio.auth_token",
                    reason: "required when provider = \"twilio\" (env TWILIO_AUTH_TOKEN)".into(),
                });
            }
            if t.from_number.is_none() && t.messaging_service_sid.is_none() {
                return Err(ConfigError::Key {
                    key: "twilio.from_number",
                    reason:
                        "set a sending number (TWILIO_FROM_NUMBER) or twilio.messaging_service_sid"
                            .into(),
                });
            }
        }
        if self.webhook.max_body_bytes < 1024 {
            return Err(ConfigError::Key {
                key: "webhook.max_body_bytes",
                reason: "must be at least 1024; Twilio's webhooks alone are several hundred bytes"
                    .into(),
            });
        }
        if self.worker.lease_secs == 0 {
            return Err(ConfigError::Key {
                key: "worker.lease_secs",
                reason: "must be at least 1".into(),
            });
        }
        if self
            .worker
            .concurrency
            .is_some_and(|n| !(1..=64).contains(&n))
        {
            return Err(ConfigError::Key {
                key: "worker.concurrency",
                reason: "must be between 1 and 64".into(),
            });
        }
        if self.outbox.send_timeout_ms < 100 {
            return Err(ConfigError::Key {
                key: "outbox.send_timeout_ms",
                reason: "must be at least 100".into(),
            });
        }
        if self.webhook.write_timeout_ms < 100 {
            return Err(ConfigError::Key {
                key: "webhook.write_timeout_ms",
                reason: "must be at least 100".into(),
            });
        }
        if self.retention.every_minutes == 0 {
            return Err(ConfigError::Key {
                key: "retention.every_minutes",
                reason: "must be at least 1".into(),
            });
        }
        if self.outbox.max_attempts == 0 {
            return Err(ConfigError::Key {
                key: "outbox.max_attempts",
                reason: "must be at least 1".into(),
            });
        }
        self.validate_webhooks()
    }

    fn validate_webhooks(&self) -> Result<(), ConfigError> {
        let i = &self.integrations;
        match (&i.url, &i.secret) {
            (Some(_), None) => {
                return Err(ConfigError::Key {
                    key: "integrations.secret",
                    reason: "required with integrations.url (env TEXTDESK_WEBHOOK_SECRET): \
                        receivers verify events with it"
                        .into(),
                });
            }
            (None, Some(_)) => {
                return Err(ConfigError::Key {
                    key: "integrations.url",
                    reason: "a webhook secret is set but no URL (env TEXTDESK_WEBHOOK_URL)".into(),
                });
            }
            _ => {}
        }
        let mut seen = std::collections::HashSet::new();
        for endpoint in self.webhook_endpoints() {
            let parsed = url::Url::parse(&endpoint.url).map_err(|e| ConfigError::Key {
                key: "webhooks.url",
                reason: format!(
                    "{:?}: {e} (expected e.g. https://crm.example.com/hooks)",
                    endpoint.url
                ),
            })?;
            if !matches!(parsed.scheme(), "http" | "https") {
                return Err(ConfigError::Key {
                    key: "webhooks.url",
                    reason: format!("{:?} must start with http:// or https://", endpoint.url),
                });
            }
            if endpoint.secret.trim().is_empty() {
                return Err(ConfigError::Key {
                    key: "webhooks.secret",
                    reason: format!(
                        "empty for {:?}; receivers verify events with it",
                        endpoint.url
                    ),
                });
            }
            for name in endpoint.events.iter().flatten() {
                if !crate::integrations::EVENT_TYPES.contains(&name.as_str()) {
                    return Err(ConfigError::Key {
                        key: "webhooks.events",
                        reason: format!(
                            "unknown event {name:?} for {:?}; known: {}",
                            endpoint.url,
                            crate::integrations::EVENT_TYPES.join(", ")
                        ),
                    });
                }
            }
            if !seen.insert(endpoint.url.clone()) {
                return Err(ConfigError::Key {
                    key: "webhooks.url",
                    reason: format!("{:?} is configured twice", endpoint.url),
                });
            }
        }
        if i.max_attempts == 0 {
            return Err(ConfigError::Key {
                key: "integrations.max_attempts",
                reason: "must be at least 1".into(),
            });
        }
        if i.timeout_ms < 100 {
            return Err(ConfigError::Key {
                key: "integrations.timeout_ms",
                reason: "must be at least 100".into(),
            });
        }
        Ok(())
    }

    /// Every outbound webhook endpoint: the `[[webhooks]]` list, then the one from
    /// `integrations.url` / `TEXTDESK_WEBHOOK_URL` when set.
    pub fn webhook_endpoints(&self) -> Vec<WebhookEndpoint> {
        let mut endpoints = self.webhooks.clone();
        if let (Some(url), Some(secret)) = (&self.integrations.url, &self.integrations.secret) {
            endpoints.push(WebhookEndpoint {
                url: url.clone(),
                secret: secret.clone(),
                events: None,
            });
        }
        endpoints
    }

    /// The database URL in effect: the configured one, or the SQLite file under `data_dir`.
    /// Inbound workers (and as many outbox dispatchers) per process: `worker.concurrency`,
    /// or by database. On SQLite 16: each worker mostly waits for its turn at the one
    /// writer, and with a flood queued 4 workers answered 865 texts/s, 16 workers 1,520
    /// (BM25, 2 cores). On PostgreSQL 4: its pool has 16 connections per process, and
    /// 8 or 16 workers beside the webhooks' commits answered fewer texts (57–109/s against
    /// 240/s with 4).
    pub fn workers(&self) -> usize {
        self.worker.concurrency.unwrap_or_else(|| {
            if self.database_url().starts_with("postgres") {
                4
            } else {
                16
            }
        })
    }

    pub fn database_url(&self) -> String {
        match &self.database_url {
            Some(url) => url.clone(),
            None => format!(
                "sqlite://{}?mode=rwc",
                self.data_dir.join("textdesk.db").display()
            ),
        }
    }

    /// Where the trained intent classifier is kept between starts.
    pub fn classifier_dir(&self) -> PathBuf {
        self.data_dir.join("classifier")
    }

    /// The base URL Twilio calls; request paths are appended to it for signatures.
    pub fn public_base_url(&self) -> String {
        match &self.public_url {
            Some(url) => url.trim_end_matches('/').to_string(),
            None => format!("http://{}", self.listen),
        }
    }

    pub fn provider_name(&self) -> &'static str {
        match self.provider {
            ProviderKind::Log => "log",
            ProviderKind::Twilio => "twilio",
        }
    }

    pub fn lease(&self) -> Duration {
        Duration::from_secs(self.worker.lease_secs)
    }
}

/// Turns figment's errors into one message per bad key that names the key and where
/// its value came from (the environment variable or the file).
fn describe(errors: figment::Error) -> ConfigError {
    let lines: Vec<String> = errors
        .into_iter()
        .map(|e| {
            let key = e.path.join(".").to_lowercase();
            let from_env = e
                .metadata
                .as_ref()
                .is_some_and(|m| m.name.contains("environment"));
            let source = if from_env {
                let vars: Vec<&str> = ENV_VARS
                    .iter()
                    .filter(|(env, dotted, _)| *dotted == key && std::env::var_os(env).is_some())
                    .map(|(env, _, _)| *env)
                    .collect();
                format!(" (from environment variable {})", vars.join(", "))
            } else if let Some(meta) = &e.metadata {
                match &meta.source {
                    Some(source) => format!(" (in {source})"),
                    None => String::new(),
                }
            } else {
                String::new()
            };
            if key.is_empty() {
                format!("{}{source}", e.kind)
            } else {
                format!("`{key}`{source}: {}", e.kind)
            }
        })
        .collect();
    ConfigError::Invalid(lines.join("; "))
}

/// The variables in [`ENV_VARS`] (and only those), as a figment provider. figment's
/// own `Env` guesses types from values, which turns `+15555550100` into a number.
struct EnvVars;

impl figment::Provider for EnvVars {
    fn metadata(&self) -> figment::Metadata {
        figment::Metadata::named("environment variable")
    }

    fn data(
        &self,
    ) -> Result<figment::value::Map<figment::Profile, figment::value::Dict>, figment::Error> {
        use figment::value::{Dict, Value};
        let mut dict = Dict::new();
        for (name, key, kind) in ENV_VARS {
            let Some(raw) = std::env::var_os(name) else {
                continue;
            };
            let raw = raw
                .into_string()
                .map_err(|_| figment::Error::from(format!("{name} is not valid UTF-8")))?;
            let value = match kind {
                EnvKind::Text => Value::from(raw),
                EnvKind::Number => raw.parse::<Value>().unwrap_or_else(|_| Value::from(raw)),
            };
            merge_dicts(
                &mut dict,
                figment::util::nest(key, value)
                    .into_dict()
                    .unwrap_or_default(),
            );
        }
        Ok(figment::Profile::Default.collect(dict))
    }
}

/// Deep-merges `from` into `into` so `twilio.a` and `twilio.b` end up in one table.
fn merge_dicts(into: &mut figment::value::Dict, from: figment::value::Dict) {
    for (key, value) in from {
        match (into.get_mut(&key), value) {
            (
                Some(figment::value::Value::Dict(_, existing)),
                figment::value::Value::Dict(_, incoming),
            ) => merge_dicts(existing, incoming),
            (_, value) => {
                into.insert(key, value);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_need_nothing_installed() {
        figment::Jail::expect_with(|_jail| {
            let config = Config::load(None).expect("defaults load");
            assert_eq!(config.provider, ProviderKind::Log);
            assert_eq!(config.listen.to_string(), "127.0.0.1:8080");
            assert!(config.database_url().starts_with("sqlite://"));
            Ok(())
        });
    }

    #[test]
    fn environment_overrides_the_file_and_names_a_bad_key() {
        figment::Jail::expect_with(|jail| {
            jail.create_file(
                "textdesk.toml",
                "listen = \"127.0.0.1:9000\"\n[worker]\nlease_secs = 5\n",
            )?;
            jail.set_env("TEXTDESK_WORKER_LEASE_SECS", "7");
            jail.set_env("TWILIO_AUTH_TOKEN", "12345");
            jail.set_env("TWILIO_FROM_NUMBER", "+15555550100");
            let config = Config::load(None).expect("loads");
            assert_eq!(config.listen.port(), 9000);
            assert_eq!(config.worker.lease_secs, 7);
            // Verbatim, not guessed as numbers.
            assert_eq!(config.twilio.auth_token.as_deref(), Some("12345"));
            assert_eq!(config.twilio.from_number.as_deref(), Some("+15555550100"));

            jail.set_env("TEXTDESK_WORKER_LEASE_SECS", "soon");
            let err = Config::load(None).unwrap_err().to_string();
            assert!(err.contains("`worker.lease_secs`"), "{err}");
            assert!(err.contains("TEXTDESK_WORKER_LEASE_SECS"), "{err}");
            Ok(())
        });
    }

    #[test]
    fn no_secret_is_ever_printed_by_debug() {
        figment::Jail::expect_with(|jail| {
            for (var, value) in [
                ("TWILIO_AUTH_TOKEN", "tw-secret-1"),
                ("OPENAI_API_KEY", "sk-secret-2"),
                ("QDRANT_API_KEY", "qd-secret-3"),
                ("TEXTDESK_WEBHOOK_URL", "https://crm.example.com/hooks"),
                ("TEXTDESK_WEBHOOK_SECRET", "wh-secret-4"),
            ] {
                jail.set_env(var, value);
            }
            jail.set_env("TWILIO_ACCOUNT_SID", "ACtest");
            jail.set_env("TWILIO_FROM_NUMBER", "+15555550100");
            let config = Config::load(None).expect("loads");
            let printed = format!("{config:?} {:?}", config.webhook_endpoints());
            for secret in ["tw-secret-1", "sk-secret-2", "qd-secret-3", "wh-secret-4"] {
                assert!(!printed.contains(secret), "{secret} in {printed}");
            }
            assert!(printed.contains("<redacted>"), "{printed}");
            Ok(())
        });
    }

    #[test]
    fn qdrant_server_settings_come_from_the_environment() {
        figment::Jail::expect_with(|jail| {
            let config = Config::load(None).expect("defaults load");
            assert_eq!(config.qdrant, QdrantSettings::default());
            assert_eq!(config.qdrant.collection, "textdesk_knowledge");

            jail.set_env("QDRANT_URL", "http://qdrant:6334");
            jail.set_env("QDRANT_API_KEY", "12345");
            jail.set_env("TEXTDESK_QDRANT_COLLECTION", "kb");
            let config = Config::load(None).expect("loads");
            assert_eq!(config.qdrant.url.as_deref(), Some("http://qdrant:6334"));
            assert_eq!(config.qdrant.api_key.as_deref(), Some("12345"));
            assert_eq!(config.qdrant.collection, "kb");

            jail.set_env("QDRANT_URL", "qdrant:6334");
            let err = Config::load(None).unwrap_err().to_string();
            assert!(err.contains("qdrant.url"), "{err}");
            Ok(())
        });
    }

    #[test]
    fn twilio_provider_requires_credentials() {
        figment::Jail::expect_with(|jail| {
            jail.set_env("TEXTDESK_PROVIDER", "twilio");
            let err = Config::load(None).unwrap_err().to_string();
            assert!(err.contains("twilio.account_sid"), "{err}");
            Ok(())
        });
    }

    #[test]
    fn webhooks_come_from_the_file_and_the_environment() {
        figment::Jail::expect_with(|jail| {
            jail.create_file(
                "textdesk.toml",
                "[[webhooks]]\nurl = \"https://crm.example.com/hooks\"\nsecret = \"s1\"\n\
                 events = [\"conversation.escalated\"]\n",
            )?;
            jail.set_env("TEXTDESK_WEBHOOK_URL", "http://127.0.0.1:9/hook");
            jail.set_env("TEXTDESK_WEBHOOK_SECRET", "12345");
            let config = Config::load(None).expect("loads");
            let endpoints = config.webhook_endpoints();
            assert_eq!(endpoints.len(), 2);
            assert!(endpoints[0].wants("conversation.escalated"));
            assert!(!endpoints[0].wants("contact.opted_out"));
            assert_eq!(endpoints[1].secret, "12345");
            assert!(endpoints[1].wants("contact.opted_out"));
            assert!(
                !format!("{config:?}").contains("12345"),
                "secrets stay out of Debug"
            );

            jail.set_env("TEXTDESK_WEBHOOK_SECRET", "");
            jail.create_file(
                "textdesk.toml",
                "[[webhooks]]\nurl = \"https://crm.example.com/hooks\"\nsecret = \"s1\"\n\
                 events = [\"conversation.escalatd\"]\n",
            )?;
            let err = Config::load(None).unwrap_err().to_string();
            assert!(err.contains("webhooks.events"), "{err}");
            assert!(err.contains("conversation.escalatd"), "{err}");
            Ok(())
        });
    }

    #[test]
    fn unknown_keys_in_the_file_are_errors() {
        figment::Jail::expect_with(|jail| {
            jail.create_file("textdesk.toml", "listn = \"127.0.0.1:9000\"\n")?;
            let err = Config::load(None).unwrap_err().to_string();
            assert!(err.contains("listn"), "{err}");
            Ok(())
        });
    }
}
