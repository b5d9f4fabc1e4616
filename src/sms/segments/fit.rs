//! Fitting a reply into a segment budget without cutting it mid-thought.
//!
//! [`fit`] keeps whole sentences from the start; only when even the first sentence is
//! too long does it keep whole words and mark the cut with an ellipsis. Every candidate
//! is counted as the text it would send, so dropping the one emoji sentence can turn a
//! UCS-2 reply into GSM-7 and win back room.
//!
//! `fit` does not smart-encode: callers that want it run [`smart_encode`] first, so
//! what is measured is what is sent.
//!
//! [`smart_encode`]: super::smart_encode

use unicode_segmentation::UnicodeSegmentation;

use super::{Encoding, SegmentCount, count};

/// A text kept within a segment budget.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Fitted {
    /// The text to send.
    pub text: String,
    /// What `text` costs.
    pub count: SegmentCount,
    /// Whether anything was dropped from the original.
    pub shortened: bool,
}

/// Keeps `text` within `max_segments` (a budget of 0 is treated as 1).
///
/// 1. Already within budget: returned unchanged, `shortened: false`.
/// 2. Otherwise the longest run of whole sentences from the start that fits, without
///    trailing whitespace or a dangling `,`/`:`/dash.
/// 3. If even the first sentence does not fit: whole words from the start followed by
///    `"..."` in GSM-7 or `"…"` in UCS-2 (so shortening never switches the encoding).
///    A first word longer than the budget leaves just `"..."`.
///
/// Apply [`smart_encode`](super::smart_encode) before calling, not after: fitting is
/// measured on exactly the text given.
pub fn fit(text: &str, max_segments: u32) -> Fitted {
    let max = max_segments.max(1);
    let whole = count(text);
    if whole.segments <= max {
        return Fitted {
            text: text.to_owned(),
            count: whole,
            shortened: false,
        };
    }
    by_sentences(text, max).unwrap_or_else(|| by_words(text, max))
}

fn by_sentences(text: &str, max: u32) -> Option<Fitted> {
    let mut best = None;
    for end in sentence_ends(text) {
        let kept = trim_dangling(&text[..end], false);
        if kept.is_empty() {
            continue;
        }
        let cost = count(kept);
        // A longer prefix never costs fewer segments, so stop at the first miss.
        if cost.segments > max {
            break;
        }
        best = Some((kept, cost));
    }
    best.map(|(kept, cost)| Fitted {
        text: kept.to_owned(),
        count: cost,
        shortened: true,
    })
}

fn by_words(text: &str, max: u32) -> Fitted {
    let mut best = None;
    for cut in word_cuts(text) {
        let kept = trim_dangling(&text[..cut], true);
        if kept.is_empty() {
            continue;
        }
        let candidate = with_ellipsis(kept);
        let cost = count(&candidate);
        if cost.segments > max {
            break;
        }
        best = Some((candidate, cost));
    }
    let (text, cost) = best.unwrap_or_else(|| {
        let only = with_ellipsis("");
        let cost = count(&only);
        (only, cost)
    });
    Fitted {
        text,
        count: cost,
        shortened: true,
    }
}

fn with_ellipsis(kept: &str) -> String {
    let mark = match count(kept).encoding {
        Encoding::Gsm7 => "...",
        Encoding::Ucs2 => "…",
    };
    format!("{kept}{mark}")
}

/// Byte offsets where a sentence ends, per UAX #29 (which already keeps "3.5",
/// "example.com/returns" and "e.g. the" together), minus breaks after common
/// abbreviations and initials ("Dr. Lee", "e.g. Monday", "J. Smith").
fn sentence_ends(text: &str) -> impl Iterator<Item = usize> + '_ {
    text.split_sentence_bound_indices()
        .map(|(start, sentence)| start + sentence.len())
        .filter(move |&end| end == text.len() || !ends_with_abbreviation(&text[..end]))
}

/// Abbreviations that end in a period but rarely end a sentence (lowercase, without
/// their final period).
const ABBREVIATIONS: &[&str] = &[
    "mr", "mrs", "ms", "dr", "prof", "sr", "jr", "st", "e.g", "i.e", "vs", "approx", "cf", "fig",
    "ext", "apt", "dept", "tel",
];

