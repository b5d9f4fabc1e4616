//! The inbound webhook: signatures, idempotency, bad input, and durable storage.

use crate::support::{AUTH_TOKEN, TestApp, inbound_params, sid};
use textdesk::sms::twilio::compute_signature;
use textdesk::store::{Author, Direction};

const CUSTOMER: &str = "+15555550123";

#[tokio::test]
async fn a_signed_text_is_acknowledged_with_empty_twiml_and_answered_once() {
    let app = TestApp::spawn().await;

    let response = app.text(CUSTOMER, "Hi, where is my order?", &sid()).await;
    assert_eq!(response.status(), 200);
    assert!(
        response.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/xml")
    );
    assert_eq!(
        response.text().await.unwrap(),
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?><Response/>"
    );

    app.settle().await;
    let transcript = app.transcript(CUSTOMER).await;
    assert_eq!(transcript.len(), 2, "{transcript:#?}");
    assert_eq!(transcript[0].direction, Direction::Inbound);
    assert_eq!(transcript[0].body, "Hi, where is my order?");
    assert_eq!(transcript[1].author, Author::Bot);
    assert!(!transcript[1].body.is_empty());
    assert_eq!(transcript[1].delivery_status, "sent");
    assert_eq!(transcript[1].encoding, "GSM-7");
    assert!(transcript[1].segments <= 2);
}

#[tokio::test]
async fn a_wrong_or_missing_signature_is_refused_and_nothing_is_stored() {
    let app = TestApp::spawn().await;
    let params = inbound_params(CUSTOMER, "hello", &sid());
    let url = format!("{}/webhooks/twilio", app.base_url);

    let missing = app.http.post(&url).form(&params).send().await.unwrap();
    assert_eq!(missing.status(), 403);

    let wrong_key = compute_signature("not-the-token", &url, &params);
    let wrong = app
        .http
        .post(&url)
        .header("X-Twilio-Signature", wrong_key)
        .form(&params)
        .send()
        .await
        .unwrap();
    assert_eq!(wrong.status(), 403);

    // Signed for a different URL (e.g. replayed against another endpoint).
    let other_url = compute_signature(AUTH_TOKEN, "https://example.com/webhooks/twilio", &params);
    let replayed = app
        .http
        .post(&url)
        .header("X-Twilio-Signature", other_url)
        .form(&params)
        .send()
        .await
        .unwrap();
    assert_eq!(replayed.status(), 403);

    // A tampered body no longer matches its signature.
    let good = compute_signature(AUTH_TOKEN, &url, &params);
    let mut tampered = params.clone();
    tampered.iter_mut().find(|(k, _)| k == "Body").unwrap().1 = "give me a refund".into();
    let tampered = app
        .http
        .post(&url)
        .header("X-Twilio-Signature", good)
        .form(&tampered)
        .send()
        .await
        .unwrap();
    assert_eq!(tampered.status(), 403);

    assert!(app.transcript(CUSTOMER).await.is_empty());
}

#[tokio::test]
async fn a_repeated_message_sid_is_acknowledged_but_processed_once() {
    let app = TestApp::spawn().await;
    let message_sid = sid();
    for _ in 0..3 {
        assert_eq!(
            app.text(CUSTOMER, "Is the Denver store open today?", &message_sid)
                .await
                .status(),
            200
        );
    }
    app.settle().await;
    let transcript = app.transcript(CUSTOMER).await;
    let inbound = transcript
        .iter()
        .filter(|e| e.direction == Direction::Inbound)
        .count();
    let outbound = transcript
        .iter()
        .filter(|e| e.direction == Direction::Outbound)
        .count();
    assert_eq!((inbound, outbound), (1, 1), "{transcript:#?}");
}

