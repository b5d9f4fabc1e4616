//! `application/x-www-form-urlencoded` bodies, decoded strictly.
//!
//! Twilio posts its webhooks as a form. We decode it ourselves rather than through a
//! lenient parser so that a malformed escape or non-UTF-8 text is reported (naming the
//! field) instead of silently replaced: the decoded text is the customer's message and
//! the signature check needs the exact values. Order and duplicates are kept.

/// Why a form body could not be decoded.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FormError {
    /// A `%` escape is not followed by two hex digits.
    #[error("malformed form body in field {field:?}: {reason}")]
    Malformed { field: String, reason: String },
    /// The percent-decoded bytes of a name or value are not UTF-8.
    #[error("field {field:?} is not valid UTF-8 once percent-decoded")]
    InvalidUtf8 { field: String },
}

/// Parses a form body into `(name, value)` pairs in the order they appear.
///
/// Pairs are separated by `&`; the first `=` splits name from value (a pair without
/// `=` has an empty value); `+` is a space; `%XX` is the byte `0xXX`. Empty pairs
/// (`a=1&&b=2`, a trailing `&`) are skipped.
pub fn parse_form(body: &[u8]) -> Result<Vec<(String, String)>, FormError> {
    let mut out = Vec::new();
    for pair in body.split(|&b| b == b'&') {
        if pair.is_empty() {
            continue;
        }
        let (raw_name, raw_value) = match pair.iter().position(|&b| b == b'=') {
            Some(i) => (&pair[..i], &pair[i + 1..]),
            None => (pair, &pair[pair.len()..]),
        };
        // Until the name is decoded, errors name the field by its raw (lossy) bytes.
        let raw_label = || String::from_utf8_lossy(raw_name).into_owned();
        let name_bytes = decode(raw_name).map_err(|reason| FormError::Malformed {
            field: raw_label(),
            reason: format!("{reason} in the field name"),
        })?;
        let name = String::from_utf8(name_bytes)
            .map_err(|_| FormError::InvalidUtf8 { field: raw_label() })?;
        let value_bytes = decode(raw_value).map_err(|reason| FormError::Malformed {
            field: name.clone(),
            reason,
        })?;
        let value = String::from_utf8(value_bytes).map_err(|_| FormError::InvalidUtf8 {
            field: name.clone(),
        })?;
        out.push((name, value));
    }
    Ok(out)
}

/// Decodes `+` and `%XX` in one name or value; the error is a reason for the user.
fn decode(raw: &[u8]) -> Result<Vec<u8>, String> {
    let mut out = Vec::with_capacity(raw.len());
    let mut i = 0;
    while i < raw.len() {
        match raw[i] {
            b'+' => {
                out.push(b' ');
                i += 1;
            }
            b'%' => {
                let hex = raw.get(i + 1..i + 3).ok_or_else(|| {
                    let rest = String::from_utf8_lossy(&raw[i..]);
                    format!("truncated percent escape {rest:?} (expected % and two hex digits)")
                })?;
                match (hex_val(hex[0]), hex_val(hex[1])) {
                    (Some(hi), Some(lo)) => out.push(hi << 4 | lo),
                    _ => {
                        let esc = String::from_utf8_lossy(&raw[i..i + 3]);
                        return Err(format!(
                            "invalid percent escape {esc:?} (expected % and two hex digits)"
                        ));
                    }
                }
                i += 3;
            }
            b => {
                out.push(b);
                i += 1;
            }
        }
    }
    Ok(out)
}

fn hex_val(b: u8) -> Option<u8> {
    match b {
        b'0'..=b'9' => Some(b - b'0'),
        b'a'..=b'f' => Some(b - b'a' + 10),
        b'A'..=b'F' => Some(b - b'A' + 10),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pairs(v: &[(&str, &str)]) -> Vec<(String, String)> {
        v.iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn plus_is_a_space_and_percent_escapes_decode() {
        let got = parse_form(b"Body=Hello+there%21+%F0%9F%91%8B&From=%2B15555550123").unwrap();
        assert_eq!(
            got,
            pairs(&[("Body", "Hello there! 👋"), ("From", "+15555550123")])
        );
    }

    #[test]
    fn escaped_plus_stays_a_plus_and_lowercase_hex_works() {
        let got = parse_form(b"a=%2b%2B+").unwrap();
        assert_eq!(got, pairs(&[("a", "++ ")]));
    }

    #[test]
    fn keeps_order_duplicates_empty_values_and_extra_equals() {
        let got = parse_form(b"b=2&a=1&b=3&Body=&flag&&x=a=b&").unwrap();
        assert_eq!(
            got,
            pairs(&[
                ("b", "2"),
                ("a", "1"),
                ("b", "3"),
                ("Body", ""),
                ("flag", ""),
                ("x", "a=b")
            ])
        );
    }

    #[test]
    fn empty_body_is_no_fields() {
        assert_eq!(parse_form(b"").unwrap(), Vec::new());
    }

    #[test]
    fn invalid_utf8_names_the_field() {
        let err = parse_form(b"From=%2B15555550123&Body=caf%E9").unwrap_err();
        assert_eq!(
            err,
            FormError::InvalidUtf8 {
                field: "Body".into()
            }
        );
        assert!(err.to_string().contains("\"Body\""));
    }

    #[test]
    fn malformed_escape_is_rejected_with_a_reason() {
        let err = parse_form(b"Body=%G1").unwrap_err();
        match &err {
            FormError::Malformed { field, reason } => {
                assert_eq!(field, "Body");
                assert!(
                    reason.contains("invalid percent escape \"%G1\""),
                    "{reason}"
                );
            }
            other => panic!("expected Malformed, got {other:?}"),
        }
    }

    #[test]
    fn truncated_escape_is_rejected_with_a_reason() {
        let err = parse_form(b"Body=abc%4").unwrap_err();
        match &err {
            FormError::Malformed { field, reason } => {
                assert_eq!(field, "Body");
                assert!(
                    reason.contains("truncated percent escape \"%4\""),
                    "{reason}"
                );
            }
            other => panic!("expected Malformed, got {other:?}"),
        }
        assert!(matches!(
            parse_form(b"Bo%=1"),
            Err(FormError::Malformed { .. })
        ));
    }
}
