//! Guards that keep the bot from flooding a contact or ping-ponging with another bot.
//!
//! They look only at the stored history, so they hold across restarts and across
//! several textdesk processes. Compliance answers are never guarded: a STOP must be
//! confirmed even in the middle of a flood.

use crate::store::{Author, Direction, HistoryEntry};

/// Why the bot stays silent on an ordinary message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Silence {
    /// The contact already got `max` bot replies within the window.
    FloodCap,
    /// The same text came in again within the window and was already answered: an
    /// auto-responder or a stuck phone, not a person waiting for a second answer.
    RepeatedText,
    /// The text is our own last reply echoed back (another bot quoting us).
    Echo,
}

pub struct Limits {
    pub max_bot_replies: u32,
    pub window_ms: i64,
}

/// Decides whether a bot reply to `body` (received at `now`) would be a flood or a loop.
pub fn check(body: &str, history: &[HistoryEntry], now: i64, limits: &Limits) -> Option<Silence> {
    let since = now - limits.window_ms;
    let recent = history.iter().filter(|m| m.created_at >= since);

    let bot_replies = recent
        .clone()
        .filter(|m| m.direction == Direction::Outbound && m.author == Author::Bot)
        .count();
    if bot_replies >= limits.max_bot_replies as usize {
        return Some(Silence::FloodCap);
    }

    let normalized = normalize(body);
    if normalized.is_empty() {
        return None;
    }
    if let Some(last_bot) = history
        .iter()
        .rev()
        .find(|m| m.direction == Direction::Outbound && m.author == Author::Bot)
    {
        if last_bot.created_at >= since && normalize(&last_bot.body) == normalized {
            return Some(Silence::Echo);
        }
    }
    let recent: Vec<&HistoryEntry> = recent.collect();
    let answered_before = recent.iter().enumerate().any(|(i, m)| {
        m.direction == Direction::Inbound
            && normalize(&m.body) == normalized
            && recent[i + 1..]
                .iter()
                .any(|r| r.direction == Direction::Outbound && r.author == Author::Bot)
    });
    answered_before.then_some(Silence::RepeatedText)
}

/// Lower-cased letters and digits only, so "Thanks!" and "thanks" compare equal.
fn normalize(text: &str) -> String {
    text.chars()
        .filter(|c| c.is_alphanumeric())
        .flat_map(char::to_lowercase)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn msg(direction: Direction, author: Author, body: &str, at: i64) -> HistoryEntry {
        HistoryEntry {
            message_id: at,
            direction,
            author,
            body: body.into(),
            intent: None,
            created_at: at,
        }
    }
    const LIMITS: Limits = Limits {
        max_bot_replies: 2,
        window_ms: 60_000,
    };

    #[test]
    fn caps_bot_replies_per_window() {
        let history = vec![
            msg(Direction::Inbound, Author::Customer, "a", 1_000),
            msg(Direction::Outbound, Author::Bot, "ack", 1_001),
            msg(Direction::Inbound, Author::Customer, "b", 2_000),
            msg(Direction::Outbound, Author::Bot, "ack", 2_001),
        ];
        assert_eq!(
            check("c", &history, 3_000, &LIMITS),
            Some(Silence::FloodCap)
        );
        // Once the window has passed, the bot may answer again.
        assert_eq!(check("c", &history, 70_000, &LIMITS), None);
    }

    #[test]
    fn an_answered_text_repeated_in_the_window_gets_no_second_answer() {
        let history = vec![
            msg(
                Direction::Inbound,
                Author::Customer,
                "I am away until Monday.",
                1_000,
            ),
            msg(Direction::Outbound, Author::Bot, "Thanks, we got it", 1_001),
        ];
        assert_eq!(
            check("I am away until Monday", &history, 2_000, &LIMITS),
            Some(Silence::RepeatedText)
        );
        assert_eq!(check("something new", &history, 2_000, &LIMITS), None);
    }

    #[test]
    fn our_own_reply_echoed_back_is_not_answered() {
        let history = vec![msg(
            Direction::Outbound,
            Author::Bot,
            "Thanks, we got your message.",
            1_000,
        )];
        assert_eq!(
            check("thanks we got your message", &history, 2_000, &LIMITS),
            Some(Silence::Echo)
        );
    }
}
