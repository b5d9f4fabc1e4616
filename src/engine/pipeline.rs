//! The per-message pipeline: given one inbound text and what we know about its
//! contact, decide the consent change and the replies. Pure: no I/O, no clock of its
//! own, so every rule is testable alone.
//!
//! Steps, in order (see ARCHITECTURE.md):
//! 1. compliance: STOP/START/HELP families; an opted-out contact gets silence;
//! 2. guards: flood cap and bot-loop detection;
//! 3. answer: for now the policy's acknowledgement (or the picture notice).

use crate::engine::guard::{self, Silence};
use crate::engine::policy::Policy;
use crate::sms::keywords::{self, Keyword};
use crate::sms::segments;
use crate::store::{Author, Consent, ConsentChange, InboundContext, InboundOutcome, NewOutbound, OutboundKind};

/// What the pipeline decided, with the reason kept for logs and tests.
#[derive(Debug, Clone)]
pub struct Decision {
    pub outcome: InboundOutcome,
    pub reason: Reason,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reason {
    OptedOut,
    AlreadyOptedOut,
    OptedIn,
    Help,
    /// The contact is opted out and the text is not a keyword: store, never answer.
    SilentOptedOut,
    Silenced(Silence),
    Media,
    Acknowledged,
}

pub fn decide(ctx: &InboundContext, policy: &Policy, now: i64) -> Decision {
    let opted_out = ctx.consent.is_opted_out();
    let texts = &policy.texts;
    let max_segments = policy.replies.max_segments;

    match keywords::detect(&ctx.body, opted_out) {
        Some(Keyword::OptOut) if opted_out => return silent(Reason::AlreadyOptedOut),
        Some(Keyword::OptOut) => {
            return Decision {
                outcome: InboundOutcome {
                    consent_change: Some(ConsentChange {
                        to: Consent::OptedOut,
                        source: "keyword",
                        detail: keyword_detail(&ctx.body),
                    }),
                    replies: vec![reply(&texts.opt_out, OutboundKind::Compliance, max_segments)],
                    ..Default::default()
                },
                reason: Reason::OptedOut,
            };
        }
        Some(Keyword::OptIn) => {
            let change = (ctx.consent != Consent::OptedIn).then(|| ConsentChange {
                to: Consent::OptedIn,
                source: "keyword",
                detail: keyword_detail(&ctx.body),
            });
            return Decision {
                outcome: InboundOutcome {
                    consent_change: change,
                    replies: vec![reply(&texts.opt_in, OutboundKind::Compliance, max_segments)],
                    ..Default::default()
                },
                reason: Reason::OptedIn,
            };
        }
        Some(Keyword::Help) => {
            return Decision {
                outcome: InboundOutcome {
                    consent_change: None,
                    replies: vec![reply(&texts.help, OutboundKind::Compliance, max_segments)],
                    ..Default::default()
                },
                reason: Reason::Help,
            };
        }
        None if opted_out => return silent(Reason::SilentOptedOut),
        None => {}
    }

    let limits = guard::Limits {
        max_bot_replies: policy.limits.max_bot_replies,
        window_ms: (policy.limits.window_secs as i64).saturating_mul(1000),
    };
    if let Some(silence) = guard::check(&ctx.body, &ctx.history, now, &limits) {
        return silent(Reason::Silenced(silence));
    }

    let (text, reason) = if ctx.media_urls.is_empty() {
        (&texts.acknowledgement, Reason::Acknowledged)
    } else {
        (&texts.media_unsupported, Reason::Media)
    };
    Decision {
        outcome: InboundOutcome { replies: vec![reply(text, OutboundKind::Reply, max_segments)], ..Default::default() },
        reason,
    }
}

fn silent(reason: Reason) -> Decision {
    Decision { outcome: InboundOutcome::default(), reason }
}

/// The keyword as the customer wrote it, trimmed, for the consent event.
fn keyword_detail(body: &str) -> String {
    body.trim().chars().take(32).collect()
}

/// A bot text made ready for SMS: look-alike characters replaced so it stays GSM-7
/// where possible, then fitted to the segment budget by whole sentences.
pub fn reply(text: &str, kind: OutboundKind, max_segments: u32) -> NewOutbound {
    let encoded = segments::smart_encode(text);
    let fitted = segments::fit(&encoded, max_segments);
    NewOutbound {
        author: Author::Bot,
        kind,
        body: fitted.text,
        encoding: fitted.count.encoding.as_str(),
        segments: fitted.count.segments,
        units: fitted.count.units,
    }
}
