//! Phone numbers in E.164 form (`+` then 8–15 digits, no leading zero).
//!
//! A [`PhoneNumber`] can only be built by [`PhoneNumber::parse`], so every number past
//! the webhook edge is known to be well-formed. Logs never see a full number: use
//! [`PhoneNumber::masked`] (or the `Display` impl, which masks too).

use std::fmt;

/// A validated E.164 phone number such as `+15555550123`.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct PhoneNumber(String);

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum PhoneError {
    #[error("phone number is empty")]
    Empty,
    #[error("phone number must start with '+' and a country code (E.164), e.g. +15555550123")]
    MissingPlus,
    #[error("phone number may contain only digits after the '+'")]
    NonDigit,
    #[error("phone number must have 8 to 15 digits after the '+', found {0}")]
    Length(usize),
    #[error("a country code never starts with 0")]
    LeadingZero,
}

impl PhoneNumber {
    /// Parses an E.164 number. Spaces, dashes, dots and parentheses that people type
    /// are tolerated and dropped; anything else is an error.
    pub fn parse(raw: &str) -> Result<Self, PhoneError> {
        let trimmed = raw.trim();
        if trimmed.is_empty() {
            return Err(PhoneError::Empty);
        }
        let rest = trimmed.strip_prefix('+').ok_or(PhoneError::MissingPlus)?;
        let mut digits = String::with_capacity(rest.len() + 1);
        digits.push('+');
        for c in rest.chars() {
            match c {
                '0'..='9' => digits.push(c),
                ' ' | '-' | '.' | '(' | ')' => {}
                _ => return Err(PhoneError::NonDigit),
            }
        }
        let count = digits.len() - 1;
        if !(8..=15).contains(&count) {
            return Err(PhoneError::Length(count));
        }
        if digits.as_bytes()[1] == b'0' {
            return Err(PhoneError::LeadingZero);
        }
        Ok(Self(digits))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The number with its middle hidden, safe for logs: `+1555***0123`.
    pub fn masked(&self) -> String {
        mask(&self.0)
    }
}

/// Masks any phone-like string for logging, keeping the first five and last four
/// characters when the string is long enough to hide something.
pub fn mask(raw: &str) -> String {
    let chars: Vec<char> = raw.chars().collect();
    if chars.len() <= 9 {
        return "***".to_string();
    }
    let head: String = chars[..5].iter().collect();
    let tail: String = chars[chars.len() - 4..].iter().collect();
    format!("{head}***{tail}")
}

impl fmt::Display for PhoneNumber {
    /// Masked on purpose: a number formatted into a log line must not leak.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.masked())
    }
}

impl fmt::Debug for PhoneNumber {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "PhoneNumber({})", self.masked())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_e164_and_drops_typed_punctuation() {
        assert_eq!(
            PhoneNumber::parse("+1 (555) 555-0123").unwrap().as_str(),
            "+15555550123"
        );
        assert_eq!(
            PhoneNumber::parse("+447700900123").unwrap().as_str(),
            "+447700900123"
        );
    }

    #[test]
    fn rejects_what_is_not_e164() {
        assert_eq!(PhoneNumber::parse(""), Err(PhoneError::Empty));
        assert_eq!(
            PhoneNumber::parse("5555550123"),
            Err(PhoneError::MissingPlus)
        );
        assert_eq!(
            PhoneNumber::parse("+1555abc0123"),
            Err(PhoneError::NonDigit)
        );
        assert_eq!(PhoneNumber::parse("+1234"), Err(PhoneError::Length(4)));
        assert_eq!(
            PhoneNumber::parse("+0123456789"),
            Err(PhoneError::LeadingZero)
        );
    }

    #[test]
    fn display_and_debug_mask_the_number() {
        let n = PhoneNumber::parse("+15555550123").unwrap();
        assert_eq!(n.to_string(), "+1555***0123");
        assert!(!format!("{n:?}").contains("5550123"));
    }
}
