//! Running conversation files against the real textdesk: for each file, the whole
//! server (HTTP, workers, outbox) starts on a loopback port with a fresh SQLite
//! database and a pinned clock, the customer's texts arrive as signed Twilio
//! webhooks, and each turn's expectations are checked against what was stored and
//! sent. The knowledge index is built once and shared by every conversation of a run;
//! lookups are pointed at a fake of the business's system that each file scripts.

use std::io::Write;
use std::path::PathBuf;
use std::time::Duration;

use anyhow::Context;

use super::fake_api::{FakeApi, FakeCall};
use super::file::{ConversationFile, TurnScript};
use crate::app::{self, Running};
use crate::brain::state::ConversationState;
use crate::clock::ManualClock;
use crate::config::{Config, ProviderKind};
use crate::store::{Direction, TranscriptEntry};

/// What a run found.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct RunSummary {
    pub conversations: usize,
    pub failed_conversations: usize,
    pub turns: usize,
    pub failed_turns: usize,
}

impl RunSummary {
    pub fn passed(&self) -> bool {
        self.failed_conversations == 0
    }
}

/// The token the run signs its webhooks with (the server under test is private to it).
const AUTH_TOKEN: &str = "conversation-tests-token";
/// How long one turn may take to be processed and sent, at most.
const TURN_LIMIT: Duration = Duration::from_secs(30);

/// Runs every file, printing each turn and a summary to `out`.
pub async fn run(
    base: &Config,
    files: &[PathBuf],
    out: &mut dyn Write,
) -> anyhow::Result<RunSummary> {
    let conversations = files
        .iter()
        .enumerate()
        .map(|(i, path)| ConversationFile::load(path, i).map_err(anyhow::Error::msg))
        .collect::<anyhow::Result<Vec<_>>>()?;
    let scratch = std::env::temp_dir().join(format!(
        "textdesk-conversations-{}-{:08x}",
        std::process::id(),
        rand::random::<u32>()
    ));
    std::fs::create_dir_all(&scratch).with_context(|| format!("creating {}", scratch.display()))?;
    let result = run_in(base, &conversations, &scratch, out).await;
    let _ = std::fs::remove_dir_all(&scratch);
    result
}

async fn run_in(
    base: &Config,
    conversations: &[ConversationFile],
    scratch: &std::path::Path,
    out: &mut dyn Write,
) -> anyhow::Result<RunSummary> {
    let (fake, fake_url) = FakeApi::start()
        .await
        .context("starting the fake lookup server")?;
    let mut summary = RunSummary::default();
    for (i, conversation) in conversations.iter().enumerate() {
        fake.reset(conversation.api.clone());
        let config = config_for(base, scratch, i, &fake_url)?;
        let clock = ManualClock::at(conversation.start_ms);
        let running = app::start_with_clock(&config, clock.clone())
            .await
            .with_context(|| format!("starting textdesk for {}", conversation.path.display()))?;
        wait_for_knowledge(&running).await;
        let failures = play(&running, &clock, &fake, conversation, out).await;
        running.shutdown().await;
        let failures = failures?;
        summary.conversations += 1;
        summary.turns += conversation.turns.len();
        summary.failed_turns += failures;
        if failures > 0 {
            summary.failed_conversations += 1;
        }
    }
    writeln!(
        out,
        "\n{} conversations: {} passed, {} failed; {} turns: {} passed, {} failed",
        summary.conversations,
        summary.conversations - summary.failed_conversations,
        summary.failed_conversations,
        summary.turns,
        summary.turns - summary.failed_turns,
        summary.failed_turns
    )?;
    Ok(summary)
}

/// The operator's configuration, made private to one conversation: its own SQLite
/// file, a loopback port, no outbound webhooks, the log provider, lookups pointed at
/// the fake. The data folder (knowledge index, embedding cache) is shared by the run.
fn config_for(
    base: &Config,
    scratch: &std::path::Path,
    index: usize,
    fake_url: &str,
) -> anyhow::Result<Config> {
    let mut config = base.clone();
    config.listen = "127.0.0.1:0".parse()?;
    config.public_url = None;
    config.data_dir = scratch.join("data");
    config.database_url = Some(format!(
        "sqlite://{}?mode=rwc",
        scratch.join(format!("conversation-{index}.db")).display()
    ));
    config.provider = ProviderKind::Log;
    config.twilio.auth_token = Some(AUTH_TOKEN.to_string());
    config.webhook.insecure_skip_signature = false;
    config.webhooks.clear();
    config.integrations = Default::default();
    config.worker.poll_ms = 20;
    config.outbox.base_backoff_ms = 20;
    config.outbox.max_backoff_ms = 100;
    // Every environment variable a lookup declares points at the fake.
    let names = crate::lookups::LookupSet::load_with_env(&config.prompts_dir, &|_| {
        Some(fake_url.to_string())
    })?;
    config.lookup_env = names
        .lookups
        .values()
        .filter_map(|l| l.env.as_ref().ok())
        .flat_map(|env| env.keys().cloned())
        .map(|name| (name, fake_url.to_string()))
        .collect();
    Ok(config)
}

