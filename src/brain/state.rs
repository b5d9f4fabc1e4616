//! What a conversation remembers between texts, for the brain: a numbered menu it is
//! waiting on, how many texts in a row it failed to understand, and the last question
//! it answered (to resolve short follow-ups like "and in boulder?").
//!
//! The running flow (step and answers so far) is kept here too, and what lookups
//! need: the slots the customer gave and a question waiting for one.
//!
//! Stored as JSON on the conversation row, so it survives restarts and is shared by
//! every worker.

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct ConversationState {
    /// A clarifying menu the bot sent: option n (1-based) is `options[n - 1]`.
    pub menu: Option<Menu>,
    /// Consecutive texts the bot could not understand.
    pub misses: u32,
    /// The intent of the last text the bot answered.
    pub last_intent: Option<String>,
    /// The last customer text the bot answered.
    pub last_question: Option<String>,
    /// The question whose next best answer was sent after "that didn't help": a
    /// second complaint about it goes to a person.
    pub retried_question: Option<String>,
    /// The flow the conversation is in, if any: its texts go to the flow's current
    /// step before the brain (see [`crate::flows`]).
    pub flow: Option<crate::flows::RunningFlow>,
    /// What the customer told us that a lookup can use again (order number, e-mail,
    /// ZIP), by slot name: asked once per conversation, not once per question.
    pub slots: std::collections::BTreeMap<String, String>,
    /// A lookup waiting for the customer to give a slot the bot asked for.
    pub pending_lookup: Option<PendingLookup>,
    /// The handoff whose waiting customer was told their text was noted (once each).
    pub noted_handoff: Option<i64>,
    /// The language (ISO 639-1) in which the bot just offered a person.
    pub offered_person_in: Option<String>,
}

/// The bot asked for `slot` to make the lookup `lookup` for `intent`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PendingLookup {
    pub lookup: String,
    pub intent: String,
    /// The customer's question, answered once the lookup can be made.
    pub question: String,
    pub slot: String,
    /// How many times the slot was asked for (the second ask is the last).
    pub asks: u32,
    /// How many values the business's system did not know (two end the search).
    pub not_found: u32,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Menu {
    /// Intent names offered, in the order they were numbered.
    pub options: Vec<String>,
    /// The text that prompted the menu, reused as the question once the customer picks.
    pub question: String,
}

impl ConversationState {
    /// Reads the stored JSON; anything unreadable starts fresh rather than failing the
    /// customer's message.
    pub fn from_json(json: Option<&str>) -> Self {
        json.and_then(|j| serde_json::from_str(j).ok())
            .unwrap_or_default()
    }

    pub fn to_json(&self) -> String {
        serde_json::to_string(self).unwrap_or_else(|_| "{}".to_string())
    }
}
