//! Outbound webhooks: what a business's CRM hears, signed, through a local receiver that
//! verifies every request the way the README tells receivers to.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::routing::post;
use serde_json::{Value, json};
use textdesk::config::WebhookEndpoint;
use textdesk::store::Role;

use crate::support::{TestApp, sid};

const SECRET: &str = "whsec_test_0123456789";
const WAIT: Duration = Duration::from_secs(10);

/// One request as the receiver saw it.
#[derive(Debug, Clone)]
struct Received {
    event: String,
    delivery: String,
    body: Value,
    /// The signature verified against the raw body.
    verified: bool,
    /// What the receiver answered.
    status: u16,
}

#[derive(Clone, Default)]
struct Receiver {
    received: Arc<Mutex<Vec<Received>>>,
    /// Requests still to be answered with 500.
    failures_left: Arc<AtomicUsize>,
}

impl Receiver {
    /// Serves on a loopback port; the first `failures` requests get 500.
    async fn start(failures: usize) -> (Self, String) {
        let receiver = Receiver::default();
        receiver.failures_left.store(failures, Ordering::SeqCst);
        let app = Router::new()
            .route("/hooks", post(receive))
            .with_state(receiver.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}/hooks", listener.local_addr().unwrap());
        tokio::spawn(async move { axum::serve(listener, app).await });
        (receiver, url)
    }

    fn all(&self) -> Vec<Received> {
        self.received.lock().unwrap().clone()
    }

    /// The accepted (2xx) events of this type.
    fn accepted(&self, event: &str) -> Vec<Received> {
        self.all()
            .into_iter()
            .filter(|r| r.event == event && r.status == 200)
            .collect()
    }

