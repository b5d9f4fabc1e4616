//! Durable state, through sqlx: contacts and consent, conversations, messages, the
//! inbound queue and the outbox, the event log and its webhook deliveries, on SQLite
//! (embedded default) or PostgreSQL.
//!
//! Callers see plain Rust types ([`model`]); SQL stays in this folder, each statement
//! next to the function that runs it. Queries are written once in portable SQL
//! (`$n` placeholders, `ON CONFLICT`, `RETURNING`, epoch-millisecond integers) and run
//! through sqlx's `Any` driver; the few places where the engines differ ask
//! [`Dialect`]. Every transaction starts with a write so SQLite takes its write lock up
//! front instead of failing a read→write upgrade under concurrency.
//!
//! Keeping the engines in step (migrations/sqlite and migrations/postgres change
//! together; the store tests and the `core`/`crash` suites run on both, see
//! `scripts/test.sh`):
//! - Integers are `INTEGER` on SQLite (always 64-bit) and `BIGINT` on PostgreSQL, and
//!   are read as `i64` everywhere; ids are `BIGINT GENERATED ALWAYS AS IDENTITY`.
//! - Floats are `REAL` on SQLite (8 bytes) but `DOUBLE PRECISION` on PostgreSQL, whose
//!   `REAL` is 4 bytes and would come back through the Any driver widened and changed.
//! - No `BOOLEAN` columns: SQLite hands back an integer, which the Any driver will not
//!   decode as `bool`; states are `TEXT` (`status = 'pending'`).
//! - Queue claims add `FOR UPDATE SKIP LOCKED` on PostgreSQL ([`Store::skip_locked`]).
//! - Transactions lock a contact before its conversation and its queue rows: on
//!   PostgreSQL the opposite order can deadlock against a concurrent text from the
//!   same contact.

mod agents;
pub use agents::{Agent, AgentCredential, Role};
mod arrivals;
pub use arrivals::MAX_ARRIVAL_ATTEMPTS;
mod audit;
pub use audit::{AuditAction, AuditBy, AuditEntry, AuditFilter, COMMAND_LINE};
pub mod analytics;
mod completion;
mod consent;
mod contacts;
mod csat;
pub use consent::{ConsentRecord, ContactConsent, Recorded};
pub use contacts::Contact;
pub use csat::{CsatAnswer, PendingSurvey, SURVEY_REPLY_WINDOW_MS, SurveyTrigger};
mod conversations;
pub use conversations::*;
mod events;
pub use events::Event;
mod export;
pub use export::{ExportedConversation, ExportedMessage};
mod flows;
mod gaps;
pub use flows::{DueFlowStart, FlowContact, PEOPLE_HAVE_IT};
pub use gaps::{AgentAnswer, FeedbackCounts, GapText, SuggestionRow};
mod handoffs;
pub use handoffs::*;
mod inbound;
mod labels;
pub use labels::{Label, LabelCount, MAX_LABEL_CHARS};
pub mod model;
mod outbox;
mod receive;
mod retention;
mod routing;
pub use routing::{AgentLoad, WaitingHandoff};
mod search;
pub use outbox::{DeliveryResult, QueuedOutbound};
pub use retention::{ERASED, Erased, Pruned, RetentionCutoffs};
pub use search::{HitKind, SearchHit, SearchQuery};
mod sla;
mod sql;
pub use sla::{SlaScope, SlaTimes};
#[cfg(test)]
mod tests;
mod transcript;
mod webhooks;
pub use webhooks::{
    ClaimedDelivery, DeliveryOutcome, DeliveryView, EndpointDeliveries, EventContact,
};

use std::path::Path;
use std::str::FromStr;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use sqlx::any::{AnyConnectOptions, AnyPoolOptions};
use sqlx::{AnyPool, ConnectOptions, Executor};

pub use model::*;

