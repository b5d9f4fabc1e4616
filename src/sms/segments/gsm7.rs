//! The GSM-7 default alphabet of 3GPP TS 23.038 (§6.2.1) and its extension table.
//!
//! [`BASIC`] and [`EXTENSION`] are the standard's tables written out in septet order so
//! they can be checked against the spec by eye; [`septets`] is the fast lookup the
//! counters use, and a test proves it agrees with the tables for every `char`.

// The tables are the reference that `septets` is tested against; release code only
// needs the lookup.
/// Septet 0x1B is not a character: it escapes into the extension table.
#[cfg_attr(not(test), allow(dead_code))]
pub(crate) const ESCAPE: u8 = 0x1B;

/// The basic table: `BASIC[septet]` is the character it encodes. Entry 0x1B is the
/// escape and is never matched as a character (see [`ESCAPE`]).
#[rustfmt::skip]
#[cfg_attr(not(test), allow(dead_code))]
pub(crate) const BASIC: [char; 128] = [
    // 0x00
    '@', '£', '$', '¥', 'è', 'é', 'ù', 'ì', 'ò', 'Ç', '\n', 'Ø', 'ø', '\r', 'Å', 'å',
    // 0x10
    'Δ', '_', 'Φ', 'Γ', 'Λ', 'Ω', 'Π', 'Ψ', 'Σ', 'Θ', 'Ξ', '\u{1B}', 'Æ', 'æ', 'ß', 'É',
    // 0x20
    ' ', '!', '"', '#', '¤', '%', '&', '\'', '(', ')', '*', '+', ',', '-', '.', '/',
    // 0x30
    '0', '1', '2', '3', '4', '5', '6', '7', '8', '9', ':', ';', '<', '=', '>', '?',
    // 0x40
    '¡', 'A', 'B', 'C', 'D', 'E', 'F', 'G', 'H', 'I', 'J', 'K', 'L', 'M', 'N', 'O',
    // 0x50
    'P', 'Q', 'R', 'S', 'T', 'U', 'V', 'W', 'X', 'Y', 'Z', 'Ä', 'Ö', 'Ñ', 'Ü', '§',
    // 0x60
    '¿', 'a', 'b', 'c', 'd', 'e', 'f', 'g', 'h', 'i', 'j', 'k', 'l', 'm', 'n', 'o',
    // 0x70
    'p', 'q', 'r', 's', 't', 'u', 'v', 'w', 'x', 'y', 'z', 'ä', 'ö', 'ñ', 'ü', 'à',
];

/// The extension table: `(septet after the escape, character)`. Each of these costs
/// two septets on the air, and the pair is never split across concatenated parts.
#[cfg_attr(not(test), allow(dead_code))]
pub(crate) const EXTENSION: [(u8, char); 10] = [
    (0x0A, '\u{0C}'), // form feed (page break)
    (0x14, '^'),
    (0x28, '{'),
    (0x29, '}'),
    (0x2F, '\\'),
    (0x3C, '['),
    (0x3D, '~'),
    (0x3E, ']'),
    (0x40, '|'),
    (0x65, '€'),
];

/// Septets `c` costs in GSM-7: 1 for the basic table, 2 for the extension table
/// (escape + character), `None` when `c` cannot be sent in GSM-7 at all.
#[inline]
pub(crate) fn septets(c: char) -> Option<u8> {
    match c {
        '^' | '{' | '}' | '\\' | '[' | '~' | ']' | '|' | '€' | '\u{0C}' => Some(2),
        // The only printable ASCII character missing from the basic table.
        '`' => None,
        ' '..='~' | '\n' | '\r' => Some(1),
        '£' | '¥' | 'è' | 'é' | 'ù' | 'ì' | 'ò' | 'Ç' | 'Ø' | 'ø' | 'Å' | 'å' | 'Δ' | 'Φ' | 'Γ'
        | 'Λ' | 'Ω' | 'Π' | 'Ψ' | 'Σ' | 'Θ' | 'Ξ' | 'Æ' | 'æ' | 'ß' | 'É' | '¤' | '¡' | 'Ä'
        | 'Ö' | 'Ñ' | 'Ü' | '§' | '¿' | 'ä' | 'ö' | 'ñ' | 'ü' | 'à' => Some(1),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The cost each `char` should have according to the written-out tables.
    fn cost_from_tables(c: char) -> Option<u8> {
        if EXTENSION.iter().any(|&(_, e)| e == c) {
            return Some(2);
        }
        BASIC
            .iter()
            .enumerate()
            .any(|(septet, &b)| septet != usize::from(ESCAPE) && b == c)
            .then_some(1)
    }

    #[test]
    fn septets_agrees_with_the_tables_for_every_char() {
        for c in (0..=u32::from(char::MAX)).filter_map(char::from_u32) {
            assert_eq!(
                septets(c),
                cost_from_tables(c),
                "{c:?} (U+{:04X})",
                u32::from(c)
            );
        }
    }

    #[test]
    fn tables_have_no_duplicates() {
        let mut all: Vec<char> = BASIC.to_vec();
        all.extend(EXTENSION.iter().map(|&(_, c)| c));
        let n = all.len();
        all.sort_unstable();
        all.dedup();
        assert_eq!(all.len(), n);
    }

    #[test]
    fn escape_and_backtick_are_not_gsm7() {
        assert_eq!(septets('\u{1B}'), None);
        assert_eq!(septets('`'), None);
        assert_eq!(septets('ç'), None, "only capital Ç is in the table");
    }
}
