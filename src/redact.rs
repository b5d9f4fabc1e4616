//! Redaction of personal data before any text leaves the process: for an LLM (chat,
//! summaries) or an embeddings API.
//!
//! Card numbers (13–19 digits, spaces, dashes or dots allowed, Luhn-checked so order
//! numbers survive), US social security numbers (with dashes, spaces or dots; nine
//! bare digits only after words that name one), IBANs and CVV-looking codes after
//! "cvv"/"cvc" are replaced with a placeholder that says what was there, so the model
//! can still reason ("the customer gave a card number") without seeing it. Digits
//! typed full-width (a Japanese keyboard: "４１１１") are read as the digits they are.

use std::borrow::Cow;
use std::sync::LazyLock;

use regex::Regex;
use unicode_normalization::UnicodeNormalization;

static CARD: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"\b(?:\d[ .-]?){12,18}\d\b").expect("static regex"));
/// 078-05-1120, 078 05 1120, 078.05.1120: the shape says what it is.
static SSN: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"\b\d{3}([-. ])\d{2}[-. ]\d{4}\b").expect("static regex"));
/// 078051120 is a number like an order's, unless the words before it name an SSN.
static BARE_SSN: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(
        r"(?i)\b(ssn|ss#|ss no|social security(?: number| no| #)?|social|tax id|tin|itin)(\W{1,4}(?:is\W{1,3})?)\d{9}\b",
    )
    .expect("static regex")
});
static IBAN: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"\b[A-Z]{2}\d{2}(?: ?[A-Z0-9]{4}){2,7}(?: ?[A-Z0-9]{1,4})?\b")
        .expect("static regex")
});
static CVV: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?i)\b(cvv2?|cvc2?|security code)\s*(?:is|:)?\s*\d{3,4}\b").expect("static regex")
});

/// Returns `text` with sensitive numbers replaced by `[card number]`, `[ssn]`,
/// `[iban]` and `[security code]`.
pub fn redact(text: &str) -> Cow<'_, str> {
    // Full-width and other compatibility digits become ASCII first (NFKC), so a
    // number cannot slip past the patterns by the way it was typed.
    let mut out: Cow<'_, str> = if text.chars().any(|c| c.is_numeric() && !c.is_ascii_digit()) {
        Cow::Owned(text.nfkc().collect())
    } else {
        Cow::Borrowed(text)
    };
    if CARD.is_match(&out) {
        let replaced = CARD
            .replace_all(&out, |caps: &regex::Captures<'_>| {
                let digits: String = caps[0].chars().filter(char::is_ascii_digit).collect();
                if luhn_valid(&digits) {
                    "[card number]".to_string()
                } else {
                    caps[0].to_string()
                }
            })
            .into_owned();
        out = Cow::Owned(replaced);
    }
    if BARE_SSN.is_match(&out) {
        out = Cow::Owned(BARE_SSN.replace_all(&out, "$1$2[ssn]").into_owned());
    }
    for (pattern, placeholder) in [(&*SSN, "[ssn]"), (&*IBAN, "[iban]")] {
        if pattern.is_match(&out) {
            out = Cow::Owned(pattern.replace_all(&out, placeholder).into_owned());
        }
    }
    if CVV.is_match(&out) {
        out = Cow::Owned(CVV.replace_all(&out, "$1 [security code]").into_owned());
    }
    out
}

/// +1 303 555 0199, (303) 555-0199, 303.555.0199, +447700900123: a number someone can
/// be called on. Five-digit order numbers and prices are not.
static PHONE: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?:\+\d{1,3}[ .-]?)?(?:\(\d{3}\)|\b\d{3})[ .-]?\d{3}[ .-]?\d{4}\b|\+\d{8,15}\b")
        .expect("static regex")
});
static EMAIL: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?i)\b[a-z0-9._%+-]+@[a-z0-9-]+(?:\.[a-z0-9-]+)+\b").expect("static regex")
});
/// A name where people give or use one: "my name is Dana Whitfield", "this is Dana",
/// "Hi Dana,", "Thanks Dana!", "- Ana" signing off. Capitalised words only, so "this is
/// great" and "hi there" keep their words.
static INTRODUCED_NAME: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(
        r"\b((?i:my name is|my name's|name is|this is|i am|i'm|im|it's|hi|hey|hello|dear|thanks|thank you)),?\s+[A-Z][a-z]+(?:\s+[A-Z][a-z]+)?\b",
    )
    .expect("static regex")
});
static SIGNED_NAME: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"(?m)(^|\s)[-~]\s?[A-Z][a-z]+\s*$").expect("static regex"));
/// Capitalised words after an introduction that are not names ("Hi Trailhead team",
/// "this is Monday", "thanks Again").
const NOT_NAMES: &[&str] = &[
    "There",
    "Team",
    "Again",
    "All",
    "Everyone",
    "Folks",
    "So",
    "Very",
    "Really",
    "The",
    "A",
    "An",
    "Is",
    "It",
    "Not",
    "Still",
    "Just",
    "Monday",
    "Tuesday",
    "Wednesday",
    "Thursday",
    "Friday",
    "Saturday",
    "Sunday",
    "Trailhead",
    "Yes",
    "No",
    "Ok",
    "Okay",
    "Great",
    "You",
];