    /// Waits until an event of this type has been accepted, and returns it.
    async fn wait_for(&self, event: &str) -> Received {
        let deadline = tokio::time::Instant::now() + WAIT;
        loop {
            if let Some(received) = self.accepted(event).into_iter().next() {
                return received;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "no {event} within {WAIT:?}; received {:#?}",
                self.all()
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}

/// What a receiver does: verify first, then accept (or fail, as scripted).
async fn receive(
    State(receiver): State<Receiver>,
    headers: HeaderMap,
    body: Bytes,
) -> (StatusCode, &'static str) {
    let header = |name: &str| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_string()
    };
    let now = jiff::Timestamp::now().as_second();
    let verified = textdesk::integrations::verify(
        SECRET,
        &header("x-textdesk-signature"),
        &body,
        now,
        Duration::from_secs(300),
    )
    .is_ok();
    let failing = receiver
        .failures_left
        .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
        .is_ok();
    let (status, answer) = match (verified, failing) {
        (false, _) => (StatusCode::UNAUTHORIZED, "bad signature"),
        (true, true) => (StatusCode::INTERNAL_SERVER_ERROR, "crm is restarting"),
        (true, false) => (StatusCode::OK, "ok"),
    };
    receiver.received.lock().unwrap().push(Received {
        event: header("x-textdesk-event"),
        delivery: header("x-textdesk-delivery"),
        body: serde_json::from_slice(&body).unwrap_or(Value::Null),
        verified,
        status: status.as_u16(),
    });
    (status, answer)
}

/// textdesk sending every event (or only `events`) to `url`, retrying quickly.
async fn app_posting_to(url: &str, events: Option<&[&str]>) -> TestApp {
    let endpoint = WebhookEndpoint {
        url: url.to_string(),
        secret: SECRET.to_string(),
        events: events.map(|e| e.iter().map(|s| s.to_string()).collect()),
    };
    TestApp::spawn_with(move |config| {
        config.webhooks = vec![endpoint];
        config.integrations.base_backoff_ms = 50;
        config.integrations.max_backoff_ms = 100;
        config.integrations.max_attempts = 3;
    })
    .await
}

#[tokio::test]
async fn an_escalation_and_its_resolution_reach_the_crm_signed() {
    let (crm, url) = Receiver::start(0).await;
    let app = app_posting_to(&url, None).await;
    let ana = app.add_agent("ana", Role::Agent).await;
    let phone = "+13035550161";

    app.text(phone, "can I talk to a human", &sid()).await;
    app.settle().await;

    let escalated = crm.wait_for("conversation.escalated").await;
    assert!(escalated.verified);
    let body = &escalated.body;
    assert_eq!(body["type"], "conversation.escalated", "{body:#}");
    assert_eq!(body["contact"]["phone"], phone, "{body:#}");
    assert_eq!(body["data"]["rule"], "asked_for_human", "{body:#}");
    assert!(body["data"]["summary"].is_string(), "{body:#}");
    let handoff_id = body["handoff_id"].as_i64().expect("the handoff is named");

    let claimed = app
        .api_post(
            &ana.token,
            &format!("/api/v1/handoffs/{handoff_id}/claim"),
            json!({}),
        )
        .await;
    assert_eq!(claimed.status(), 200);
    let resolved = app
        .api_post(
            &ana.token,
            &format!("/api/v1/handoffs/{handoff_id}/resolve"),
            json!({ "hand_back": true }),
        )
        .await;
    assert_eq!(resolved.status(), 200);
    let resolved = crm.wait_for("handoff.resolved").await;
    assert_eq!(resolved.body["handoff_id"], handoff_id);
    assert_eq!(resolved.body["data"]["hand_back"], true);

    let kinds: Vec<String> = crm.all().into_iter().map(|r| r.event).collect();
    assert_eq!(
        kinds,
        ["conversation.escalated", "handoff.resolved"],
        "texts, claims and the bot's replies stay inside"
    );
}

#[tokio::test]
async fn a_receiver_that_fails_twice_then_succeeds_gets_the_event_exactly_once() {
    let (crm, url) = Receiver::start(2).await;
    let app = app_posting_to(&url, None).await;
    let admin = app.add_agent("root", Role::Admin).await;

    // What the flows engine appends when a customer finishes the lead questions.
    let slots = json!({ "goal": "Increase sales", "team_size": 12, "email": "kim@example.com" });
    app.store()
        .log_event(
            "flow.completed",
            None,
            json!({ "flow": "lead_qualification", "slots": slots, "contact": "+13035550162" }),
            app.running.engine.now_ms(),
        )
        .await
        .unwrap();

    let completed = crm.wait_for("flow.completed").await;
    assert!(completed.verified);
    assert_eq!(completed.body["data"]["flow"], "lead_qualification");
    assert_eq!(completed.body["data"]["slots"], slots);

    // Long enough for a wrongly scheduled fourth attempt (backoff is at most 100 ms).
    tokio::time::sleep(Duration::from_millis(600)).await;
    let all = crm.all();
    let statuses: Vec<u16> = all.iter().map(|r| r.status).collect();
    assert_eq!(statuses, [500, 500, 200], "{all:#?}");
    assert!(
        all.iter()
            .all(|r| r.verified && r.delivery == all[0].delivery)
    );

    let view = app.api_json(&admin.token, "/api/v1/admin/webhooks").await;
    let endpoint = &view["endpoints"][0];
    assert_eq!(endpoint["url"], url.as_str());
    assert_eq!(endpoint["delivered"], 1, "{view:#}");
    assert_eq!(endpoint["pending"], 0, "{view:#}");
    let delivery = &endpoint["recent"][0];
    assert_eq!(delivery["event_type"], "flow.completed");
    assert_eq!(delivery["status"], "delivered");
    assert_eq!(delivery["attempts"], 3);
    assert_eq!(delivery["last_status_code"], 200);
    assert!(
        delivery["last_error"]
            .as_str()
            .unwrap_or_default()
            .contains("HTTP 500"),
        "the last failure stays visible: {delivery:#}"
    );
    assert!(
        !view.to_string().contains(SECRET),
        "the secret is never shown"
    );
}

#[tokio::test]
async fn a_receiver_that_never_answers_ok_ends_failed_with_its_last_error() {
    let (crm, url) = Receiver::start(usize::MAX).await;
    let app = app_posting_to(&url, None).await;
    let admin = app.add_agent("root", Role::Admin).await;

    app.store()
        .log_event(
            "flow.completed",
            None,
            json!({ "flow": "order_confirmation", "slots": {}, "contact": "+13035550163" }),
            app.running.engine.now_ms(),
        )
        .await
        .unwrap();

    let deadline = tokio::time::Instant::now() + WAIT;
    let endpoint = loop {
        let view = app.api_json(&admin.token, "/api/v1/admin/webhooks").await;
        if view["endpoints"][0]["failed"] == 1 {
            break view["endpoints"][0].clone();
        }
        assert!(tokio::time::Instant::now() < deadline, "{view:#}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert_eq!(crm.all().len(), 3, "max_attempts = 3");
    let delivery = &endpoint["recent"][0];
    assert_eq!(delivery["status"], "failed");
    assert_eq!(delivery["last_status_code"], 500);
    assert_eq!(
        delivery["last_error"],
        "HTTP 500 Internal Server Error: crm is restarting"
    );

    // The CRM is fixed; the operator sends the failed delivery again, once.
    crm.failures_left.store(0, Ordering::SeqCst);
    let id = delivery["id"].as_i64().unwrap();
    let redeliver = format!("/api/v1/admin/webhooks/deliveries/{id}/redeliver");
    let ana = app.add_agent("ana", Role::Agent).await;
    assert_eq!(
        app.api_post(&ana.token, &redeliver, json!({}))
            .await
            .status(),
        403
    );
    let queued = app.api_post(&admin.token, &redeliver, json!({})).await;
    assert_eq!(queued.status(), 202);
    let accepted = crm.wait_for("flow.completed").await;
    assert_eq!(
        accepted.delivery,
        crm.all()[0].delivery,
        "the same X-Textdesk-Delivery id as the failed attempts"
    );
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        let view = app.api_json(&admin.token, "/api/v1/admin/webhooks").await;
        let endpoint = &view["endpoints"][0];
        if endpoint["delivered"] == 1 {
            assert_eq!(endpoint["failed"], 0);
            assert_eq!(
                endpoint["recent"][0]["attempts"], 1,
                "a fresh set of attempts"
            );
            break;
        }
        assert!(tokio::time::Instant::now() < deadline, "{view:#}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(crm.accepted("flow.completed").len(), 1);
    let unknown = app
        .api_post(
            &admin.token,
            "/api/v1/admin/webhooks/deliveries/999/redeliver",
            json!({}),
        )
        .await;
    assert_eq!(unknown.status(), 404);
}

#[tokio::test]
async fn stop_and_start_are_announced_to_an_endpoint_that_asked_for_consent_only() {
    let (crm, url) = Receiver::start(0).await;
    let app = app_posting_to(&url, Some(&["contact.opted_out", "contact.opted_in"])).await;
    let phone = "+13035550164";

    app.text(phone, "can I talk to a human", &sid()).await;
    app.text(phone, "STOP", &sid()).await;
    app.settle().await;
    let out = crm.wait_for("contact.opted_out").await;
    assert!(out.verified);
    assert_eq!(out.body["contact"]["phone"], phone, "{:#}", out.body);
    assert_eq!(out.body["data"]["source"], "keyword");
    assert_eq!(out.body["data"]["detail"], "STOP", "{:#}", out.body);

    app.text(phone, "START", &sid()).await;
    app.settle().await;
    crm.wait_for("contact.opted_in").await;
    let kinds: Vec<String> = crm.all().into_iter().map(|r| r.event).collect();
    assert_eq!(
        kinds,
        ["contact.opted_out", "contact.opted_in"],
        "the escalation was not asked for"
    );
}

#[tokio::test]
async fn a_text_twilio_refuses_is_announced_as_delivery_failed() {
    use wiremock::matchers::{method, path_regex};
    use wiremock::{Mock, MockServer, ResponseTemplate};

    let twilio = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path_regex(r"/Messages\.json$"))
        .respond_with(ResponseTemplate::new(400).set_body_json(json!({
            "code": 21211, "message": "The 'To' number is not a valid phone number.", "status": 400
        })))
        .mount(&twilio)
        .await;
    let (crm, url) = Receiver::start(0).await;
    let api_base = twilio.uri();
    let app = TestApp::spawn_with(move |config| {
        config.provider = textdesk::config::ProviderKind::Twilio;
        config.twilio.account_sid = Some("ACtest00000000000000000000000000".into());
        config.twilio.from_number = Some("+15555550100".into());
        config.twilio.api_base = api_base;
        config.webhooks = vec![WebhookEndpoint {
            url,
            secret: SECRET.into(),
            events: Some(vec!["message.delivery_failed".into()]),
        }];
    })
    .await;
    let phone = "+13035550165";

    app.text(phone, "hello there", &sid()).await;
    app.settle().await;

    let failed = crm.wait_for("message.delivery_failed").await;
    assert!(failed.verified);
    let body = &failed.body;
    assert_eq!(body["contact"]["phone"], phone, "{body:#}");
    assert_eq!(body["data"]["error_code"], 21211, "{body:#}");
    assert_eq!(body["data"]["status"], "failed", "{body:#}");
    let reply = &app.outbound(phone).await[0];
    assert_eq!(body["data"]["message_id"], reply.id, "{body:#}");
}

#[tokio::test]
async fn a_completed_lead_flow_reaches_the_crm_with_its_three_answers_signed() {
    let (crm, url) = Receiver::start(0).await;
    let app = app_posting_to(&url, Some(&["flow.completed"])).await;
    let gus = "+13035550178";
    for text in [
        "do you do team orders",
        "improve our support",
        "about 25 people",
        "it's coach@example.com",
    ] {
        app.text(gus, text, &sid()).await;
        app.settle().await;
    }

    let completed = crm.wait_for("flow.completed").await;
    assert!(completed.verified, "the receiver checked the signature");
    let body = &completed.body;
    assert_eq!(body["contact"]["phone"], gus, "{body:#}");
    assert_eq!(body["data"]["flow"], "lead", "{body:#}");
    assert_eq!(
        body["data"]["slots"],
        json!({"goal": "Improve support", "size": "25", "email": "coach@example.com"}),
        "{body:#}"
    );
    assert_eq!(crm.all().len(), 1, "only the event the endpoint asked for");
}

#[tokio::test]
async fn an_erasure_reaches_the_crm_so_it_can_erase_its_copy() {
    let (crm, url) = Receiver::start(0).await;
    let app = app_posting_to(&url, Some(&["contact.erased"])).await;
    let root = app.add_agent("root", Role::Admin).await;
    let phone = "+13035550171";
    app.text(phone, "hi, my name is Jo", &sid()).await;
    app.settle().await;

    let forgotten = app
        .api_post(
            &root.token,
            &format!(
                "/api/v1/admin/contacts/{}/forget",
                phone.replace('+', "%2B")
            ),
            json!({}),
        )
        .await;
    assert_eq!(forgotten.status(), 200);
    let erased = crm.wait_for("contact.erased").await;
    assert!(erased.verified);
    assert_eq!(erased.body["data"]["phone"], phone, "{:#}", erased.body);
    assert_eq!(erased.body["data"]["by"], "root", "{:#}", erased.body);
    assert_eq!(
        erased.body["data"]["erased"]["messages"], 2,
        "{:#}",
        erased.body
    );
}

#[tokio::test]
async fn labels_an_agent_adds_reach_the_crm_and_ride_on_later_events() {
    let (crm, url) = Receiver::start(0).await;
    let app = app_posting_to(&url, None).await;
    let ana = app.add_agent("ana", Role::Agent).await;
    app.text("+13035550163", "can I talk to a human", &sid())
        .await;
    app.settle().await;
    let escalated = crm.wait_for("conversation.escalated").await;
    let conversation = escalated.body["conversation_id"].as_i64().unwrap();
    let handoff = escalated.body["handoff_id"].as_i64().unwrap();
    assert!(
        escalated.body["data"]["headline"]
            .as_str()
            .unwrap()
            .starts_with("Asked for a person")
    );

    let labeled = app
        .api_post(
            &ana.token,
            &format!("/api/v1/conversations/{conversation}/labels"),
            json!({ "label": "VIP" }),
        )
        .await;
    assert_eq!(labeled.status(), 200);
    let labeled = crm.wait_for("conversation.labeled").await;
    assert!(labeled.verified);
    assert_eq!(labeled.body["data"]["label"], "vip", "{:#}", labeled.body);
    assert_eq!(labeled.body["labels"], json!(["vip"]), "{:#}", labeled.body);

    for action in ["claim", "resolve"] {
        let response = app
            .api_post(
                &ana.token,
                &format!("/api/v1/handoffs/{handoff}/{action}"),
                json!({}),
            )
            .await;
        assert_eq!(response.status(), 200);
    }
    let resolved = crm.wait_for("handoff.resolved").await;
    assert_eq!(
        resolved.body["labels"],
        json!(["vip"]),
        "{:#}",
        resolved.body
    );
}
