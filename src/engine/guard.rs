//! Guards that keep the bot from flooding a contact or ping-ponging with another bot,
//! without ever leaving a person in silence.
//!
//! They tell machines from people by the stored history alone, so they hold across
//! restarts and across several textdesk processes:
//! - a machine quotes our last reply back, sends a text it already got an answer to
//!   again within seconds, or keeps texting at machine speed once the bot has sent its
//!   cap of replies in the window. Machines get silence. An echo or a repeat already
//!   has its answer; a flood past the cap also opens a silent handoff, so a person
//!   can look;
//! - a person (texts at human pace) gets an answer to every text, up to a ceiling per
//!   window; past it a person takes over, and the customer is told so.
//!
//! Compliance answers are never guarded: a STOP must be confirmed even mid-flood.

use crate::store::{Author, Direction, HistoryEntry};

/// What the guards make of a text, when they stop the bot from answering it as usual.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Guarded {
    /// The other side looks like a machine: the text is stored, nothing is sent.
    Machine(MachineSign),
    /// A person has had the most bot replies one window allows: hand the conversation
    /// to a person and tell the customer, instead of going quiet.
    PersonAtCeiling,
}

/// Why a text looks like it came from a machine.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MachineSign {
    /// The text is our own last reply echoed back (another bot quoting us).
    Echo,
    /// A text already answered in the window came again at machine speed: an
    /// auto-responder or a stuck phone, not a person asking a second time.
    RepeatedText,
    /// The bot already sent its cap of replies in the window and the contact's texts
    /// keep arriving at machine speed.
    FloodCap,
}

pub struct Limits {
    /// Bot replies in the window after which a machine-paced exchange gets no more.
    pub max_bot_replies: u32,
    /// Bot replies in the window after which even a person is handed to the team.
    pub max_replies_to_person: u32,
    pub window_ms: i64,
    /// A text arriving this soon after the message before it came at machine speed:
    /// no person reads a reply and types an answer that fast.
    pub machine_ms: i64,
}

/// Decides whether the bot should answer `body` (received at `received_at`) as usual.
/// `history` is the contact's other messages (see `InboundContext::history`).
pub fn check(
    body: &str,
    received_at: i64,
    history: &[HistoryEntry],
    limits: &Limits,
) -> Option<Guarded> {
    // Everything in the window counts, including replies sent after this text arrived
    // (to earlier texts of a burst); its pace is judged on what came before it.
    let since = received_at - limits.window_ms;
    let recent: Vec<&HistoryEntry> = history.iter().filter(|m| m.created_at >= since).collect();
    let before: Vec<&HistoryEntry> = recent
        .iter()
        .copied()
        .filter(|m| m.created_at <= received_at)
        .collect();

    let normalized = normalize(body);
    let last_bot = recent.iter().rev().find(|m| is_bot_reply(m));
    if !normalized.is_empty() && last_bot.is_some_and(|m| normalize(&m.body) == normalized) {
        return Some(Guarded::Machine(MachineSign::Echo));
    }

    let fast = before
        .last()
        .is_some_and(|m| received_at - m.created_at < limits.machine_ms);
    if fast && !normalized.is_empty() && answered_before(&recent, &normalized) {
        return Some(Guarded::Machine(MachineSign::RepeatedText));
    }

    let bot_replies = recent.iter().filter(|m| is_bot_reply(m)).count();
    if bot_replies >= limits.max_bot_replies as usize
        && machine_paced(&before, fast, limits.machine_ms)
    {
        return Some(Guarded::Machine(MachineSign::FloodCap));
    }
    if bot_replies >= limits.max_replies_to_person as usize {
        return Some(Guarded::PersonAtCeiling);
    }
    None
}

/// A text the bot sent (not a person's, not a system notice).
pub fn is_bot_reply(m: &HistoryEntry) -> bool {
    m.direction == Direction::Outbound && m.author == Author::Bot
}

