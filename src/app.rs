//! Wiring: turns a [`Config`] into a running textdesk — store, engine workers, outbox
//! dispatchers and the HTTP server — and stops it gracefully.
//!
//! `textdesk serve` and the integration tests both start the service through
//! [`start`], so tests exercise exactly what production runs.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::task::JoinSet;
use tracing::{info, warn};

use crate::api::connections::CappedListener;
use crate::api::{self, AppState};
use crate::brain::classify::{Classifier, ModelDirs};
use crate::brain::intents::IntentSet;
use crate::brain::think::{Brain, BrainSettings, IntentModel};
use crate::clock::{Clock, SystemClock};
use crate::config::{Config, ProviderKind};
use crate::engine::Engine;
use crate::engine::dispatcher::{self, DispatchSettings};
use crate::engine::policy::Policy;
use crate::engine::reload;
use crate::engine::worker::{self, WorkerSettings};
use crate::engine::{flow_starts, holding, periodic, routing, sla};
use crate::knowledge::{self, Knowledge, KnowledgeDirs};
use crate::llm::{LlmClient, PromptTemplates};
use crate::sms::providers::Provider;
use crate::sms::providers::log::LogProvider;
use crate::sms::providers::twilio::{TwilioConfig, TwilioProvider};
use crate::store::Store;
use axum::serve::ListenerExt;

/// A running textdesk.
pub struct Running {
    pub addr: SocketAddr,
    pub engine: Arc<Engine>,
    /// Set to stop: `/readyz` turns 503 and live streams end at once; after the
    /// drain the listener closes and the workers finish what they hold.
    stop: watch::Sender<bool>,
    tasks: JoinSet<()>,
}

impl Running {
    /// Stops taking requests, lets workers finish the message in hand, and waits.
    pub async fn shutdown(mut self) {
        let _ = self.stop.send(true);
        while self.tasks.join_next().await.is_some() {}
        self.engine.store.close().await;
    }

    /// Resolves when a shutdown has been requested and every task has ended.
    pub async fn wait(mut self) {
        while self.tasks.join_next().await.is_some() {}
        self.engine.store.close().await;
    }

    pub fn shutdown_handle(&self) -> watch::Sender<bool> {
        self.stop.clone()
    }
}

/// Opens the store, loads the policy and starts everything with the system clock.
pub async fn start(config: &Config) -> anyhow::Result<Running> {
    start_with_clock(config, Arc::new(SystemClock)).await
}

pub async fn start_with_clock(config: &Config, clock: Arc<dyn Clock>) -> anyhow::Result<Running> {
    let listener = TcpListener::bind(config.listen).await.with_context(|| {
        format!(
            "cannot listen on {} (set TEXTDESK_LISTEN to another address)",
            config.listen
        )
    })?;
    let addr = listener.local_addr()?;
    // Without a configured public URL, Twilio is assumed to call the bound address
    // (useful with a local tunnel or in tests on port 0).
    let mut config = config.clone();
    if config.public_url.is_none() {
        config.public_url = Some(format!("http://{addr}"));
    }

    crate::telemetry::install();
    // Two steps: `stop` is asked for (a signal); `shutdown`, after the drain, ends
    // the listener and every background task.
    let (stop, stop_rx) = watch::channel(false);
    let (shutdown, shutdown_rx) = watch::channel(false);
    let mut tasks = JoinSet::new();
    let drain = Duration::from_millis(config.server.drain_ms);
    let mut stop_asked = stop_rx.clone();
    tasks.spawn(async move {
        if stop_asked.wait_for(|stop| *stop).await.is_ok() {
            tokio::time::sleep(drain).await;
        }
        let _ = shutdown.send(true);
    });
    let engine = open_engine(&config, clock, &mut tasks, &shutdown_rx).await?;
    let knowledge = engine.brain.as_ref().and_then(|b| b.knowledge().cloned());
    let provider = build_provider(&config)?;
    spawn_engine(&mut tasks, &engine, provider, &config, &shutdown_rx);

    if config.webhook.insecure_skip_signature {
        warn!(
            "webhook signature validation is OFF (webhook.insecure_skip_signature); never run like this in production"
        );
    } else if config.twilio.auth_token.is_none() {
        warn!("TWILIO_AUTH_TOKEN is not set: webhooks will be refused with 403 until it is");
    }
    let spool = Arc::new(crate::engine::spool::InboundSpool::new(&config.data_dir));
    tasks.spawn(crate::engine::spool::run(
        engine.clone(),
        spool.clone(),
        Duration::from_secs(1),
        shutdown_rx.clone(),
    ));
    let state = AppState {
        engine: engine.clone(),
        auth_token: config.twilio.auth_token.clone(),
        public_base_url: config.public_base_url(),
        insecure_skip_signature: config.webhook.insecure_skip_signature,
        max_body_bytes: config.webhook.max_body_bytes,
        knowledge,
        prompts_dir: config.prompts_dir.clone(),
        failed_attempts: Default::default(),
        webhooks: Arc::new(config.webhook_endpoints()),
        csat: config.csat.clone(),
        stopping: stop_rx,
        server: config.server.clone(),
        spool: spool.clone(),
        webhook_write_timeout: Duration::from_millis(config.webhook.write_timeout_ms),
    };
    let app = api::router(state);
    let mut http_shutdown = shutdown_rx.clone();
    let listener = CappedListener::new(listener, config.server.max_connections)
        // (A tap that does nothing: it gives the capped listener axum's peer-address
        // plumbing.)
        .tap_io(|_| {});
    tasks.spawn(async move {
        // The peer address keys the rate limit on failed sign-ins.
        let app = app.into_make_service_with_connect_info::<std::net::SocketAddr>();
        let serve = axum::serve(listener, app).with_graceful_shutdown(async move {
            let _ = http_shutdown.wait_for(|stop| *stop).await;
        });
        if let Err(e) = serve.await {
            tracing::error!(error = %e, "HTTP server stopped");
        }
    });
    info!(%addr, provider = config.provider_name(), database = engine.store.dialect_name(), "textdesk is listening");
    Ok(Running {
        addr,
        engine,
        stop,
        tasks,
    })
}

