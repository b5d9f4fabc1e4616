//! SMS segments: which encoding a text needs, how many segments it is billed as, the
//! parts a carrier actually sends, and fitting a reply into a segment budget.
//!
//! This module owns the arithmetic of a text message and nothing else: it does not
//! know about conversations, providers or intents. Callers use it to show agents what a
//! reply will cost, to keep bot replies within the configured budget, and to log the
//! billed segment count.
//!
//! # Rules (3GPP TS 23.038 / 23.040, as carriers apply them)
//!
//! - **GSM-7** when every character is in the default alphabet or its extension table
//!   ([`is_gsm7`]). One segment holds 160 septets; a longer text is sent as concatenated
//!   parts of 153 septets (the user-data header takes the rest). Extension characters
//!   `^ { } \ [ ~ ] | €` and form feed cost two septets (escape + character), and the
//!   pair is never split, so a part may carry only 152.
//! - **UCS-2** as soon as one character is outside that set: the whole text is UTF-16,
//!   70 code units in one segment, 67 per concatenated part. A surrogate pair is never
//!   split, and neither is a grapheme cluster (ZWJ family emoji, flags, skin tones): the
//!   part ends before a cluster that does not fit whole. Only a cluster longer than a
//!   whole part is cut, and then between code points.
//! - An empty text is one segment of zero units.
//!
//! [`count`] is computed by splitting the way [`split`] does, so the number of segments
//! is always the number of parts sent; the division shortcut (`ceil(units / 153)`) is
//! wrong whenever an escape pair or an emoji moves to the next part.
//!
//! [`smart_encode`] swaps typographic look-alikes (curly quotes, dashes, `…`, odd
//! spaces) for GSM-7 characters when that makes the whole text GSM-7, since one stray
//! `’` otherwise more than halves the room per segment. [`fit`] shortens a reply to a
//! segment budget by whole sentences, then whole words.

mod fit;
mod gsm7;
mod parts;
mod smart;

use std::fmt;
use std::str::FromStr;

pub use fit::{Fitted, fit};
pub use smart::smart_encode;

use parts::Parts;

/// How a text is encoded on the air.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub enum Encoding {
    /// The 7-bit default alphabet; units are septets.
    #[serde(rename = "GSM-7")]
    Gsm7,
    /// UTF-16 (carriers call it UCS-2); units are UTF-16 code units.
    #[serde(rename = "UCS-2")]
    Ucs2,
}

impl Encoding {
    pub fn as_str(&self) -> &'static str {
        match self {
            Encoding::Gsm7 => "GSM-7",
            Encoding::Ucs2 => "UCS-2",
        }
    }

    /// Units that fit in a message sent as a single segment: 160 or 70.
    pub fn single_segment_units(&self) -> u32 {
        match self {
            Encoding::Gsm7 => 160,
            Encoding::Ucs2 => 70,
        }
    }

    /// Units per part of a concatenated message: 153 or 67.
    pub fn part_units(&self) -> u32 {
        match self {
            Encoding::Gsm7 => 153,
            Encoding::Ucs2 => 67,
        }
    }
}

impl fmt::Display for Encoding {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown SMS encoding {0:?}: expected \"GSM-7\" or \"UCS-2\"")]
pub struct UnknownEncoding(pub String);

impl FromStr for Encoding {
    type Err = UnknownEncoding;

    /// Accepts `GSM-7` / `UCS-2` in any case, with or without the dash.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim().to_ascii_uppercase().as_str() {
            "GSM-7" | "GSM7" => Ok(Encoding::Gsm7),
            "UCS-2" | "UCS2" => Ok(Encoding::Ucs2),
            _ => Err(UnknownEncoding(s.to_owned())),
        }
    }
}

/// What a text costs: its encoding, the segments it is billed as, and its length in
/// that encoding's units (septets or UTF-16 code units).
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub struct SegmentCount {
    pub encoding: Encoding,
    pub segments: u32,
    pub units: u32,
}

