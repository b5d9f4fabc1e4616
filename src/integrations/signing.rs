//! The `X-Textdesk-Signature` header: `t=<unix seconds>,v1=<hex HMAC-SHA256>`, keyed
//! with the endpoint's secret, over `"<t>.<body>"` (the Stripe scheme, so receivers
//! may already have code for it). The timestamp is signed too, so a captured request
//! cannot be replayed later than the receiver's tolerance.
//!
//! [`verify`] is what a receiver runs; it is small on purpose, to be copied.

use std::time::Duration;

use hmac::{Hmac, Mac};
use sha2::Sha256;

type HmacSha256 = Hmac<Sha256>;

/// The header's value for `body` sent at `timestamp` (Unix seconds).
pub fn sign(secret: &str, timestamp: i64, body: &[u8]) -> String {
    format!(
        "t={timestamp},v1={}",
        hex(&mac(secret, timestamp, body).finalize().into_bytes())
    )
}

/// Why a signature was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum VerifyError {
    #[error("the signature header is not `t=<seconds>,v1=<hex>`")]
    Malformed,
    #[error("the signature is {age_secs} s from now, outside the tolerance")]
    Stale { age_secs: i64 },
    #[error("no v1 signature matches the body")]
    Mismatch,
}

/// Checks an `X-Textdesk-Signature` header against the raw request body: the
/// timestamp must be within `tolerance` of `now` (Unix seconds) and one `v1` value
/// must be the HMAC of `"<t>.<body>"`, compared in constant time. Several `v1`
/// values may appear (one per secret while a secret is being rotated).
pub fn verify(
    secret: &str,
    header: &str,
    body: &[u8],
    now: i64,
    tolerance: Duration,
) -> Result<(), VerifyError> {
    let mut timestamp = None;
    let mut signatures = Vec::new();
    for part in header.split(',') {
        match part.trim().split_once('=') {
            Some(("t", t)) => {
                timestamp = Some(t.parse::<i64>().map_err(|_| VerifyError::Malformed)?)
            }
            Some(("v1", v)) => signatures.push(unhex(v).ok_or(VerifyError::Malformed)?),
            _ => {}
        }
    }
    let timestamp = timestamp.ok_or(VerifyError::Malformed)?;
    if signatures.is_empty() {
        return Err(VerifyError::Malformed);
    }
    let age_secs = now - timestamp;
    if age_secs.unsigned_abs() > tolerance.as_secs() {
        return Err(VerifyError::Stale { age_secs });
    }
    let matches = signatures
        .iter()
        .any(|sig| mac(secret, timestamp, body).verify_slice(sig).is_ok());
    if matches {
        Ok(())
    } else {
        Err(VerifyError::Mismatch)
    }
}

fn mac(secret: &str, timestamp: i64, body: &[u8]) -> HmacSha256 {
    // HMAC takes keys of any length; `new_from_slice` cannot fail for it.
    let mut mac = HmacSha256::new_from_slice(secret.as_bytes())
        .unwrap_or_else(|_| unreachable!("HMAC accepts any key length"));
    mac.update(timestamp.to_string().as_bytes());
    mac.update(b".");
    mac.update(body);
    mac
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn unhex(text: &str) -> Option<Vec<u8>> {
    if !text.len().is_multiple_of(2) {
        return None;
    }
    (0..text.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(text.get(i..i + 2)?, 16).ok())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECRET: &str = "whsec_test";
    const BODY: &[u8] = br#"{"type":"test"}"#;
    const TOLERANCE: Duration = Duration::from_secs(300);

    #[test]
    fn signs_a_known_vector() {
        // printf '%s' '1700000000.{"type":"test"}' | openssl dgst -sha256 -hmac whsec_test
        assert_eq!(
            sign(SECRET, 1_700_000_000, BODY),
            "t=1700000000,v1=5f32b1f20af8adf84aaaa8ffc92da0441bf4c05562faa71f5c27352c22b106a8"
        );
    }

    #[test]
    fn verifies_its_own_signature_within_the_tolerance() {
        let header = sign(SECRET, 1_700_000_000, BODY);
        assert_eq!(
            verify(SECRET, &header, BODY, 1_700_000_100, TOLERANCE),
            Ok(())
        );
        assert_eq!(
            verify(SECRET, &header, BODY, 1_700_000_400, TOLERANCE),
            Err(VerifyError::Stale { age_secs: 400 })
        );
    }

    #[test]
    fn refuses_another_body_secret_or_timestamp() {
        let header = sign(SECRET, 1_700_000_000, BODY);
        let now = 1_700_000_000;
        assert_eq!(
            verify(SECRET, &header, br#"{"type":"tampered"}"#, now, TOLERANCE),
            Err(VerifyError::Mismatch)
        );
        assert_eq!(
            verify("other", &header, BODY, now, TOLERANCE),
            Err(VerifyError::Mismatch)
        );
        let moved = header.replace("t=1700000000", "t=1700000001");
        assert_eq!(
            verify(SECRET, &moved, BODY, now, TOLERANCE),
            Err(VerifyError::Mismatch)
        );
    }

    #[test]
    fn accepts_any_of_several_signatures_and_refuses_garbage() {
        let good = sign(SECRET, 1_700_000_000, BODY);
        let v1 = good.split_once(",v1=").unwrap().1;
        let rotated = format!("t=1700000000,v1={},v1={v1}", "00".repeat(32));
        assert_eq!(
            verify(SECRET, &rotated, BODY, 1_700_000_000, TOLERANCE),
            Ok(())
        );
        for bad in [
            "",
            "t=abc,v1=00",
            "v1=00",
            "t=1700000000",
            "t=1700000000,v1=zz",
        ] {
            assert_eq!(
                verify(SECRET, bad, BODY, 1_700_000_000, TOLERANCE),
                Err(VerifyError::Malformed),
                "{bad:?}"
            );
        }
    }
}
