//! Delivery through Twilio's REST API (faked at the HTTP boundary with wiremock):
//! retries on 5xx, gives up on 4xx, records carrier opt-outs, and status callbacks.

use std::time::Duration;

use wiremock::matchers::{method, path_regex};
use wiremock::{Mock, MockServer, ResponseTemplate};

use crate::support::fake_twilio::{FakeTwilio, Fault};
use crate::support::{TestApp, sid};
use textdesk::config::ProviderKind;
use textdesk::store::Consent;

async fn app_with_fake_twilio(twilio: &MockServer) -> TestApp {
    app_with_fake_twilio_and(twilio, |_| {}).await
}

/// [`app_with_fake_twilio`] with more settings.
async fn app_with_fake_twilio_and(
    twilio: &MockServer,
    more: impl FnOnce(&mut textdesk::config::Config) + Send + 'static,
) -> TestApp {
    let api_base = twilio.uri();
    TestApp::spawn_with(move |config| {
        config.provider = ProviderKind::Twilio;
        config.twilio.account_sid = Some("ACtest00000000000000000000000000".into());
        config.twilio.from_number = Some("+15555550100".into());
        config.twilio.api_base = api_base;
        config.outbox.max_attempts = 4;
        more(config);
    })
    .await
}

fn created(sid: &str) -> ResponseTemplate {
    ResponseTemplate::new(201).set_body_json(serde_json::json!({ "sid": sid, "status": "queued" }))
}

async fn requests_to_messages(twilio: &MockServer) -> Vec<wiremock::Request> {
    twilio
        .received_requests()
        .await
        .unwrap_or_default()
        .into_iter()
        .filter(|r| r.url.path().ends_with("/Messages.json"))
        .collect()
}

#[tokio::test]
async fn a_503_is_retried_until_twilio_accepts_the_reply() {
    let twilio = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path_regex(r"/Messages\.json$"))
        .respond_with(ResponseTemplate::new(503))
        .up_to_n_times(2)
        .with_priority(1)
        .mount(&twilio)
        .await;
    Mock::given(method("POST"))
        .and(path_regex(r"/Messages\.json$"))
        .respond_with(created("SMdelivered1"))
        .mount(&twilio)
        .await;
    let app = app_with_fake_twilio(&twilio).await;

    let phone = "+15555550150";
    app.text(phone, "hello there", &sid()).await;
    app.settle().await;

    let requests = requests_to_messages(&twilio).await;
    assert_eq!(requests.len(), 3, "two 503s then a 201");
    let form: Vec<(String, String)> = url::form_urlencoded::parse(&requests[2].body)
        .into_owned()
        .collect();
    assert!(form.contains(&("To".into(), phone.into())));
    assert!(
        form.iter()
            .any(|(k, v)| k == "StatusCallback" && v.ends_with("/webhooks/twilio/status"))
    );
    let reply = &app.outbound(phone).await[0];
    assert_eq!(reply.delivery_status, "sent");
}

#[tokio::test]
async fn a_400_is_not_retried_and_the_reply_is_marked_failed() {
    let twilio = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path_regex(r"/Messages\.json$"))
        .respond_with(ResponseTemplate::new(400).set_body_json(serde_json::json!({
            "code": 21211, "message": "The 'To' number is not a valid phone number.", "status": 400
        })))
        .mount(&twilio)
        .await;
    let app = app_with_fake_twilio(&twilio).await;

    let phone = "+15555550151";
    app.text(phone, "hello there", &sid()).await;
    app.settle().await;
    tokio::time::sleep(Duration::from_millis(300)).await;

    assert_eq!(requests_to_messages(&twilio).await.len(), 1);
    let reply = &app.outbound(phone).await[0];
    assert_eq!(reply.delivery_status, "failed");
    assert_eq!(reply.error_code, Some(21211));
}

#[tokio::test]
async fn a_carrier_opt_out_is_recorded_on_the_contact() {
    let twilio = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path_regex(r"/Messages\.json$"))
        .respond_with(ResponseTemplate::new(400).set_body_json(serde_json::json!({
            "code": 21610, "message": "Attempt to send to unsubscribed recipient", "status": 400
        })))
        .mount(&twilio)
        .await;
    let app = app_with_fake_twilio(&twilio).await;

    let phone = "+15555550152";
    app.text(phone, "hello there", &sid()).await;
    app.settle().await;
    let consent = app.store().consent_by_phone(phone).await.unwrap().unwrap();
    assert_eq!(consent.consent, Consent::OptedOut);
    let events = app
        .store()
        .consent_events(consent.contact_id)
        .await
        .unwrap();
    assert_eq!(events[0].1, "carrier");

    // From now on ordinary replies are not even attempted.
    app.text(phone, "anyone?", &sid()).await;
    app.settle().await;
    assert_eq!(requests_to_messages(&twilio).await.len(), 1);
}

