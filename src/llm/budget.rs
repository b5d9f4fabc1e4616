//! Token budgets, counted the way OpenAI's current models count (o200k_base through
//! tiktoken-rs), so prompts stay within what the operator allows and the model accepts.

use std::sync::LazyLock;

use tiktoken_rs::CoreBPE;

static O200K: LazyLock<Option<CoreBPE>> = LazyLock::new(|| tiktoken_rs::o200k_base().ok());

/// Tokens in `text` (falls back to a chars/4 estimate if the tokenizer is unavailable).
pub fn count_tokens(text: &str) -> usize {
    match &*O200K {
        Some(bpe) => bpe.encode_ordinary(text).len(),
        None => text.chars().count().div_ceil(4),
    }
}

/// Keeps items from the front while their total stays within `budget` tokens; stops at
/// the first item that would overflow, so the most relevant (first) items win.
pub fn take_within<'a, T>(items: &'a [T], budget: usize, text_of: impl Fn(&T) -> &str) -> &'a [T] {
    let mut used = 0;
    for (i, item) in items.iter().enumerate() {
        used += count_tokens(text_of(item));
        if used > budget {
            return &items[..i];
        }
    }
    items
}

/// Keeps the most recent items (from the back) within `budget` tokens, in order.
pub fn take_recent_within<'a, T>(
    items: &'a [T],
    budget: usize,
    text_of: impl Fn(&T) -> &str,
) -> &'a [T] {
    let mut used = 0;
    for (i, item) in items.iter().enumerate().rev() {
        used += count_tokens(text_of(item));
        if used > budget {
            return &items[i + 1..];
        }
    }
    items
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_with_o200k() {
        assert_eq!(count_tokens(""), 0);
        assert!(count_tokens("where is my order?") <= 6);
    }

    #[test]
    fn budgets_keep_the_front_or_the_back() {
        let items = vec![
            "one two three".to_string(),
            "four five six".to_string(),
            "seven eight nine".to_string(),
        ];
        let per = count_tokens(&items[0]);
        assert_eq!(take_within(&items, per * 2, |s| s).len(), 2);
        assert_eq!(take_recent_within(&items, per * 2, |s| s), &items[1..]);
        assert!(take_within(&items, 0, |s| s).is_empty());
    }
}