async fn wait_for_knowledge(running: &Running) {
    let Some(knowledge) = running
        .engine
        .brain
        .as_ref()
        .and_then(|b| b.knowledge().cloned())
    else {
        return;
    };
    let deadline = tokio::time::Instant::now() + Duration::from_secs(120);
    while !knowledge.is_ready() && tokio::time::Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
}

/// Plays one conversation; returns how many turns failed.
async fn play(
    running: &Running,
    clock: &ManualClock,
    fake: &FakeApi,
    conversation: &ConversationFile,
    out: &mut dyn Write,
) -> anyhow::Result<usize> {
    writeln!(
        out,
        "{} — {}",
        conversation.path.display(),
        conversation.description
    )?;
    let http = crate::http::client_builder().build()?;
    let url = format!("http://{}/webhooks/twilio", running.addr);
    let store = &running.engine.store;
    let phone = &conversation.phone;
    let mut failed = 0;
    let mut last_bot_text: Option<String> = None;
    let burst_window = running.engine.burst_window().as_millis() as i64;
    // Where the transcript and the fake's calls stood before the current burst's first
    // text: a burst is one turn, so its last text is checked against all of it.
    let mut burst_start: Option<(Option<i64>, usize)> = None;
    for (n, turn) in conversation.turns.iter().enumerate() {
        let (before, calls_before) = match burst_start {
            Some(start) => start,
            None => (
                store.transcript(phone, None).await?.last().map(|e| e.id),
                fake.calls().len(),
            ),
        };
        clock.advance(turn.after_ms);
        let params = webhook_params(phone, turn, n);
        let signature = crate::sms::twilio::compute_signature(AUTH_TOKEN, &url, &params);
        let status = http
            .post(&url)
            .header("X-Twilio-Signature", signature)
            .form(&params)
            .send()
            .await?
            .status();
        let mut problems = Vec::new();
        if status != 200 {
            problems.push(format!("the webhook answered {status}"));
        }
        // A text followed within the burst window waits for the rest of its burst;
        // its expectations see nothing yet (write them on the burst's last text).
        let read_later = conversation
            .turns
            .get(n + 1)
            .is_some_and(|next| next.after_ms < burst_window);
        if read_later {
            burst_start = Some((before, calls_before));
            if status != 200 || !turn.expect.is_silent() {
                problems.push(
                    "this text waits for the rest of its burst, so it gets no reply of its own; \
                     expect the reply on the burst's last text"
                        .into(),
                );
            }
            report(out, conversation, n, turn, &[], None, false, &problems, "…")?;
            failed += usize::from(!problems.is_empty());
            continue;
        }
        burst_start = None;
        // The burst is read once it has been quiet for the window.
        clock.advance(burst_window);
        settle(running).await?;
        let entries = store.transcript(phone, before).await?;
        let inbound = entries.iter().find(|e| e.direction == Direction::Inbound);
        let bot: Vec<&TranscriptEntry> = entries
            .iter()
            .filter(|e| e.direction == Direction::Outbound)
            .collect();
        let seen = Seen {
            intent: match inbound {
                Some(m) => store.understood_intent(m.id).await?,
                None => None,
            },
            handoff: match inbound {
                Some(m) => store.open_handoff_of(m.conversation_id).await?.is_some(),
                None => false,
            },
            slots: {
                let (_, _, state) = store.preview_context(phone).await?;
                ConversationState::from_json(state.as_deref()).slots
            },
            calls: fake.calls()[calls_before..].to_vec(),
        };
        check(turn, &bot, &seen, &mut problems);
        for text in &bot {
            if last_bot_text.as_deref() == Some(text.body.as_str()) {
                problems.push(format!(
                    "the bot sent the same text twice in a row: {:?}",
                    text.body
                ));
            }
            last_bot_text = Some(text.body.clone());
        }
        let mark = if problems.is_empty() { "✓" } else { "✗" };
        report(
            out,
            conversation,
            n,
            turn,
            &bot,
            seen.intent.as_deref(),
            seen.handoff,
            &problems,
            mark,
        )?;
        failed += usize::from(!problems.is_empty());
    }
    Ok(failed)
}