impl SegmentCount {
    /// Units still free in the last segment, assuming every earlier part is full.
    ///
    /// Exact for a single-segment text (`160 - units` or `70 - units`). For a
    /// concatenated text it is an upper bound: when an escape pair or an emoji was
    /// moved to the next part, the earlier part carries fewer units than 153/67 and
    /// the count alone cannot tell. Use [`remaining_in_last_segment`] when the text is
    /// at hand and the exact figure matters.
    pub fn remaining_in_segment(&self) -> u32 {
        let capacity = if self.segments <= 1 {
            self.encoding.single_segment_units()
        } else {
            self.encoding.part_units().saturating_mul(self.segments)
        };
        capacity.saturating_sub(self.units)
    }
}

/// Counts the segments `text` is billed as, by splitting it exactly as [`split`] does.
pub fn count(text: &str) -> SegmentCount {
    let (encoding, units) = parts::measure(text);
    let segments = if units <= encoding.single_segment_units() {
        1
    } else {
        Parts::new(text, encoding, units).fold(0u32, |n, _| n.saturating_add(1))
    };
    SegmentCount {
        encoding,
        segments,
        units,
    }
}

/// The parts `text` is sent as, in order. Concatenated they give `text` back; an empty
/// text is one empty part.
pub fn split(text: &str) -> Vec<String> {
    let (encoding, units) = parts::measure(text);
    Parts::new(text, encoding, units)
        .map(str::to_owned)
        .collect()
}

/// Exact units still free in the last segment of `text`: how much more could be
/// appended (in the same encoding) without adding a segment.
pub fn remaining_in_last_segment(text: &str) -> u32 {
    let (encoding, units) = parts::measure(text);
    if units <= encoding.single_segment_units() {
        return encoding.single_segment_units() - units;
    }
    let last = Parts::new(text, encoding, units).last().unwrap_or_default();
    let (_, last_units) = match encoding {
        Encoding::Gsm7 => parts::measure(last),
        Encoding::Ucs2 => (Encoding::Ucs2, parts::utf16_len(last)),
    };
    encoding.part_units().saturating_sub(last_units)
}

/// Whether `c` can be sent in GSM-7 (basic table or extension table).
pub fn is_gsm7(c: char) -> bool {
    gsm7::septets(c).is_some()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encoding_round_trips_through_strings_and_serde() {
        for e in [Encoding::Gsm7, Encoding::Ucs2] {
            assert_eq!(e.to_string().parse::<Encoding>(), Ok(e));
            assert_eq!(
                serde_json::to_string(&e).ok(),
                Some(format!("\"{}\"", e.as_str()))
            );
        }
        assert_eq!("gsm7".parse::<Encoding>(), Ok(Encoding::Gsm7));
        assert!("utf-8".parse::<Encoding>().is_err());
    }

    #[test]
    fn segment_count_serializes_with_the_api_field_names() {
        let json = serde_json::to_value(count("hi")).ok();
        assert_eq!(
            json,
            Some(serde_json::json!({"encoding": "GSM-7", "segments": 1, "units": 2}))
        );
    }

    #[test]
    fn remaining_is_exact_for_one_segment() {
        assert_eq!(count("").remaining_in_segment(), 160);
        assert_eq!(count(&"a".repeat(158)).remaining_in_segment(), 2);
        assert_eq!(count("привет").remaining_in_segment(), 64);
    }

    #[test]
    fn remaining_after_concatenation_counts_the_last_part() {
        let plain = "a".repeat(161); // 153 | 8
        assert_eq!(count(&plain).remaining_in_segment(), 145);
        assert_eq!(remaining_in_last_segment(&plain), 145);
        // 152 'a' + '{' + 10 'b': the escape pair moves, the last part holds 12.
        let escaped = format!("{}{{{}", "a".repeat(152), "b".repeat(10));
        assert_eq!(remaining_in_last_segment(&escaped), 153 - 12);
        assert_eq!(count(&escaped).remaining_in_segment(), 306 - 164);
    }

    #[test]
    fn is_gsm7_covers_basic_and_extension_only() {
        assert!(is_gsm7('a') && is_gsm7('€') && is_gsm7('\u{0C}') && is_gsm7('Δ'));
        assert!(!is_gsm7('’') && !is_gsm7('😀') && !is_gsm7('`'));
    }
}
