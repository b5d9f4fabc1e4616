//! Does a text answer the step? Each reader returns the value to store (and, for a
//! choice, which option), or `None` for "that did not fit": the step re-asks once.

use super::file::ChoiceOption;

/// Lowercase words without punctuation, single-spaced.
pub fn normalize(text: &str) -> String {
    text.to_lowercase()
        .chars()
        .map(|c| {
            if c.is_alphanumeric() || c == '@' || c == '.' {
                c
            } else {
                ' '
            }
        })
        .collect::<String>()
        .split_whitespace()
        .map(|w| w.trim_matches('.'))
        .filter(|w| !w.is_empty())
        .collect::<Vec<_>>()
        .join(" ")
}

const YES: &[&str] = &[
    "yes",
    "y",
    "yeah",
    "yea",
    "yep",
    "yup",
    "sure",
    "ok",
    "okay",
    "k",
    "confirm",
    "confirmed",
    "correct",
    "sounds good",
    "yes please",
    "absolutely",
    "definitely",
    "please do",
    "do it",
    "book it",
    "that works",
    "works for me",
    "perfect",
    "great",
];
const NO: &[&str] = &[
    "no",
    "n",
    "nope",
    "nah",
    "no thanks",
    "no thank you",
    "not really",
    "negative",
    "wrong",
    "incorrect",
    "doesnt work",
    "that doesnt work",
];

/// YES or NO; `None` when the text is neither (or both).
pub fn yes_no(text: &str) -> Option<bool> {
    let t = normalize(text).replace('\'', "");
    let t = t.trim_end_matches(" please").trim_end_matches(" thanks");
    let yes = YES.contains(&t)
        || YES
            .iter()
            .any(|y| y.len() > 2 && t.starts_with(&format!("{y} ")));
    let no = NO.contains(&t)
        || NO
            .iter()
            .any(|n| n.len() > 1 && t.starts_with(&format!("{n} ")));
    match (yes, no) {
        (true, false) => Some(true),
        (false, true) => Some(false),
        _ => None,
    }
}

/// Words too common to tell options apart.
const FILLER: &[&str] = &[
    "a", "an", "the", "for", "to", "of", "my", "i", "id", "like", "want", "please", "me", "us",
    "and", "or", "it", "is", "its", "option", "number", "one", "thanks",
];

fn content_words(text: &str) -> Vec<String> {
    normalize(text)
        .split(' ')
        .filter(|w| !w.is_empty() && !FILLER.contains(w))
        .map(str::to_string)
        .collect()
}

/// The option picked, by index: the digit ("2", "#2", "option 2", "2)"), the option's
/// label or one of its words, or a close match (Jaro-Winkler on the words).
pub fn choice(text: &str, options: &[ChoiceOption]) -> Option<usize> {
    let t = normalize(text);
    let digits: String = t
        .trim_start_matches("option ")
        .trim_start_matches('#')
        .to_string();
    if let Ok(n) = digits.trim_end_matches(')').trim().parse::<usize>() {
        return (1..=options.len()).contains(&n).then(|| n - 1);
    }
    const ORDINALS: [&str; 5] = ["first", "second", "third", "fourth", "fifth"];
    if let Some(i) = ORDINALS
        .iter()
        .position(|o| t == *o || t == format!("the {o}"))
    {
        return (i < options.len()).then_some(i);
    }
    // Exact label or word.
    let exact: Vec<usize> = options
        .iter()
        .enumerate()
        .filter(|(_, o)| normalize(&o.label) == t || o.words.iter().any(|w| normalize(w) == t))
        .map(|(i, _)| i)
        .collect();
    if let [i] = exact.as_slice() {
        return Some(*i);
    }
    // The words of a label (or of one of its words) and of the text mostly match,
    // and clearly better than for any other option.
    let words = content_words(text);
    if words.is_empty() {
        return None;
    }
    let scores: Vec<f64> = options
        .iter()
        .map(|o| {
            std::iter::once(&o.label)
                .chain(o.words.iter())
                .map(|phrase| {
                    // The option's words in the text, or the text's words in the
                    // option ("sales" for "Increase sales").
                    let phrase = content_words(phrase);
                    overlap(&phrase, &words).max(overlap(&words, &phrase))
                })
                .fold(0.0, f64::max)
        })
        .collect();
    best(&scores, 0.75, 0.2)
}

