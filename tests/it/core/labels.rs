//! Labels on conversations: agents add and remove them, the queue filters by them, the
//! analytics split by them.

use serde_json::{Value, json};
use textdesk::store::Role;

use crate::support::{TestApp, sid};

async fn escalate(app: &TestApp, phone: &str) {
    app.text(phone, "can I talk to a real person", &sid()).await;
    app.settle().await;
}

fn labels(view: &Value) -> Vec<String> {
    view["labels"]
        .as_array()
        .expect("labels")
        .iter()
        .map(|l| l.as_str().unwrap().to_string())
        .collect()
}

#[tokio::test]
async fn an_agent_labels_a_conversation_and_the_queue_and_analytics_follow() {
    let app = TestApp::spawn().await;
    let ana = app.add_agent("ana", Role::Agent).await;
    let root = app.add_agent("root", Role::Admin).await;
    escalate(&app, "+13035550181").await;
    escalate(&app, "+13035550182").await;
    let waiting = app.handoffs(&ana.token, "waiting").await;
    assert_eq!(waiting.len(), 2, "{waiting:#?}");
    let vip = waiting[0]["conversation_id"].as_i64().unwrap();
    let other = waiting[1]["conversation_id"].as_i64().unwrap();
    assert!(labels(&waiting[0]).is_empty());

    let path = format!("/api/v1/conversations/{vip}/labels");
    for label in ["VIP", "vip", "Refund asked"] {
        let response = app
            .api_post(&ana.token, &path, json!({ "label": label }))
            .await;
        assert_eq!(response.status(), 200, "{label}");
    }
    let detail = app
        .api_json(&ana.token, &format!("/api/v1/conversations/{vip}"))
        .await;
    assert_eq!(
        labels(&detail),
        ["refund-asked", "vip"],
        "one label per word, however typed"
    );

    // The queue filtered by a label shows only that conversation, with its labels.
    let only_vip = app
        .api_json(&ana.token, "/api/v1/handoffs?status=waiting&label=vip")
        .await;
    let only_vip = only_vip.as_array().unwrap();
    assert_eq!(only_vip.len(), 1, "{only_vip:#?}");
    assert_eq!(only_vip[0]["conversation_id"], vip);
    assert_eq!(labels(&only_vip[0]), ["refund-asked", "vip"]);
    let none = app
        .api_json(&ana.token, "/api/v1/handoffs?label=billing")
        .await;
    assert_eq!(none.as_array().unwrap().len(), 0);

    let in_use = app.api_json(&ana.token, "/api/v1/labels").await;
    assert_eq!(
        in_use,
        json!([{ "label": "refund-asked", "conversations": 1 }, { "label": "vip", "conversations": 1 }])
    );

    // Analytics split by label: each label its group, the unlabelled one "(none)".
    let report = app
        .api_json(&root.token, "/api/v1/analytics?group_by=label")
        .await;
    let groups: Vec<(String, u64)> = report["groups"]
        .as_array()
        .unwrap()
        .iter()
        .map(|g| {
            (
                g["key"].as_str().unwrap().to_string(),
                g["figures"]["conversations"].as_u64().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        groups,
        [
            ("(none)".to_string(), 1),
            ("refund-asked".to_string(), 1),
            ("vip".to_string(), 1)
        ],
        "{report:#}"
    );

    // Removing: the label is gone from the conversation and the filter.
    let removed = app
        .http
        .delete(format!("{}{path}/vip", app.base_url))
        .bearer_auth(&ana.token)
        .send()
        .await
        .unwrap();
    assert_eq!(removed.status(), 200);
    let removed: Value = removed.json().await.unwrap();
    assert_eq!(labels(&removed), ["refund-asked"]);
    let only_vip = app.api_json(&ana.token, "/api/v1/handoffs?label=vip").await;
    assert_eq!(only_vip.as_array().unwrap().len(), 0);

    // Each change is in the audit log once: the repeated "vip" changed nothing.
    let audit = app
        .api_json(&root.token, "/api/v1/admin/audit?actor=ana")
        .await;
    let actions: Vec<&str> = audit["entries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["action"].as_str().unwrap())
        .collect();
    assert_eq!(actions, ["label.removed", "label.added", "label.added"]);

    // Refusals name the problem.
    let bad = app
        .api_post(
            &ana.token,
            &format!("/api/v1/conversations/{other}/labels"),
            json!({ "label": "a/b" }),
        )
        .await;
    assert_eq!(bad.status(), 400);
    assert!(bad.text().await.unwrap().contains("letters, digits"));
    let missing = app
        .api_post(
            &ana.token,
            "/api/v1/conversations/999999/labels",
            json!({ "label": "vip" }),
        )
        .await;
    assert_eq!(missing.status(), 404);
}
