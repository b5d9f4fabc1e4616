//! Retention and erasure: a contact erased on request keeps only what proves their
//! opt-out; old queue rows, deliveries and events are pruned without touching what
//! the desk still needs.

use serde_json::json;
use textdesk::store::{ERASED, RetentionCutoffs, Role};

use crate::support::{TestApp, sid};

async fn say(app: &TestApp, phone: &str, body: &str) {
    app.text(phone, body, &sid()).await;
    app.settle().await;
}

#[tokio::test]
async fn an_erased_contact_keeps_only_the_proof_of_their_opt_out() {
    let app = TestApp::spawn().await;
    app.wait_for_knowledge().await;
    let ana = app.add_agent("ana", Role::Agent).await;
    let root = app.add_agent("root", Role::Admin).await;
    let phone = "+15555550171";
    say(
        &app,
        phone,
        "Hi, where is my order #48213? My email is jo@example.com",
    )
    .await;
    say(&app, phone, "this is ridiculous, 3rd time I'm asking!!!").await;
    let handoff = app.handoffs(&ana.token, "waiting").await[0].clone();
    let conversation = handoff["conversation_id"].as_i64().unwrap();
    let note = app
        .api_post(
            &ana.token,
            &format!("/api/v1/conversations/{conversation}/notes"),
            json!({ "body": "Jo Smith, order 48213, lives on Elm St" }),
        )
        .await;
    assert_eq!(note.status(), 201);
    let named = app
        .http
        .patch(format!("{}/api/v1/contacts/{phone}", app.base_url))
        .bearer_auth(&ana.token)
        .json(&json!({ "attributes": { "name": "Jo" } }))
        .send()
        .await
        .unwrap();
    assert_eq!(named.status(), 200);
    say(&app, phone, "STOP").await;

    let path = format!(
        "/api/v1/admin/contacts/{}/forget",
        phone.replace('+', "%2B")
    );
    // Agents may not; admins may; an unknown number is a 404.
    assert_eq!(
        app.api_post(&ana.token, &path, json!({})).await.status(),
        403
    );
    let unknown = app
        .api_post(
            &root.token,
            "/api/v1/admin/contacts/%2B15555550999/forget",
            json!({}),
        )
        .await;
    assert_eq!(unknown.status(), 404);
    let erased = app.api_post(&root.token, &path, json!({})).await;
    assert_eq!(erased.status(), 200);
    let erased: serde_json::Value = erased.json().await.unwrap();
    assert!(erased["messages"].as_u64().unwrap() >= 5, "{erased}");
    assert_eq!(erased["notes"], 1, "{erased}");
    assert_eq!(erased["handoffs"], 1, "{erased}");

    // Nothing they wrote or that was written about them is left.
    let detail = app
        .api_json(&ana.token, &format!("/api/v1/conversations/{conversation}"))
        .await;
    let text = detail.to_string();
    for secret in [
        "48213",
        "jo@example.com",
        "Elm St",
        "ridiculous",
        "Jo Smith",
    ] {
        assert!(
            !text.contains(secret),
            "{secret} survived erasure: {detail:#}"
        );
    }
    assert!(app.transcript(phone).await.iter().all(|m| m.body == ERASED));
    let contact = app
        .api_json(
            &ana.token,
            &format!("/api/v1/contacts/{}", phone.replace('+', "%2B")),
        )
        .await;
    assert_eq!(contact["attributes"], json!({}), "{contact:#}");

    // The opt-out and its ledger stand, and are still honoured.
    let consent = app
        .api_json(
            &root.token,
            &format!("/api/v1/admin/consent?phone={}", phone.replace('+', "%2B")),
        )
        .await;
    assert_eq!(consent["consent"], "opted_out", "{consent:#}");
    assert_eq!(consent["ledger"][0]["detail"], "STOP", "{consent:#}");
    let before = app.outbound(phone).await.len();
    say(&app, phone, "hello?").await;
    assert_eq!(app.outbound(phone).await.len(), before, "still opted out");
}

#[tokio::test]
async fn pruning_removes_finished_work_and_keeps_the_conversation() {
    let app = TestApp::spawn().await;
    app.wait_for_knowledge().await;
    let phone = "+15555550172";
    say(&app, phone, "what are your hours?").await;
    say(&app, phone, "do you ship to canada?").await;
    let replies = app.outbound(phone).await;
    assert_eq!(replies.len(), 2);
    // Another customer's handoff writes to the event log.
    let upset = "+15555550174";
    say(&app, upset, "this is ridiculous, 3rd time I'm asking!!!").await;

    let everything_so_far = RetentionCutoffs {
        queue: Some(i64::MAX),
        deliveries: Some(i64::MAX),
        events: Some(i64::MAX),
        content: None,
    };
    let pruned = app.store().prune(&everything_so_far).await.unwrap();
    // Three texts in and their replies out, and the handoff's events.
    assert_eq!(pruned.queue_rows, 6, "{pruned:?}");
    assert!(pruned.events >= 1, "{pruned:?}");
    assert_eq!(
        app.store().prune(&everything_so_far).await.unwrap().total(),
        0
    );
    assert_eq!(
        app.outbound(phone).await.len(),
        2,
        "messages are not queue rows"
    );

    // The desk goes on working after a prune.
    say(&app, phone, "can I return a tent I bought last month?").await;
    assert_eq!(
        app.outbound(phone).await.len(),
        3,
        "{:#?}",
        app.transcript(phone).await
    );

    // The words go only when the operator sets a window for them.
    let words_too = RetentionCutoffs {
        content: Some(i64::MAX),
        ..Default::default()
    };
    let pruned = app.store().prune(&words_too).await.unwrap();
    let messages = app.transcript(phone).await.len() + app.transcript(upset).await.len();
    assert_eq!(messages, 8);
    assert_eq!(pruned.messages_blanked, 8, "{pruned:?}");
    assert!(app.transcript(phone).await.iter().all(|m| m.body == ERASED));
}

#[tokio::test]
async fn textdesk_contact_forget_erases_from_the_command_line() {
    let app = TestApp::spawn().await;
    app.wait_for_knowledge().await;
    let phone = "+15555550173";
    say(&app, phone, "my card is declined, order 77120").await;

    let forget = |phone: &str| app.cli(&["contact", "forget", phone, "--by", "dpo"]);
    let done = forget(phone);
    let said = String::from_utf8_lossy(&done.stdout);
    assert!(
        done.status.success(),
        "{}",
        String::from_utf8_lossy(&done.stderr)
    );
    assert!(
        said.contains("erased +1555***0173") && said.contains("2 messages"),
        "{said}"
    );
    assert!(app.transcript(phone).await.iter().all(|m| m.body == ERASED));

    let nobody = forget("+15555550998");
    assert!(!nobody.status.success());
    assert!(String::from_utf8_lossy(&nobody.stderr).contains("no contact"));
}
