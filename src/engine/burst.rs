//! Bursts: people split one thought over several quick texts ("hi" / "my order" /
//! "its late"). Answered one by one, the first gets a greeting, the second a question
//! and the third an answer to half a sentence. So a text waits a short window
//! (`worker.burst_ms`, 2 s by default) for the rest of its burst, each further text
//! pushing the wait back (bounded in the store), and the worker reads the burst as one
//! turn.
//!
//! Compliance keywords never wait: STOP must act at once, and it ends the burst before
//! it (the earlier texts are read first, on their own). Conversations with a person
//! never wait either: agents see each text as it arrives.

use std::sync::Arc;
use std::time::Duration;

use super::Engine;
use super::policy::Policy;
use crate::sms::revocation::{self, Revocation};
use crate::store::InboundContext;

/// How long the webhook's text waits for more of its burst before it is read.
pub fn wait_ms(body: &str, window: Duration, policy: &Policy) -> i64 {
    if is_keyword(body, policy) {
        0
    } else {
        window.as_millis() as i64
    }
}

/// Wakes a worker when a text queued by this process becomes ready to read. (Other
/// processes find it by polling.)
pub fn wake_when_ready(engine: &Arc<Engine>, ready_at: i64) {
    let wait = ready_at - engine.now_ms();
    if wait <= 0 {
        engine.inbound_ready.notify_one();
        return;
    }
    // Weak: a pending wake-up must not keep a stopped engine (and the knowledge
    // index's lock) alive.
    let engine = Arc::downgrade(engine);
    tokio::spawn(async move {
        // A few ms late rather than early: the claim compares with the clock.
        tokio::time::sleep(Duration::from_millis(wait as u64 + 5)).await;
        if let Some(engine) = engine.upgrade() {
            engine.inbound_ready.notify_one();
        }
    });
}

/// Folds the texts that followed this one (already queued, not yet read) into it,
/// up to the next keyword. Nothing is folded into a keyword, a survey answer or a
/// conversation a person has, nor when bursts are off (`window` zero): each of those
/// is read alone.
pub fn read_as_one(ctx: &mut InboundContext, window: Duration, policy: &Policy) {
    if window.is_zero()
        || ctx.following.is_empty()
        || ctx.handoff.is_some()
        || ctx.pending_survey.is_some()
        || is_keyword(&ctx.body, policy)
    {
        return;
    }
    let take = ctx
        .following
        .iter()
        .take_while(|text| !is_keyword(&text.body, policy))
        .count();
    let folded: Vec<_> = ctx.following.drain(..take).collect();
    if folded.is_empty() {
        return;
    }
    let mut lines = vec![ctx.body.trim().to_string()];
    for text in &folded {
        let line = text.body.trim();
        // The same words sent twice in a burst (an impatient double send) are read once.
        let said_already = lines
            .iter()
            .any(|l| super::guard::normalize(l) == super::guard::normalize(line));
        if !line.is_empty() && !said_already {
            lines.push(line.to_string());
        }
        ctx.media_urls.extend(text.media_urls.iter().cloned());
    }
    lines.retain(|l| !l.is_empty());
    ctx.body = lines.join("\n");
    ctx.history
        .retain(|entry| !folded.iter().any(|t| t.message_id == entry.message_id));
    ctx.folded = folded;
}

/// Whether the text is a compliance keyword in any language (STOP, ALTO, HELP, YES
/// when opted out…) or a clear opt-out in plain words: those act at once, alone.
fn is_keyword(body: &str, policy: &Policy) -> bool {
    policy.keyword(body, true).is_some() || revocation::detect(body) == Some(Revocation::Clear)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::{Consent, FollowingText};

    fn ctx(body: &str, following: &[&str]) -> InboundContext {
        InboundContext {
            message_id: 1,
            conversation_id: 1,
            contact_id: 1,
            phone: crate::sms::PhoneNumber::parse("+13035550100").unwrap(),
            attributes: Default::default(),
            consent: Consent::Implied,
            body: body.into(),
            media_urls: vec![],
            received_at: 0,
            state_json: None,
            handoff: None,
            usual_wait_ms: None,
            history: vec![],
            pending_survey: None,
            following: following
                .iter()
                .enumerate()
                .map(|(i, body)| FollowingText {
                    queue_id: 10 + i as i64,
                    message_id: 2 + i as i64,
                    body: body.to_string(),
                    media_urls: vec![],
                })
                .collect(),
            folded: vec![],
        }
    }

    const WINDOW: Duration = Duration::from_secs(2);

    fn policy() -> Policy {
        Policy::load(&std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("prompts")).unwrap()
    }

    #[test]
    fn a_burst_is_read_as_one_text_with_repeats_read_once() {
        let mut c = ctx("hi", &["my order", "its late", "its late"]);
        read_as_one(&mut c, WINDOW, &policy());
        assert_eq!(c.body, "hi\nmy order\nits late");
        assert_eq!(c.folded.len(), 3);
        assert!(c.following.is_empty());
    }

    #[test]
    fn a_keyword_ends_the_burst_and_is_never_folded() {
        let mut c = ctx("hi", &["my order", "STOP", "its late"]);
        read_as_one(&mut c, WINDOW, &policy());
        assert_eq!(c.body, "hi\nmy order");
        assert_eq!(c.following.len(), 2, "STOP and what follows are read later");

        let mut c = ctx("HELP", &["my order"]);
        read_as_one(&mut c, WINDOW, &policy());
        assert_eq!(c.body, "HELP");
        assert!(c.folded.is_empty());
    }

    #[test]
    fn with_bursts_off_each_text_is_read_alone() {
        let mut c = ctx("hi", &["my order"]);
        read_as_one(&mut c, Duration::ZERO, &policy());
        assert_eq!(c.body, "hi");
        assert!(c.folded.is_empty());
    }

    #[test]
    fn keywords_do_not_wait_for_the_rest_of_a_burst() {
        let window = Duration::from_secs(2);
        let policy = policy();
        assert_eq!(wait_ms("stop", window, &policy), 0);
        assert_eq!(wait_ms(" Help ", window, &policy), 0);
        assert_eq!(wait_ms("Alto", window, &policy), 0, "Spanish keywords too");
        assert_eq!(
            wait_ms("stop sending the wrong size", window, &policy),
            2000
        );
    }
}
