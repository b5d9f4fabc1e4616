//! Redaction of personal data before any text leaves for an LLM.
//!
//! Card numbers (13–19 digits, spaces or dashes allowed, Luhn-checked so order numbers
//! survive), US social security numbers, IBANs and CVV-looking codes after "cvv"/"cvc"
//! are replaced with a placeholder that says what was there, so the model can still
//! reason ("the customer gave a card number") without seeing it.

use std::borrow::Cow;
use std::sync::LazyLock;

use regex::Regex;

static CARD: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"\b(?:\d[ -]?){12,18}\d\b").expect("static regex"));
static SSN: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"\b\d{3}-\d{2}-\d{4}\b").expect("static regex"));
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
    let mut out: Cow<'_, str> = Cow::Borrowed(text);
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
    fn ordinary_text_is_borrowed_unchanged() {
        assert!(matches!(redact("where is my order?"), Cow::Borrowed(_)));
    }
}
