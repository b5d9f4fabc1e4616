//! Saved replies (`prompts/replies/`): listed for agents, filled in for the
//! conversation in front of them, and reloaded when an operator edits the folder.

use std::time::Duration;

use serde_json::{Value, json};
use textdesk::store::Role;

use crate::support::{TestApp, copy_prompts, repo_path, sid};

fn reply<'v>(list: &'v Value, shortcut: &str) -> Option<&'v Value> {
    list["replies"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["shortcut"] == shortcut)
}

#[tokio::test]
async fn a_saved_reply_is_filled_in_for_the_contact_and_the_agent() {
    let app = TestApp::spawn().await;
    let ana = app.add_agent("ana", Role::Agent).await;
    let phone = "+13035550191";
    app.text(phone, "can I talk to a person", &sid()).await;
    app.settle().await;
    let conversation = app.handoffs(&ana.token, "waiting").await[0]["conversation_id"]
        .as_i64()
        .unwrap();
    let named = app
        .http
        .patch(format!("{}/api/v1/contacts/%2B13035550191", app.base_url))
        .bearer_auth(&ana.token)
        .json(&json!({ "attributes": { "name": "Dana" } }))
        .send()
        .await
        .unwrap();
    assert_eq!(named.status(), 200);

    // Without a conversation: the templates as written.
    let plain = app.api_json(&ana.token, "/api/v1/replies").await;
    let ship = reply(&plain, "ship").expect("the shipped /ship reply");
    assert_eq!(ship["title"], "Shipping times");
    assert!(
        ship["template"]
            .as_str()
            .unwrap()
            .contains("{{ agent.name }}")
    );
    assert!(ship["text"].is_null());
    assert!(plain["error"].is_null(), "{plain:#}");

    // For the conversation: the contact's name and the agent's, with its segments.
    let filled = app
        .api_json(
            &ana.token,
            &format!("/api/v1/replies?conversation_id={conversation}"),
        )
        .await;
    let ship = reply(&filled, "ship").unwrap();
    let text = ship["text"].as_str().unwrap();
    assert!(text.starts_with("Hi Dana, ana here."), "{text}");
    assert!(!text.contains("{{"), "{text}");
    let expected = textdesk::sms::segments::count(text);
    assert_eq!(ship["segments"], expected.segments);
    assert_eq!(ship["encoding"], expected.encoding.as_str());

    let missing = app
        .api_get(&ana.token, "/api/v1/replies?conversation_id=999999")
        .await;
    assert_eq!(missing.status(), 404);
}

#[tokio::test]
async fn an_edited_reply_folder_reloads_and_a_broken_file_is_reported_while_the_last_good_set_serves()
 {
    let prompts = copy_prompts();
    let replies = prompts.path().join("replies");
    std::fs::create_dir(&replies).unwrap();
    std::fs::copy(
        repo_path("prompts/replies/ship.md"),
        replies.join("ship.md"),
    )
    .unwrap();
    let dir = prompts.path().to_path_buf();
    let app = TestApp::spawn_with(move |c| c.prompts_dir = dir).await;
    let ana = app.add_agent("ana", Role::Agent).await;

    let list = app.api_json(&ana.token, "/api/v1/replies").await;
    assert_eq!(list["replies"].as_array().unwrap().len(), 1, "{list:#}");

    std::fs::write(
        replies.join("gift.md"),
        "---\nshortcut: gift\ntitle: Gift wrap\n---\nWe gift-wrap any order for $5.\n",
    )
    .unwrap();
    let mut seen = Value::Null;
    for _ in 0..60 {
        seen = app.api_json(&ana.token, "/api/v1/replies").await;
        if reply(&seen, "gift").is_some() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(
        reply(&seen, "gift").is_some(),
        "the new reply is listed: {seen:#}"
    );

    // A misspelt variable on line 5: reported with file and line; both good replies
    // keep serving.
    std::fs::write(
        replies.join("oops.md"),
        "---\nshortcut: oops\n---\nHello,\n{{ agnet.name }} here.\n",
    )
    .unwrap();
    for _ in 0..60 {
        seen = app.api_json(&ana.token, "/api/v1/replies").await;
        if !seen["error"].is_null() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(seen["error"]["file"], "oops.md", "{seen:#}");
    assert_eq!(seen["error"]["line"], 5, "{seen:#}");
    assert!(seen["error"]["message"].as_str().unwrap().contains("agnet"));
    assert!(reply(&seen, "gift").is_some() && reply(&seen, "ship").is_some());
    assert!(reply(&seen, "oops").is_none());
}
