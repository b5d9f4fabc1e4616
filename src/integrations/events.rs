//! Which log events leave textdesk, under which public name, and the JSON they carry.
//!
//! The mapping is by kind only: an event's log payload goes out unchanged as `data`,
//! so a producer that appends a new kind to the log (e.g. `flow.completed` with its
//! slots) needs nothing here but its name in [`EVENT_TYPES`].

use serde_json::json;

use crate::clock::format_ms;
use crate::store::{Event, EventContact};

/// Every public event name a webhook can receive.
pub const EVENT_TYPES: &[&str] = &[
    "conversation.escalated",
    "handoff.resolved",
    "flow.completed",
    "contact.opted_out",
    "contact.opted_in",
    "message.delivery_failed",
    "contact.erased",
    "conversation.labeled",
    "conversation.unlabeled",
    "sla.breached",
];

/// The public name of a log event, or `None` for kinds that stay inside (messages,
/// notes, claims: agents see those on the live stream, CRMs do not need them).
pub fn public_type(kind: &str) -> Option<&'static str> {
    match kind {
        // The log says what happened to the handoff; a CRM cares that the
        // conversation needs a person.
        "handoff.created" => Some("conversation.escalated"),
        other => EVENT_TYPES.iter().copied().find(|t| *t == other),
    }
}

/// The body POSTed for `event`: a stable envelope around the log payload, with the
/// conversation's labels when the event is about one.
pub fn render(
    event: &Event,
    event_type: &str,
    contact: Option<&EventContact>,
    labels: &[String],
) -> String {
    json!({
        "id": event.id,
        "type": event_type,
        "created_at": format_ms(event.created_at),
        "conversation_id": event.conversation_id,
        "handoff_id": event.handoff_id,
        "contact": contact,
        "labels": labels,
        "data": event.payload,
    })
    .to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn internal_kinds_map_to_public_names_and_the_rest_stay_inside() {
        assert_eq!(
            public_type("handoff.created"),
            Some("conversation.escalated")
        );
        assert_eq!(public_type("handoff.resolved"), Some("handoff.resolved"));
        assert_eq!(public_type("flow.completed"), Some("flow.completed"));
        assert_eq!(public_type("contact.opted_out"), Some("contact.opted_out"));
        assert_eq!(
            public_type("message.delivery_failed"),
            Some("message.delivery_failed")
        );
        for internal in [
            "message.inbound",
            "message.outbound",
            "note.created",
            "handoff.claimed",
        ] {
            assert_eq!(public_type(internal), None, "{internal}");
        }
    }

    #[test]
    fn the_payload_goes_out_unchanged_inside_the_envelope() {
        let event = Event {
            id: 7,
            kind: "flow.completed".into(),
            handoff_id: None,
            conversation_id: Some(3),
            payload: json!({"flow": "lead", "slots": {"goal": "Increase sales"}, "contact": "+15555550123"}),
            created_at: 1_796_234_400_000,
        };
        let contact = EventContact {
            id: 2,
            phone: "+15555550123".into(),
        };
        let body: serde_json::Value = serde_json::from_str(&render(
            &event,
            "flow.completed",
            Some(&contact),
            &["vip".into()],
        ))
        .unwrap();
        assert_eq!(body["type"], "flow.completed");
        assert_eq!(body["id"], 7);
        assert_eq!(body["data"], event.payload);
        assert_eq!(body["contact"]["phone"], "+15555550123");
        assert_eq!(body["labels"], json!(["vip"]));
        assert_eq!(body["created_at"], "2026-12-02T18:00:00.000Z");
    }
}