/// Everything [`redact`] removes, plus what identifies the customer as a person: phone
/// numbers (`[phone]`), e-mail addresses (`[email]`) and names (`[name]`): the `names`
/// given (the contact's and the agents', matched as whole words in any case) and names
/// introduced or used in greetings and sign-offs. For texts that outlive their
/// conversation, such as knowledge drafts made from agents' answers.
pub fn redact_person(text: &str, names: &[String]) -> String {
    let mut out = redact(text).into_owned();
    out = EMAIL.replace_all(&out, "[email]").into_owned();
    out = PHONE.replace_all(&out, "[phone]").into_owned();
    for name in names {
        for part in name.split_whitespace().filter(|p| p.chars().count() >= 2) {
            let Ok(pattern) = Regex::new(&format!(r"(?i)\b{}\b", regex::escape(part))) else {
                continue;
            };
            out = pattern.replace_all(&out, "[name]").into_owned();
        }
    }
    out = INTRODUCED_NAME
        .replace_all(&out, |caps: &regex::Captures<'_>| {
            let lead = &caps[1];
            let name = caps[0][lead.len()..].trim_start_matches([',', ' ', '\t', '\n']);
            let first = name.split_whitespace().next().unwrap_or("");
            if NOT_NAMES.contains(&first) {
                caps[0].to_string()
            } else {
                let gap = &caps[0][lead.len()..caps[0].len() - name.len()];
                format!("{lead}{gap}[name]")
            }
        })
        .into_owned();
    out = SIGNED_NAME
        .replace_all(&out, |caps: &regex::Captures<'_>| {
            let word = caps[0].trim().trim_start_matches(['-', '~']).trim();
            if NOT_NAMES.contains(&word) {
                caps[0].to_string()
            } else {
                format!("{}- [name]", &caps[1])
            }
        })
        .into_owned();
    out
}

/// The Luhn checksum that every payment card number satisfies.
pub fn luhn_valid(digits: &str) -> bool {
    if !(13..=19).contains(&digits.len()) {
        return false;
    }
    let mut sum = 0;
    for (i, c) in digits.chars().rev().enumerate() {
        let Some(mut d) = c.to_digit(10) else {
            return false;
        };
        if i % 2 == 1 {
            d *= 2;
            if d > 9 {
                d -= 9;
            }
        }
        sum += d;
    }
    sum % 10 == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn card_numbers_are_redacted_in_any_spacing() {
        assert_eq!(
            redact("my card is 4111 1111 1111 1111 thanks"),
            "my card is [card number] thanks"
        );
        assert_eq!(redact("4111-1111-1111-1111"), "[card number]");
        assert_eq!(redact("5500005555555559"), "[card number]");
    }

    #[test]
    fn numbers_that_fail_luhn_are_left_alone() {
        // An order number of card-like length that is not a card.
        assert_eq!(redact("order 1234567890123456"), "order 1234567890123456");
        assert_eq!(redact("order TH-48213"), "order TH-48213");
    }

    #[test]
    fn ssn_iban_and_security_codes_are_redacted() {
        assert_eq!(redact("ssn 078-05-1120"), "ssn [ssn]");
        assert_eq!(redact("IBAN DE89 3704 0044 0532 0130 00"), "IBAN [iban]");
        assert_eq!(redact("cvv is 123"), "cvv [security code]");
    }

    #[test]
    fn the_ways_people_actually_type_them_are_redacted_too() {
        assert_eq!(redact("card 4111.1111.1111.1111"), "card [card number]");
        assert_eq!(redact("ssn 078 05 1120"), "ssn [ssn]");
        assert_eq!(redact("my ssn is 078051120"), "my ssn is [ssn]");
        assert_eq!(
            redact("Social Security: 078051120"),
            "Social Security: [ssn]"
        );
        assert_eq!(
            redact("カード ４１１１ １１１１ １１１１ １１１１"),
            "カード [card number]"
        );
        assert_eq!(redact("ssn ０７８-０５-１１２０"), "ssn [ssn]");
        // Nine digits without words naming an SSN are an order or a tracking number.
        assert_eq!(redact("order 123456789"), "order 123456789");
        assert_eq!(redact("call 303.555.0199"), "call 303.555.0199");
    }

    #[test]
    fn ordinary_text_is_borrowed_unchanged() {
        assert!(matches!(redact("where is my order?"), Cow::Borrowed(_)));
    }

    #[test]
    fn a_person_is_redacted_by_number_address_and_name() {
        let names = vec!["Dana Whitfield".to_string(), "ana".to_string()];
        assert_eq!(
            redact_person("Hi Dana, call me on (303) 555-0199 or +13035550199", &names),
            "Hi [name], call me on [phone] or [phone]"
        );
        assert_eq!(
            redact_person("mail dana.w@example.com, card 4111 1111 1111 1111", &[]),
            "mail [email], card [card number]"
        );
        assert_eq!(
            redact_person("my name is Priya Raman and order 48213 is late", &[]),
            "my name is [name] and order 48213 is late"
        );
        assert_eq!(
            redact_person("Yes, dogs are welcome! - Ana", &names),
            "Yes, dogs are welcome! - [name]"
        );
        assert_eq!(
            redact_person("Thanks Marco! this is great, hi there", &[]),
            "Thanks [name]! this is great, hi there"
        );
    }
}