#[tokio::test]
async fn malformed_requests_get_a_precise_4xx() {
    let app = TestApp::spawn().await;
    let url = format!("{}/webhooks/twilio", app.base_url);

    let mut no_from = inbound_params(CUSTOMER, "hi", &sid());
    no_from.retain(|(k, _)| k != "From");
    let response = app.post_signed("/webhooks/twilio", &no_from).await;
    assert_eq!(response.status(), 400);
    assert!(response.text().await.unwrap().contains("From"));

    let mut no_body = inbound_params(CUSTOMER, "hi", &sid());
    no_body.retain(|(k, _)| k != "Body");
    let response = app.post_signed("/webhooks/twilio", &no_body).await;
    assert_eq!(response.status(), 400);
    assert!(response.text().await.unwrap().contains("Body"));

    let response = app
        .post_signed(
            "/webhooks/twilio",
            &inbound_params("5555550123", "hi", &sid()),
        )
        .await;
    assert_eq!(response.status(), 400);
    assert!(response.text().await.unwrap().contains("E.164"));

    // Invalid UTF-8 after percent-decoding; signed over what we can sign (nothing
    // meaningful), so the syntax check must come first and answer 400, not 403.
    let raw = "From=%2B15555550123&Body=%FF%FE&MessageSid=SM1";
    let response = app
        .http
        .post(&url)
        .header("Content-Type", "application/x-www-form-urlencoded")
        .header("X-Twilio-Signature", "x")
        .body(raw)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 400);
    assert!(response.text().await.unwrap().contains("UTF-8"));

    let response = app
        .http
        .post(&url)
        .header("Content-Type", "application/x-www-form-urlencoded")
        .header("X-Twilio-Signature", "x")
        .body("Body=%G1")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 400);

    let response = app
        .http
        .post(&url)
        .json(&serde_json::json!({"From": CUSTOMER}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 415);

    let huge = "x".repeat(app.config.webhook.max_body_bytes + 1);
    let response = app
        .post_signed("/webhooks/twilio", &inbound_params(CUSTOMER, &huge, &sid()))
        .await;
    assert_eq!(response.status(), 413);

    assert!(app.transcript(CUSTOMER).await.is_empty());
}

#[tokio::test]
async fn a_two_thousand_character_emoji_text_is_stored_whole_and_counted_exactly() {
    let app = TestApp::spawn().await;
    // 1,000 emoji = 2,000 UTF-16 code units. A surrogate pair is never split, so each
    // 67-unit part carries 33 emoji (66 units): 1,000 / 33 → 31 parts.
    let body = "😀".repeat(1000);
    assert_eq!(app.text(CUSTOMER, &body, &sid()).await.status(), 200);
    app.settle().await;
    let inbound = &app.transcript(CUSTOMER).await[0];
    assert_eq!(inbound.body, body);
    assert_eq!(inbound.encoding, "UCS-2");
    assert_eq!(inbound.segments, 31);
}

#[tokio::test]
async fn a_picture_message_is_stored_with_its_media_and_answered_honestly() {
    let app = TestApp::spawn().await;
    let mut params = inbound_params(CUSTOMER, "", &sid());
    params.retain(|(k, _)| k != "NumMedia");
    params.push(("NumMedia".into(), "1".into()));
    params.push((
        "MediaUrl0".into(),
        "https://api.twilio.com/2010-04-01/Accounts/AC1/Messages/MM1/Media/ME1".into(),
    ));
    params.push(("MediaContentType0".into(), "image/jpeg".into()));
    assert_eq!(
        app.post_signed("/webhooks/twilio", &params).await.status(),
        200
    );
    app.settle().await;

    let transcript = app.transcript(CUSTOMER).await;
    assert_eq!(
        transcript[0].media_urls,
        vec!["https://api.twilio.com/2010-04-01/Accounts/AC1/Messages/MM1/Media/ME1"]
    );
    assert_eq!(transcript.len(), 2);
    assert!(
        transcript[1].body.contains("can only read text"),
        "{}",
        transcript[1].body
    );
}
