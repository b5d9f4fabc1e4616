//! Analytics and CSAT stories: a known day of conversations, driven through the
//! webhook and the agent API with the clock pinned, and every figure checked against
//! numbers worked out by hand; the satisfaction survey from resolve to thank-you.

use std::time::Duration;

use serde_json::{Value, json};
use textdesk::clock::ManualClock;
use textdesk::store::Role;

use crate::support::agents::TestAgent;
use crate::support::{TestApp, sid};

/// Wednesday 2 Dec 2026, 11:00 in Denver (18:00 UTC): the demo team is in.
const T0: i64 = 1_796_234_400_000;
const MINUTE: i64 = 60_000;

const QUESTION: &str = "How did we do? Reply 1-5 (5 = great).";
const THANKS: &str = "Thanks for your feedback!";

async fn waiting_handoff(app: &TestApp, token: &str, phone: &str) -> (i64, i64) {
    let waiting = app.handoffs(token, "waiting").await;
    let h = waiting
        .iter()
        .find(|h| h["phone"] == phone)
        .unwrap_or_else(|| panic!("no waiting handoff for {phone}: {waiting:#?}"));
    (
        h["id"].as_i64().unwrap(),
        h["conversation_id"].as_i64().unwrap(),
    )
}

async fn ok(response: reqwest::Response) -> Value {
    let status = response.status();
    let body = response.text().await.unwrap();
    assert!(status.is_success(), "{status}: {body}");
    serde_json::from_str(&body).unwrap_or(Value::Null)
}

async fn claim(app: &TestApp, agent: &TestAgent, id: i64) {
    ok(app
        .api_post(
            &agent.token,
            &format!("/api/v1/handoffs/{id}/claim"),
            json!({}),
        )
        .await)
    .await;
}

async fn resolve(app: &TestApp, agent: &TestAgent, id: i64, hand_back: bool) {
    ok(app
        .api_post(
            &agent.token,
            &format!("/api/v1/handoffs/{id}/resolve"),
            json!({ "hand_back": hand_back }),
        )
        .await)
    .await;
    app.settle().await;
}

fn bodies(entries: &[textdesk::store::TranscriptEntry]) -> Vec<String> {
    entries.iter().map(|e| e.body.clone()).collect()
}

