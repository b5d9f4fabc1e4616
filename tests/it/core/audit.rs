//! The audit log: every agent's and admin's action is recorded with who and when, read
//! through the admin API and `textdesk audit`, and holds no customer's words or number.

use serde_json::{Value, json};
use textdesk::store::Role;

use crate::support::{TestApp, sid};

/// The (actor, action, target) of each entry, oldest first.
fn trail(page: &Value) -> Vec<(String, String, String)> {
    let mut entries: Vec<(String, String, String)> = page["entries"]
        .as_array()
        .expect("entries")
        .iter()
        .map(|e| {
            (
                e["actor"].as_str().unwrap().to_string(),
                e["action"].as_str().unwrap().to_string(),
                e["target"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    entries.reverse();
    entries
}

fn owned(items: &[(&str, &str, String)]) -> Vec<(String, String, String)> {
    items
        .iter()
        .map(|(a, b, c)| (a.to_string(), b.to_string(), c.clone()))
        .collect()
}

#[tokio::test]
async fn each_desk_action_is_in_the_audit_log_with_who_did_it_and_no_customer_words() {
    let app = TestApp::spawn().await;
    let ana = app.add_agent("ana", Role::Agent).await;
    let root = app.add_agent("root", Role::Admin).await;
    let phone = "+13035550177";
    app.text(phone, "can I talk to a real person please", &sid())
        .await;
    app.settle().await;
    let waiting = app.handoffs(&ana.token, "waiting").await;
    assert_eq!(waiting.len(), 1, "{waiting:#?}");
    let handoff = waiting[0]["id"].as_i64().unwrap();
    let conversation = waiting[0]["conversation_id"].as_i64().unwrap();
    let contact = waiting[0]["contact_id"].as_i64().unwrap();

    let ok = |response: reqwest::Response| async move {
        let status = response.status();
        assert!(
            status.is_success(),
            "{status} {}",
            response.text().await.unwrap()
        );
    };
    ok(app
        .api_post(
            &ana.token,
            &format!("/api/v1/handoffs/{handoff}/claim"),
            json!({}),
        )
        .await)
    .await;
    ok(app
        .api_post(
            &ana.token,
            &format!("/api/v1/conversations/{conversation}/messages"),
            json!({ "body": "Hi, Ana here. Secret words 7731." }),
        )
        .await)
    .await;
    ok(app
        .api_post(
            &ana.token,
            &format!("/api/v1/conversations/{conversation}/notes"),
            json!({ "body": "private note 5512" }),
        )
        .await)
    .await;
    ok(app
        .api_post(
            &ana.token,
            &format!("/api/v1/handoffs/{handoff}/transfer"),
            json!({ "agent": "root" }),
        )
        .await)
    .await;
    ok(app
        .api_post(
            &root.token,
            &format!("/api/v1/handoffs/{handoff}/resolve"),
            json!({}),
        )
        .await)
    .await;
    let edit = app
        .http
        .patch(format!("{}/api/v1/contacts/%2B13035550177", app.base_url))
        .bearer_auth(&root.token)
        .json(&json!({ "timezone": "America/Denver", "attributes": { "plan": "gold-9931" } }))
        .send()
        .await
        .unwrap();
    ok(edit).await;
    ok(app
        .api_post(
            &root.token,
            "/api/v1/admin/contacts/%2B13035550177/forget",
            json!({}),
        )
        .await)
    .await;

    let page = app.api_json(&root.token, "/api/v1/admin/audit").await;
    let agent_id = |name: &str| if name == "ana" { ana.id } else { root.id };
    assert_eq!(
        trail(&page),
        owned(&[
            ("cli", "agent.added", "agent ana".into()),
            ("cli", "agent.added", "agent root".into()),
            ("ana", "handoff.claimed", format!("handoff {handoff}")),
            (
                "ana",
                "message.sent",
                trail(&page)[3].2.clone(), // the message's id
            ),
            ("ana", "note.added", trail(&page)[4].2.clone()),
            ("ana", "handoff.transferred", format!("handoff {handoff}")),
            ("root", "handoff.resolved", format!("handoff {handoff}")),
            ("root", "contact.updated", format!("contact {contact}")),
            ("root", "contact.updated", format!("contact {contact}")),
            ("root", "contact.erased", format!("contact {contact}")),
        ]),
        "{page:#}"
    );
    for entry in page["entries"].as_array().unwrap() {
        let actor = entry["actor"].as_str().unwrap();
        if actor != "cli" {
            // (The test seeds its agents at time 0; what they do happens now.)
            assert_eq!(entry["actor_id"], agent_id(actor), "{entry}");
            assert!(entry["created_at"].as_i64().unwrap() > 0, "{entry}");
        }
    }
    let entries = page["entries"].as_array().unwrap();
    let message = &entries[6];
    assert!(message["target"].as_str().unwrap().starts_with("message "));
    assert_eq!(message["conversation_id"], conversation);
    let transfer = &entries[4];
    assert_eq!(transfer["detail"]["to_agent_id"], root.id, "{transfer}");
    // The log outlives erasure: it names ids, never a customer's words or number.
    let text = page.to_string();
    for secret in ["7731", "5512", "3035550177", "gold-9931", "real person"] {
        assert!(
            !text.contains(secret),
            "{secret} leaked into the audit log: {text}"
        );
    }
    assert!(
        text.contains("\"plan\""),
        "the edited attribute's name is kept: {text}"
    );

    // Filters and pages.
    let anas = app
        .api_json(&root.token, "/api/v1/admin/audit?actor=ana")
        .await;
    assert_eq!(anas["entries"].as_array().unwrap().len(), 4, "{anas:#}");
    let claims = app
        .api_json(&root.token, "/api/v1/admin/audit?action=handoff.claimed")
        .await;
    assert_eq!(trail(&claims).len(), 1, "{claims:#}");
    let first = app
        .api_json(&root.token, "/api/v1/admin/audit?limit=4")
        .await;
    let before = first["next_before"].as_i64().expect("a next page");
    let second = app
        .api_json(
            &root.token,
            &format!("/api/v1/admin/audit?limit=4&before={before}"),
        )
        .await;
    let mut paged = trail(&second);
    paged.extend(trail(&first));
    assert_eq!(paged, trail(&page)[2..].to_vec());

    // Refusals: agents may not read it; a wrong filter says what is allowed.
    assert_eq!(
        app.api_get(&ana.token, "/api/v1/admin/audit")
            .await
            .status(),
        403
    );
    let wrong = app
        .api_get(&root.token, "/api/v1/admin/audit?action=deleted")
        .await;
    assert_eq!(wrong.status(), 400);
    assert!(wrong.text().await.unwrap().contains("handoff.claimed"));

    // The command line reads the same log.
    let out = app.cli(&[
        "audit",
        "--since",
        "2000-01-01",
        "--action",
        "handoff.resolved",
        "--json",
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let lines: Vec<Value> = String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 1, "{lines:#?}");
    assert_eq!(lines[0]["actor"], "root");
    assert_eq!(lines[0]["target"], format!("handoff {handoff}"));
}

#[tokio::test]
async fn a_refused_action_leaves_no_entry() {
    let app = TestApp::spawn().await;
    let ana = app.add_agent("ana", Role::Agent).await;
    let bo = app.add_agent("bo", Role::Agent).await;
    let root = app.add_agent("root", Role::Admin).await;
    app.text("+13035550178", "agent please", &sid()).await;
    app.settle().await;
    let handoff = app.handoffs(&ana.token, "waiting").await[0]["id"]
        .as_i64()
        .unwrap();
    let claim = format!("/api/v1/handoffs/{handoff}/claim");
    assert_eq!(
        app.api_post(&ana.token, &claim, json!({})).await.status(),
        200
    );
    // Bo lost the race: a 409, and nothing in the log says he claimed it.
    assert_eq!(
        app.api_post(&bo.token, &claim, json!({})).await.status(),
        409
    );
    let claims = app
        .api_json(&root.token, "/api/v1/admin/audit?action=handoff.claimed")
        .await;
    assert_eq!(
        trail(&claims),
        owned(&[("ana", "handoff.claimed", format!("handoff {handoff}"))])
    );
}
