//! `textdesk chat --from PHONE`: you play the customer. Each line you type is stored as
//! an inbound text and goes through the same queue, engine and outbox as a real SMS;
//! the replies are printed with their encoding and segment count.
//!
//! Replies are "sent" through the log provider, whatever the configuration says, so
//! trying the bot never texts a real phone.

use std::io::Write;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::sync::watch;
use tokio::task::JoinSet;

use crate::app;
use crate::clock::SystemClock;
use crate::config::Config;
use crate::sms::providers::log::LogProvider;
use crate::sms::{PhoneNumber, segments};
use crate::store::{Direction, NewInbound, Received};

/// How long to wait for the engine to answer one line before giving up on it.
const REPLY_TIMEOUT: Duration = Duration::from_secs(30);

pub async fn run(config: &Config, from: &str) -> anyhow::Result<()> {
    let phone = PhoneNumber::parse(from)
        .with_context(|| format!("--from {from:?} is not an E.164 phone number"))?;
    let (shutdown, shutdown_rx) = watch::channel(false);
    let mut tasks = JoinSet::new();
    let engine = app::open_engine(config, Arc::new(SystemClock), &mut tasks, &shutdown_rx).await?;
    app::spawn_engine(
        &mut tasks,
        &engine,
        Arc::new(LogProvider::new()),
        config,
        &shutdown_rx,
    );

    let mut last_seen = engine
        .store
        .transcript(phone.as_str(), None)
        .await?
        .last()
        .map(|e| e.id);
    println!(
        "Texting {} as {}. Type a message and press Enter; Ctrl-D quits.",
        engine.policy().business.name,
        phone.as_str()
    );
    let mut lines = BufReader::new(tokio::io::stdin()).lines();
    loop {
        print!("you> ");
        std::io::stdout().flush()?;
        let Some(line) = lines.next_line().await? else {
            break;
        };
        let count = segments::count(&line);
        let inbound = NewInbound {
            provider_message_id: format!("CHAT{:032x}", rand::random::<u128>()),
            from: phone.clone(),
            body: line,
            media_urls: Vec::new(),
            encoding: count.encoding.as_str(),
            segments: count.segments,
            units: count.units,
            received_at: engine.now_ms(),
            // One line typed is one turn: the chat waits for its answer anyway.
            burst_wait_ms: 0,
        };
        let Received::Queued { message_id, .. } = engine.store.receive_inbound(&inbound).await?
        else {
            continue;
        };
        engine.inbound_ready.notify_one();
        if !wait_for_replies(&engine.store, phone.as_str(), message_id).await? {
            println!(
                "(no answer within {REPLY_TIMEOUT:?}; the text is stored and will be processed)"
            );
        }
        for entry in engine.store.transcript(phone.as_str(), last_seen).await? {
            last_seen = Some(entry.id);
            if entry.direction == Direction::Outbound {
                println!(
                    "{}> {}\n      [{}, {} segment{}, {}]",
                    entry.author.as_str(),
                    entry.body,
                    entry.encoding,
                    entry.segments,
                    if entry.segments == 1 { "" } else { "s" },
                    entry.delivery_status
                );
            }
        }
    }
    let _ = shutdown.send(true);
    while tasks.join_next().await.is_some() {}
    Ok(())
}

/// Waits until the message was processed and its replies left the outbox.
async fn wait_for_replies(
    store: &crate::store::Store,
    phone: &str,
    message_id: i64,
) -> anyhow::Result<bool> {
    let deadline = tokio::time::Instant::now() + REPLY_TIMEOUT;
    while tokio::time::Instant::now() < deadline {
        if store.inbound_processed(message_id).await? && !store.has_pending_outbound(phone).await? {
            return Ok(true);
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    Ok(false)
}
