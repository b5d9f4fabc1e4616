//! Segment counting, splitting, smart encoding and fitting, pinned case by case.
//!
//! Every expected number below is worked out by hand in the case's comment; each case
//! also checks that the count is the number of parts `split` produces and that the
//! parts put back together are the original text.

use std::borrow::Cow;

use textdesk::sms::segments::{
    Encoding, Encoding::Gsm7, Encoding::Ucs2, count, fit, smart_encode, split,
};

const FAMILY: &str = "👨\u{200D}👩\u{200D}👧\u{200D}👦"; // 4 × 2 + 3 ZWJ = 11 units
const FLAG_US: &str = "🇺🇸"; // 2 regional indicators = 4 units
const THUMBS_MEDIUM: &str = "👍🏽"; // thumbs up + skin tone = 4 units

fn rep(s: &str, n: usize) -> String {
    s.repeat(n)
}

struct Case {
    name: &'static str,
    text: String,
    encoding: Encoding,
    segments: u32,
    units: u32,
    /// The parts as sent, when the case is about where the cut falls.
    parts: Option<Vec<String>>,
}

fn case(name: &'static str, text: String, encoding: Encoding, segments: u32, units: u32) -> Case {
    Case {
        name,
        text,
        encoding,
        segments,
        units,
        parts: None,
    }
}

fn with_parts(mut c: Case, parts: Vec<String>) -> Case {
    c.parts = Some(parts);
    c
}

