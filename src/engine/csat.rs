//! Satisfaction surveys for conversations the bot handled alone (`csat.after_bot`,
//! off by default): once such a conversation has been quiet for
//! `csat.bot_idle_minutes`, the customer gets the one survey. Surveys after a
//! resolved handoff are sent by the resolve endpoint instead.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::watch;

use super::Engine;
use super::pipeline::reply;
use crate::config::CsatSettings;
use crate::store::{OutboundKind, SURVEY_REPLY_WINDOW_MS, SurveyTrigger};

/// Looks for quiet bot conversations every `every` until shutdown.
pub async fn run(
    engine: Arc<Engine>,
    settings: CsatSettings,
    every: Duration,
    mut shutdown: watch::Receiver<bool>,
) {
    loop {
        tokio::select! {
            _ = tokio::time::sleep(every) => {}
            _ = shutdown.changed() => return,
        }
        if let Err(e) = sweep(&engine, &settings).await {
            tracing::warn!(error = %e, "sending satisfaction surveys failed; will retry");
        }
    }
}

/// Surveys every bot-only conversation quiet for long enough; returns how many.
pub async fn sweep(
    engine: &Engine,
    settings: &CsatSettings,
) -> Result<usize, crate::store::StoreError> {
    let now = engine.now_ms();
    let idle_ms = (settings.bot_idle_minutes as i64).saturating_mul(60_000);
    // Conversations that went quiet long ago are not surveyed when the option is
    // turned on: the customer would not remember them.
    let quiet = engine
        .store
        .quiet_bot_conversations(now - idle_ms, now - idle_ms - SURVEY_REPLY_WINDOW_MS)
        .await?;
    let question = reply(
        &settings.question,
        OutboundKind::Reply,
        engine.policy().replies.max_segments,
    );
    let mut sent = 0;
    for conversation_id in quiet {
        // A survey is a text the business starts: not outside the contact's sending
        // hours. The conversation stays eligible for a day, so a sweep after the
        // hours open sends it.
        if let Some(reach) = engine.store.conversation_reach(conversation_id).await? {
            let to = super::sending::Recipient {
                phone: &reach.phone,
                timezone: reach.timezone.as_deref(),
                state: reach.state.as_deref(),
            };
            if super::sending::first_allowed(engine, to, None, now).0 > now {
                continue;
            }
        }
        if engine
            .store
            .queue_csat_survey(
                conversation_id,
                None,
                SurveyTrigger::Bot,
                &question,
                &settings.thanks,
                now,
            )
            .await?
            .is_some()
        {
            sent += 1;
        }
    }
    if sent > 0 {
        tracing::info!(
            sent,
            "satisfaction surveys sent for quiet bot conversations"
        );
        engine.outbound_ready.notify_waiters();
    }
    Ok(sent)
}
