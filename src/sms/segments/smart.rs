//! Smart encoding: typographic look-alikes swapped for GSM-7 characters.
//!
//! Phones and word processors turn `'` into `’` and `...` into `…`; one such character
//! makes the whole text UCS-2 and cuts a segment from 160 to 70 units. The swap is all
//! or nothing: it is applied only when the result is entirely GSM-7 and costs no more
//! segments than the original. A text that stays UCS-2 anyway (emoji, Cyrillic, a ZWJ
//! sequence) is returned untouched, so the author's typography and every emoji sequence
//! survive exactly as written.

use std::borrow::Cow;

use super::{Encoding, count, gsm7};

/// Look-alike → GSM-7 replacement (possibly empty: the character is dropped).
/// Every replacement is GSM-7 basic-table text (a unit test checks).
#[rustfmt::skip]
pub(crate) const LOOK_ALIKES: &[(char, &str)] = &[
    // Single quotes, apostrophes, primes.
    ('\u{2018}', "'"), // ‘ left single quotation mark
    ('\u{2019}', "'"), // ’ right single quotation mark / apostrophe
    ('\u{201A}', "'"), // ‚ single low-9 quotation mark
    ('\u{201B}', "'"), // ‛ single high-reversed-9 quotation mark
    ('\u{2032}', "'"), // ′ prime
    ('\u{02BC}', "'"), // ʼ modifier letter apostrophe
    ('\u{00B4}', "'"), // ´ acute accent typed as an apostrophe
    ('\u{2039}', "'"), // ‹ single left-pointing angle quotation mark
    ('\u{203A}', "'"), // › single right-pointing angle quotation mark
    // Double quotes.
    ('\u{201C}', "\""), // “ left double quotation mark
    ('\u{201D}', "\""), // ” right double quotation mark
    ('\u{201E}', "\""), // „ double low-9 quotation mark
    ('\u{201F}', "\""), // ‟ double high-reversed-9 quotation mark
    ('\u{2033}', "\""), // ″ double prime
    ('\u{00AB}', "\""), // « left-pointing double angle quotation mark
    ('\u{00BB}', "\""), // » right-pointing double angle quotation mark
    // Dashes, hyphens, minus, bullets.
    ('\u{2010}', "-"), // ‐ hyphen
    ('\u{2011}', "-"), // ‑ non-breaking hyphen
    ('\u{2012}', "-"), // ‒ figure dash
    ('\u{2013}', "-"), // – en dash
    ('\u{2014}', "-"), // — em dash
    ('\u{2015}', "-"), // ― horizontal bar
    ('\u{2212}', "-"), // − minus sign
    ('\u{2022}', "-"), // • bullet
    ('\u{2043}', "-"), // ⁃ hyphen bullet
    // Ellipsis and slashes.
    ('\u{2026}', "..."), // … horizontal ellipsis
    ('\u{2044}', "/"),   // ⁄ fraction slash
    ('\u{2215}', "/"),   // ∕ division slash
    // Spaces.
    ('\t', " "),
    ('\u{00A0}', " "), // no-break space
    ('\u{2000}', " "), ('\u{2001}', " "), ('\u{2002}', " "), ('\u{2003}', " "),
    ('\u{2004}', " "), ('\u{2005}', " "), ('\u{2006}', " "), ('\u{2007}', " "),
    ('\u{2008}', " "), ('\u{2009}', " "), ('\u{200A}', " "),
    ('\u{202F}', " "), // narrow no-break space
    ('\u{205F}', " "), // medium mathematical space
    ('\u{3000}', " "), // ideographic space
    // Line and paragraph separators.
    ('\u{2028}', "\n"),
    ('\u{2029}', "\n"),
    // Invisible characters: dropped. U+200C/U+200D (ZWNJ/ZWJ) are deliberately absent:
    // they carry meaning inside emoji and some scripts.
    ('\u{200B}', ""), // zero-width space
    ('\u{2060}', ""), // word joiner
    ('\u{FEFF}', ""), // zero-width no-break space / BOM
    ('\u{00AD}', ""), // soft hyphen
];

fn replacement(c: char) -> Option<&'static str> {
    LOOK_ALIKES
        .iter()
        .find(|&&(from, _)| from == c)
        .map(|&(_, to)| to)
}

/// Returns `text` with look-alikes replaced when that makes it GSM-7 without costing
/// more segments; otherwise returns it unchanged (borrowed).
///
/// `“Hello” — it’s…` becomes `"Hello" - it's...`; `Thanks! 👍 We’ll call` is left
/// alone, because the emoji keeps it UCS-2 whatever happens to the apostrophe.
pub fn smart_encode(text: &str) -> Cow<'_, str> {
    // Already GSM-7, or holding a character with no GSM-7 stand-in: nothing to gain.
    let mut needs_swap = false;
    for c in text.chars() {
        if gsm7::septets(c).is_some() {
            continue;
        }
        if replacement(c).is_none() {
            return Cow::Borrowed(text);
        }
        needs_swap = true;
    }
    if !needs_swap {
        return Cow::Borrowed(text);
    }

    let mut swapped = String::with_capacity(text.len());
    for c in text.chars() {
        match replacement(c) {
            Some(to) if gsm7::septets(c).is_none() => swapped.push_str(to),
            _ => swapped.push(c),
        }
    }
    // "…" is one UTF-16 unit but three septets: a text made mostly of ellipses could
    // need more GSM-7 segments than UCS-2 ones. Only swap when it does not cost more.
    let after = count(&swapped);
    if after.encoding == Encoding::Gsm7 && after.segments <= count(text).segments {
        Cow::Owned(swapped)
    } else {
        Cow::Borrowed(text)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_replacement_is_gsm7_and_every_source_is_not() {
        for &(from, to) in LOOK_ALIKES {
            assert!(gsm7::septets(from).is_none(), "{from:?} is already GSM-7");
            assert!(to.chars().all(|c| gsm7::septets(c) == Some(1)), "{to:?}");
        }
    }

    #[test]
    fn table_has_no_duplicate_sources() {
        let mut froms: Vec<char> = LOOK_ALIKES.iter().map(|&(c, _)| c).collect();
        let n = froms.len();
        froms.sort_unstable();
        froms.dedup();
        assert_eq!(froms.len(), n);
    }

    #[test]
    fn curly_quotes_dashes_and_ellipsis_become_gsm7() {
        assert_eq!(smart_encode("“Hello” — it’s…"), "\"Hello\" - it's...");
        assert_eq!(
            smart_encode("Open\u{00A0}9\u{2013}5,\u{200B} «really»"),
            "Open 9-5, \"really\""
        );
    }

    #[test]
    fn gsm7_text_is_borrowed_unchanged() {
        assert!(matches!(smart_encode("Plain text {ok}"), Cow::Borrowed(_)));
    }

    #[test]
    fn text_that_stays_ucs2_is_untouched() {
        for text in ["We’ll call 👍", "Семья’s…", "👨\u{200D}👩\u{200D}👧 – ok"]
        {
            assert!(matches!(smart_encode(text), Cow::Borrowed(t) if t == text));
        }
    }

    #[test]
    fn swap_that_would_cost_more_segments_is_skipped() {
        // 70 ellipses: 1 UCS-2 segment, but 210 septets (2 segments) as "...".
        let text = "…".repeat(70);
        assert!(matches!(smart_encode(&text), Cow::Borrowed(_)));
    }
}