fn cases() -> Vec<Case> {
    vec![
        // Nothing to send is still one (empty) segment.
        with_parts(
            case("empty", String::new(), Gsm7, 1, 0),
            vec![String::new()],
        ),
        case("gsm_160_is_one_segment", rep("a", 160), Gsm7, 1, 160),
        // 161 > 160, so concatenated: 153 + 8.
        with_parts(
            case("gsm_161_is_two_segments", rep("a", 161), Gsm7, 2, 161),
            vec![rep("a", 153), rep("a", 8)],
        ),
        // 2 × 153 = 306 exactly.
        case("gsm_306_is_two_segments", rep("a", 306), Gsm7, 2, 306),
        // 153 + 153 + 1.
        with_parts(
            case("gsm_307_is_three_segments", rep("a", 307), Gsm7, 3, 307),
            vec![rep("a", 153), rep("a", 153), rep("a", 1)],
        ),
        // 158 + 2 (€ is escape + char) = 160: still one segment.
        case("euro_at_159_makes_160", rep("a", 158) + "€", Gsm7, 1, 160),
        // 159 + 2 = 161: two parts, 153 | 6 'a' + € (8 septets).
        with_parts(
            case("euro_at_160_makes_161", rep("a", 159) + "€", Gsm7, 2, 161),
            vec![rep("a", 153), rep("a", 6) + "€"],
        ),
        // 160 + 2 = 162: 153 | 7 'a' + € (9 septets).
        with_parts(
            case("euro_at_161_makes_162", rep("a", 160) + "€", Gsm7, 2, 162),
            vec![rep("a", 153), rep("a", 7) + "€"],
        ),
        // 80 × 2 = 160: one segment.
        case("eighty_euros_fill_one_segment", rep("€", 80), Gsm7, 1, 160),
        // 81 × 2 = 162: a part holds 76 € = 152 septets (the 77th would be 153–154),
        // the last 5 € = 10 septets go to part 2.
        with_parts(
            case(
                "euros_pack_152_septets_per_part",
                rep("€", 81),
                Gsm7,
                2,
                162,
            ),
            vec![rep("€", 76), rep("€", 5)],
        ),
        // 152 + 2 = 154 ≤ 160: no concatenation, nothing moves.
        case(
            "escape_pair_at_153_single_segment",
            rep("a", 152) + "{",
            Gsm7,
            1,
            154,
        ),
        // 152 + 2 + 10 = 164: '{' would take septets 153–154 of part 1, so it moves;
        // part 1 is 152 septets, part 2 is 2 + 10 = 12.
        with_parts(
            case(
                "escape_pair_at_153_moves_to_part_two",
                rep("a", 152) + "{" + &rep("b", 10),
                Gsm7,
                2,
                164,
            ),
            vec![rep("a", 152), "{".to_owned() + &rep("b", 10)],
        ),
        // 151 + 2 = 153 fits part 1 exactly; 151 + 2 + 10 = 163.
        with_parts(
            case(
                "escape_pair_at_152_stays_in_part_one",
                rep("a", 151) + "{" + &rep("b", 10),
                Gsm7,
                2,
                163,
            ),
            vec![rep("a", 151) + "{", rep("b", 10)],
        ),
        // ü ß à Δ are in the basic table: 4 + 1 + 1 + 1 + 1 = 8 septets.
        case(
            "basic_table_accents_and_greek",
            "Füße à Δ".to_owned(),
            Gsm7,
            1,
            8,
        ),
        // The backtick is ASCII but not GSM-7.
        case("backtick_forces_ucs2", "`".to_owned(), Ucs2, 1, 1),
        // 69 'a' + one curly apostrophe: the whole text is UCS-2, 70 units.
        case(
            "one_curly_apostrophe_flips_everything",
            rep("a", 69) + "’",
            Ucs2,
            1,
            70,
        ),
        // 70 + 1 = 71 units: the same text plus one letter needs two parts.
        case("curly_apostrophe_at_71", rep("a", 70) + "’", Ucs2, 2, 71),
        case("ucs2_70_is_one_segment", rep("ж", 70), Ucs2, 1, 70),
        // 71 > 70: 67 | 4.
        with_parts(
            case("ucs2_71_is_two_segments", rep("ж", 71), Ucs2, 2, 71),
            vec![rep("ж", 67), rep("ж", 4)],
        ),
        // 2 × 67 = 134 exactly.
        case("ucs2_134_is_two_segments", rep("ж", 134), Ucs2, 2, 134),
        // 67 + 67 + 1.
        with_parts(
            case("ucs2_135_is_three_segments", rep("ж", 135), Ucs2, 3, 135),
            vec![rep("ж", 67), rep("ж", 67), rep("ж", 1)],
        ),
        // 66 + 2 + 10 = 78: the emoji would take units 67–68, so it moves whole.
        with_parts(
            case(
                "surrogate_pair_at_67_moves",
                rep("ж", 66) + "😀" + &rep("ж", 10),
                Ucs2,
                2,
                78,
            ),
            vec![rep("ж", 66), "😀".to_owned() + &rep("ж", 10)],
        ),
        // 65 + 2 = 67 fits part 1 exactly; 65 + 2 + 10 = 77.
        with_parts(
            case(
                "surrogate_pair_at_66_67_stays",
                rep("ж", 65) + "😀" + &rep("ж", 10),
                Ucs2,
                2,
                77,
            ),
            vec![rep("ж", 65) + "😀", rep("ж", 10)],
        ),
        // 60 + 11 = 71 > 67: the whole family moves; 60 + 11 + 10 = 81 units.
        with_parts(
            case(
                "zwj_family_is_never_split",
                rep("ж", 60) + FAMILY + &rep("ж", 10),
                Ucs2,
                2,
                81,
            ),
            vec![rep("ж", 60), FAMILY.to_owned() + &rep("ж", 10)],
        ),
        // 65 + 4 = 69 > 67: the flag moves (a surrogate-only cut would strand 🇺).
        with_parts(
            case(
                "flag_is_never_split",
                rep("ж", 65) + FLAG_US + &rep("ж", 10),
                Ucs2,
                2,
                79,
            ),
            vec![rep("ж", 65), FLAG_US.to_owned() + &rep("ж", 10)],
        ),
        // Same arithmetic as the flag: 65 + 4 + 10 = 79.
        with_parts(
            case(
                "skin_tone_is_never_split",
                rep("ж", 65) + THUMBS_MEDIUM + &rep("ж", 10),
                Ucs2,
                2,
                79,
            ),
            vec![rep("ж", 65), THUMBS_MEDIUM.to_owned() + &rep("ж", 10)],
        ),
        // 1000 × 2 = 2000 units. A part holds 33 emoji (66 units; the 34th would
        // straddle 67–68), so 30 full parts carry 990 and a 31st carries 10.
        // The division shortcut ceil(2000 / 67) = 30 would under-bill by one.
        with_parts(
            case(
                "two_thousand_units_of_emoji",
                rep("😀", 1000),
                Ucs2,
                31,
                2000,
            ),
            std::iter::repeat_n(rep("😀", 33), 30)
                .chain([rep("😀", 10)])
                .collect(),
        ),
    ]
}