/// Opens the database, the policy, the knowledge base and the brain: what every
/// command that processes texts needs. Background work (knowledge sync and watching)
/// goes on `tasks`.
pub async fn open_engine(
    config: &Config,
    clock: Arc<dyn Clock>,
    tasks: &mut JoinSet<()>,
    shutdown: &watch::Receiver<bool>,
) -> anyhow::Result<Arc<Engine>> {
    let store = Store::open(&config.database_url())
        .await
        .with_context(|| "cannot open the database (check DATABASE_URL / TEXTDESK_DATA_DIR)")?;
    let policy = Policy::load(&config.prompts_dir)?;
    let embedder = knowledge::embedder_from_config(config);
    let knowledge = start_knowledge(config, embedder.clone(), tasks, shutdown).await;
    let brain = open_brain(config, &policy, embedder.clone(), knowledge, clock.clone()).await?;
    let engine = Engine::new(store, policy, Some(Arc::new(brain)), clock);
    let flows = crate::flows::FlowSet::load(&config.prompts_dir)?;
    check_flow_intents(&engine, &flows);
    engine.set_flows(flows);
    engine.set_lookup_env(config.lookup_env.clone());
    engine.set_burst_window(Duration::from_millis(config.worker.burst_ms));
    let lookups = engine.load_lookups(&config.prompts_dir)?;
    check_lookup_intents(&engine, &lookups);
    check_flow_lookups(&engine.flows(), &lookups);
    engine.set_lookups(lookups);
    engine.load_saved_replies(&config.prompts_dir);
    match reload::spawn(
        engine.clone(),
        config.prompts_dir.clone(),
        reload::Training {
            embedder,
            threshold: config.brain.threshold,
            models: classifier_models(config),
        },
        shutdown.clone(),
    ) {
        Ok(watcher) => {
            tasks.spawn(async move {
                let _ = watcher.await;
            });
        }
        Err(e) => warn!(error = %e, "prompt files are not watched; restart to pick up changes"),
    }
    Ok(engine)
}

/// Warns about intents whose `flow` names no file in `prompts/flows/`.
pub fn check_flow_intents(engine: &Engine, flows: &crate::flows::FlowSet) {
    let Some(brain) = &engine.brain else { return };
    let model = brain.model();
    for intent in &model.set.intents {
        if let crate::brain::intents::Action::Flow(flow) = &intent.action
            && flows.get(flow).is_none()
        {
            warn!(intent = %intent.name, flow = %flow, "intent starts a flow that is not in prompts/flows/");
        }
    }
}

/// Warns about intents whose `lookup` names no file in `prompts/lookups/`.
pub fn check_lookup_intents(engine: &Engine, lookups: &crate::lookups::LookupSet) {
    let Some(brain) = &engine.brain else { return };
    for intent in &brain.model().set.intents {
        if let crate::brain::intents::Action::Lookup(lookup) = &intent.action
            && lookups.get(lookup).is_none()
        {
            warn!(intent = %intent.name, lookup = %lookup, "intent uses a lookup that is not in prompts/lookups/; it answers from the knowledge base");
        }
    }
}

