//! The `textdesk` binary: parses the command line, loads the configuration, sets up
//! logging and runs one command. All behaviour lives in the library.

use std::process::ExitCode;

use clap::Parser;
use textdesk::cli::{Cli, Command};
use textdesk::config::{Config, LogFormat};
use tracing_subscriber::EnvFilter;

/// See Cargo.toml: glibc's allocator cost a fifth of the server's CPU under load.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
    one_thread_per_model_pass();
    let cli = Cli::parse();
    let mut config = match Config::load(cli.config.as_deref()) {
        Ok(config) => config,
        Err(e) => {
            eprintln!("textdesk: {e}");
            return ExitCode::from(2);
        }
    };
    if let Some(format) = cli.log_format {
        config.log_format = format.into();
    }
    let command = cli.command.unwrap_or(Command::Serve);
    // Commands whose stdout is data or a conversation keep the log quiet by default.
    let default_level = match command {
        Command::Serve => "info",
        _ => "warn",
    };
    init_logging(config.log_format, default_level);

    let runtime = match tokio::runtime::Runtime::new() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("textdesk: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run(command, config)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("textdesk: {e:#}");
            ExitCode::FAILURE
        }
    }
}

async fn run(command: Command, config: Config) -> anyhow::Result<()> {
    match command {
        Command::Serve => serve(config).await,
        Command::Chat { from } => textdesk::cli::chat::run(&config, &from).await,
        Command::Segments { smart } => {
            textdesk::cli::segments::run(std::io::stdin().lock(), std::io::stdout().lock(), smart)
        }
        Command::Classify {
            intents,
            threshold,
            eval,
            report,
        } => {
            let intents = intents.unwrap_or_else(|| config.prompts_dir.join("intents.toml"));
            let embedder = textdesk::knowledge::embedder_from_config(&config);
            let llm = textdesk::app::open_llm(
                &config,
                std::sync::Arc::new(textdesk::clock::SystemClock),
            )?;
            let threshold = threshold.or(config.brain.threshold);
            let (set, brain) =
                textdesk::cli::classify::train(&intents, embedder.clone(), llm, threshold).await?;
            match eval {
                Some(file) => textdesk::cli::classify::eval(
                    &set,
                    &brain,
                    embedder,
                    &file,
                    report.as_deref(),
                    std::io::stdout().lock(),
                )
                .await
                .map(|_| ()),
                None => {
                    textdesk::cli::classify::run(
                        &brain,
                        std::io::stdin().lock(),
                        std::io::stdout().lock(),
                    )
                    .await
                }
            }
        }
        Command::Ask { text, from, json } => {
            textdesk::cli::ask::run(&config, &text, from.as_deref(), json).await
        }
        Command::Transcript { phone, json } => {
            let store = textdesk::store::Store::open(&config.database_url()).await?;
            textdesk::cli::transcript::run(&store, &phone, json, std::io::stdout().lock()).await
        }
        Command::Knowledge { command } => {
            textdesk::cli::knowledge::run(&config, command, std::io::stdout().lock()).await
        }
        Command::Report {
            since,
            group_by,
            json,
        } => {
            let store = textdesk::store::Store::open(&config.database_url()).await?;
            let now = jiff::Timestamp::now().as_millisecond();
            textdesk::cli::report::run(
                &store,
                &since,
                group_by.as_deref(),
                json,
                now,
                std::io::stdout().lock(),
            )
            .await
        }
        Command::Agent { command } => {
            let store = textdesk::store::Store::open(&config.database_url()).await?;
            textdesk::cli::agent::run(&store, command, std::io::stdout().lock()).await
        }
        Command::Consent { command } => {
            let store = textdesk::store::Store::open(&config.database_url()).await?;
            let now = jiff::Timestamp::now().as_millisecond();
            textdesk::cli::consent::run(&store, command, now, std::io::stdout().lock()).await
        }
        Command::Contact { command } => {
            let store = textdesk::store::Store::open(&config.database_url()).await?;
            let now = jiff::Timestamp::now().as_millisecond();
            textdesk::cli::contact::run(&store, command, now, std::io::stdout().lock()).await
        }
        Command::Export(args) => {
            let store = textdesk::store::Store::open(&config.database_url()).await?;
            let now = jiff::Timestamp::now().as_millisecond();
            textdesk::cli::export::run(&store, args, now, std::io::stdout().lock()).await
        }
        Command::Gaps(args) => {
            let now = jiff::Timestamp::now().as_millisecond();
            textdesk::cli::gaps::run(&config, args, now, std::io::stdout().lock()).await
        }
        Command::Audit(args) => {
            let store = textdesk::store::Store::open(&config.database_url()).await?;
            let now = jiff::Timestamp::now().as_millisecond();
            textdesk::cli::audit::run(&store, args, now, std::io::stdout().lock()).await
        }
        Command::Test { command } => textdesk::cli::test::run(&config, command).await,
    }
}

async fn serve(config: Config) -> anyhow::Result<()> {
    let running = textdesk::app::start(&config).await?;
    let stop = running.shutdown_handle();
    let grace = std::time::Duration::from_secs(config.server.shutdown_grace_secs)
        + std::time::Duration::from_millis(config.server.drain_ms);
    let mut stopping = stop.subscribe();
    tokio::spawn(async move {
        shutdown_signal().await;
        tracing::info!("shutting down: finishing in-flight work");
        let _ = stop.send(true);
    });
    // Supervisors (systemd, Docker, Kubernetes) kill a process that outlives their
    // own timeout; exiting on ours first keeps the exit clean. What was not finished
    // is in the database and is picked up after the restart.
    let overdue = async move {
        let _ = stopping.wait_for(|stop| *stop).await;
        tokio::time::sleep(grace).await;
    };
    tokio::select! {
        _ = running.wait() => Ok(()),
        _ = overdue => {
            tracing::warn!(grace_secs = grace.as_secs(), "work still running after the grace period; exiting anyway (it resumes after a restart)");
            std::process::exit(0);
        }
    }
}

/// Resolves on SIGINT or SIGTERM.
async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {}
        _ = term => {}
    }
}

fn init_logging(format: LogFormat, default_level: &str) {
    let filter = EnvFilter::try_from_default_env()
        // qdrant-edge warns on every open that a start-up check it cannot expose was skipped.
        .unwrap_or_else(|_| {
            EnvFilter::new(format!(
                "{default_level},sqlx=warn,tower_http=warn,qdrant_edge::common::mmap::ops=error"
            ))
        });
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    match format {
        LogFormat::Text => builder.init(),
        LogFormat::Json => builder.json().init(),
    }
}

/// The local model runs one forward pass per core side by side
/// (`knowledge::embed`), each on one thread. Left to their defaults, candle and the
/// tokenizer would each fan a pass out over every core, and a pass would spin-wait for
/// a helper thread the other pass keeps busy: on two cores that spinning was 40 % of
/// the model's CPU. Without it a 1,500-text bench answered 60 texts/s instead of 42
/// (scripts/bench.sh's long backlog still drains at about 40/s). Both read these
/// variables when they first run; an operator's own setting wins.
fn one_thread_per_model_pass() {
    for (name, value) in [
        ("CANDLE_NUM_THREADS", "1"),
        ("TOKENIZERS_PARALLELISM", "false"),
    ] {
        if std::env::var_os(name).is_none() {
            // SAFETY: called first thing in `main`, before any other thread exists.
            unsafe { std::env::set_var(name, value) };
        }
    }
}