/// How well `phrase` is covered by `words`: each phrase word scores its best
/// Jaro-Winkler similarity (typos still count), averaged.
fn overlap(phrase: &[String], words: &[String]) -> f64 {
    if phrase.is_empty() {
        return 0.0;
    }
    let total: f64 = phrase
        .iter()
        .map(|p| {
            words
                .iter()
                .map(|w| strsim::jaro_winkler(p, w))
                .fold(0.0, f64::max)
        })
        .map(|s| if s >= 0.88 { s } else { 0.0 })
        .sum();
    total / phrase.len() as f64
}

/// The index of the best score if it clears `floor` and beats the runner-up by `margin`.
fn best(scores: &[f64], floor: f64, margin: f64) -> Option<usize> {
    let mut order: Vec<usize> = (0..scores.len()).collect();
    order.sort_by(|a, b| scores[*b].total_cmp(&scores[*a]));
    let top = *order.first()?;
    let second = order.get(1).map(|i| scores[*i]).unwrap_or(0.0);
    (scores[top] >= floor && scores[top] - second >= margin).then_some(top)
}

/// The first number in the text ("about 12 people" → 12).
pub fn number(text: &str) -> Option<f64> {
    text.split(|c: char| !(c.is_ascii_digit() || c == '.'))
        .map(|w| w.trim_matches('.'))
        .find(|w| !w.is_empty())
        .and_then(|w| w.parse().ok())
        .or_else(|| {
            const WORDS: [&str; 12] = [
                "zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine",
                "ten", "eleven",
            ];
            normalize(text)
                .split(' ')
                .find_map(|w| WORDS.iter().position(|n| *n == w))
                .map(|n| n as f64)
        })
}

/// An e-mail address in the text, lowercased.
pub fn email(text: &str) -> Option<String> {
    text.split_whitespace()
        .map(|w| w.trim_matches(|c: char| !c.is_alphanumeric()))
        .find(|w| {
            let Some((local, domain)) = w.split_once('@') else {
                return false;
            };
            !local.is_empty()
                && domain.contains('.')
                && !domain.starts_with('.')
                && !domain.ends_with('.')
                && !domain.contains('@')
        })
        .map(str::to_lowercase)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn options(labels: &[&str]) -> Vec<ChoiceOption> {
        labels
            .iter()
            .map(|l| ChoiceOption {
                label: l.to_string(),
                value: l.to_string(),
                words: Vec::new(),
                next: None,
            })
            .collect()
    }

    #[test]
    fn a_choice_by_digit_words_or_close_match() {
        let o = options(&["This week", "Next week", "Call us"]);
        assert_eq!(choice("2", &o), Some(1));
        assert_eq!(choice(" 2) ", &o), Some(1));
        assert_eq!(choice("next week", &o), Some(1));
        assert_eq!(choice("Next week please", &o), Some(1));
        assert_eq!(choice("nxt week", &o), Some(1));
        assert_eq!(choice("this week works", &o), Some(0));
        assert_eq!(choice("4", &o), None);
        assert_eq!(choice("week", &o), None, "ambiguous");
        assert_eq!(choice("purple monkey", &o), None);
        let goals = options(&["Increase sales", "Improve support", "Other"]);
        assert_eq!(choice("improve our support", &goals), Some(1));
        assert_eq!(choice("sales", &goals), Some(0));
    }

    #[test]
    fn yes_and_no_in_their_usual_forms() {
        for y in [
            "yes",
            "Y",
            "yeah",
            "Yep!",
            "sure",
            "ok",
            "Yes please",
            "sounds good",
        ] {
            assert_eq!(yes_no(y), Some(true), "{y}");
        }
        for n in ["no", "N", "nope", "nah", "No thanks"] {
            assert_eq!(yes_no(n), Some(false), "{n}");
        }
        assert_eq!(yes_no("maybe"), None);
    }

    #[test]
    fn numbers_and_emails() {
        assert_eq!(number("about 12 people"), Some(12.0));
        assert_eq!(number("five"), Some(5.0));
        assert_eq!(number("lots"), None);
        assert_eq!(
            email("it's Jo.Doe@Example.com thanks"),
            Some("jo.doe@example.com".into())
        );
        assert_eq!(email("jo at example"), None);
    }
}