#[test]
fn table_of_counts_and_splits() {
    for c in cases() {
        let got = count(&c.text);
        let parts = split(&c.text);
        assert_eq!(got.encoding, c.encoding, "{}: encoding", c.name);
        assert_eq!(got.segments, c.segments, "{}: segments", c.name);
        assert_eq!(got.units, c.units, "{}: units", c.name);
        assert_eq!(
            parts.len() as u32,
            got.segments,
            "{}: count vs split",
            c.name
        );
        assert_eq!(parts.concat(), c.text, "{}: parts rejoin", c.name);
        if let Some(expected) = &c.parts {
            assert_eq!(&parts, expected, "{}: parts", c.name);
        }
    }
}

/// Sweeps lengths around every boundary with mixed fillers: the count always equals
/// the parts produced, parts rejoin, and no part exceeds the per-part limit.
#[test]
fn count_agrees_with_split_across_lengths() {
    let fillers = ["a", "€", "a€", "ж", "😀", "ж😀", FAMILY, FLAG_US, "a\r\n"];
    for filler in fillers {
        for n in 0..120 {
            let text = filler.repeat(n);
            let got = count(&text);
            let parts = split(&text);
            assert_eq!(parts.len() as u32, got.segments, "{filler:?} × {n}");
            assert_eq!(parts.concat(), text, "{filler:?} × {n}");
            if parts.len() > 1 {
                for p in &parts {
                    let c = count(p);
                    assert!(
                        c.units <= got.encoding.part_units(),
                        "{filler:?} × {n}: {c:?}"
                    );
                    assert!(!p.is_empty());
                }
            }
        }
    }
}

#[test]
fn smart_encoding_turns_typography_into_gsm7() {
    let typed = "“Hello” — it’s…";
    // “ H e l l o ” ␠ — ␠ i t ’ s … = 15 UTF-16 units.
    let before = count(typed);
    assert_eq!(
        (before.encoding, before.segments, before.units),
        (Ucs2, 1, 15)
    );

    let encoded = smart_encode(typed);
    assert_eq!(encoded, "\"Hello\" - it's...");
    // " H e l l o " ␠ - ␠ i t ' s . . . = 17 septets.
    let after = count(&encoded);
    assert_eq!((after.encoding, after.segments, after.units), (Gsm7, 1, 17));
}

#[test]
fn smart_encoding_leaves_emoji_texts_alone() {
    for text in [
        "Thanks! 👍 We’ll be in touch…".to_owned(),
        format!("{FAMILY} — family plan"),
        format!("Shipping to {FLAG_US} “soon”"),
    ] {
        let encoded = smart_encode(&text);
        assert!(matches!(encoded, Cow::Borrowed(_)), "{text}");
        assert_eq!(encoded, text);
    }
}

#[test]
fn smart_encoding_makes_a_long_reply_cheaper() {
    // 150 'a' + ’ = 151 UCS-2 units = 3 segments (67 + 67 + 17);
    // as GSM-7 it is 151 septets = 1 segment.
    let text = rep("a", 150) + "’";
    assert_eq!(count(&text).segments, 3);
    assert_eq!(count(&smart_encode(&text)).segments, 1);
}

/// A sentence of exactly `len` characters: "S" + filler + ".".
fn sentence(len: usize) -> String {
    format!("S{}.", rep("a", len - 2))
}

#[test]
fn fit_keeps_whole_sentences_within_two_segments() {
    // 4 × 100 + 3 spaces = 403 septets = 3 segments (153 + 153 + 97).
    let s: Vec<String> = (0..4).map(|_| sentence(100)).collect();
    let text = s.join(" ");
    assert_eq!(count(&text).segments, 3);

    // Three sentences = 302 septets = 2 segments (153 + 149); four would be 3.
    let fitted = fit(&text, 2);
    assert_eq!(fitted.text, s[..3].join(" "));
    assert!(fitted.shortened);
    assert_eq!(
        (
            fitted.count.encoding,
            fitted.count.segments,
            fitted.count.units
        ),
        (Gsm7, 2, 302)
    );
}

