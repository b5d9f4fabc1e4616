//! Memory: what the team knows about a contact (attributes through the agent API),
//! used by the bot's templates, and a returning contact greeted as one.

use serde_json::{Value, json};
use textdesk::clock::ManualClock;
use textdesk::store::Role;

use crate::support::{TestApp, sid};

/// Wednesday 2 Dec 2026, 11:00 in Denver.
const WEDNESDAY_11AM: i64 = 1_796_234_400_000;
const DAY: i64 = 24 * 3_600_000;

async fn patch(app: &TestApp, token: &str, phone: &str, body: Value) -> reqwest::Response {
    app.http
        .patch(format!(
            "{}/api/v1/contacts/{}",
            app.base_url,
            phone.replace('+', "%2B")
        ))
        .bearer_auth(token)
        .json(&body)
        .send()
        .await
        .unwrap()
}

async fn last_reply(app: &TestApp, phone: &str) -> String {
    app.outbound(phone)
        .await
        .last()
        .map(|e| e.body.clone())
        .unwrap_or_default()
}

#[tokio::test]
async fn attributes_are_set_and_removed_through_the_agent_api_and_greet_a_returning_contact() {
    let clock = ManualClock::at(WEDNESDAY_11AM);
    let app = TestApp::spawn_with_clock(clock.clone(), |_| {}).await;
    let ana = app.add_agent("ana", Role::Agent).await;
    app.wait_for_knowledge().await;
    let phone = "+13035550161";

    app.text(phone, "hi", &sid()).await;
    app.settle().await;
    assert!(
        last_reply(&app, phone)
            .await
            .contains("How can we help today")
    );

    let response = patch(
        &app,
        &ana.token,
        phone,
        json!({"attributes": {"name": "Sarah", "preferred_store": "Boulder"}}),
    )
    .await;
    assert_eq!(response.status(), 200);
    let contact: Value = response.json().await.unwrap();
    assert_eq!(
        contact["attributes"],
        json!({"name": "Sarah", "preferred_store": "Boulder"})
    );

    // Only the attributes: the time zone is left as it was, and null removes one.
    patch(
        &app,
        &ana.token,
        phone,
        json!({"timezone": "America/New_York"}),
    )
    .await;
    let response = patch(
        &app,
        &ana.token,
        phone,
        json!({"attributes": {"preferred_store": null}}),
    )
    .await;
    let contact: Value = response.json().await.unwrap();
    assert_eq!(contact["attributes"], json!({"name": "Sarah"}));
    assert_eq!(contact["timezone"], "America/New_York");

    // The next day, a new exchange: greeted by name, not as a stranger.
    clock.advance(DAY);
    app.text(phone, "hello", &sid()).await;
    app.settle().await;
    assert_eq!(
        last_reply(&app, phone).await,
        "Hi again, Sarah! What can we help you with today?"
    );
}

#[tokio::test]
async fn bad_attributes_are_refused_with_the_reason() {
    let app = TestApp::spawn().await;
    let ana = app.add_agent("ana", Role::Agent).await;
    let phone = "+13035550162";
    app.text(phone, "hi", &sid()).await;
    app.settle().await;
    for (body, status, reason) in [
        (
            json!({"attributes": {"first name": "Sarah"}}),
            400,
            "attribute name",
        ),
        (
            json!({"attributes": {"note": "x".repeat(201)}}),
            400,
            "at most 200",
        ),
        // A misspelt field is refused, not ignored (the JSON does not fit the form).
        (json!({"atributes": {"name": "Sarah"}}), 422, "atributes"),
    ] {
        let response = patch(&app, &ana.token, phone, body).await;
        let got = response.status();
        let text = response.text().await.unwrap();
        assert_eq!(got, status, "{text}");
        assert!(text.contains(reason), "{text}");
    }
    let many: serde_json::Map<String, Value> =
        (0..31).map(|i| (format!("a{i}"), json!("v"))).collect();
    let response = patch(&app, &ana.token, phone, json!({"attributes": many})).await;
    assert_eq!(response.status(), 400);
    assert!(response.text().await.unwrap().contains("at most 30"));
}

#[tokio::test]
async fn a_contact_who_texted_before_without_a_name_is_welcomed_back() {
    let clock = ManualClock::at(WEDNESDAY_11AM);
    let app = TestApp::spawn_with_clock(clock.clone(), |_| {}).await;
    app.wait_for_knowledge().await;
    let phone = "+13035550163";
    app.text(phone, "hi", &sid()).await;
    app.settle().await;
    clock.advance(2 * DAY);
    app.text(phone, "hey there", &sid()).await;
    app.settle().await;
    assert_eq!(
        last_reply(&app, phone).await,
        "Hi again! What can we help you with today?"
    );
}
