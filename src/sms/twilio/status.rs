//! Delivery status callbacks: Twilio telling us what happened to a text we sent.
//!
//! Callbacks can arrive late and out of order, so each [`DeliveryStatus`] has a
//! [`rank`](DeliveryStatus::rank); the store only moves a message to a status of
//! higher rank, which keeps a late `sent` from overwriting `delivered`.

use std::fmt;
use std::str::FromStr;

use super::param;

/// A message's delivery status, in Twilio's vocabulary.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DeliveryStatus {
    /// Scheduled for later sending through a messaging service.
    Scheduled,
    /// Accepted by a messaging service, which has not yet picked a sender.
    Accepted,
    Queued,
    Sending,
    /// Handed to the carrier.
    Sent,
    /// The carrier says the handset received it (terminal).
    Delivered,
    /// The recipient read it (RCS/WhatsApp; terminal, beyond delivered).
    Read,
    /// The carrier could not deliver it (terminal).
    Undelivered,
    /// Twilio could not send it at all (terminal).
    Failed,
    /// A scheduled message was canceled before sending (terminal).
    Canceled,
}

impl DeliveryStatus {
    /// Twilio's lowercase name, e.g. `"delivered"`.
    pub fn as_str(&self) -> &'static str {
        match self {
            Self::Scheduled => "scheduled",
            Self::Accepted => "accepted",
            Self::Queued => "queued",
            Self::Sending => "sending",
            Self::Sent => "sent",
            Self::Delivered => "delivered",
            Self::Read => "read",
            Self::Undelivered => "undelivered",
            Self::Failed => "failed",
            Self::Canceled => "canceled",
        }
    }

    /// How far along the message is; a stored status is only replaced by one of
    /// strictly higher rank.
    ///
    /// Order: `scheduled` 0 < `accepted` 1 < `queued` 2 < `sending` 3 < `sent` 4 <
    /// the terminal outcomes `undelivered` = `failed` = `canceled` 5 < `delivered` 6
    /// < `read` 7.
    ///
    /// Failure outcomes share a rank so the first one recorded stands. `delivered`
    /// outranks them because a carrier can report a temporary `undelivered` and then
    /// deliver on its own retry; a confirmed delivery is the stronger fact.
    pub fn rank(&self) -> u8 {
        match self {
            Self::Scheduled => 0,
            Self::Accepted => 1,
            Self::Queued => 2,
            Self::Sending => 3,
            Self::Sent => 4,
            Self::Undelivered | Self::Failed | Self::Canceled => 5,
            Self::Delivered => 6,
            Self::Read => 7,
        }
    }

    /// Whether no further callback is expected for this message (except `read`
    /// after `delivered`).
    pub fn is_terminal(&self) -> bool {
        self.rank() >= 5
    }
}

impl fmt::Display for DeliveryStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A `MessageStatus` value that is not one we know.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown message status {0:?}")]
pub struct UnknownStatus(pub String);

impl FromStr for DeliveryStatus {
    type Err = UnknownStatus;

    /// Accepts Twilio's names, case-insensitively; `cancelled` is taken as `canceled`.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Ok(match s.trim().to_ascii_lowercase().as_str() {
            "scheduled" => Self::Scheduled,
            "accepted" => Self::Accepted,
            "queued" => Self::Queued,
            "sending" => Self::Sending,
            "sent" => Self::Sent,
            "delivered" => Self::Delivered,
            "read" => Self::Read,
            "undelivered" => Self::Undelivered,
            "failed" => Self::Failed,
            "canceled" | "cancelled" => Self::Canceled,
            _ => return Err(UnknownStatus(s.to_string())),
        })
    }
}

/// One status callback, parsed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StatusCallback {
    pub message_sid: String,
    pub status: DeliveryStatus,
    /// Twilio's error code on `failed`/`undelivered`, e.g. 30003 (unreachable handset).
    pub error_code: Option<i64>,
}

/// Why a status callback could not be understood; the text suits a 400 response.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum StatusError {
    #[error("missing field {0:?}")]
    Missing(&'static str),
    #[error("\"MessageStatus\" is not a known status: {0:?}")]
    UnknownStatus(String),
    #[error("\"ErrorCode\" is not a whole number: {0:?}")]
    BadErrorCode(String),
}