#[test]
fn fit_does_not_cut_at_urls_decimals_or_abbreviations() {
    // 34 + 1 + 48 + 1 + 86 + 1 + 10 + 1 + 11 = 193 septets = 2 segments.
    let text = "Visit https://example.com/returns. \
                Returns take 5-7 days, e.g. 3.5 days on average. \
                Refunds go back to the card you paid with once the parcel is scanned at our warehouse. \
                Questions? Reply HELP.";
    assert_eq!(count(text).units, 193);

    // First two sentences: 34 + 1 + 48 = 83; adding the third would make 170 > 160.
    let fitted = fit(text, 1);
    assert_eq!(
        fitted.text,
        "Visit https://example.com/returns. Returns take 5-7 days, e.g. 3.5 days on average."
    );
    assert_eq!((fitted.count.segments, fitted.count.units), (1, 83));
}

#[test]
fn fit_cuts_one_long_sentence_at_a_word_with_three_dots_in_gsm7() {
    // 40 × "alpha" + 39 spaces + "." = 240 septets = 2 segments.
    let text = ["alpha"; 40].join(" ") + ".";
    // k words = 6k − 1 septets, plus "..." = 6k + 2 ≤ 160 → k = 26 → 158 septets.
    let fitted = fit(&text, 1);
    assert_eq!(fitted.text, ["alpha"; 26].join(" ") + "...");
    assert!(fitted.shortened);
    assert_eq!(
        (
            fitted.count.encoding,
            fitted.count.segments,
            fitted.count.units
        ),
        (Gsm7, 1, 158)
    );
}

#[test]
fn fit_cuts_one_long_ucs2_sentence_with_the_ellipsis_character() {
    // 20 × "привет" + 19 spaces + "." = 140 units = 3 segments.
    let text = ["привет"; 20].join(" ") + ".";
    // k words = 7k − 1 units, plus "…" = 7k ≤ 70 → k = 10 → exactly 70 units.
    let fitted = fit(&text, 1);
    assert_eq!(fitted.text, ["привет"; 10].join(" ") + "…");
    assert_eq!(
        (
            fitted.count.encoding,
            fitted.count.segments,
            fitted.count.units
        ),
        (Ucs2, 1, 70)
    );
}

#[test]
fn fit_never_leaves_a_dangling_separator() {
    // 30 × "beta," then "end." → cut lands after a comma, which is dropped.
    let text = ["beta,"; 30].join(" ") + " end.";
    // k words = 6k − 1 septets; the trailing ',' goes (−1), "..." adds 3:
    // 6k + 1 ≤ 160 → k = 26 → 26 × 6 − 2 + 3 = 157.
    let fitted = fit(&text, 1);
    assert_eq!(fitted.text, ["beta,"; 25].join(" ") + " beta...");
    assert_eq!(fitted.count.units, 157);
}

#[test]
fn fit_measures_the_candidate_not_the_original_encoding() {
    // 100 + 1 + "We ❤️ you." (3 + 2 + 5 = 10) = 111 UCS-2 units = 2 segments.
    let first = sentence(100);
    let text = format!("{first} We ❤️ you.");
    assert_eq!((count(&text).encoding, count(&text).segments), (Ucs2, 2));

    // Without the emoji sentence the reply is 100 septets of GSM-7: one segment.
    let fitted = fit(&text, 1);
    assert_eq!(fitted.text, first);
    assert_eq!(
        (
            fitted.count.encoding,
            fitted.count.segments,
            fitted.count.units
        ),
        (Gsm7, 1, 100)
    );
}

#[test]
fn fit_keeps_a_text_that_already_fits() {
    let text = "Your order has shipped. Track it at https://example.com/t/123.";
    let fitted = fit(text, 1);
    assert_eq!(fitted.text, text);
    assert!(!fitted.shortened);
    assert_eq!(fitted.count, count(text));
}
