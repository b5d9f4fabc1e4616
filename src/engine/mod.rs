//! The conversation engine: takes stored inbound texts off the durable queue, one
//! conversation at a time and in arrival order, runs the [`pipeline`], and commits the
//! outcome (queue row done + replies in the outbox) in one transaction. The
//! [`dispatcher`] then hands outbox rows to the SMS provider with retries.
//!
//! The engine talks to the database only through [`crate::store`] and to carriers only
//! through [`crate::sms::providers`]; it knows nothing about HTTP.

pub mod arrivals;
pub mod background;
pub mod booked;
pub mod burst;
pub mod completions;
pub mod consent;
pub mod csat;
pub mod desk;
pub mod dispatcher;
pub mod events;
pub mod export;
pub mod flow_starts;
pub mod guard;
pub mod handoff;
pub mod holding;
pub mod hours;
pub mod intake;
pub mod lookup;
pub mod periodic;
pub mod pipeline;
pub mod policy;
pub mod preview;
pub mod reload;
pub mod retention;
pub mod routing;
pub mod sending;
pub mod sla;
pub mod spool;
pub mod worker;

use std::sync::{Arc, RwLock};

use tokio::sync::{Notify, broadcast};

use crate::brain::think::Brain;
use crate::clock::Clock;
use crate::flows::FlowSet;
use crate::lookups::{LookupCaller, LookupSet};
use crate::replies::ReplySet;
use crate::store::{Event, Store};
use policy::Policy;

/// What the workers and dispatchers of one process share.
pub struct Engine {
    pub store: Store,
    pub clock: Arc<dyn Clock>,
    /// Understands and answers texts; `None` only in tests of the bare core, where
    /// the policy's acknowledgement is the reply.
    pub brain: Option<Arc<Brain>>,
    policy: RwLock<Arc<Policy>>,
    /// The operator's flows (`prompts/flows/`) and appointment times; swapped whole
    /// on reload.
    flows: RwLock<Arc<FlowSet>>,
    /// The operator's lookups (`prompts/lookups/`); swapped whole on reload.
    lookups: RwLock<Arc<LookupSet>>,
    /// The team's saved replies (`prompts/replies/`) and why the last edit of them
    /// did not load, if it did not; swapped whole on reload.
    replies: RwLock<Arc<SavedReplies>>,
    /// Makes the lookups' HTTP requests (one connection pool).
    pub lookup_caller: LookupCaller,
    /// Lookup environment values that win over the process's (see
    /// [`crate::config::Config::lookup_env`]); set once at start.
    lookup_env: std::sync::OnceLock<std::collections::BTreeMap<String, String>>,
    /// How long a text waits for the rest of its burst ([`burst`]); set once at start,
    /// zero (each text read alone) until then.
    burst_window: std::sync::OnceLock<std::time::Duration>,
    /// Woken when an inbound text was queued by this process.
    pub inbound_ready: Notify,
    /// Woken when replies were put in the outbox by this process.
    pub outbound_ready: Notify,
    /// Woken when this process wrote to the event log (handoffs, agent actions).
    pub events_ready: Notify,
    /// New events, in id order, for this process's live subscribers.
    pub events: broadcast::Sender<Arc<Event>>,
    /// Identifies this process's leases in the queue tables.
    pub instance_id: String,
    /// Inbound workers beat this on every turn of their loop; readiness reads it.
    pub heartbeat: Heartbeat,
    /// Where webhooks hand their texts to be stored, group-committed.
    pub intake: intake::Intake,
    /// Where workers hand their outcomes to be committed, group-committed on SQLite.
    pub completions: completions::Completions,
}

/// The saved replies in force, and why the last edit did not load (if it did not).
#[derive(Debug, Clone, Default)]
pub struct SavedReplies {
    pub set: ReplySet,
    pub error: Option<crate::knowledge::document::FileError>,
}

/// When a worker last showed it was alive, on a monotonic clock (the injected
/// [`Clock`] may be pinned in tests, and a stale heartbeat must be real time).
#[derive(Debug)]
pub struct Heartbeat {
    started: std::time::Instant,
    /// Milliseconds after `started` of the last beat; 0 = never.
    last_ms: std::sync::atomic::AtomicU64,
}

impl Default for Heartbeat {
    fn default() -> Self {
        Self {
            started: std::time::Instant::now(),
            last_ms: std::sync::atomic::AtomicU64::new(0),
        }
    }
}

impl Heartbeat {
    pub fn beat(&self) {
        let ms = self.started.elapsed().as_millis() as u64;
        self.last_ms
            .store(ms.max(1), std::sync::atomic::Ordering::Relaxed);
    }

    /// How long since the last beat; `None` if no worker ever beat.
    pub fn age(&self) -> Option<std::time::Duration> {
        let last = self.last_ms.load(std::sync::atomic::Ordering::Relaxed);
        (last > 0).then(|| {
            let now = self.started.elapsed().as_millis() as u64;
            std::time::Duration::from_millis(now.saturating_sub(last))
        })
    }
}