fn ends_with_abbreviation(prefix: &str) -> bool {
    let last = prefix
        .trim_end()
        .rsplit(char::is_whitespace)
        .next()
        .unwrap_or("");
    let Some(word) = last.strip_suffix('.') else {
        return false;
    };
    let word = word.trim_start_matches(|c: char| !c.is_alphanumeric());
    let mut chars = word.chars();
    let single_initial =
        matches!((chars.next(), chars.next()), (Some(c), None) if c.is_uppercase());
    single_initial || ABBREVIATIONS.contains(&word.to_lowercase().as_str())
}

/// Byte offsets where the text may be cut between words: before whitespace that
/// follows a word, and between characters of scripts written without spaces (Chinese,
/// Japanese). Always on grapheme-cluster boundaries.
fn word_cuts(text: &str) -> impl Iterator<Item = usize> + '_ {
    let mut previous: Option<&str> = None;
    text.grapheme_indices(true)
        .filter_map(move |(start, grapheme)| {
            let before = previous.replace(grapheme)?;
            let is_space = grapheme.chars().all(char::is_whitespace);
            let before_space = before.chars().all(char::is_whitespace);
            let unspaced = before.chars().next().is_some_and(is_unspaced_script);
            ((is_space && !before_space) || (unspaced && !is_space)).then_some(start)
        })
}

/// Ideographs and kana: text in these scripts has no spaces, and a cut between two
/// such characters is a word-level cut.
fn is_unspaced_script(c: char) -> bool {
    matches!(c,
        '\u{3040}'..='\u{30FF}'   // Hiragana, Katakana
        | '\u{3400}'..='\u{4DBF}' // CJK Extension A
        | '\u{4E00}'..='\u{9FFF}' // CJK Unified Ideographs
        | '\u{F900}'..='\u{FAFF}' // CJK Compatibility Ideographs
        | '\u{20000}'..='\u{2FFFF}')
}

/// Strips trailing whitespace and separators that would dangle once the rest is gone.
/// `periods` also strips `.` (before an ellipsis is appended).
fn trim_dangling(s: &str, periods: bool) -> &str {
    const DANGLING: &[char] = &[
        ',', ';', ':', '-', '–', '—', '(', '[', '{', '/', '&', '+', '“', '‘', '«', '‹', '¿', '¡',
        '、', '，', '：', '；',
    ];
    s.trim_end_matches(|c: char| {
        c.is_whitespace() || DANGLING.contains(&c) || (periods && c == '.')
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ends(text: &str) -> Vec<&str> {
        let mut out = Vec::new();
        let mut start = 0;
        for end in sentence_ends(text) {
            out.push(text[start..end].trim());
            start = end;
        }
        out
    }

    #[test]
    fn urls_decimals_and_abbreviations_do_not_end_sentences() {
        assert_eq!(
            ends(
                "Visit https://example.com/returns. Returns take 3.5 days, e.g. Monday. Ask Dr. Lee or J. Smith. Bye!"
            ),
            vec![
                "Visit https://example.com/returns.",
                "Returns take 3.5 days, e.g. Monday.",
                "Ask Dr. Lee or J. Smith.",
                "Bye!",
            ]
        );
    }

    #[test]
    fn word_cuts_fall_before_spaces_and_between_ideographs() {
        let text = "ab cd  ef";
        let cuts: Vec<usize> = word_cuts(text).collect();
        assert_eq!(cuts, vec![2, 5]);
        let cjk = "您好世界";
        assert_eq!(word_cuts(cjk).count(), 3);
    }

    #[test]
    fn dangling_separators_are_trimmed() {
        assert_eq!(
            trim_dangling("Hours: 9-5, Mon — ", false),
            "Hours: 9-5, Mon"
        );
        assert_eq!(trim_dangling("see e.g.", true), "see e.g");
        assert_eq!(trim_dangling("Done.", false), "Done.");
    }

    #[test]
    fn zero_budget_is_one_segment() {
        let long = "Word ".repeat(100);
        assert_eq!(fit(&long, 0).count.segments, 1);
    }

    #[test]
    fn a_single_giant_word_leaves_only_the_ellipsis() {
        let token = "x".repeat(400);
        let fitted = fit(&token, 1);
        assert_eq!(fitted.text, "...");
        assert!(fitted.shortened);
    }

    #[test]
    fn chinese_is_cut_between_characters() {
        let text = "您".repeat(100); // 100 UTF-16 units, 2 segments
        let fitted = fit(&text, 1);
        assert_eq!(fitted.text, format!("{}…", "您".repeat(69)));
        assert_eq!(fitted.count.units, 70);
    }
}
