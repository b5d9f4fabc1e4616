//! An inbound text as Twilio's messaging webhook describes it.
//!
//! [`InboundSms::from_params`] is the only way in: past it, the sender is a valid
//! E.164 [`PhoneNumber`] and the body/media combination makes sense. Errors read as
//! the reason in a 400 response, e.g. `missing field "From"`.

use super::param;
use crate::sms::PhoneNumber;
use crate::sms::phone::PhoneError;

/// One attachment on an MMS.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Media {
    pub url: String,
    pub content_type: Option<String>,
}

/// A text (or MMS) a customer sent to one of our numbers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InboundSms {
    /// Twilio's `SM…`/`MM…` sid; the idempotency key for webhook retries.
    pub message_sid: String,
    pub account_sid: Option<String>,
    pub from: PhoneNumber,
    /// Our number (or a short code / messaging channel address), kept as sent.
    pub to: String,
    /// The text; empty only when the message carries media.
    pub body: String,
    pub media: Vec<Media>,
}

/// Why a webhook's parameters do not describe an inbound text.
#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub enum InboundError {
    #[error("missing field {0:?}")]
    Missing(&'static str),
    #[error("{field:?} is not an E.164 phone number: {reason}")]
    BadPhone {
        field: &'static str,
        reason: PhoneError,
    },
    #[error("{field:?} is not a whole number: {value:?}")]
    BadNumber { field: &'static str, value: String },
    #[error("\"NumMedia\" is {num_media} but field {field:?} is missing")]
    MissingMedia { num_media: usize, field: String },
}

/// More attachments than this is not a real MMS; refuse rather than loop on it.
const MAX_MEDIA: usize = 100;

impl InboundSms {
    pub fn from_params(params: &[(String, String)]) -> Result<Self, InboundError> {
        let message_sid = param(params, "MessageSid")
            .or_else(|| param(params, "SmsMessageSid"))
            .filter(|s| !s.is_empty())
            .ok_or(InboundError::Missing("MessageSid"))?
            .to_string();
        let account_sid = param(params, "AccountSid").map(str::to_string);
        let from = param(params, "From").ok_or(InboundError::Missing("From"))?;
        let from = PhoneNumber::parse(from).map_err(|reason| InboundError::BadPhone {
            field: "From",
            reason,
        })?;
        let to = param(params, "To")
            .ok_or(InboundError::Missing("To"))?
            .to_string();

        let num_media = match param(params, "NumMedia") {
            None => 0,
            Some(raw) => raw
                .trim()
                .parse::<usize>()
                .ok()
                .filter(|n| *n <= MAX_MEDIA)
                .ok_or_else(|| InboundError::BadNumber {
                    field: "NumMedia",
                    value: raw.to_string(),
                })?,
        };
        let mut media = Vec::with_capacity(num_media);
        for i in 0..num_media {
            let url_field = format!("MediaUrl{i}");
            let url = param(params, &url_field)
                .ok_or(InboundError::MissingMedia {
                    num_media,
                    field: url_field,
                })?
                .to_string();
            let content_type = param(params, &format!("MediaContentType{i}")).map(str::to_string);
            media.push(Media { url, content_type });
        }

        let body = match param(params, "Body") {
            Some(b) if !b.is_empty() || num_media > 0 => b.to_string(),
            None if num_media > 0 => String::new(),
            _ => return Err(InboundError::Missing("Body")),
        };

        Ok(Self {
            message_sid,
            account_sid,
            from,
            to,
            body,
            media,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn params(v: &[(&str, &str)]) -> Vec<(String, String)> {
        v.iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    fn text(body: &str) -> Vec<(String, String)> {
        params(&[
            ("MessageSid", "SM0123456789abcdef0123456789abcdef"),
            ("AccountSid", "AC0123456789abcdef0123456789abcdef"),
            ("From", "+15555550123"),
            ("To", "+15555550199"),
            ("Body", body),
            ("NumMedia", "0"),
        ])
    }

    fn without(mut p: Vec<(String, String)>, name: &str) -> Vec<(String, String)> {
        p.retain(|(k, _)| k != name);
        p
    }

    #[test]
    fn parses_a_plain_text() {
        let sms = InboundSms::from_params(&text("Where is my order?")).unwrap();
        assert_eq!(sms.message_sid, "SM0123456789abcdef0123456789abcdef");
        assert_eq!(
            sms.account_sid.as_deref(),
            Some("AC0123456789abcdef0123456789abcdef")
        );
        assert_eq!(sms.from.as_str(), "+15555550123");
        assert_eq!(sms.to, "+15555550199");
        assert_eq!(sms.body, "Where is my order?");
        assert!(sms.media.is_empty());
    }

    #[test]
    fn accepts_the_legacy_sms_message_sid() {
        let mut p = without(text("hi"), "MessageSid");
        p.push(("SmsMessageSid".into(), "SMlegacy".into()));
        assert_eq!(InboundSms::from_params(&p).unwrap().message_sid, "SMlegacy");
        let err = InboundSms::from_params(&without(text("hi"), "MessageSid")).unwrap_err();
        assert_eq!(err.to_string(), "missing field \"MessageSid\"");
    }

    #[test]
    fn missing_from_is_named() {
        let err = InboundSms::from_params(&without(text("hi"), "From")).unwrap_err();
        assert_eq!(err, InboundError::Missing("From"));
        assert_eq!(err.to_string(), "missing field \"From\"");
    }

    #[test]
    fn bad_from_says_why() {
        let mut p = text("hi");
        p[2].1 = "5555550123".into();
        let err = InboundSms::from_params(&p).unwrap_err();
        assert_eq!(
            err,
            InboundError::BadPhone {
                field: "From",
                reason: PhoneError::MissingPlus
            }
        );
        let msg = err.to_string();
        assert!(
            msg.starts_with("\"From\" is not an E.164 phone number: "),
            "{msg}"
        );
        assert!(msg.contains("must start with '+'"), "{msg}");
    }

    #[test]
    fn body_is_required_without_media() {
        let err = InboundSms::from_params(&without(text("hi"), "Body")).unwrap_err();
        assert_eq!(err.to_string(), "missing field \"Body\"");
        let err = InboundSms::from_params(&text("")).unwrap_err();
        assert_eq!(err, InboundError::Missing("Body"));
    }

    #[test]
    fn media_only_message_may_have_an_empty_body() {
        let mut p = text("");
        p.retain(|(k, _)| k != "NumMedia");
        p.extend(params(&[
            ("NumMedia", "2"),
            ("MediaUrl0", "https://api.twilio.com/media/ME0"),
            ("MediaContentType0", "image/jpeg"),
            ("MediaUrl1", "https://api.twilio.com/media/ME1"),
        ]));
        let sms = InboundSms::from_params(&p).unwrap();
        assert_eq!(sms.body, "");
        assert_eq!(
            sms.media,
            vec![
                Media {
                    url: "https://api.twilio.com/media/ME0".into(),
                    content_type: Some("image/jpeg".into()),
                },
                Media {
                    url: "https://api.twilio.com/media/ME1".into(),
                    content_type: None
                },
            ]
        );
    }

    #[test]
    fn bad_or_inconsistent_num_media_is_rejected() {
        let mut p = text("hi");
        p[5].1 = "two".into();
        let err = InboundSms::from_params(&p).unwrap_err();
        assert_eq!(
            err.to_string(),
            "\"NumMedia\" is not a whole number: \"two\""
        );
        p[5].1 = "-1".into();
        assert!(matches!(
            InboundSms::from_params(&p),
            Err(InboundError::BadNumber { .. })
        ));
        p[5].1 = "1".into();
        let err = InboundSms::from_params(&p).unwrap_err();
        assert_eq!(
            err.to_string(),
            "\"NumMedia\" is 1 but field \"MediaUrl0\" is missing"
        );
    }
}