/// The database engine behind the pool.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dialect {
    Sqlite,
    Postgres,
}

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("database error: {0}")]
    Database(#[from] sqlx::Error),
    #[error("database migration failed: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    #[error("could not create the data directory {path}: {source}")]
    DataDir {
        path: String,
        source: std::io::Error,
    },
    /// Another worker took over this row (our lease expired); our work is discarded.
    #[error("lease on queue row {0} was lost to another worker")]
    LeaseLost(i64),
    #[error("{what} {id} not found")]
    NotFound { what: &'static str, id: String },
    #[error("stored value is corrupt: {0}")]
    Corrupt(String),
    /// The change conflicts with the current state (taken name, already claimed).
    #[error("{0}")]
    Conflict(String),
    /// The change is not allowed (e.g. texting a contact who opted out).
    #[error("{0}")]
    Refused(String),
    /// The process is shutting down and no longer stores anything.
    #[error("the store is closed: textdesk is shutting down")]
    Closed,
}

pub type Result<T, E = StoreError> = std::result::Result<T, E>;

/// A handle to the database; cheap to clone.
#[derive(Clone, Debug)]
pub struct Store {
    pool: AnyPool,
    /// Where write transactions run ([`Store::begin_write`]). On SQLite, one
    /// connection of its own: a connection's page cache survives only as long as no
    /// other connection writes, so one writer keeps the pages a webhook's commit
    /// touches in memory instead of reading them again through the kernel each
    /// time the turn moves to another connection. On PostgreSQL, the pool.
    writes: AnyPool,
    dialect: Dialect,
    /// SQLite's one writer, taken in this process before SQLite is asked for its
    /// write lock ([`Store::writing`]).
    writer: Arc<tokio::sync::Mutex<()>>,
    /// Where every writer but the webhook's lines up for `writer`, one at a time
    /// ([`Store::writing_first`]).
    background: Arc<tokio::sync::Mutex<()>>,
    /// Webhooks' texts handed over and not yet committed ([`Store::text_arriving`]);
    /// background writers let them go first ([`Store::after_arrivals`]).
    arriving: Arc<Arriving>,
    /// The usual wait for a person and the time it was read for
    /// ([`Store::median_first_response_ms`]).
    usual_wait: Arc<std::sync::Mutex<Option<(i64, Option<i64>)>>>,
    /// SQLite's checkpointer ([`checkpoint_wal`]), stopped with the last clone: it
    /// holds the pool, which would otherwise outlive every handle to it.
    _checkpointer: Option<Arc<AbortOnDrop>>,
}

/// The longest a background writer lets arriving texts go first
/// ([`Store::after_arrivals`]).
const ARRIVALS_FIRST: Duration = Duration::from_millis(20);

/// Webhooks' texts between the hand-over and their commit.
#[derive(Debug, Default)]
struct Arriving {
    count: AtomicUsize,
    /// Told when `count` drops to zero.
    quiet: tokio::sync::Notify,
}

/// One text arriving ([`Store::text_arriving`]).
#[derive(Debug)]
pub struct ArrivingText(Arc<Arriving>);

impl Drop for ArrivingText {
    fn drop(&mut self) {
        if self.0.count.fetch_sub(1, Ordering::AcqRel) == 1 {
            self.0.quiet.notify_waiters();
        }
    }
}

/// Stops a task when dropped.
#[derive(Debug)]
struct AbortOnDrop(tokio::task::JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// Held while this process writes to SQLite; `None` on PostgreSQL. Drops the turn
/// at the writer before the place in the background line.
type Writing = Option<(
    tokio::sync::OwnedMutexGuard<()>,
    Option<tokio::sync::OwnedMutexGuard<()>>,
)>;

/// Connections to a SQLite file: one writes at a time, the others read beside it (WAL).
const SQLITE_CONNECTIONS: u32 = 8;

static SQLITE_MIGRATIONS: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/sqlite");
static POSTGRES_MIGRATIONS: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/postgres");

impl Store {
    /// Connects, prepares the engine (WAL and a busy timeout on SQLite) and applies
    /// pending migrations.
    pub async fn open(url: &str) -> Result<Self> {
        sqlx::any::install_default_drivers();
        let dialect = if url.starts_with("postgres") {
            Dialect::Postgres
        } else {
            Dialect::Sqlite
        };
        if dialect == Dialect::Sqlite {
            ensure_sqlite_dir(url)?;
        }
        let options = AnyConnectOptions::from_str(url)?
            .log_statements(tracing::log::LevelFilter::Trace)
            .log_slow_statements(tracing::log::LevelFilter::Warn, Duration::from_secs(1));
        let (pool, writes) = match dialect {
            Dialect::Sqlite => {
                let pool = connect(&options, dialect, SQLITE_CONNECTIONS).await?;
                let writes = connect(&options, dialect, 1).await?;
                (pool, writes)
            }
            Dialect::Postgres => {
                let pool = connect(&options, dialect, 16).await?;
                (pool.clone(), pool)
            }
        };
        let writer: Arc<tokio::sync::Mutex<()>> = Arc::default();
        let background: Arc<tokio::sync::Mutex<()>> = Arc::default();
        let checkpointer = match dialect {
            Dialect::Sqlite => {
                SQLITE_MIGRATIONS.run(&writes).await?;
                let task = tokio::spawn(checkpoint_wal(
                    writes.clone(),
                    Arc::clone(&writer),
                    Arc::clone(&background),
                ));
                Some(Arc::new(AbortOnDrop(task)))
            }
            Dialect::Postgres => {
                POSTGRES_MIGRATIONS.run(&pool).await?;
                None
            }
        };
        Ok(Self {
            pool,
            writes,
            dialect,
            writer,
            background,
            arriving: Arc::default(),
            usual_wait: Arc::default(),
            _checkpointer: checkpointer,
        })
    }

    pub fn dialect(&self) -> Dialect {
        self.dialect
    }

    pub fn dialect_name(&self) -> &'static str {
        match self.dialect {
            Dialect::Sqlite => "sqlite",
            Dialect::Postgres => "postgres",
        }
    }

    /// Cheap liveness probe of the database.
    pub async fn ping(&self) -> Result<()> {
        sqlx::query("SELECT 1").execute(&self.pool).await?;
        Ok(())
    }

    pub async fn close(&self) {
        self.pool.close().await;
        self.writes.close().await;
    }

    /// Waits for this process's turn to write, on SQLite.
    ///
    /// SQLite has one writer at a time, and a connection that finds the write lock
    /// taken sleeps in SQLite's busy handler (1, 2, 5 … 100 ms steps), whatever the
    /// holder is doing: under load that, not the writes, set the webhook's p99. Queued
    /// here instead, writers take turns the moment the previous one commits. Take it
    /// before `begin` and hold it until the commit; never call another writing
    /// method of the store while holding it. Other processes on the same file (the
    /// CLI) still meet the busy timeout.
    ///
    /// Background writers (workers, dispatchers, the desk) line up one behind the
    /// other before they reach the writer, so the webhook ([`Store::writing_first`])
    /// never waits for more than the one transaction in progress and the next.
    async fn writing(&self) -> Writing {
        match self.dialect {
            Dialect::Sqlite => {
                let in_line = Arc::clone(&self.background).lock_owned().await;
                self.after_arrivals().await;
                let turn = Arc::clone(&self.writer).lock_owned().await;
                Some((turn, Some(in_line)))
            }
            Dialect::Postgres => None,
        }
    }

    /// Marks a webhook's text as arriving until the guard drops: from when it is
    /// handed to the group commit until that commits.
    pub fn text_arriving(&self) -> ArrivingText {
        self.arriving.count.fetch_add(1, Ordering::AcqRel);
        ArrivingText(Arc::clone(&self.arriving))
    }

    /// Waits while webhooks' texts are arriving, for at most [`ARRIVALS_FIRST`].
    ///
    /// Taking turns one for one, a flood's webhooks waited for a background
    /// transaction before each of their commits, and acknowledged half as fast. A
    /// background writer now waits for a moment with no text arriving, or until it
    /// has waited [`ARRIVALS_FIRST`]: the engine still gets a turn at least that often,
    /// and a webhook still waits for at most one background transaction.
    async fn after_arrivals(&self) {
        let deadline = tokio::time::Instant::now() + ARRIVALS_FIRST;
        loop {
            let quiet = self.arriving.quiet.notified();
            if self.arriving.count.load(Ordering::Acquire) == 0 {
                return;
            }
            if tokio::time::timeout_at(deadline, quiet).await.is_err() {
                return;
            }
        }
    }

    /// The turn to write for a customer's text arriving: ahead of the background
    /// line ([`Store::writing`]), because a webhook is acknowledged only once its
    /// text is committed, and a provider that waits too long sends it again.
    async fn writing_first(&self) -> Writing {
        match self.dialect {
            Dialect::Sqlite => Some((Arc::clone(&self.writer).lock_owned().await, None)),
            Dialect::Postgres => None,
        }
    }

    /// A write transaction, with this process's turn to write ([`Store::writing`]).
    /// Bind the guard before the transaction so it is released after it.
    async fn begin_write(&self) -> Result<(Writing, sqlx::Transaction<'static, sqlx::Any>)> {
        let writing = self.writing().await;
        let tx = self.writes.begin().await?;
        Ok((writing, tx))
    }

    /// A write transaction ahead of the background line ([`Store::writing_first`]).
    /// Bind the guard before the transaction so it is released after it.
    async fn begin_write_first(&self) -> Result<(Writing, sqlx::Transaction<'static, sqlx::Any>)> {
        let writing = self.writing_first().await;
        let tx = self.writes.begin().await?;
        Ok((writing, tx))
    }

    /// `FOR UPDATE SKIP LOCKED` where the engine has it: concurrent claimers on
    /// PostgreSQL skip rows another transaction is claiming instead of queueing behind
    /// it. SQLite serialises writers, so it needs nothing.
    fn skip_locked(&self) -> &'static str {
        match self.dialect {
            Dialect::Postgres => " FOR UPDATE SKIP LOCKED",
            Dialect::Sqlite => "",
        }
    }
}

