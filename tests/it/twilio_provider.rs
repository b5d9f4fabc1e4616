//! The Twilio provider against a mock Twilio on loopback: what it sends, when it
//! retries, and how it classifies Twilio's answers for the outbox.

use std::time::{Duration, Instant};

use textdesk::sms::PhoneNumber;
use textdesk::sms::providers::twilio::{TwilioConfig, TwilioProvider};
use textdesk::sms::providers::{OutboundSms, Provider, SendError};
use textdesk::sms::twilio::parse_form;
use wiremock::matchers::{header, method, path};
use wiremock::{Mock, MockServer, Request, ResponseTemplate};

const SID: &str = "ACtest0123456789";
const TOKEN: &str = "test-auth-token";
const MESSAGES: &str = "/2010-04-01/Accounts/ACtest0123456789/Messages.json";

fn config(server: &MockServer) -> TwilioConfig {
    let mut config = TwilioConfig::new(SID, TOKEN);
    config.from = Some("+15555550100".into());
    config.api_base = server.uri();
    config.timeout = Duration::from_secs(5);
    config.max_attempts = 4;
    config.base_backoff = Duration::from_millis(1);
    config.max_backoff = Duration::from_millis(5);
    config
}

fn provider(server: &MockServer) -> TwilioProvider {
    TwilioProvider::new(config(server)).expect("valid config")
}

fn reply() -> OutboundSms {
    OutboundSms {
        to: PhoneNumber::parse("+15555550123").unwrap(),
        body: "Your order #42 ships today & arrives Friday + tracking: 100% on time".into(),
        status_callback: Some("https://textdesk.example.com/webhooks/twilio/status?x=1".into()),
    }
}

fn created(sid: &str) -> ResponseTemplate {
    ResponseTemplate::new(201).set_body_json(serde_json::json!({ "sid": sid, "status": "queued" }))
}

fn twilio_error(status: u16, code: i64, message: &str) -> ResponseTemplate {
    ResponseTemplate::new(status).set_body_json(serde_json::json!({
        "code": code,
        "message": message,
        "more_info": format!("https://www.twilio.com/docs/errors/{code}"),
        "status": status,
    }))
}

fn form_of(request: &Request) -> Vec<(String, String)> {
    parse_form(&request.body).expect("provider sends a valid form")
}

fn field<'a>(form: &'a [(String, String)], name: &str) -> Option<&'a str> {
    form.iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.as_str())
}

async fn received(server: &MockServer) -> Vec<Request> {
    server
        .received_requests()
        .await
        .expect("request recording is on")
}

#[tokio::test]
async fn sends_form_fields_with_basic_auth_and_returns_the_sid() {
    let server = MockServer::start().await;
    // base64("ACtest0123456789:test-auth-token")
    let basic = "Basic QUN0ZXN0MDEyMzQ1Njc4OTp0ZXN0LWF1dGgtdG9rZW4=";
    Mock::given(method("POST"))
        .and(path(MESSAGES))
        .and(header("authorization", basic))
        .and(header("content-type", "application/x-www-form-urlencoded"))
        .respond_with(created("SM0123456789abcdef"))
        .expect(1)
        .mount(&server)
        .await;

    let accepted = provider(&server).send(&reply()).await.expect("accepted");

    assert_eq!(accepted.provider_message_id, "SM0123456789abcdef");
    let requests = received(&server).await;
    assert_eq!(requests.len(), 1);
    let form = form_of(&requests[0]);
    assert_eq!(field(&form, "To"), Some("+15555550123"));
    assert_eq!(field(&form, "Body"), Some(reply().body.as_str()));
    assert_eq!(field(&form, "From"), Some("+15555550100"));
    assert_eq!(field(&form, "MessagingServiceSid"), None);
    assert_eq!(
        field(&form, "StatusCallback"),
        Some("https://textdesk.example.com/webhooks/twilio/status?x=1")
    );
}

#[tokio::test]
async fn a_messaging_service_replaces_from_and_no_callback_means_no_field() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path(MESSAGES))
        .respond_with(created("SMservice"))
        .mount(&server)
        .await;
    let mut config = config(&server);
    config.messaging_service_sid = Some("MG0123456789".into());
    let sms = OutboundSms {
        status_callback: None,
        ..reply()
    };

    TwilioProvider::new(config)
        .unwrap()
        .send(&sms)
        .await
        .expect("accepted");

    let form = form_of(&received(&server).await[0]);
    assert_eq!(field(&form, "MessagingServiceSid"), Some("MG0123456789"));
    assert_eq!(field(&form, "From"), None);
    assert_eq!(field(&form, "StatusCallback"), None);
}

#[tokio::test]
async fn retries_a_503_then_succeeds() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path(MESSAGES))
        .respond_with(ResponseTemplate::new(503))
        .up_to_n_times(2)
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path(MESSAGES))
        .respond_with(created("SMafter503"))
        .mount(&server)
        .await;

    let accepted = provider(&server)
        .send(&reply())
        .await
        .expect("accepted on the third try");

    assert_eq!(accepted.provider_message_id, "SMafter503");
    assert_eq!(received(&server).await.len(), 3);
}