/// Warns about flow lookup steps whose lookup is missing, or needs a slot no step of
/// the flow answers (the step would always fail).
pub fn check_flow_lookups(flows: &crate::flows::FlowSet, lookups: &crate::lookups::LookupSet) {
    for flow in flows.flows.values() {
        let answered = flow.slot_names();
        for step in &flow.steps {
            let crate::flows::StepKind::Lookup { lookup, .. } = &step.kind else {
                continue;
            };
            match lookups.get(lookup) {
                None => {
                    warn!(flow = %flow.name, step = %step.id, lookup = %lookup, "flow step uses a lookup that is not in prompts/lookups/; it will always say it cannot check")
                }
                Some(file) => {
                    for slot in file
                        .slots
                        .iter()
                        .filter(|s| !answered.contains(&s.name.as_str()))
                    {
                        warn!(flow = %flow.name, step = %step.id, slot = %slot.name, "flow step's lookup needs a slot no step of the flow answers (give a step `slot = \"{}\"`)", slot.name);
                    }
                }
            }
        }
    }
}

/// Where the intent classifier's trained models are saved, and the shipped one.
fn classifier_models(config: &Config) -> ModelDirs {
    ModelDirs {
        saved: config.classifier_dir(),
        seed: Some(config.seed_dir.join("classifier")),
    }
}

/// Trains the classifier on `intents.toml` and connects the optional LLM.
pub async fn open_brain(
    config: &Config,
    policy: &Policy,
    embedder: Option<Arc<dyn crate::knowledge::embed::Embedder>>,
    knowledge: Option<Arc<Knowledge>>,
    clock: Arc<dyn Clock>,
) -> anyhow::Result<Brain> {
    let intents = IntentSet::load(&config.prompts_dir)?;
    let classifier = Classifier::train_cached(
        &intents,
        embedder,
        config.brain.threshold,
        &classifier_models(config),
    )
    .await
    .context("training the intent classifier")?;
    let llm = open_llm(config, clock)?;
    let settings = BrainSettings {
        max_segments: policy.replies.max_segments,
        approved_texts: vec![policy.texts.help.clone()],
        ..BrainSettings::default()
    };
    Ok(Brain::new(
        IntentModel {
            set: intents,
            classifier,
        },
        knowledge,
        llm,
        settings,
    ))
}

/// The LLM client when one is configured (`OPENAI_BASE_URL` or `OPENAI_API_KEY`).
pub fn open_llm(config: &Config, clock: Arc<dyn Clock>) -> anyhow::Result<Option<Arc<LlmClient>>> {
    if !config.llm.enabled() {
        info!("no LLM configured (OPENAI_BASE_URL / OPENAI_API_KEY); the local brain answers");
        return Ok(None);
    }
    let templates = PromptTemplates::load(&config.prompts_dir)?;
    let client = LlmClient::new(&config.llm, templates, clock)?;
    info!(
        model = client.model(),
        "LLM enabled; the local brain remains the fallback"
    );
    Ok(Some(Arc::new(client)))
}