/// How often [`checkpoint_wal`] copies the WAL into the database file. Under a
/// flood (2 cores, 5 s of wrk) the WAL peaked at 11–13 MB with 100 ms and 24–25 MB
/// with 250 ms, whose longer checkpoints held the writer long enough to show in the
/// webhook's p99 (31–34 ms, against 20–24).
const CHECKPOINT_PERIOD: Duration = Duration::from_millis(100);

/// Copies committed pages from SQLite's WAL into the database file, every
/// [`CHECKPOINT_PERIOD`], until the pool closes. (Connections have
/// `wal_autocheckpoint = 0`.)
///
/// It takes a background writer's turn ([`Store::writing`]): with no commit
/// appending meanwhile, the checkpoint copies the whole WAL, and the next writer
/// starts it over. Beside the writers, it never caught up, and the WAL grew by
/// 400 MB in a 5 s flood, slowing every read. A webhook waits for at most the one
/// checkpoint in progress, as it waits for a worker's commit. Passive: it does not
/// wait for readers.
async fn checkpoint_wal(
    pool: sqlx::AnyPool,
    writer: Arc<tokio::sync::Mutex<()>>,
    background: Arc<tokio::sync::Mutex<()>>,
) {
    let mut every = tokio::time::interval(CHECKPOINT_PERIOD);
    every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    while !pool.is_closed() {
        every.tick().await;
        let _line = background.lock().await;
        let _turn = writer.lock().await;
        if let Err(e) = sqlx::query("PRAGMA wal_checkpoint(PASSIVE)")
            .fetch_all(&pool)
            .await
            && !pool.is_closed()
        {
            tracing::warn!(error = %e, "checkpointing the SQLite WAL failed; trying again");
        }
    }
}

