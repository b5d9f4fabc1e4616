//! Splitting a text into the parts a carrier sends, without allocating.
//!
//! Both [`count`](super::count) and [`split`](super::split) walk [`Parts`], so the
//! segment count is by construction the number of parts actually produced.

use unicode_segmentation::UnicodeSegmentation;

use super::Encoding;
use super::gsm7;

/// The encoding a text needs and its length in that encoding's units (septets for
/// GSM-7, UTF-16 code units for UCS-2), saturating at `u32::MAX`.
pub(crate) fn measure(text: &str) -> (Encoding, u32) {
    let mut septets: u32 = 0;
    for c in text.chars() {
        match gsm7::septets(c) {
            Some(n) => septets = septets.saturating_add(u32::from(n)),
            None => return (Encoding::Ucs2, utf16_len(text)),
        }
    }
    (Encoding::Gsm7, septets)
}

pub(crate) fn utf16_len(text: &str) -> u32 {
    text.chars()
        .fold(0u32, |n, c| n.saturating_add(c.len_utf16() as u32))
}

/// Septets of a character already known to be GSM-7.
fn gsm_cost(c: char) -> u32 {
    gsm7::septets(c).map_or(1, u32::from)
}

/// The parts of one text, in order; concatenated they give the text back.
///
/// A text within the single-segment limit is one part (an empty text is one empty
/// part); a longer one is cut into concatenated parts of at most
/// [`Encoding::part_units`] each.
pub(crate) struct Parts<'a> {
    rest: &'a str,
    encoding: Encoding,
    single: bool,
    done: bool,
}

impl<'a> Parts<'a> {
    pub(crate) fn new(text: &'a str, encoding: Encoding, units: u32) -> Self {
        Self {
            rest: text,
            encoding,
            single: units <= encoding.single_segment_units(),
            done: false,
        }
    }
}

impl<'a> Iterator for Parts<'a> {
    type Item = &'a str;

    fn next(&mut self) -> Option<&'a str> {
        if self.done {
            return None;
        }
        if self.single {
            self.done = true;
            return Some(self.rest);
        }
        if self.rest.is_empty() {
            self.done = true;
            return None;
        }
        let end = match self.encoding {
            Encoding::Gsm7 => gsm7_part_end(self.rest),
            Encoding::Ucs2 => ucs2_part_end(self.rest),
        };
        let (part, rest) = self.rest.split_at(end);
        self.rest = rest;
        Some(part)
    }
}

/// Byte length of the next GSM-7 part: up to 153 septets, and an extension character
/// (escape + char) that would straddle the limit moves whole to the next part.
fn gsm7_part_end(rest: &str) -> usize {
    let limit = Encoding::Gsm7.part_units();
    let mut used = 0;
    for (i, c) in rest.char_indices() {
        let cost = gsm_cost(c);
        if used + cost > limit {
            return i;
        }
        used += cost;
    }
    rest.len()
}

/// Byte length of the next UCS-2 part: up to 67 UTF-16 units, ending before any
/// grapheme cluster that would not fit whole. A cluster longer than a whole part is
/// the one thing that gets cut, and then only between code points, so a surrogate
/// pair is never split.
fn ucs2_part_end(rest: &str) -> usize {
    let limit = Encoding::Ucs2.part_units();
    let mut used = 0;
    for (start, cluster) in rest.grapheme_indices(true) {
        let units = utf16_len(cluster);
        if used + units <= limit {
            used += units;
            continue;
        }
        if used > 0 && units <= limit {
            return start;
        }
        // Oversized cluster: fill this part code point by code point.
        for (offset, c) in cluster.char_indices() {
            let u = c.len_utf16() as u32;
            if used + u > limit {
                return start + offset;
            }
            used += u;
        }
    }
    rest.len()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parts(text: &str) -> Vec<&str> {
        let (encoding, units) = measure(text);
        Parts::new(text, encoding, units).collect()
    }

    #[test]
    fn empty_text_is_one_empty_part() {
        assert_eq!(parts(""), vec![""]);
    }

    #[test]
    fn oversized_cluster_is_cut_between_code_points_only() {
        // 'a' followed by 100 combining acute accents is one grapheme of 101 units.
        let cluster = format!("a{}", "\u{0301}".repeat(100));
        let got = parts(&cluster);
        assert_eq!(got.len(), 2);
        assert_eq!(utf16_len(got[0]), 67);
        assert_eq!(got.concat(), cluster);
    }

    #[test]
    fn oversized_cluster_fills_the_current_part_first() {
        // 10 ZWJ-joined emoji: 10 × 2 + 9 = 29 units per family-like run; make it 80.
        let zwj_run = vec!["😀"; 27].join("\u{200D}"); // 27 × 2 + 26 = 80 units
        let text = format!("ab{zwj_run}");
        let got = parts(&text);
        assert_eq!(utf16_len(got[0]), 67, "{got:?}");
        assert!(got[0].is_char_boundary(got[0].len()));
        assert_eq!(got.concat(), text);
    }
}
