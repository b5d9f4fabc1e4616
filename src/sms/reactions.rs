//! Phone reactions to our texts. When an iPhone user "likes" a text and the other side
//! is not iMessage, the phone sends a text of its own: `Liked “Thanks for your order…”`
//! (or `Loved`, `Emphasized`, `Laughed at`, `Questioned`, `Disliked`, `Reacted 😂 to`,
//! `Removed a like from`). They are reactions, not messages: nothing to answer, and
//! certainly not with "Sorry, I didn't quite get that".

use std::sync::LazyLock;

use regex::Regex;

static REACTION: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(
        r#"(?s)^(Liked|Loved|Disliked|Laughed at|Emphasized|Emphasised|Questioned|Reacted \S+ to|Removed an? [a-z!?]+ from) [“"].*[”"]\s*$"#,
    )
    .expect("the reaction pattern is valid")
});

/// Whether the whole text is a phone's reaction to an earlier text.
pub fn is_reaction(body: &str) -> bool {
    REACTION.is_match(body.trim())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tapbacks_are_reactions() {
        for text in [
            "Liked “Thanks for your order! It ships Monday.”",
            "Loved “We ship to Canada ($19.95, 5-10 business days).”",
            "Emphasized \"Your return label is on its way\"",
            "Laughed at “Happy trails!”",
            "Questioned “Reply 1 for order status”",
            "Reacted 👍 to “I'm passing this to a member of our team”",
            "Removed a like from “Thanks”",
        ] {
            assert!(is_reaction(text), "{text}");
        }
    }

    #[test]
    fn messages_that_quote_or_mention_likes_are_not() {
        for text in [
            "I liked the jacket, do you have it in blue?",
            "Loved it",
            "Liked “the tent” but it leaks, can I return it?",
            "you said “ships monday” but it didn't",
            "Liked",
        ] {
            assert!(!is_reaction(text), "{text}");
        }
    }
}
