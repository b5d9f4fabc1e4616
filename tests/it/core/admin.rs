//! The admin API shows operators what the knowledge base holds and what is broken.

use std::time::Duration;

use crate::support::TestApp;

#[tokio::test]
async fn the_knowledge_status_lists_documents_chunks_and_broken_files() {
    let kb = tempfile::tempdir().unwrap();
    std::fs::write(
        kb.path().join("hours.md"),
        "---\ntitle: Hours\n---\n# Hours\n\nOpen 9 to 5.\n",
    )
    .unwrap();
    std::fs::write(
        kb.path().join("broken.md"),
        "---\ntitle: [oops\n---\n# Broken\n",
    )
    .unwrap();
    let kb_dir = kb.path().to_path_buf();
    let app = TestApp::spawn_with(move |config| config.knowledge_dir = kb_dir).await;
    let admin = app.add_agent("root", textdesk::store::Role::Admin).await;

    let url = format!("{}/api/v1/admin/knowledge", app.base_url);
    let mut status = serde_json::Value::Null;
    for _ in 0..50 {
        status = app
            .http
            .get(&url)
            .bearer_auth(&admin.token)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        if status["last_indexed"].is_string() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(status["documents"], 1, "{status}");
    assert_eq!(status["chunks"], 1, "{status}");
    assert_eq!(status["errors"][0]["file"], "broken.md", "{status}");
    assert_eq!(status["errors"][0]["line"], 2, "{status}");
}

#[tokio::test]
async fn preview_explains_a_decision_without_storing_or_sending_anything() {
    let app = crate::support::TestApp::spawn().await;
    let admin = app.add_agent("root", textdesk::store::Role::Admin).await;
    app.wait_for_knowledge().await;
    let url = format!("{}/api/v1/admin/preview", app.base_url);
    let phone = "+15555550399";

    let preview: serde_json::Value = app
        .http
        .post(&url)
        .bearer_auth(&admin.token)
        .json(&serde_json::json!({ "text": "what time do you open on sunday", "from": phone }))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(
        preview["thought"]["understanding"]["intent"], "store_hours",
        "{preview:#}"
    );
    assert_eq!(preview["thought"]["decision"]["kind"], "answer");
    assert!(
        preview["thought"]["retrieved"][0]["file"]
            .as_str()
            .unwrap()
            .contains("store-hours"),
        "{preview:#}"
    );
    let reply = &preview["replies"][0];
    assert_eq!(reply["encoding"], "GSM-7");
    assert!(reply["segments"].as_u64().unwrap() <= 2);

    let stop: serde_json::Value = app
        .http
        .post(&url)
        .bearer_auth(&admin.token)
        .json(&serde_json::json!({ "text": "STOP" }))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(stop["decided_by"], "OptedOut");
    assert_eq!(stop["consent_change"], "opted_out");

    let bad = app
        .http
        .post(&url)
        .bearer_auth(&admin.token)
        .json(&serde_json::json!({ "text": "hi", "from": "555" }))
        .send()
        .await
        .unwrap();
    assert_eq!(bad.status(), 400);

    assert!(
        app.transcript(phone).await.is_empty(),
        "a preview stores nothing"
    );
    assert_eq!(app.store().outbox_backlog().await.unwrap(), 0);
}
