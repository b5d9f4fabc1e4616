//! Routing (`[routing]` in policy.toml): new handoffs go to online agents with room,
//! wait when everyone is full, and follow teams.

use std::collections::BTreeSet;
use std::time::Duration;

use serde_json::{Value, json};
use textdesk::store::Role;

use crate::support::agents::TestAgent;
use crate::support::{TestApp, copy_prompts, sid};

/// textdesk with `[routing]` edited: `changes` are (from, to) replacements in the
/// shipped policy.toml, `more` is appended to it.
async fn app_routing(changes: &[(&str, &str)], more: &str) -> (TestApp, tempfile::TempDir) {
    let prompts = copy_prompts();
    let path = prompts.path().join("policy.toml");
    let mut policy = std::fs::read_to_string(&path).unwrap();
    for (from, to) in changes {
        assert!(policy.contains(from), "policy.toml has {from:?}");
        policy = policy.replacen(from, to, 1);
    }
    policy.push_str(more);
    std::fs::write(&path, policy).unwrap();
    let dir = prompts.path().to_path_buf();
    let app = TestApp::spawn_with(move |c| c.prompts_dir = dir).await;
    (app, prompts)
}

/// The agent opens the inbox (any API call marks them online).
async fn online(app: &TestApp, agent: &TestAgent) {
    app.api_json(&agent.token, "/api/v1/me").await;
}

async fn escalate(app: &TestApp, phone: &str) {
    app.text(phone, "can I talk to a real person please", &sid())
        .await;
}

/// Polls the queue until `check` holds for (assigned, waiting).
async fn eventually(
    app: &TestApp,
    token: &str,
    what: &str,
    check: impl Fn(&[Value], &[Value]) -> bool,
) -> (Vec<Value>, Vec<Value>) {
    let mut last = (Vec::new(), Vec::new());
    for _ in 0..100 {
        app.settle().await;
        last = (
            app.handoffs(token, "assigned").await,
            app.handoffs(token, "waiting").await,
        );
        if check(&last.0, &last.1) {
            return last;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("{what}: assigned {:#?}, waiting {:#?}", last.0, last.1);
}

fn assignees(assigned: &[Value]) -> BTreeSet<String> {
    assigned
        .iter()
        .map(|h| h["assignee"].as_str().unwrap().to_string())
        .collect()
}

#[tokio::test]
async fn two_agents_with_room_for_one_each_take_two_of_three_and_the_third_waits_for_room() {
    let (app, _prompts) = app_routing(
        &[
            ("mode = \"off\"", "mode = \"least_busy\""),
            ("capacity = 3", "capacity = 1"),
        ],
        "",
    )
    .await;
    let ana = app.add_agent("ana", Role::Agent).await;
    let bo = app.add_agent("bo", Role::Agent).await;
    let _cleo = app.add_agent("cleo", Role::Agent).await; // never signs in: offline
    let root = app.add_agent("root", Role::Admin).await;
    online(&app, &ana).await;
    online(&app, &bo).await;

    let team = app.api_json(&ana.token, "/api/v1/agents").await;
    let online_now: Vec<&str> = team
        .as_array()
        .unwrap()
        .iter()
        .filter(|a| a["online"] == true)
        .map(|a| a["name"].as_str().unwrap())
        .collect();
    assert_eq!(online_now, ["ana", "bo"], "{team:#}");

    for phone in ["+13035550201", "+13035550202", "+13035550203"] {
        escalate(&app, phone).await;
    }
    let (assigned, waiting) = eventually(&app, &ana.token, "two assigned, one waiting", |a, w| {
        a.len() == 2 && w.len() == 1
    })
    .await;
    assert_eq!(
        assignees(&assigned),
        BTreeSet::from(["ana".to_string(), "bo".to_string()]),
        "one each: {assigned:#?}"
    );
    // It stays waiting: everyone online is full.
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert_eq!(app.handoffs(&ana.token, "waiting").await.len(), 1);
    // The team list says who is busy with how many.
    let team = app.api_json(&ana.token, "/api/v1/agents").await;
    let loads: Vec<(&str, i64)> = team
        .as_array()
        .unwrap()
        .iter()
        .map(|a| {
            (
                a["name"].as_str().unwrap(),
                a["open_handoffs"].as_i64().unwrap(),
            )
        })
        .collect();
    assert_eq!(loads, [("ana", 1), ("bo", 1), ("cleo", 0), ("root", 0)]);
    let third = waiting[0]["id"].as_i64().unwrap();

    // Ana resolves hers: she has room, and the third goes to her.
    let anas = assigned.iter().find(|h| h["assignee"] == "ana").unwrap()["id"]
        .as_i64()
        .unwrap();
    let resolved = app
        .api_post(
            &ana.token,
            &format!("/api/v1/handoffs/{anas}/resolve"),
            json!({}),
        )
        .await;
    assert_eq!(resolved.status(), 200);
    let (assigned, _) = eventually(&app, &ana.token, "the third is assigned", |a, w| {
        w.is_empty() && a.iter().any(|h| h["id"] == third)
    })
    .await;
    let given = assigned.iter().find(|h| h["id"] == third).unwrap();
    assert_eq!(given["assignee"], "ana", "{given:#}");

    // The audit log says the router did it.
    let audit = app
        .api_json(&root.token, "/api/v1/admin/audit?action=handoff.assigned")
        .await;
    let entries = audit["entries"].as_array().unwrap();
    assert_eq!(entries.len(), 3, "{audit:#}");
    assert!(entries.iter().all(|e| e["actor"] == "routing"));
}

#[tokio::test]
async fn a_rule_routes_to_its_team_and_what_waits_can_still_be_claimed_by_hand() {
    let (app, _prompts) = app_routing(
        &[("mode = \"off\"", "mode = \"round_robin\""), ("capacity = 3", "capacity = 1")],
        "\n[routing.teams]\nfront = [\"bo\", \"cy\"]\n[routing.rules]\nasked_for_human = \"front\"\n",
    )
    .await;
    let ana = app.add_agent("ana", Role::Agent).await;
    let bo = app.add_agent("bo", Role::Agent).await;
    let _cy = app.add_agent("cy", Role::Agent).await; // in the team, but offline
    online(&app, &ana).await;
    online(&app, &bo).await;
    for phone in ["+13035550211", "+13035550212"] {
        escalate(&app, phone).await;
    }
    let (assigned, waiting) = eventually(&app, &ana.token, "one assigned, one waiting", |a, w| {
        a.len() == 1 && w.len() == 1
    })
    .await;
    assert_eq!(
        assignees(&assigned),
        BTreeSet::from(["bo".to_string()]),
        "the front team only, never ana: {assigned:#?}"
    );
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert_eq!(
        app.handoffs(&ana.token, "waiting").await.len(),
        1,
        "bo is full, cy is offline: it waits for the team"
    );

    // Ana, outside the team, may still take it by hand.
    let id = waiting[0]["id"].as_i64().unwrap();
    let claim = app
        .api_post(
            &ana.token,
            &format!("/api/v1/handoffs/{id}/claim"),
            json!({}),
        )
        .await;
    assert_eq!(claim.status(), 200);
    let (assigned, waiting) = eventually(&app, &ana.token, "both assigned", |a, w| {
        a.len() == 2 && w.is_empty()
    })
    .await;
    assert!(waiting.is_empty());
    assert_eq!(
        assignees(&assigned),
        BTreeSet::from(["ana".to_string(), "bo".to_string()])
    );
}