#[tokio::test]
async fn status_callbacks_update_delivery_and_never_go_backwards() {
    let twilio = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path_regex(r"/Messages\.json$"))
        .respond_with(created("SMstatus0001"))
        .mount(&twilio)
        .await;
    let app = app_with_fake_twilio(&twilio).await;
    let phone = "+15555550153";
    app.text(phone, "hello there", &sid()).await;
    app.settle().await;

    let callback = |status: &str| {
        vec![
            ("MessageSid".to_string(), "SMstatus0001".to_string()),
            ("MessageStatus".to_string(), status.to_string()),
            (
                "AccountSid".to_string(),
                "ACtest00000000000000000000000000".to_string(),
            ),
        ]
    };
    assert_eq!(
        app.post_signed("/webhooks/twilio/status", &callback("delivered"))
            .await
            .status(),
        204
    );
    assert_eq!(app.outbound(phone).await[0].delivery_status, "delivered");
    // A late "sent" must not overwrite "delivered".
    app.post_signed("/webhooks/twilio/status", &callback("sent"))
        .await;
    assert_eq!(app.outbound(phone).await[0].delivery_status, "delivered");

    // Unsigned callbacks are refused like inbound webhooks.
    let unsigned = app
        .http
        .post(format!("{}/webhooks/twilio/status", app.base_url))
        .form(&callback("failed"))
        .send()
        .await
        .unwrap();
    assert_eq!(unsigned.status(), 403);
}

#[tokio::test]
async fn a_send_twilio_took_but_answered_late_is_not_sent_again() {
    let twilio = MockServer::start().await;
    // The first text is taken but answered long after textdesk stopped waiting.
    FakeTwilio::mount(&twilio, |i| {
        if i == 0 {
            Fault::AcceptAfter(Duration::from_secs(2))
        } else {
            Fault::Accept
        }
    })
    .await;
    let app = app_with_fake_twilio_and(&twilio, |config| config.outbox.send_timeout_ms = 300).await;

    let phone = "+15555550161";
    app.text(phone, "hello there", &sid()).await;
    app.settle().await;

    let posts: Vec<_> = requests_to_messages(&twilio)
        .await
        .into_iter()
        .filter(|r| r.method.as_str() == "POST")
        .collect();
    assert_eq!(
        posts.len(),
        1,
        "one text, sent once, although Twilio answered late"
    );
    let reply = &app.outbound(phone).await[0];
    assert_eq!(reply.delivery_status, "sent");
    // The id Twilio gave the text is recorded, so its status callbacks land.
    let callback = [
        ("MessageSid", "SMtaken00000000"),
        ("MessageStatus", "delivered"),
        ("AccountSid", "ACtest00000000000000000000000000"),
    ]
    .map(|(k, v)| (k.to_string(), v.to_string()));
    app.post_signed("/webhooks/twilio/status", &callback).await;
    assert_eq!(app.outbound(phone).await[0].delivery_status, "delivered");
}

#[tokio::test]
async fn a_send_that_timed_out_before_twilio_took_it_is_sent_once_more() {
    let twilio = MockServer::start().await;
    // The first POST hangs and is never taken; Twilio's list stays empty.
    Mock::given(method("POST"))
        .and(path_regex(r"/Messages\.json$"))
        .respond_with(created("SMlost").set_delay(Duration::from_secs(2)))
        .up_to_n_times(1)
        .with_priority(1)
        .mount(&twilio)
        .await;
    FakeTwilio::mount(&twilio, |_| Fault::Accept).await;
    let app = app_with_fake_twilio_and(&twilio, |config| config.outbox.send_timeout_ms = 300).await;

    let phone = "+15555550162";
    app.text(phone, "hello there", &sid()).await;
    app.settle().await;

    let requests = requests_to_messages(&twilio).await;
    let count = |m: &str| requests.iter().filter(|r| r.method.as_str() == m).count();
    assert_eq!(count("GET"), 1, "asked Twilio once before resending");
    assert_eq!(count("POST"), 2, "the text Twilio never took is sent again");
    assert_eq!(app.outbound(phone).await[0].delivery_status, "sent");
}