/// A pool of `size` connections, each prepared for the engine (WAL and a busy
/// timeout on SQLite).
async fn connect(options: &AnyConnectOptions, dialect: Dialect, size: u32) -> Result<AnyPool> {
    let pool = match dialect {
        // Every connection opened now and kept: a SQLite connection's statements
        // run on a thread of its own, started by whoever opens it, and it must not
        // be the background runtime, whose threads run at a lower priority
        // (crate::engine::background), or a webhook's commit would run at theirs.
        //
        // No ping before each use: a connection to a file in this process cannot go
        // stale, and the ping was one more hand-off to its thread per transaction.
        Dialect::Sqlite => AnyPoolOptions::new()
            .max_connections(size)
            .min_connections(size)
            .test_before_acquire(false)
            .idle_timeout(None)
            .max_lifetime(None),
        Dialect::Postgres => AnyPoolOptions::new().max_connections(size),
    };
    let pool = pool
        .acquire_timeout(Duration::from_secs(10))
        .after_connect(move |conn, _meta| {
            Box::pin(async move {
                if dialect == Dialect::Sqlite {
                    // WAL lets readers (`textdesk transcript`) run beside a writer;
                    // the busy timeout makes writers from several processes wait for
                    // each other instead of failing.
                    conn.execute("PRAGMA journal_mode = WAL").await?;
                    conn.execute("PRAGMA busy_timeout = 10000").await?;
                    conn.execute("PRAGMA synchronous = NORMAL").await?;
                    conn.execute("PRAGMA foreign_keys = ON").await?;
                    // Statement journals and sorts in memory, not in temp files
                    // opened, written and unlinked during a webhook's commit.
                    conn.execute("PRAGMA temp_store = MEMORY").await?;
                    // Checkpoints take a writer's turn of their own
                    // ([`checkpoint_wal`]), not the end of whichever commit crosses
                    // SQLite's 1,000-page mark: that commit was often a webhook's,
                    // which then waited for the copy.
                    conn.execute("PRAGMA wal_autocheckpoint = 0").await?;
                }
                Ok(())
            })
        })
        .connect_with(options.clone())
        .await?;
    Ok(pool)
}

/// Creates the directory that will hold a SQLite file named by a `sqlite:` URL.
fn ensure_sqlite_dir(url: &str) -> Result<()> {
    let path = url
        .trim_start_matches("sqlite://")
        .trim_start_matches("sqlite:")
        .split('?')
        .next()
        .unwrap_or("");
    if path.is_empty() || path == ":memory:" {
        return Ok(());
    }
    if let Some(dir) = Path::new(path)
        .parent()
        .filter(|d| !d.as_os_str().is_empty())
    {
        std::fs::create_dir_all(dir).map_err(|source| StoreError::DataDir {
            path: dir.display().to_string(),
            source,
        })?;
    }
    Ok(())
}
