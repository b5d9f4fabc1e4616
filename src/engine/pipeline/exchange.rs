//! What the exchange so far says about the next text: the bot's last words (never
//! sent twice in a row), whether the exchange is under way or the contact is
//! returning, and the contact as templates see it.

use crate::brain::think::{Decision as BrainDecision, Thought};
use crate::engine::guard;
use crate::engine::policy::Policy;
use crate::store::{Direction, InboundContext, NewOutbound, OutboundKind};

use super::{reply, secs_to_ms};

/// `contact` in templates: the phone and the contact's attributes (`contact.name`).
pub(super) fn contact_json(ctx: &InboundContext) -> serde_json::Value {
    let mut contact: serde_json::Map<String, serde_json::Value> = ctx
        .attributes
        .iter()
        .map(|(k, v)| (k.clone(), serde_json::Value::from(v.as_str())))
        .collect();
    contact.insert("phone".into(), ctx.phone.as_str().into());
    serde_json::Value::Object(contact)
}

/// Where the exchange stands: under way (the bot or a person texted the contact
/// within the flood window), and whether the contact texted us before this exchange
/// (a returning contact, greeted as one).
pub(super) fn standing(ctx: &InboundContext, policy: &Policy) -> (bool, bool) {
    let window_ms = secs_to_ms(policy.limits.window_secs);
    let recent = |m: &&crate::store::HistoryEntry| ctx.received_at - m.created_at <= window_ms;
    let under_way = ctx
        .history
        .iter()
        .filter(recent)
        .any(|m| m.direction == Direction::Outbound);
    let returning = ctx
        .history
        .iter()
        .any(|m| m.direction == Direction::Inbound && ctx.received_at - m.created_at > window_ms);
    (under_way, returning)
}

/// The bot's last text to this contact, when sent within the flood window (the same
/// answer to a question asked again next week is fine; the same text twice in one
/// exchange is not).
pub(super) fn last_bot_text<'a>(ctx: &'a InboundContext, policy: &Policy) -> Option<&'a str> {
    let window_ms = secs_to_ms(policy.limits.window_secs);
    ctx.history
        .iter()
        .rev()
        .find(|m| guard::is_bot_reply(m))
        .filter(|m| ctx.received_at - m.created_at <= window_ms)
        .map(|m| m.body.as_str())
}

/// The bot's texts to this contact within the flood window, newest first: what the
/// customer has just read and should not be sent again in this exchange.
pub(super) fn said_recently<'a>(ctx: &'a InboundContext, policy: &Policy) -> Vec<&'a str> {
    let window_ms = secs_to_ms(policy.limits.window_secs);
    ctx.history
        .iter()
        .rev()
        .filter(|m| guard::is_bot_reply(m))
        .take_while(|m| ctx.received_at - m.created_at <= window_ms)
        .map(|m| m.body.as_str())
        .collect()
}

/// Whether `next` is, word for word, the bot's last text in this exchange.
pub(super) fn repeats_last_bot(ctx: &InboundContext, next: &NewOutbound, policy: &Policy) -> bool {
    last_bot_text(ctx, policy)
        .is_some_and(|last| guard::normalize(&next.body) == guard::normalize(last))
}

/// Whether the brain's reply is, word for word, the bot's last text to this contact,
/// sent within the flood window (the same answer to a question asked again next week
/// is fine; the same text twice in one exchange is not).
pub(super) fn repeats_last_bot_text(
    ctx: &InboundContext,
    thought: &Thought,
    policy: &Policy,
) -> bool {
    if matches!(thought.decision, BrainDecision::Escalate(_)) {
        return false;
    }
    let Some(text) = thought.reply.as_deref() else {
        return false;
    };
    let next = reply(text, OutboundKind::Reply, policy.replies.max_segments);
    repeats_last_bot(ctx, &next, policy)
}