/// Prints one turn: the customer's text, the bot's replies, and what went wrong.
#[allow(clippy::too_many_arguments)]
fn report(
    out: &mut dyn Write,
    conversation: &ConversationFile,
    n: usize,
    turn: &TurnScript,
    bot: &[&TranscriptEntry],
    intent: Option<&str>,
    handoff: bool,
    problems: &[String],
    mark: &str,
) -> std::io::Result<()> {
    let mark = if problems.is_empty() { mark } else { "✗" };
    writeln!(out, "  {mark} {} customer: {}", n + 1, turn.customer)?;
    if mark == "…" {
        writeln!(out, "      (read with the next text, as one burst)")?;
    } else if bot.is_empty() {
        writeln!(out, "      bot: (no reply)")?;
    }
    for text in bot {
        writeln!(out, "      bot: {}", text.body)?;
    }
    if let Some(intent) = intent {
        writeln!(
            out,
            "      intent: {intent}{}",
            if handoff { ", with a person" } else { "" }
        )?;
    }
    for problem in problems {
        writeln!(
            out,
            "      FAILED ({}:{}): {problem}",
            conversation.path.display(),
            turn.line
        )?;
    }
    Ok(())
}

/// What the turn did, besides the bot's texts.
struct Seen {
    intent: Option<String>,
    handoff: bool,
    slots: std::collections::BTreeMap<String, String>,
    calls: Vec<FakeCall>,
}

fn check(turn: &TurnScript, bot: &[&TranscriptEntry], seen: &Seen, problems: &mut Vec<String>) {
    let expect = &turn.expect;
    let all_text = bot
        .iter()
        .map(|t| t.body.as_str())
        .collect::<Vec<_>>()
        .join("\n");
    let lower = all_text.to_lowercase();
    if let Some(intent) = &expect.intent
        && seen.intent.as_deref() != Some(intent.as_str())
    {
        problems.push(format!(
            "intent: expected {intent}, got {}",
            seen.intent.as_deref().unwrap_or("none")
        ));
    }
    for want in &expect.contains {
        if !lower.contains(&want.to_lowercase()) {
            problems.push(format!("expected the reply to contain {want:?}"));
        }
    }
    for unwanted in &expect.not_contains {
        if lower.contains(&unwanted.to_lowercase()) {
            problems.push(format!("expected the reply not to contain {unwanted:?}"));
        }
    }
    match expect.reply {
        Some(true) if bot.is_empty() => problems.push("expected a reply, got none".into()),
        Some(false) if !bot.is_empty() => problems.push("expected no reply".into()),
        _ => {}
    }
    if let Some(n) = expect.replies
        && bot.len() != n
    {
        problems.push(format!("expected {n} texts, got {}", bot.len()));
    }
    if let Some(handoff) = expect.handoff
        && seen.handoff != handoff
    {
        problems.push(if handoff {
            "expected a person to own the conversation (an open handoff)".into()
        } else {
            "expected no handoff, but a person owns the conversation".into()
        });
    }
    if let Some(max) = expect.max_segments {
        for text in bot {
            if text.segments > max {
                problems.push(format!(
                    "{} segments, at most {max} expected: {:?}",
                    text.segments, text.body
                ));
            }
        }
    }
    for (slot, value) in &expect.slots {
        if seen.slots.get(slot) != Some(value) {
            problems.push(format!(
                "slot {slot}: expected {value:?}, got {:?}",
                seen.slots.get(slot)
            ));
        }
    }
    if let Some(path) = &expect.lookup_called {
        let paths: Vec<&str> = seen.calls.iter().map(|c| c.path.as_str()).collect();
        if path.is_empty() && !paths.is_empty() {
            problems.push(format!("expected no lookup, got {paths:?}"));
        } else if !path.is_empty() && !paths.contains(&path.as_str()) {
            problems.push(format!("expected a lookup of {path}, got {paths:?}"));
        }
    }
}

/// Twilio's inbound fields for one text.
fn webhook_params(from: &str, turn: &TurnScript, n: usize) -> Vec<(String, String)> {
    let sid = format!("SM{:016x}{:016x}", rand::random::<u64>(), n);
    let media = turn.media.len().to_string();
    let mut params: Vec<(String, String)> = [
        ("MessageSid", sid.as_str()),
        ("SmsMessageSid", sid.as_str()),
        ("AccountSid", "ACconversationtests000000000000000"),
        ("From", from),
        ("To", "+15555550100"),
        ("Body", turn.customer.as_str()),
        ("NumMedia", media.as_str()),
        ("NumSegments", "1"),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect();
    for (i, url) in turn.media.iter().enumerate() {
        params.push((format!("MediaUrl{i}"), url.clone()));
        params.push((format!("MediaContentType{i}"), "image/jpeg".into()));
    }
    params
}

/// Waits until every queued text is processed and every reply handed to the provider.
async fn settle(running: &Running) -> anyhow::Result<()> {
    let store = &running.engine.store;
    let deadline = tokio::time::Instant::now() + TURN_LIMIT;
    loop {
        let (inbound, _) = store.inbound_backlog(0).await?;
        let outbound = store.outbox_backlog().await?;
        if inbound == 0 && outbound == 0 {
            return Ok(());
        }
        anyhow::ensure!(
            tokio::time::Instant::now() < deadline,
            "textdesk did not finish the turn within {TURN_LIMIT:?}: {inbound} texts and {outbound} replies pending"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}