#[tokio::test]
async fn a_known_day_of_conversations_gives_the_hand_computed_figures() {
    let clock = ManualClock::at(T0);
    let app = TestApp::spawn_with_clock(clock.clone(), |config| {
        // An LLM that is down: texts the brain classifies fall back to the local
        // classifier (escalation rules that fire first never call it).
        config.llm.base_url = Some("http://127.0.0.1:9/v1".into());
        config.llm.api_key = Some("test-key".into());
        config.llm.timeout_ms = 300;
        config.llm.failures_to_open = 100;
    })
    .await;
    let ana = app.add_agent("ana", Role::Agent).await;
    let boss = app.add_agent("boss", Role::Admin).await;
    let (a, b, c, d, e) = (
        "+13035550201",
        "+13035550202",
        "+13035550203",
        "+13035550204",
        "+13035550205",
    );

    // t = 0: five customers write.
    // A: a question the bot answers (via the local classifier: the LLM is down).
    app.text(
        a,
        "Hi, where is my order #48213? It was supposed to arrive Monday.",
        &sid(),
    )
    .await;
    // B: asks for a person.
    app.text(b, "can I talk to a human", &sid()).await;
    // C: opts out.
    app.text(c, "STOP", &sid()).await;
    // D: threatens a chargeback.
    app.text(d, "I'll file a chargeback", &sid()).await;
    // E: asks for a person, then nudges (told once that it was noted).
    app.text(e, "I want to speak to a real person", &sid())
        .await;
    app.settle().await;
    app.text(e, "hello??", &sid()).await;
    app.settle().await;

    let (b_handoff, b_conversation) = waiting_handoff(&app, &ana.token, b).await;
    let (d_handoff, _) = waiting_handoff(&app, &ana.token, d).await;
    waiting_handoff(&app, &ana.token, e).await;

    // t = 2 min: Ana takes B; t = 4 min: D.
    clock.advance(2 * MINUTE);
    claim(&app, &ana, b_handoff).await;
    clock.advance(2 * MINUTE);
    claim(&app, &ana, d_handoff).await;
    // t = 5 min: Ana's first text to B.
    clock.advance(MINUTE);
    ok(app
        .api_post(
            &ana.token,
            &format!("/api/v1/conversations/{b_conversation}/messages"),
            json!({ "body": "Hi, Ana here. How can I help?" }),
        )
        .await)
    .await;
    app.settle().await;
    // t = 10 min: B resolved (closed): B gets the survey.
    clock.advance(5 * MINUTE);
    resolve(&app, &ana, b_handoff, false).await;
    // t = 11 min: B answers 5, on a new conversation.
    clock.advance(MINUTE);
    app.text(b, "5", &sid()).await;
    app.settle().await;
    // t = 12 min: D handed back to the bot: D gets the survey, never answers.
    clock.advance(MINUTE);
    resolve(&app, &ana, d_handoff, true).await;

    let window = format!("from={}&to={}", T0 - 60 * MINUTE, T0 + 60 * MINUTE);
    let report = app
        .api_json(&boss.token, &format!("/api/v1/analytics?{window}"))
        .await;
    let t = &report["totals"];

    // A, B, C, D, E; B's "5" conversation is only a survey answer.
    assert_eq!(t["conversations"], 5, "{t:#}");
    // A1 B1 C1 D1 E1 E2; all got a text back (A: answer, B/D/E: what happens next,
    // C: the STOP confirmation, E2: noted while waiting for a person).
    assert_eq!(t["inbound_texts"], 6);
    assert_eq!(t["replied_texts"], 6);
    assert_eq!(t["response_rate"], 1.0);
    // The bot's first response in each conversation, at once on a pinned clock: five
    // zeros.
    assert_eq!(
        t["first_response"]["bot"],
        json!({"count": 5, "mean_ms": 0.0, "p50_ms": 0, "p90_ms": 0})
    );
    // Only B had an agent text, 5 minutes after the handoff.
    assert_eq!(
        t["first_response"]["human"],
        json!({"count": 1, "mean_ms": 300_000.0, "p50_ms": 300_000, "p90_ms": 300_000})
    );
    // Contained: A, C. Escalated: B, D, E.
    assert_eq!(
        (t["contained"].clone(), t["escalated"].clone()),
        (json!(2), json!(3))
    );
    assert_eq!(t["containment_rate"], 0.4);
    assert_eq!(t["escalation_rate"], 0.6);
    assert_eq!(
        t["escalation_reasons"],
        json!({"asked_for_human": 2, "threat": 1})
    );
    // Claimed after 2 min (B) and 4 min (D); E still waits.
    assert_eq!(
        t["handoff_wait"],
        json!({"count": 2, "mean_ms": 180_000.0, "p50_ms": 120_000, "p90_ms": 240_000})
    );
    // Resolved after 10 min (B) and 12 min (D).
    assert_eq!(
        t["resolution_time"],
        json!({"count": 2, "mean_ms": 660_000.0, "p50_ms": 600_000, "p90_ms": 720_000})
    );
    // Complete: A (answered, not asked again), B and D (resolved). Not C, not E.
    assert_eq!(
        t["completion"],
        json!({"completed": 3, "rate": 0.6, "handoff_resolved": 2, "flow_completed": 0, "answered_not_reasked": 1})
    );
    // Surveys to B and D; B answered 5.
    assert_eq!(
        t["csat"],
        json!({"surveys_sent": 2, "responses": 1, "response_rate": 0.5, "average": 5.0,
               "distribution": {"1": 0, "2": 0, "3": 0, "4": 0, "5": 1}})
    );
    assert_eq!(t["opt_outs"], 1);
    assert_eq!(t["opt_out_rate"], 0.2);
    // Only A's question went to the (failing) LLM.
    assert_eq!(t["llm_fallbacks"], 1);
    // Every text we sent, counted from the transcripts instead.
    let mut segments = 0;
    for phone in [a, b, c, d, e] {
        for entry in app.outbound(phone).await {
            assert_eq!(entry.delivery_status, "sent", "{entry:?}");
            segments += entry.segments;
        }
    }
    assert!(segments >= 9, "at least one segment per text we sent");
    assert_eq!(t["segments_sent"], segments);

    // Per agent: Ana had B and D; E was never claimed; the rest is the bot's.
    let by_agent = app
        .api_json(
            &boss.token,
            &format!("/api/v1/analytics?{window}&group_by=agent"),
        )
        .await;
    let group = |key: &str| -> Value {
        by_agent["groups"]
            .as_array()
            .unwrap()
            .iter()
            .find(|g| g["key"] == key)
            .unwrap_or_else(|| panic!("no group {key}: {by_agent:#}"))["figures"]
            .clone()
    };
    assert_eq!(group("ana")["conversations"], 2);
    assert_eq!(group("ana")["csat"]["average"], 5.0);
    assert_eq!(group("(unassigned)")["conversations"], 1);
    assert_eq!(group("(bot)")["conversations"], 2);

    let by_day = app
        .api_json(
            &boss.token,
            &format!("/api/v1/analytics?{window}&group_by=day"),
        )
        .await;
    assert_eq!(by_day["groups"][0]["key"], "2026-12-02");
    assert_eq!(by_day["groups"][0]["figures"]["conversations"], 5);

    // A window before any of it is empty, not an error.
    let empty = app
        .api_json(
            &boss.token,
            &format!(
                "/api/v1/analytics?from={}&to={}",
                T0 - 120 * MINUTE,
                T0 - 60 * MINUTE
            ),
        )
        .await;
    assert_eq!(empty["totals"]["conversations"], 0);
    assert_eq!(empty["totals"]["response_rate"], Value::Null);

    // Admins only; a bad group is a 400.
    assert_eq!(
        app.api_get(&ana.token, "/api/v1/analytics").await.status(),
        403
    );
    assert_eq!(
        app.api_get(&boss.token, "/api/v1/analytics?group_by=week")
            .await
            .status(),
        400
    );
}