impl Engine {
    pub fn new(
        store: Store,
        policy: Policy,
        brain: Option<Arc<Brain>>,
        clock: Arc<dyn Clock>,
    ) -> Arc<Self> {
        let intake = intake::Intake::start(store.clone());
        let completions = completions::Completions::start(store.clone());
        Arc::new(Self {
            store,
            clock,
            brain,
            policy: RwLock::new(Arc::new(policy)),
            flows: RwLock::new(Arc::new(FlowSet::default())),
            lookups: RwLock::new(Arc::new(LookupSet::default())),
            replies: RwLock::new(Arc::new(SavedReplies::default())),
            lookup_caller: LookupCaller::new(),
            lookup_env: std::sync::OnceLock::new(),
            burst_window: std::sync::OnceLock::new(),
            inbound_ready: Notify::new(),
            outbound_ready: Notify::new(),
            events_ready: Notify::new(),
            events: events::channel(),
            instance_id: format!("td-{:016x}", rand::random::<u64>()),
            heartbeat: Heartbeat::default(),
            intake,
            completions,
        })
    }

    /// The policy in force now.
    pub fn policy(&self) -> Arc<Policy> {
        match self.policy.read() {
            Ok(guard) => guard.clone(),
            Err(poisoned) => poisoned.into_inner().clone(),
        }
    }

    /// Swaps in a newly loaded policy; messages already being processed finish with
    /// the old one.
    pub fn set_policy(&self, policy: Policy) {
        let mut guard = match self.policy.write() {
            Ok(guard) => guard,
            Err(poisoned) => poisoned.into_inner(),
        };
        *guard = Arc::new(policy);
    }

    /// The flows in force now.
    pub fn flows(&self) -> Arc<FlowSet> {
        match self.flows.read() {
            Ok(guard) => guard.clone(),
            Err(poisoned) => poisoned.into_inner().clone(),
        }
    }

    /// Swaps in newly loaded flows; a conversation mid-flow continues on the new file.
    pub fn set_flows(&self, flows: FlowSet) {
        let mut guard = match self.flows.write() {
            Ok(guard) => guard,
            Err(poisoned) => poisoned.into_inner(),
        };
        *guard = Arc::new(flows);
    }

    /// The lookups in force now.
    pub fn lookups(&self) -> Arc<LookupSet> {
        match self.lookups.read() {
            Ok(guard) => guard.clone(),
            Err(poisoned) => poisoned.into_inner().clone(),
        }
    }

    /// Gives lookup environment values that win over the process environment; only
    /// the first call counts (at start, before the lookups are first loaded).
    pub fn set_lookup_env(&self, env: std::collections::BTreeMap<String, String>) {
        let _ = self.lookup_env.set(env);
    }

    /// Sets how long texts wait for the rest of their burst; only the first call counts.
    pub fn set_burst_window(&self, window: std::time::Duration) {
        let _ = self.burst_window.set(window);
    }

    /// How long a text waits for the rest of its burst before it is read.
    pub fn burst_window(&self) -> std::time::Duration {
        self.burst_window.get().copied().unwrap_or_default()
    }

    /// Reads `prompts/lookups/` with this engine's environment.
    pub fn load_lookups(
        &self,
        prompts_dir: &std::path::Path,
    ) -> Result<LookupSet, crate::lookups::LookupError> {
        let given = self.lookup_env.get();
        LookupSet::load_with_env(prompts_dir, &|name| {
            given
                .and_then(|g| g.get(name).cloned())
                .or_else(|| std::env::var(name).ok())
        })
    }

    /// Swaps in newly loaded lookups, logging each one that is off and why.
    pub fn set_lookups(&self, lookups: LookupSet) {
        for lookup in lookups.lookups.values() {
            if let Err(missing) = &lookup.env {
                tracing::warn!(
                    lookup = %lookup.name,
                    unset = %missing.join(", "),
                    "lookup is off until these environment variables are set; its intents answer from the knowledge base"
                );
            }
        }
        let mut guard = match self.lookups.write() {
            Ok(guard) => guard,
            Err(poisoned) => poisoned.into_inner(),
        };
        *guard = Arc::new(lookups);
    }

    /// The saved replies in force now.
    pub fn saved_replies(&self) -> Arc<SavedReplies> {
        match self.replies.read() {
            Ok(guard) => guard.clone(),
            Err(poisoned) => poisoned.into_inner().clone(),
        }
    }

    /// Reads `prompts/replies/` again. A set that does not load keeps the last good
    /// one serving and is reported (the log, and the replies' API) with file and line.
    pub fn load_saved_replies(&self, prompts_dir: &std::path::Path) {
        let current = self.saved_replies();
        let next = match ReplySet::load(prompts_dir) {
            Ok(set) => {
                tracing::info!(replies = set.replies.len(), "saved replies loaded");
                SavedReplies { set, error: None }
            }
            Err(e) => {
                tracing::error!(error = %e, "saved replies not loaded; the last good ones keep serving");
                SavedReplies {
                    set: current.set.clone(),
                    error: Some(e),
                }
            }
        };
        let mut guard = match self.replies.write() {
            Ok(guard) => guard,
            Err(poisoned) => poisoned.into_inner(),
        };
        *guard = Arc::new(next);
    }

    /// The appointment times booked from today on (a turn reads them through
    /// [`booked::BookedSlots`], only when a flow needs them).
    pub async fn booked_slots(
        &self,
    ) -> Result<std::collections::HashSet<String>, crate::store::StoreError> {
        let flows = self.flows();
        let today = jiff::Timestamp::from_millisecond(self.now_ms())
            .map(|t| t.to_zoned(flows.availability.zone()).date().to_string())
            .unwrap_or_default();
        self.store.booked_slots(&today).await
    }

    pub fn now_ms(&self) -> i64 {
        self.clock.now_ms()
    }
}