/// Starts the inbound workers, outbox dispatchers, webhook deliverers and sweeps on
/// `tasks`, on the background runtime ([`crate::engine::background`]): webhooks are
/// acknowledged ahead of this work.
pub fn spawn_engine(
    tasks: &mut JoinSet<()>,
    engine: &Arc<Engine>,
    provider: Arc<dyn Provider>,
    config: &Config,
    shutdown: &watch::Receiver<bool>,
) {
    let worker_settings = WorkerSettings {
        lease: config.lease(),
        poll: Duration::from_millis(config.worker.poll_ms),
    };
    let dispatch_settings = DispatchSettings {
        max_attempts: config.outbox.max_attempts,
        base_backoff: Duration::from_millis(config.outbox.base_backoff_ms),
        max_backoff: Duration::from_millis(config.outbox.max_backoff_ms),
        send_timeout: Duration::from_millis(config.outbox.send_timeout_ms),
        poll: Duration::from_millis(config.worker.poll_ms),
        status_callback: (config.provider == ProviderKind::Twilio)
            .then(|| format!("{}/webhooks/twilio/status", config.public_base_url())),
    };
    let background = crate::engine::background::handle();
    tasks.spawn_on(
        crate::engine::events::run(engine.clone(), shutdown.clone()),
        &background,
    );
    crate::integrations::spawn(tasks, engine, config, shutdown, &background);
    tasks.spawn_on(
        crate::engine::arrivals::run(
            engine.clone(),
            Duration::from_millis(config.worker.poll_ms),
            shutdown.clone(),
        ),
        &background,
    );
    // Holding texts, routing, SLA misses and scheduled flows: a pass each, ten polls apart.
    let sweep_period = Duration::from_millis(config.worker.poll_ms.saturating_mul(10));
    tasks.spawn_on(
        periodic::every(
            sweep_period,
            "sending holding texts",
            engine.clone(),
            shutdown.clone(),
            |e| async move { holding::sweep(&e).await },
        ),
        &background,
    );
    tasks.spawn_on(
        periodic::every(
            sweep_period,
            "routing waiting handoffs",
            engine.clone(),
            shutdown.clone(),
            |e| async move { routing::assign_waiting(&e).await },
        ),
        &background,
    );
    tasks.spawn_on(
        periodic::every(
            sweep_period,
            "checking SLA targets",
            engine.clone(),
            shutdown.clone(),
            |e| async move { sla::sweep(&e).await },
        ),
        &background,
    );
    tasks.spawn_on(
        periodic::every(
            sweep_period,
            "starting scheduled flows",
            engine.clone(),
            shutdown.clone(),
            |e| async move { flow_starts::sweep(&e).await },
        ),
        &background,
    );
    tasks.spawn_on(
        crate::engine::retention::run(engine.clone(), config.retention.clone(), shutdown.clone()),
        &background,
    );
    if config.csat.enabled && config.csat.after_bot {
        tasks.spawn_on(
            crate::engine::csat::run(
                engine.clone(),
                config.csat.clone(),
                Duration::from_millis(config.worker.poll_ms.saturating_mul(10)),
                shutdown.clone(),
            ),
            &background,
        );
    }
    for _ in 0..config.workers() {
        tasks.spawn_on(
            worker::run(engine.clone(), worker_settings.clone(), shutdown.clone()),
            &background,
        );
        tasks.spawn_on(
            dispatcher::run(
                engine.clone(),
                provider.clone(),
                dispatch_settings.clone(),
                shutdown.clone(),
            ),
            &background,
        );
    }
}

/// Opens the knowledge base, then syncs it with the files and keeps watching them in
/// the background (searches meanwhile use the index as it was left). A knowledge base
/// that cannot open is logged and left out: texts are still received and handled.
pub async fn start_knowledge(
    config: &Config,
    embedder: Option<Arc<dyn crate::knowledge::embed::Embedder>>,
    tasks: &mut JoinSet<()>,
    shutdown: &watch::Receiver<bool>,
) -> Option<Arc<Knowledge>> {
    let knowledge = match Knowledge::open(&KnowledgeDirs::from_config(config), embedder).await {
        Ok(knowledge) => knowledge,
        Err(e) => {
            tracing::error!(error = %e, "knowledge base unavailable; bot answers will not use it");
            return None;
        }
    };
    let watcher = match knowledge.watch(shutdown.clone()) {
        Ok(handle) => Some(handle),
        Err(e) => {
            warn!(error = %e, "knowledge files are not watched; restart to pick up changes");
            None
        }
    };
    let syncing = knowledge.clone();
    tasks.spawn(async move {
        match syncing.reindex().await {
            Ok(r) => info!(documents = r.documents, chunks = r.chunks, written = r.written, deleted = r.deleted, errors = r.errors.len(), "knowledge indexed"),
            Err(e) => tracing::error!(error = %e, "knowledge indexing failed; the previous index keeps serving"),
        }
        if let Some(watcher) = watcher {
            let _ = watcher.await;
        }
    });
    Some(knowledge)
}

/// The configured outbound provider.
pub fn build_provider(config: &Config) -> anyhow::Result<Arc<dyn Provider>> {
    Ok(match config.provider {
        ProviderKind::Log => Arc::new(LogProvider::new()),
        ProviderKind::Twilio => {
            let t = &config.twilio;
            let mut twilio = TwilioConfig::new(
                t.account_sid.clone().unwrap_or_default(),
                t.auth_token.clone().unwrap_or_default(),
            );
            twilio.from = t.from_number.clone();
            twilio.messaging_service_sid = t.messaging_service_sid.clone();
            twilio.api_base = t.api_base.clone();
            twilio.timeout = Duration::from_millis(config.outbox.send_timeout_ms);
            // One HTTP request per outbox attempt: the outbox retries durably with
            // backoff, so a crash between retries loses nothing.
            twilio.max_attempts = 1;
            Arc::new(TwilioProvider::new(twilio)?)
        }
    })
}
