//! Reading a slot's value out of what a customer texted: "it's #48213", "my email is
//! Sam@Example.com", "80302". Each kind knows its own shape, so a text that does not
//! contain the value ("i don't have it") is told apart from one that does.

use std::sync::LazyLock;

use regex::Regex;

#[derive(Debug, Clone)]
pub enum SlotKind {
    /// Letters and digits with at least four digits: "#48213", "TH-4821937".
    OrderNumber,
    Email,
    /// A phone number, read as E.164 ("+13035550123").
    Phone,
    /// A US ZIP code: "80302" or "80302-1234".
    Zip,
    /// A day, read relative to the business's today, as YYYY-MM-DD.
    Date,
    /// Any non-empty text, trimmed.
    Text,
    /// The operator's own shape (`pattern`): the first match, or its first group.
    Pattern(Regex),
}

impl PartialEq for SlotKind {
    fn eq(&self, other: &Self) -> bool {
        match (self, other) {
            (Self::Pattern(a), Self::Pattern(b)) => a.as_str() == b.as_str(),
            _ => std::mem::discriminant(self) == std::mem::discriminant(other),
        }
    }
}

const KINDS: &str = "order_number, email, phone, zip, date or text";

impl SlotKind {
    /// The kind named in a file; a `pattern` replaces the kind's own reader.
    pub fn parse(name: &str, pattern: Option<Regex>) -> Result<Self, String> {
        let kind = match name.trim() {
            "order_number" => Self::OrderNumber,
            "email" => Self::Email,
            "phone" => Self::Phone,
            "zip" => Self::Zip,
            "date" => Self::Date,
            "text" => Self::Text,
            other => return Err(format!("unknown slot kind {other:?} (use {KINDS})")),
        };
        Ok(match pattern {
            Some(p) => Self::Pattern(p),
            None => kind,
        })
    }

    /// What the customer is asked for, in the default re-ask.
    pub fn noun(&self) -> &'static str {
        match self {
            Self::OrderNumber => "the order number",
            Self::Email => "an e-mail address",
            Self::Phone => "a phone number",
            Self::Zip => "a ZIP code",
            Self::Date => "a date",
            Self::Text | Self::Pattern(_) => "that",
        }
    }

    /// The value in `text`, normalised, or `None` when the text does not hold one.
    pub fn extract(&self, text: &str, today: jiff::civil::Date) -> Option<String> {
        match self {
            Self::OrderNumber => order_number(text),
            Self::Email => crate::flows::answer::email(text),
            Self::Phone => phone(text),
            Self::Zip => ZIP.captures(text).map(|c| c[1].to_string()),
            Self::Date => crate::flows::when::date(text, today).map(|d| d.to_string()),
            Self::Text => Some(text.trim().to_string()).filter(|t| !t.is_empty()),
            Self::Pattern(re) => re.captures(text).map(|c| {
                c.get(1)
                    .or_else(|| c.get(0))
                    .map(|m| m.as_str().to_string())
                    .unwrap_or_default()
            }),
        }
    }
}

static ORDER: LazyLock<Regex> = LazyLock::new(|| {
    // A run of letters, digits and dashes holding 4+ digits, maybe after '#'. Phone
    // numbers and ZIP codes are told apart by the callers' context, not here.
    Regex::new(r"(?i)(?:^|[^a-z0-9])#?\s?([a-z]{0,4}-?\d[\d-]{2,14}\d)(?:$|[^a-z0-9])").unwrap()
});
static ZIP: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"(?:^|\D)(\d{5}(?:-\d{4})?)(?:$|\D)").unwrap());
static PHONE: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"\+?\(?\d[\d\s().-]{8,16}\d").unwrap());

fn order_number(text: &str) -> Option<String> {
    ORDER
        .captures_iter(text)
        .map(|c| c[1].to_string())
        .find(|v| v.chars().filter(char::is_ascii_digit).count() >= 4)
        .map(|v| v.to_uppercase())
}

/// A phone number as E.164. Without a leading +, ten digits (or eleven starting with
/// 1) are read as a North American number, the demo's market.
fn phone(text: &str) -> Option<String> {
    PHONE.find_iter(text).find_map(|m| {
        let raw = m.as_str();
        let digits: String = raw.chars().filter(char::is_ascii_digit).collect();
        let e164 = if raw.starts_with('+') {
            format!("+{digits}")
        } else if digits.len() == 10 {
            format!("+1{digits}")
        } else if digits.len() == 11 && digits.starts_with('1') {
            format!("+{digits}")
        } else {
            return None;
        };
        crate::sms::phone::PhoneNumber::parse(&e164)
            .ok()
            .map(|p| p.as_str().to_string())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn today() -> jiff::civil::Date {
        jiff::civil::date(2027, 1, 12)
    }

    fn read(kind: SlotKind, text: &str) -> Option<String> {
        kind.extract(text, today())
    }

    #[test]
    fn order_numbers_in_the_ways_people_write_them() {
        for (text, want) in [
            ("#12345", "12345"),
            ("its # 48213", "48213"),
            ("order TH-4821937 pls", "TH-4821937"),
            ("where is my order #48213?", "48213"),
            ("12345.", "12345"),
        ] {
            assert_eq!(
                read(SlotKind::OrderNumber, text).as_deref(),
                Some(want),
                "{text}"
            );
        }
        for text in [
            "i don't have it",
            "order 12",
            "it was supposed to arrive monday",
            "hello??",
        ] {
            assert_eq!(read(SlotKind::OrderNumber, text), None, "{text}");
        }
    }

    #[test]
    fn emails_phones_zips_and_dates() {
        assert_eq!(
            read(SlotKind::Email, "it's Sam@Example.com thanks").as_deref(),
            Some("sam@example.com")
        );
        assert_eq!(
            read(SlotKind::Phone, "call me at (303) 555-0123").as_deref(),
            Some("+13035550123")
        );
        assert_eq!(
            read(SlotKind::Zip, "zip is 80302").as_deref(),
            Some("80302")
        );
        assert_eq!(read(SlotKind::Zip, "order 1234567"), None);
        assert_eq!(
            read(SlotKind::Date, "tomorrow").as_deref(),
            Some("2027-01-13")
        );
        assert_eq!(read(SlotKind::Text, "  "), None);
    }

    #[test]
    fn a_pattern_takes_its_first_group() {
        let kind = SlotKind::parse("text", Some(Regex::new(r"(?i)\b(R\d{6})\b").unwrap())).unwrap();
        assert_eq!(
            read(kind.clone(), "return r123456 please").as_deref(),
            Some("r123456")
        );
        assert_eq!(read(kind, "return 123456"), None);
    }
}
