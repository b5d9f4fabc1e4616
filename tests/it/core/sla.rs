//! SLA targets (`[sla]` in policy.toml), counted in business hours on a pinned clock:
//! a target is missed at exactly its due time, never by the hours the team is out.

use std::time::Duration;

use serde_json::Value;
use textdesk::clock::ManualClock;
use textdesk::store::Role;

use crate::support::agents::TestAgent;
use crate::support::{TestApp, sid};

/// Wednesday 2 Dec 2026, 11:00 in Denver: the demo team is in (9:00–18:00).
const WEDNESDAY_11AM: i64 = 1_796_234_400_000;
/// Saturday 5 Dec 2026, 20:00 in Denver: closed until Monday 9:00.
const SATURDAY_8PM: i64 = 1_796_526_000_000;
const MINUTE: i64 = 60_000;
const HOUR: i64 = 60 * MINUTE;

/// The one handoff, as the queue shows it, after the SLA sweep had time to run.
async fn the_handoff(app: &TestApp, agent: &TestAgent) -> Value {
    tokio::time::sleep(Duration::from_millis(1200)).await;
    let waiting = app.handoffs(&agent.token, "waiting").await;
    assert_eq!(waiting.len(), 1, "{waiting:#?}");
    waiting[0].clone()
}

fn breached(handoff: &Value) -> Vec<String> {
    handoff["sla"]["breached"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m.as_str().unwrap().to_string())
        .collect()
}

#[tokio::test]
async fn the_first_response_target_is_missed_at_exactly_one_business_hour() {
    let clock = ManualClock::at(WEDNESDAY_11AM);
    let app = TestApp::spawn_with_clock(clock.clone(), |_| {}).await;
    let ana = app.add_agent("ana", Role::Agent).await;
    let root = app.add_agent("root", Role::Admin).await;
    let mut stream = app.events(&ana.token, None).await;
    app.text("+13035550221", "I want to talk to a person", &sid())
        .await;
    app.settle().await;

    // Normal priority: a first reply within 60 business minutes, due at noon.
    let handoff = the_handoff(&app, &ana).await;
    assert_eq!(handoff["priority"], 3);
    assert_eq!(
        handoff["sla"]["first_response_due_at"],
        WEDNESDAY_11AM + HOUR
    );
    assert!(breached(&handoff).is_empty());

    clock.set(WEDNESDAY_11AM + HOUR - 1);
    assert!(
        breached(&the_handoff(&app, &ana).await).is_empty(),
        "not a millisecond early"
    );
    clock.set(WEDNESDAY_11AM + HOUR);
    let handoff = the_handoff(&app, &ana).await;
    assert_eq!(breached(&handoff), ["first_response"], "{handoff:#}");

    let seen = stream.until("sla.breached", Duration::from_secs(10)).await;
    let event = seen.last().unwrap();
    assert_eq!(event.data["handoff_id"], handoff["id"]);
    assert_eq!(event.data["payload"]["metric"], "first_response");
    assert_eq!(event.data["payload"]["due_at"], WEDNESDAY_11AM + HOUR);

    // Recorded once, however long it stays unanswered; and counted in the analytics.
    clock.set(WEDNESDAY_11AM + 2 * HOUR);
    assert_eq!(breached(&the_handoff(&app, &ana).await), ["first_response"]);
    let report = app
        .api_json(
            &root.token,
            &format!(
                "/api/v1/analytics?from={}&to={}",
                WEDNESDAY_11AM - HOUR,
                WEDNESDAY_11AM + 3 * HOUR
            ),
        )
        .await;
    assert_eq!(
        report["totals"]["sla_breaches"]["first_response"], 1,
        "{report:#}"
    );
}

#[tokio::test]
async fn the_hours_the_team_is_out_do_not_count() {
    let clock = ManualClock::at(SATURDAY_8PM);
    let app = TestApp::spawn_with_clock(clock.clone(), |_| {}).await;
    let ana = app.add_agent("ana", Role::Agent).await;
    app.text("+13035550222", "I want to talk to a person", &sid())
        .await;
    app.settle().await;

    // Closed until Monday 9:00: the hour runs from then.
    let monday_10am = SATURDAY_8PM + 38 * HOUR;
    let handoff = the_handoff(&app, &ana).await;
    assert_eq!(handoff["sla"]["first_response_due_at"], monday_10am);
    clock.set(SATURDAY_8PM + 24 * HOUR);
    assert!(
        breached(&the_handoff(&app, &ana).await).is_empty(),
        "a closed Sunday"
    );
    clock.set(monday_10am - 1);
    assert!(breached(&the_handoff(&app, &ana).await).is_empty());
    clock.set(monday_10am);
    assert_eq!(breached(&the_handoff(&app, &ana).await), ["first_response"]);
}

#[tokio::test]
async fn an_answer_or_a_resolution_that_comes_late_is_a_miss_even_between_sweeps() {
    let clock = ManualClock::at(WEDNESDAY_11AM);
    // The sweep runs every 10 × poll_ms: once in 20 s here, so the misses below can
    // only be seen by the check the agent's own action makes.
    let app = TestApp::spawn_with_clock(clock.clone(), |c| c.worker.poll_ms = 2_000).await;
    let ana = app.add_agent("ana", Role::Agent).await;
    let phone = "+13035550223";
    app.text(phone, "I want to talk to a person", &sid()).await;
    app.settle().await;
    let handoff = app.handoffs(&ana.token, "waiting").await[0].clone();
    let (id, conversation) = (
        handoff["id"].as_i64().unwrap(),
        handoff["conversation_id"].as_i64().unwrap(),
    );
    let reply = |body: &'static str| {
        let app = &app;
        let token = ana.token.clone();
        async move {
            let sent = app
                .api_post(
                    &token,
                    &format!("/api/v1/conversations/{conversation}/messages"),
                    serde_json::json!({ "body": body }),
                )
                .await;
            assert_eq!(sent.status(), 201);
        }
    };
    let claimed = app
        .api_post(
            &ana.token,
            &format!("/api/v1/handoffs/{id}/claim"),
            serde_json::json!({}),
        )
        .await;
    assert_eq!(claimed.status(), 200);

    // A first answer in time, then the customer's next text at 11:20: normal priority
    // gives the next answer 120 business minutes, due 13:20.
    clock.set(WEDNESDAY_11AM + 10 * MINUTE);
    reply("Hi, Ana here. Looking into it.").await;
    clock.set(WEDNESDAY_11AM + 20 * MINUTE);
    app.text(phone, "any news?", &sid()).await;
    app.settle().await;
    clock.set(WEDNESDAY_11AM + 20 * MINUTE + 2 * HOUR + MINUTE);
    reply("Sorry for the wait: it ships today.").await;

    // Resolution is due after 1,440 business minutes (Friday 17:00); resolved on the
    // next Wednesday, at once after the clock moves.
    clock.set(WEDNESDAY_11AM + 7 * 24 * HOUR);
    let resolved = app
        .api_post(
            &ana.token,
            &format!("/api/v1/handoffs/{id}/resolve"),
            serde_json::json!({ "hand_back": true, "send_csat": false }),
        )
        .await;
    assert_eq!(resolved.status(), 200);
    let resolved = app.handoffs(&ana.token, "resolved").await;
    let handoff = resolved.iter().find(|h| h["id"] == id).unwrap();
    assert_eq!(
        breached(handoff),
        ["next_response", "resolution"],
        "{handoff:#}"
    );
}