#[tokio::test]
async fn a_resolved_customer_is_surveyed_once_and_a_5_is_recorded_once_and_thanked() {
    let clock = ManualClock::at(T0);
    let app = TestApp::spawn_with_clock(clock.clone(), |_| {}).await;
    let ana = app.add_agent("ana", Role::Agent).await;
    let boss = app.add_agent("boss", Role::Admin).await;
    let phone = "+13035550211";

    app.text(phone, "can I talk to a human", &sid()).await;
    app.settle().await;
    let (id, _) = waiting_handoff(&app, &ana.token, phone).await;
    claim(&app, &ana, id).await;
    clock.advance(MINUTE);
    resolve(&app, &ana, id, false).await;
    let sent = bodies(&app.outbound(phone).await);
    assert_eq!(sent.last().map(String::as_str), Some(QUESTION), "{sent:#?}");

    // The answer arrives on a new conversation (the old one is closed).
    app.text(phone, "5", &sid()).await;
    app.settle().await;
    let sent = bodies(&app.outbound(phone).await);
    assert_eq!(sent.last().map(String::as_str), Some(THANKS), "{sent:#?}");

    // A second "5" is an ordinary text: not recorded, not thanked again.
    app.text(phone, "5", &sid()).await;
    app.settle().await;
    let sent = bodies(&app.outbound(phone).await);
    assert_eq!(sent.iter().filter(|b| *b == THANKS).count(), 1, "{sent:#?}");
    assert_eq!(
        sent.iter().filter(|b| *b == QUESTION).count(),
        1,
        "{sent:#?}"
    );

    let report = app.api_json(&boss.token, "/api/v1/analytics").await;
    let csat = &report["totals"]["csat"];
    assert_eq!(csat["surveys_sent"], 1, "{csat:#}");
    assert_eq!(csat["responses"], 1);
    assert_eq!(csat["distribution"]["5"], 1);
}

