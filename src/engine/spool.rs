//! The inbound spool: where a text goes when the database cannot take it.
//!
//! Twilio does not retry an inbound-SMS webhook that failed (unless the number has a
//! fallback URL or connection overrides), so a `500` while the database is full,
//! locked past its timeouts or restarting would lose the customer's text. Instead the
//! webhook appends the text to `{data_dir}/spool/inbound.jsonl`, fsyncs, and only
//! then acknowledges; [`run`] replays the file into the database once it answers
//! again. A replayed text is stored exactly as if it had arrived then (its receive
//! time is kept; a `MessageSid` already stored counts once), and is answered as usual.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use serde::{Deserialize, Serialize};
use tokio::sync::{Mutex, watch};

use super::Engine;
use crate::sms::PhoneNumber;
use crate::sms::segments;
use crate::store::{NewInbound, StoreError};

/// One spooled text: what the webhook would have stored.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct SpooledText {
    sid: String,
    from: String,
    body: String,
    media_urls: Vec<String>,
    received_at: i64,
    burst_wait_ms: i64,
}

impl SpooledText {
    fn of(msg: &NewInbound) -> Self {
        Self {
            sid: msg.provider_message_id.clone(),
            from: msg.from.as_str().to_string(),
            body: msg.body.clone(),
            media_urls: msg.media_urls.clone(),
            received_at: msg.received_at,
            burst_wait_ms: msg.burst_wait_ms,
        }
    }

    fn to_inbound(&self) -> Result<NewInbound, String> {
        let count = segments::count(&self.body);
        Ok(NewInbound {
            provider_message_id: self.sid.clone(),
            from: PhoneNumber::parse(&self.from).map_err(|e| e.to_string())?,
            body: self.body.clone(),
            media_urls: self.media_urls.clone(),
            encoding: count.encoding.as_str(),
            segments: count.segments,
            units: count.units,
            received_at: self.received_at,
            burst_wait_ms: self.burst_wait_ms,
        })
    }
}

/// The spool file of one process. Appends and replays take turns.
#[derive(Debug)]
pub struct InboundSpool {
    path: PathBuf,
    turn: Mutex<()>,
}

impl InboundSpool {
    pub fn new(data_dir: &Path) -> Self {
        Self {
            path: data_dir.join("spool").join("inbound.jsonl"),
            turn: Mutex::new(()),
        }
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Appends a text and fsyncs it; once this returns `Ok` the text survives a crash.
    pub async fn keep(&self, msg: &NewInbound) -> std::io::Result<()> {
        let mut line = serde_json::to_vec(&SpooledText::of(msg))?;
        line.push(b'\n');
        let path = self.path.clone();
        let _turn = self.turn.lock().await;
        tokio::task::spawn_blocking(move || {
            if let Some(dir) = path.parent() {
                std::fs::create_dir_all(dir)?;
            }
            let mut file = std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(&path)?;
            file.write_all(&line)?;
            file.sync_data()
        })
        .await
        .map_err(std::io::Error::other)?
    }

    /// Stores every spooled text in the database, oldest first, and empties the file.
    /// Stops at the first text the database refuses, keeping it and the rest.
    /// Returns how many were stored.
    pub async fn replay(&self, engine: &Arc<Engine>) -> Result<usize, StoreError> {
        let _turn = self.turn.lock().await;
        let text = match tokio::fs::read_to_string(&self.path).await {
            Ok(text) => text,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(0),
            Err(e) => {
                tracing::error!(path = %self.path.display(), error = %e, "cannot read the inbound spool");
                return Ok(0);
            }
        };
        let lines: Vec<&str> = text.lines().filter(|l| !l.trim().is_empty()).collect();
        let mut stored = 0;
        for (index, line) in lines.iter().enumerate() {
            let inbound = serde_json::from_str::<SpooledText>(line)
                .map_err(|e| e.to_string())
                .and_then(|spooled| spooled.to_inbound());
            let inbound = match inbound {
                Ok(inbound) => inbound,
                Err(e) => {
                    // A line cut off by a crash mid-append was never acknowledged.
                    tracing::warn!(path = %self.path.display(), line = index + 1, error = %e, "skipping an unreadable spool line");
                    continue;
                }
            };
            match engine.store.receive_inbound(&inbound).await {
                Ok(received) => {
                    stored += 1;
                    if let crate::store::Received::Queued { ready_at, .. } = received {
                        crate::telemetry::inbound_received();
                        super::burst::wake_when_ready(engine, ready_at);
                    }
                }
                Err(e) => {
                    self.keep_only(&lines[index..]).await;
                    return Err(e);
                }
            }
        }
        if let Err(e) = tokio::fs::remove_file(&self.path).await {
            tracing::error!(path = %self.path.display(), error = %e, "cannot empty the inbound spool; its texts count once when replayed again");
        }
        Ok(stored)
    }

    /// Rewrites the spool with the lines not yet stored (write, fsync, rename).
    async fn keep_only(&self, lines: &[&str]) {
        let rest: String = lines.iter().map(|l| format!("{l}\n")).collect();
        let path = self.path.clone();
        let written = tokio::task::spawn_blocking(move || {
            let tmp = path.with_extension("jsonl.tmp");
            let mut file = std::fs::File::create(&tmp)?;
            file.write_all(rest.as_bytes())?;
            file.sync_data()?;
            std::fs::rename(&tmp, &path)
        })
        .await
        .map_err(std::io::Error::other)
        .and_then(|r| r);
        if let Err(e) = written {
            tracing::error!(path = %self.path.display(), error = %e, "cannot rewrite the inbound spool; its texts count once when replayed again");
        }
    }
}

/// Replays the spool at start and then whenever it holds texts, every `every`.
pub async fn run(
    engine: Arc<Engine>,
    spool: Arc<InboundSpool>,
    every: Duration,
    mut shutdown: watch::Receiver<bool>,
) {
    loop {
        if tokio::fs::try_exists(spool.path()).await.unwrap_or(false) {
            match spool.replay(&engine).await {
                Ok(0) => {}
                Ok(stored) => {
                    tracing::info!(
                        stored,
                        "texts kept while the database was unavailable are now stored"
                    )
                }
                Err(e) => {
                    tracing::warn!(error = %e, "the database still refuses spooled texts; will try again")
                }
            }
        }
        tokio::select! {
            _ = tokio::time::sleep(every) => {}
            _ = shutdown.changed() => return,
        }
    }
}