impl StatusCallback {
    /// Reads `MessageSid` (or `SmsSid`), `MessageStatus` (or `SmsStatus`) and the
    /// optional `ErrorCode` (an empty value means none).
    pub fn from_params(params: &[(String, String)]) -> Result<Self, StatusError> {
        let message_sid = param(params, "MessageSid")
            .or_else(|| param(params, "SmsSid"))
            .filter(|s| !s.is_empty())
            .ok_or(StatusError::Missing("MessageSid"))?
            .to_string();
        let raw_status = param(params, "MessageStatus")
            .or_else(|| param(params, "SmsStatus"))
            .ok_or(StatusError::Missing("MessageStatus"))?;
        let status = raw_status
            .parse()
            .map_err(|UnknownStatus(s)| StatusError::UnknownStatus(s))?;
        let error_code = match param(params, "ErrorCode").map(str::trim) {
            None | Some("") => None,
            Some(raw) => Some(
                raw.parse::<i64>()
                    .map_err(|_| StatusError::BadErrorCode(raw.to_string()))?,
            ),
        };
        Ok(Self {
            message_sid,
            status,
            error_code,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const ALL: [DeliveryStatus; 10] = [
        DeliveryStatus::Scheduled,
        DeliveryStatus::Accepted,
        DeliveryStatus::Queued,
        DeliveryStatus::Sending,
        DeliveryStatus::Sent,
        DeliveryStatus::Delivered,
        DeliveryStatus::Read,
        DeliveryStatus::Undelivered,
        DeliveryStatus::Failed,
        DeliveryStatus::Canceled,
    ];

    fn params(v: &[(&str, &str)]) -> Vec<(String, String)> {
        v.iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn names_round_trip() {
        for s in ALL {
            assert_eq!(s.as_str().parse::<DeliveryStatus>(), Ok(s));
            assert_eq!(s.to_string(), s.as_str());
        }
        assert_eq!("Delivered".parse(), Ok(DeliveryStatus::Delivered));
        assert_eq!("cancelled".parse(), Ok(DeliveryStatus::Canceled));
        assert!("bounced".parse::<DeliveryStatus>().is_err());
    }

    #[test]
    fn a_late_sent_never_outranks_delivered() {
        use DeliveryStatus::*;
        assert!(Sent.rank() < Delivered.rank());
        assert!(Sending.rank() < Sent.rank());
        assert!(Queued.rank() < Sending.rank());
        assert!(Accepted.rank() < Queued.rank());
        assert!(Delivered.rank() < Read.rank());
        for terminal in [Delivered, Read, Undelivered, Failed, Canceled] {
            assert!(terminal.is_terminal());
            for intermediate in [Scheduled, Accepted, Queued, Sending, Sent] {
                assert!(!intermediate.is_terminal());
                assert!(
                    terminal.rank() > intermediate.rank(),
                    "{terminal} vs {intermediate}"
                );
            }
        }
        assert!(Undelivered.rank() < Delivered.rank());
        assert_eq!(Failed.rank(), Undelivered.rank());
    }

    #[test]
    fn parses_a_callback() {
        let cb = StatusCallback::from_params(&params(&[
            ("MessageSid", "SM1"),
            ("MessageStatus", "undelivered"),
            ("ErrorCode", "30003"),
        ]))
        .unwrap();
        assert_eq!(
            cb,
            StatusCallback {
                message_sid: "SM1".into(),
                status: DeliveryStatus::Undelivered,
                error_code: Some(30003)
            }
        );
        let cb = StatusCallback::from_params(&params(&[
            ("SmsSid", "SM2"),
            ("SmsStatus", "delivered"),
            ("ErrorCode", ""),
        ]))
        .unwrap();
        assert_eq!(cb.message_sid, "SM2");
        assert_eq!(cb.error_code, None);
    }

    #[test]
    fn callback_errors_name_the_field() {
        let err = StatusCallback::from_params(&params(&[("MessageStatus", "sent")])).unwrap_err();
        assert_eq!(err.to_string(), "missing field \"MessageSid\"");
        let err = StatusCallback::from_params(&params(&[("MessageSid", "SM1")])).unwrap_err();
        assert_eq!(err.to_string(), "missing field \"MessageStatus\"");
        let err = StatusCallback::from_params(&params(&[
            ("MessageSid", "SM1"),
            ("MessageStatus", "bounced"),
        ]))
        .unwrap_err();
        assert_eq!(err, StatusError::UnknownStatus("bounced".into()));
        let err = StatusCallback::from_params(&params(&[
            ("MessageSid", "SM1"),
            ("MessageStatus", "failed"),
            ("ErrorCode", "abc"),
        ]))
        .unwrap_err();
        assert_eq!(err, StatusError::BadErrorCode("abc".into()));
    }
}