#[tokio::test]
async fn no_second_survey_in_a_conversation_and_none_after_stop() {
    let app = TestApp::spawn_with_clock(ManualClock::at(T0), |_| {}).await;
    let ana = app.add_agent("ana", Role::Agent).await;

    // Handed back to the bot, then to a person again: one conversation, one survey.
    let phone = "+13035550212";
    app.text(phone, "can I talk to a human", &sid()).await;
    app.settle().await;
    let (id, conversation) = waiting_handoff(&app, &ana.token, phone).await;
    claim(&app, &ana, id).await;
    resolve(&app, &ana, id, true).await;
    app.text(phone, "actually, a person again please", &sid())
        .await;
    app.settle().await;
    let (again, same) = waiting_handoff(&app, &ana.token, phone).await;
    assert_eq!(same, conversation);
    claim(&app, &ana, again).await;
    resolve(&app, &ana, again, false).await;
    let sent = bodies(&app.outbound(phone).await);
    assert_eq!(
        sent.iter().filter(|b| *b == QUESTION).count(),
        1,
        "{sent:#?}"
    );

    // Opted out while waiting: resolving sends nothing.
    let quiet = "+13035550213";
    app.text(quiet, "can I talk to a human", &sid()).await;
    app.settle().await;
    let (id, _) = waiting_handoff(&app, &ana.token, quiet).await;
    app.text(quiet, "STOP", &sid()).await;
    app.settle().await;
    claim(&app, &ana, id).await;
    resolve(&app, &ana, id, false).await;
    let sent = bodies(&app.outbound(quiet).await);
    assert!(!sent.iter().any(|b| b == QUESTION), "{sent:#?}");
}

#[tokio::test]
async fn the_agent_chooses_whether_resolving_sends_the_survey() {
    // CSAT switched off for the team: the agent can still ask one customer.
    let app = TestApp::spawn_with_clock(ManualClock::at(T0), |config| {
        config.csat.enabled = false;
    })
    .await;
    let ana = app.add_agent("ana", Role::Agent).await;
    let resolve_with = |phone: &'static str, body: Value| {
        let (app, ana) = (&app, &ana);
        async move {
            app.text(phone, "can I talk to a human", &sid()).await;
            app.settle().await;
            let (id, _) = waiting_handoff(app, &ana.token, phone).await;
            claim(app, ana, id).await;
            ok(app
                .api_post(&ana.token, &format!("/api/v1/handoffs/{id}/resolve"), body)
                .await)
            .await;
            app.settle().await;
            bodies(&app.outbound(phone).await)
        }
    };

    let asked = resolve_with("+13035550221", json!({ "send_csat": true })).await;
    assert_eq!(
        asked.last().map(String::as_str),
        Some(QUESTION),
        "{asked:#?}"
    );
    let default = resolve_with("+13035550222", json!({})).await;
    assert!(
        !default.iter().any(|b| b == QUESTION),
        "off by config: {default:#?}"
    );

    // CSAT on (the default config): the agent can skip it for one customer.
    let app = TestApp::spawn_with_clock(ManualClock::at(T0), |_| {}).await;
    let ben = app.add_agent("ben", Role::Agent).await;
    let phone = "+13035550223";
    app.text(phone, "can I talk to a human", &sid()).await;
    app.settle().await;
    let (id, _) = waiting_handoff(&app, &ben.token, phone).await;
    claim(&app, &ben, id).await;
    ok(app
        .api_post(
            &ben.token,
            &format!("/api/v1/handoffs/{id}/resolve"),
            json!({ "hand_back": true, "send_csat": false }),
        )
        .await)
    .await;
    app.settle().await;
    let skipped = bodies(&app.outbound(phone).await);
    assert!(!skipped.iter().any(|b| b == QUESTION), "{skipped:#?}");
}

#[tokio::test]
async fn bot_only_conversations_are_surveyed_when_enabled_after_going_quiet() {
    let clock = ManualClock::at(T0);
    let app = TestApp::spawn_with_clock(clock.clone(), |config| {
        config.csat.after_bot = true;
        config.csat.bot_idle_minutes = 30;
    })
    .await;
    let phone = "+13035550214";
    app.text(phone, "Hi, where is my order #48213?", &sid())
        .await;
    app.settle().await;
    let before = app.outbound(phone).await.len();
    clock.advance(31 * MINUTE);
    for _ in 0..100 {
        let sent = bodies(&app.outbound(phone).await);
        if sent.len() > before {
            assert_eq!(sent.last().map(String::as_str), Some(QUESTION));
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("no survey after the conversation went quiet");
}
