//! Twilio's `X-Twilio-Signature` request signing, for webhooks posted as a form.
//!
//! The signed string is the full URL Twilio requested (public scheme, host, path and
//! query string exactly as configured in the console — not what a proxy forwarded),
//! followed by every POST parameter sorted by name (then by value for repeated names),
//! each written as name immediately followed by value. The signature is the standard
//! base64 of HMAC-SHA1 over that string, keyed with the account's auth token.
//!
//! This module never logs: the token and the parameters are secrets and message text.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use hmac::{Hmac, Mac};
use sha1::Sha1;

type HmacSha1 = Hmac<Sha1>;

fn mac_for(auth_token: &str, url: &str, params: &[(String, String)]) -> HmacSha1 {
    // HMAC accepts keys of any length, so this cannot fail.
    let mut mac = HmacSha1::new_from_slice(auth_token.as_bytes())
        .unwrap_or_else(|_| unreachable!("HMAC takes keys of any length"));
    mac.update(url.as_bytes());
    let mut sorted: Vec<&(String, String)> = params.iter().collect();
    sorted.sort();
    for (name, value) in sorted {
        mac.update(name.as_bytes());
        mac.update(value.as_bytes());
    }
    mac
}

/// The signature Twilio would send for this request, base64 with padding.
pub fn compute_signature(auth_token: &str, url: &str, params: &[(String, String)]) -> String {
    STANDARD.encode(mac_for(auth_token, url, params).finalize().into_bytes())
}

/// Whether `header` (the `X-Twilio-Signature` value) matches this request. The
/// comparison of the MAC is constant-time; a header that is not base64 is a mismatch.
pub fn verify_signature(
    auth_token: &str,
    url: &str,
    params: &[(String, String)],
    header: &str,
) -> bool {
    let Ok(expected) = STANDARD.decode(header.trim()) else {
        return false;
    };
    mac_for(auth_token, url, params)
        .verify_slice(&expected)
        .is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    const TOKEN: &str = "12345";
    const URL: &str = "https://mycompany.com/myapp.php?foo=1&bar=2";

    /// Twilio's documented example, deliberately given out of order.
    fn params() -> Vec<(String, String)> {
        [
            ("Digits", "1234"),
            ("To", "+18005551212"),
            ("From", "+12349013030"),
            ("Caller", "+12349013030"),
            ("CallSid", "CA1234567890ABCDE"),
        ]
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
    }

    #[test]
    fn matches_twilios_documented_example() {
        assert_eq!(
            compute_signature(TOKEN, URL, &params()),
            "0/KCTR6DLpKmkAf8muzZqo1nDgQ="
        );
        assert!(verify_signature(
            TOKEN,
            URL,
            &params(),
            "0/KCTR6DLpKmkAf8muzZqo1nDgQ="
        ));
    }

    #[test]
    fn rejects_a_wrong_signature() {
        let good = compute_signature(TOKEN, URL, &params());
        assert!(!verify_signature(
            TOKEN,
            URL,
            &params(),
            "1/KCTR6DLpKmkAf8muzZqo1nDgQ="
        ));
        assert!(!verify_signature("54321", URL, &params(), &good));
        assert!(!verify_signature(
            TOKEN,
            "https://mycompany.com/myapp.php",
            &params(),
            &good
        ));
        assert!(!verify_signature(TOKEN, URL, &params(), "not base64!"));
        assert!(!verify_signature(TOKEN, URL, &params(), ""));
        let mut tampered = params();
        tampered[0].1 = "9999".into();
        assert!(!verify_signature(TOKEN, URL, &tampered, &good));
    }

    #[test]
    fn repeated_names_are_sorted_by_value() {
        let a = vec![
            ("M".to_string(), "b".to_string()),
            ("M".to_string(), "a".to_string()),
        ];
        let b = vec![
            ("M".to_string(), "a".to_string()),
            ("M".to_string(), "b".to_string()),
        ];
        assert_eq!(
            compute_signature(TOKEN, URL, &a),
            compute_signature(TOKEN, URL, &b)
        );
    }
}
