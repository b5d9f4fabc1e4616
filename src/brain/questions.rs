//! Texts that ask several things at once: "do you ship to canada and can I return
//! there?", "how much is shipping? also do you take paypal". Each question gets its own
//! search, so each is answered from its own file.
//!
//! A text splits where a new question starts: after a `?`, a sentence end or a `;`,
//! or at "and" / "also" / "plus", when the words that follow open a question ("can",
//! "do", "how", "where", …). "can I return and exchange it" stays whole ("exchange"
//! opens no question), and so does a part too short to search on its own.

/// Words that open a question.
const OPENERS: &[&str] = &[
    "can", "could", "do", "does", "did", "is", "are", "was", "will", "would", "should", "may",
    "what", "whats", "what's", "how", "hows", "when", "where", "wheres", "where's", "which", "who",
    "why", "any", "have", "has",
];

/// Joining words dropped before the next question ("… and can I", "… also do you").
const JOINERS: &[&str] = &["and", "also", "plus", "but", "then"];

/// At most this many questions are answered from one text; the rest stays with the
/// last.
const MAX_QUESTIONS: usize = 3;

/// A part needs this many words to be searched on its own.
const MIN_WORDS: usize = 3;

/// The questions of `text`, in order; the text itself when it asks one thing.
pub fn split(text: &str) -> Vec<String> {
    let words: Vec<&str> = text.split_whitespace().collect();
    let mut parts: Vec<Vec<&str>> = vec![Vec::new()];
    let mut i = 0;
    while i < words.len() {
        let word = words[i];
        let current = parts.last_mut().expect("never empty");
        current.push(word);
        let ends_sentence = word.ends_with(['?', '.', '!', ';']);
        // The next question's first word, past any joining words.
        let mut next = i + 1;
        while next < words.len() && JOINERS.contains(&bare(words[next]).as_str()) {
            next += 1;
        }
        let joined = next > i + 1;
        let opens = next < words.len() && OPENERS.contains(&bare(words[next]).as_str());
        if (ends_sentence || joined) && opens && parts.len() < MAX_QUESTIONS {
            parts.push(Vec::new());
            i = next;
            continue;
        }
        i += 1;
    }
    // A fragment too short to search alone goes back with the part before it.
    let mut merged: Vec<Vec<&str>> = Vec::new();
    for part in parts.into_iter().filter(|p| !p.is_empty()) {
        match merged.last_mut() {
            Some(previous) if part.len() < MIN_WORDS || previous.len() < MIN_WORDS => {
                previous.extend(part)
            }
            _ => merged.push(part),
        }
    }
    if merged.len() < 2 {
        return vec![text.trim().to_string()];
    }
    merged
        .into_iter()
        .map(|p| p.join(" ").trim_end_matches([',', ';']).to_string())
        .collect()
}

/// A word without its punctuation, lower-cased.
fn bare(word: &str) -> String {
    word.trim_matches(|c: char| !c.is_alphanumeric() && c != '\'')
        .to_lowercase()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn two_questions_joined_by_and_or_a_question_mark_split() {
        assert_eq!(
            split("do you ship to canada and can I return there?"),
            ["do you ship to canada", "can I return there?"]
        );
        assert_eq!(
            split("how much is shipping? also do you take paypal"),
            ["how much is shipping?", "do you take paypal"]
        );
        assert_eq!(
            split("where is my order. also can i change the address"),
            ["where is my order.", "can i change the address"]
        );
        assert_eq!(
            split("what are your hours and where is the boulder store"),
            ["what are your hours", "where is the boulder store"]
        );
    }

    #[test]
    fn one_question_stays_whole() {
        for text in [
            "can I return and exchange it",
            "do you ship to canada",
            "my boots and my jacket are both wrong",
            "hi! where is my order",
            "thanks. bye",
            "is it open? ok",
        ] {
            assert_eq!(split(text), [text], "{text}");
        }
    }

    #[test]
    fn at_most_three_questions() {
        let parts = split(
            "where is my order? can i change it? do you ship to canada? what are your hours?",
        );
        assert_eq!(parts.len(), 3);
        assert_eq!(parts[2], "do you ship to canada? what are your hours?");
    }
}
