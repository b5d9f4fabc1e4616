//! When a text the business starts may go to a contact: within the sending hours of
//! `sending_hours.toml` (the TCPA default and the state rules) in the contact's own
//! zone. Flows add their own quiet hours on top; replies are never held.

use jiff::tz::TimeZone;

use super::Engine;
use crate::flows::quiet::{QuietHours, contact_zone};
use crate::store::ConversationReach;

/// A customer who has not texted for this long is no longer in a conversation: a
/// text to them is one the business starts.
pub const CONVERSATION_LAPSES_MS: i64 = 24 * 3600 * 1000;

/// The contact as the sending hours need them.
#[derive(Debug, Clone, Copy)]
pub struct Recipient<'a> {
    pub phone: &'a str,
    /// The zone the team set on the contact.
    pub timezone: Option<&'a str>,
    /// The contact's `state` attribute (two letters), when set.
    pub state: Option<&'a str>,
}

/// The first time at or after `now` a business-started text may go, and the zone it
/// was judged in. `quiet`: a flow's own quiet hours, kept as well.
pub fn first_allowed(
    engine: &Engine,
    to: Recipient<'_>,
    quiet: Option<&QuietHours>,
    now: i64,
) -> (i64, TimeZone) {
    let policy = engine.policy();
    let business = super::pipeline::business_zone(&policy, &engine.flows());
    let tz = contact_zone(to.timezone, to.phone, &business);
    let hours = &policy.sending_hours;
    let state = hours.state_of(to.phone, to.state);
    // Each rule moves the time forward to where it allows; a few rounds settle it
    // (a flow's 21:00–08:00 and a state's 09:00 start agree on 09:00).
    let mut at = now;
    for _ in 0..4 {
        let allowed = hours.next_allowed(at, &tz, state);
        let allowed = quiet.map_or(allowed, |q| q.next_allowed(allowed, &tz));
        if allowed == at {
            break;
        }
        at = allowed;
    }
    (at, tz)
}

/// When a text to this conversation's contact may go: now while the customer is in
/// the conversation (texted within [`CONVERSATION_LAPSES_MS`]), else within their
/// sending hours.
pub fn follow_up_at(engine: &Engine, reach: &ConversationReach, now: i64) -> i64 {
    let in_conversation = reach
        .last_customer_text_at
        .is_some_and(|at| now - at < CONVERSATION_LAPSES_MS);
    if in_conversation {
        return now;
    }
    let to = Recipient {
        phone: &reach.phone,
        timezone: reach.timezone.as_deref(),
        state: reach.state.as_deref(),
    };
    first_allowed(engine, to, None, now).0
}
