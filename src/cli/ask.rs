//! `textdesk ask "text" [--from PHONE] [--json]`: what the bot would do with a text,
//! and why. Runs the same pipeline as the server; stores and sends nothing.
//!
//! The knowledge index is held by one process at a time: while `serve` runs, use
//! `POST /api/v1/admin/preview` on the server instead.

use std::sync::Arc;

use anyhow::Context;
use tokio::sync::watch;
use tokio::task::JoinSet;

use crate::app;
use crate::clock::SystemClock;
use crate::config::Config;
use crate::engine::preview;
use crate::sms::PhoneNumber;

pub async fn run(
    config: &Config,
    text: &str,
    from: Option<&str>,
    json: bool,
) -> anyhow::Result<()> {
    let phone = from
        .map(|f| {
            PhoneNumber::parse(f)
                .with_context(|| format!("--from {f:?} is not an E.164 phone number"))
        })
        .transpose()?;
    let (shutdown, shutdown_rx) = watch::channel(false);
    let mut tasks = JoinSet::new();
    let engine = app::open_engine(config, Arc::new(SystemClock), &mut tasks, &shutdown_rx).await?;
    if let Some(knowledge) = engine.brain.as_ref().and_then(|b| b.knowledge()) {
        // Answer from the files as they are now, not as last indexed.
        knowledge.reindex().await?;
    }
    let result = preview::preview(&engine, text, phone.as_ref()).await?;
    let _ = shutdown.send(true);
    tasks.abort_all();

    if json {
        println!("{}", serde_json::to_string_pretty(&result)?);
        return Ok(());
    }
    println!("text:      {}", result.text);
    if let Some(thought) = &result.thought {
        let u = &thought.understanding;
        println!(
            "intent:    {} (confidence {:.2}, by {:?}{})",
            u.intent,
            u.confidence,
            u.source,
            if u.llm_fallback {
                ", LLM failed → local"
            } else {
                ""
            }
        );
        if !u.candidates.is_empty() {
            let c: Vec<String> = u
                .candidates
                .iter()
                .map(|(n, p)| format!("{n} {p:.2}"))
                .collect();
            println!("           candidates: {}", c.join(", "));
        }
        if let Some(s) = u.sentiment {
            println!("sentiment: {s:.2}");
        }
        for hit in &thought.retrieved {
            println!(
                "retrieved: {:.3}  {}:{}  {}",
                hit.score, hit.file, hit.lines, hit.headings
            );
        }
        println!("decision:  {}", serde_json::to_string(&thought.decision)?);
    } else {
        println!("decision:  {} (before the brain)", result.decided_by);
    }
    if let Some(change) = result.consent_change {
        println!("consent:   → {change}");
    }
    for reply in &result.replies {
        println!("reply:     {}", reply.text);
        println!(
            "           [{}, {} segment{}, {} units, {} left in the last segment]",
            reply.encoding,
            reply.segments,
            if reply.segments == 1 { "" } else { "s" },
            reply.units,
            reply.remaining_in_segment
        );
    }
    if result.replies.is_empty() {
        println!("reply:     (none: the bot stays silent)");
    }
    Ok(())
}