/// Whether `normalized` came in before and the bot answered it afterwards.
fn answered_before(recent: &[&HistoryEntry], normalized: &str) -> bool {
    recent.iter().enumerate().any(|(i, m)| {
        m.direction == Direction::Inbound
            && normalize(&m.body) == normalized
            && recent[i + 1..].iter().any(|r| is_bot_reply(r))
    })
}

/// Whether at least half of the contact's texts in the window (this one, which came
/// at machine speed if `this_text_fast`, included) arrived at machine speed after the
/// message before them.
fn machine_paced(before: &[&HistoryEntry], this_text_fast: bool, machine_ms: i64) -> bool {
    let mut texts = 1;
    let mut fast = usize::from(this_text_fast);
    for (i, m) in before.iter().enumerate() {
        if m.direction != Direction::Inbound {
            continue;
        }
        texts += 1;
        if i > 0 && m.created_at - before[i - 1].created_at < machine_ms {
            fast += 1;
        }
    }
    fast * 2 >= texts
}

/// Lower-cased letters and digits only, so "Thanks!" and "thanks" compare equal.
pub fn normalize(text: &str) -> String {
    text.chars()
        .filter(|c| c.is_alphanumeric())
        .flat_map(char::to_lowercase)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECOND: i64 = 1_000;

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
        max_replies_to_person: 4,
        window_ms: 600 * SECOND,
        machine_ms: 10 * SECOND,
    };

    /// `n` exchanges of a distinct question and the bot's answer, `gap` apart.
    fn exchanges(n: usize, gap: i64) -> Vec<HistoryEntry> {
        (0..n as i64)
            .flat_map(|i| {
                let at = i * gap;
                [
                    msg(Direction::Inbound, Author::Customer, &format!("q{i}"), at),
                    msg(Direction::Outbound, Author::Bot, &format!("a{i}"), at + 100),
                ]
            })
            .collect()
    }

    #[test]
    fn a_machine_paced_exchange_is_capped() {
        let history = exchanges(2, 2 * SECOND);
        assert_eq!(
            check("next", 4 * SECOND, &history, &LIMITS),
            Some(Guarded::Machine(MachineSign::FloodCap))
        );
        // Once the window has passed, the bot may answer again.
        assert_eq!(check("next", 700 * SECOND, &history, &LIMITS), None);
    }

    #[test]
    fn a_person_at_human_pace_is_answered_up_to_the_ceiling_then_handed_over() {
        let history = exchanges(3, 30 * SECOND);
        assert_eq!(check("q3", 90 * SECOND, &history, &LIMITS), None);
        let history = exchanges(4, 30 * SECOND);
        assert_eq!(
            check("q4", 120 * SECOND, &history, &LIMITS),
            Some(Guarded::PersonAtCeiling)
        );
    }

    #[test]
    fn an_answered_text_repeated_at_machine_speed_gets_no_second_answer() {
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
            check("I am away until Monday", 2_000, &history, &LIMITS),
            Some(Guarded::Machine(MachineSign::RepeatedText))
        );
        assert_eq!(check("something new", 2_000, &history, &LIMITS), None);
        // A person asking again a minute later is not a machine: the brain decides.
        assert_eq!(
            check("I am away until Monday", 61_000, &history, &LIMITS),
            None
        );
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
            check("thanks we got your message", 2_000, &history, &LIMITS),
            Some(Guarded::Machine(MachineSign::Echo))
        );
    }

    #[test]
    fn a_burst_counts_the_replies_sent_after_it_arrived() {
        // Twelve texts at once; by the time the third is processed, the first two
        // have been answered (their replies are newer than the third text).
        let mut history: Vec<HistoryEntry> = (0..12)
            .filter(|&i| i != 2)
            .map(|i| msg(Direction::Inbound, Author::Customer, &format!("q{i}"), i))
            .collect();
        history.push(msg(Direction::Outbound, Author::Bot, "a0", 500));
        history.push(msg(Direction::Outbound, Author::Bot, "a1", 600));
        assert_eq!(
            check("q2", 2, &history, &LIMITS),
            Some(Guarded::Machine(MachineSign::FloodCap))
        );
    }
}