#[tokio::test]
async fn gives_up_on_a_400_immediately_with_twilios_code() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path(MESSAGES))
        .respond_with(twilio_error(
            400,
            21211,
            "The 'To' number is not a valid phone number.",
        ))
        .mount(&server)
        .await;

    let err = provider(&server).send(&reply()).await.unwrap_err();

    match err {
        SendError::Permanent { code, message } => {
            assert_eq!(code, Some(21211));
            assert_eq!(message, "The 'To' number is not a valid phone number.");
        }
        other => panic!("expected Permanent, got {other:?}"),
    }
    assert_eq!(received(&server).await.len(), 1);
}

#[tokio::test]
async fn error_21610_means_the_recipient_opted_out() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path(MESSAGES))
        .respond_with(twilio_error(
            400,
            21610,
            "Attempt to send to unsubscribed recipient",
        ))
        .mount(&server)
        .await;

    let err = provider(&server).send(&reply()).await.unwrap_err();

    assert!(matches!(err, SendError::RecipientOptedOut), "{err:?}");
    assert_eq!(received(&server).await.len(), 1);
}

#[tokio::test]
async fn a_persistent_503_is_retryable_after_max_attempts() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path(MESSAGES))
        .respond_with(ResponseTemplate::new(503))
        .mount(&server)
        .await;

    let err = provider(&server).send(&reply()).await.unwrap_err();

    match &err {
        SendError::Retryable(reason) => assert!(reason.contains("503"), "{reason}"),
        other => panic!("expected Retryable, got {other:?}"),
    }
    assert_eq!(received(&server).await.len(), 4);
}

#[tokio::test]
async fn a_429_waits_for_retry_after() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path(MESSAGES))
        .respond_with(
            twilio_error(429, 20429, "Too Many Requests").insert_header("Retry-After", "1"),
        )
        .up_to_n_times(1)
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path(MESSAGES))
        .respond_with(created("SMafter429"))
        .mount(&server)
        .await;
    // Our own backoff would be ~0 here, so any real pause comes from Retry-After.
    let mut config = config(&server);
    config.base_backoff = Duration::ZERO;
    config.max_backoff = Duration::from_secs(2);

    let started = Instant::now();
    let accepted = TwilioProvider::new(config)
        .unwrap()
        .send(&reply())
        .await
        .expect("accepted");

    assert_eq!(accepted.provider_message_id, "SMafter429");
    assert!(
        started.elapsed() >= Duration::from_secs(1),
        "waited {:?}",
        started.elapsed()
    );
    assert_eq!(received(&server).await.len(), 2);
}

#[tokio::test]
async fn retry_after_is_capped_at_max_backoff() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path(MESSAGES))
        .respond_with(ResponseTemplate::new(429).insert_header("Retry-After", "3600"))
        .up_to_n_times(1)
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path(MESSAGES))
        .respond_with(created("SMcapped"))
        .mount(&server)
        .await;

    let started = Instant::now();
    provider(&server).send(&reply()).await.expect("accepted");

    assert!(
        started.elapsed() < Duration::from_secs(2),
        "waited {:?}",
        started.elapsed()
    );
}

#[tokio::test]
async fn a_slow_answer_makes_the_send_uncertain_and_it_is_not_repeated() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path(MESSAGES))
        .respond_with(created("SMslow").set_delay(Duration::from_secs(2)))
        .mount(&server)
        .await;
    let mut config = config(&server);
    config.timeout = Duration::from_millis(100);
    config.max_attempts = 2;

    let err = TwilioProvider::new(config)
        .unwrap()
        .send(&reply())
        .await
        .unwrap_err();

    // Twilio may have taken it: sending again in-call could text the customer twice.
    match &err {
        SendError::Uncertain(reason) => assert!(reason.contains("timed out"), "{reason}"),
        other => panic!("expected Uncertain, got {other:?}"),
    }
    assert_eq!(received(&server).await.len(), 1);
}

#[tokio::test]
async fn find_sent_lists_texts_to_the_number_with_the_same_words() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path(MESSAGES))
        .and(wiremock::matchers::query_param("To", "+15555550123"))
        .and(wiremock::matchers::query_param("From", "+15555550100"))
        .respond_with(ResponseTemplate::new(200).set_body_json(serde_json::json!({
            "messages": [
                { "sid": "SMother", "body": "Something else", "status": "delivered" },
                { "sid": "SMfailed", "body": reply().body, "status": "failed" },
                { "sid": "SMmatch", "body": reply().body, "status": "sent" },
            ]
        })))
        .mount(&server)
        .await;
    let provider = TwilioProvider::new(config(&server)).unwrap();
    assert_eq!(provider.find_sent(&reply()).await.unwrap(), ["SMmatch"]);

    // A list it may not read answers nothing, so the text is sent again.
    let forbidden = MockServer::start().await;
    Mock::given(method("GET"))
        .respond_with(ResponseTemplate::new(403))
        .mount(&forbidden)
        .await;
    let provider = TwilioProvider::new(config(&forbidden)).unwrap();
    assert!(provider.find_sent(&reply()).await.unwrap().is_empty());
}

#[tokio::test]
async fn a_refused_connection_is_retryable() {
    // Bind, note the port, and close it: nothing listens there any more.
    let port = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.local_addr().unwrap().port()
    };
    let mut config = TwilioConfig::new(SID, TOKEN);
    config.from = Some("+15555550100".into());
    config.api_base = format!("http://127.0.0.1:{port}");
    config.base_backoff = Duration::from_millis(1);
    config.max_backoff = Duration::from_millis(5);

    let err = TwilioProvider::new(config)
        .unwrap()
        .send(&reply())
        .await
        .unwrap_err();

    assert!(matches!(err, SendError::Retryable(_)), "{err:?}");
}
