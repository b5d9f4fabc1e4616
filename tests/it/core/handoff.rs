//! Handoff stories through the real HTTP API: escalation, the bot's silence while a
//! person owns the conversation, the agent's queue, replies, and hand-back.

use std::time::Duration;

use serde_json::{Value, json};
use textdesk::clock::ManualClock;
use textdesk::store::Role;

use crate::support::agents::TestAgent;
use crate::support::{TestApp, sid};

const WAIT: Duration = Duration::from_secs(10);

/// Wednesday 2 Dec 2026, 11:00 in Denver: the demo team (prompts/policy.toml) is in.
const WEDNESDAY_11AM: i64 = 1_796_234_400_000;
/// Saturday 5 Dec 2026, 20:00 in Denver: closed until Monday 9:00.
const SATURDAY_8PM: i64 = 1_796_526_000_000;

/// textdesk with one agent, the clock pinned inside business hours (what the
/// customer is told depends on the hour).
async fn app_with_agent() -> (TestApp, TestAgent) {
    let app = TestApp::spawn_with_clock(ManualClock::at(WEDNESDAY_11AM), |_| {}).await;
    let agent = app.add_agent("ana", Role::Agent).await;
    (app, agent)
}

fn last_body(entries: &[textdesk::store::TranscriptEntry]) -> String {
    entries.last().map(|e| e.body.clone()).unwrap_or_default()
}

#[tokio::test]
async fn an_angry_customer_goes_to_a_person_and_the_bot_only_notes_their_next_text() {
    let (app, ana) = app_with_agent().await;
    let phone = "+13035550101";
    app.wait_for_knowledge().await;
    let mut stream = app.events(&ana.token, None).await;

    app.text(
        phone,
        "Hi, where is my order #48213? It was supposed to arrive Monday.",
        &sid(),
    )
    .await;
    app.settle().await;
    let answered = app.outbound(phone).await.len();
    assert_eq!(answered, 1, "the order question is answered by the bot");

    app.text(phone, "this is ridiculous, 3rd time I'm asking!!!", &sid())
        .await;
    app.settle().await;

    let waiting = app.handoffs(&ana.token, "waiting").await;
    assert_eq!(waiting.len(), 1, "{waiting:#?}");
    let handoff = &waiting[0];
    assert_eq!(handoff["rule"], "negative_emotion", "{handoff:#}");
    assert_eq!(handoff["priority"], 1, "anger is urgent: {handoff:#}");
    // The card says what an agent needs; the rule's evidence stays in `reason`.
    let reason = handoff["reason"].as_str().unwrap();
    assert!(
        reason.contains("VADER"),
        "operators keep the score: {reason}"
    );
    let headline = handoff["headline"].as_str().unwrap();
    assert_eq!(
        headline, "Upset: third time asking about order #48213",
        "{handoff:#}"
    );
    let summary = handoff["summary"].as_str().unwrap();
    assert!(!summary.contains("VADER"), "{summary}");
    assert!(
        summary.contains("48213"),
        "the summary names the order: {summary}"
    );
    assert!(summary.chars().count() <= 600, "{summary}");
    assert_eq!(handoff["phone"], phone);

    let outbound = app.outbound(phone).await;
    assert_eq!(outbound.len(), answered + 1);
    assert!(
        last_body(&outbound).contains("member of our team"),
        "the customer is told a person takes over: {}",
        last_body(&outbound)
    );

    let created = stream.until("handoff.created", WAIT).await;
    let created = created.last().unwrap();
    assert_eq!(created.data["handoff_id"], handoff["id"]);
    assert_eq!(created.data["payload"]["headline"], handoff["headline"]);

    for text in ["hello??", "anyone there"] {
        app.text(phone, text, &sid()).await;
        app.settle().await;
        let seen = stream.until("message.inbound", WAIT).await;
        assert_eq!(seen.last().unwrap().data["payload"]["body"], text);
    }
    let outbound = app.outbound(phone).await;
    assert_eq!(
        outbound.len(),
        answered + 2,
        "while a person owns the conversation the bot only says, once, that the text was noted"
    );
    assert!(
        last_body(&outbound).contains("added that"),
        "{}",
        last_body(&outbound)
    );
    let refreshed = &app.handoffs(&ana.token, "waiting").await[0];
    let summary = refreshed["summary"].as_str().unwrap();
    assert!(summary.contains("48213"), "{summary}");
    assert!(
        summary.contains("angry"),
        "the refreshed summary remembers the anger: {summary}"
    );
}

#[tokio::test]
async fn asking_for_a_human_escalates_at_once() {
    let (app, ana) = app_with_agent().await;
    let phone = "+13035550102";
    app.text(phone, "can I talk to a human", &sid()).await;
    app.settle().await;
    let waiting = app.handoffs(&ana.token, "waiting").await;
    assert_eq!(waiting.len(), 1);
    assert_eq!(waiting[0]["rule"], "asked_for_human");
    assert_eq!(waiting[0]["priority"], 3);
    let outbound = app.outbound(phone).await;
    assert_eq!(outbound.len(), 1, "one text: what happens next");
    assert!(
        last_body(&outbound).contains("about 10 minutes"),
        "{}",
        last_body(&outbound)
    );
}

#[tokio::test]
async fn after_hours_the_customer_learns_when_the_team_is_back() {
    let app = TestApp::spawn_with_clock(ManualClock::at(SATURDAY_8PM), |_| {}).await;
    let ana = app.add_agent("ana", Role::Agent).await;
    let phone = "+13035550112";
    app.text(phone, "I want to speak to a real person", &sid())
        .await;
    app.settle().await;
    assert_eq!(app.handoffs(&ana.token, "waiting").await.len(), 1);
    let told = last_body(&app.outbound(phone).await);
    assert!(told.contains("Monday at 9:00 AM"), "{told}");
    assert!(
        !told.contains("minutes"),
        "no wait is promised while closed: {told}"
    );
}

#[tokio::test]
async fn two_failed_understandings_escalate() {
    let (app, ana) = app_with_agent().await;
    let phone = "+13035550103";
    app.text(phone, "blorp fizzle wug", &sid()).await;
    app.settle().await;
    assert!(app.handoffs(&ana.token, "waiting").await.is_empty());
    assert!(last_body(&app.outbound(phone).await).contains("didn't quite get that"));

    app.text(phone, "zzkrr qwop", &sid()).await;
    app.settle().await;
    let waiting = app.handoffs(&ana.token, "waiting").await;
    assert_eq!(waiting.len(), 1);
    assert_eq!(waiting[0]["rule"], "not_understood");
}

#[tokio::test]
async fn two_agents_race_to_claim_and_exactly_one_wins() {
    let (app, ana) = app_with_agent().await;
    let ben = app.add_agent("ben", Role::Agent).await;
    app.text(
        "+13035550104",
        "I want to speak to a representative",
        &sid(),
    )
    .await;
    app.settle().await;
    let id = app.handoffs(&ana.token, "waiting").await[0]["id"]
        .as_i64()
        .unwrap();
    let path = format!("/api/v1/handoffs/{id}/claim");
    let (a, b) = tokio::join!(
        app.api_post(&ana.token, &path, json!({})),
        app.api_post(&ben.token, &path, json!({}))
    );
    let mut statuses = [a.status().as_u16(), b.status().as_u16()];
    statuses.sort();
    assert_eq!(statuses, [200, 409]);
    let loser = if a.status() == 409 { a } else { b };
    let why: Value = loser.json().await.unwrap();
    assert!(
        why["error"].as_str().unwrap().contains("already assigned"),
        "{why}"
    );
    assert_eq!(app.handoffs(&ana.token, "assigned").await.len(), 1);
    assert!(app.handoffs(&ana.token, "waiting").await.is_empty());
}

#[tokio::test]
async fn an_agent_reply_reaches_the_customer_and_hand_back_restores_the_bot() {
    let (app, ana) = app_with_agent().await;
    let phone = "+13035550105";
    app.text(phone, "agent please", &sid()).await;
    app.settle().await;
    let handoff = app.handoffs(&ana.token, "waiting").await[0].clone();
    let (id, conversation) = (
        handoff["id"].as_i64().unwrap(),
        handoff["conversation_id"].as_i64().unwrap(),
    );
    let waiting = app
        .api_json(&ana.token, &format!("/api/v1/conversations/{conversation}"))
        .await;
    assert_eq!(waiting["status"], "waiting", "one word for one state");
    let claimed = app
        .api_post(
            &ana.token,
            &format!("/api/v1/handoffs/{id}/claim"),
            json!({}),
        )
        .await;
    assert_eq!(claimed.status(), 200);

    let sent = app
        .api_post(
            &ana.token,
            &format!("/api/v1/conversations/{conversation}/messages"),
            json!({ "body": "Hi, this is Ana. Café voucher on its way 😀" }),
        )
        .await;
    assert_eq!(sent.status(), 201);
    let sent: Value = sent.json().await.unwrap();
    assert_eq!(sent["encoding"], "UCS-2");
    assert_eq!(sent["segments"], 1);
    app.settle().await;
    let outbound = app.outbound(phone).await;
    let reply = outbound.last().unwrap();
    assert_eq!(reply.author, textdesk::store::Author::Agent);
    assert_eq!(
        reply.delivery_status, "sent",
        "the agent's text left the outbox"
    );

    let note = app
        .api_post(
            &ana.token,
            &format!("/api/v1/conversations/{conversation}/notes"),
            json!({ "body": "VIP customer" }),
        )
        .await;
    assert_eq!(note.status(), 201);
    let detail = app
        .api_json(&ana.token, &format!("/api/v1/conversations/{conversation}"))
        .await;
    assert_eq!(detail["notes"][0]["body"], "VIP customer");
    assert_eq!(detail["consent"], "implied");
    assert_eq!(detail["handoff"]["status"], "assigned");
    assert_eq!(detail["status"], "assigned");
    let authors: Vec<&str> = detail["messages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["author"].as_str().unwrap())
        .collect();
    assert_eq!(authors, ["customer", "bot", "agent"]);

    let resolved = app
        .api_post(
            &ana.token,
            &format!("/api/v1/handoffs/{id}/resolve"),
            json!({ "hand_back": true }),
        )
        .await;
    assert_eq!(resolved.status(), 200);
    let handed_back = app
        .api_json(&ana.token, &format!("/api/v1/conversations/{conversation}"))
        .await;
    assert_eq!(handed_back["status"], "bot");
    let before = app.outbound(phone).await.len();
    app.text(phone, "what are your store hours in Boulder?", &sid())
        .await;
    app.settle().await;
    let outbound = app.outbound(phone).await;
    assert_eq!(outbound.len(), before + 1, "the bot answers again");
    assert_eq!(
        outbound.last().unwrap().author,
        textdesk::store::Author::Bot
    );
    assert_eq!(
        outbound.last().unwrap().conversation_id,
        conversation,
        "hand-back keeps the same conversation"
    );
}

#[tokio::test]
async fn a_reply_to_an_opted_out_contact_is_refused() {
    let (app, ana) = app_with_agent().await;
    let phone = "+13035550106";
    app.text(phone, "I need a human", &sid()).await;
    app.settle().await;
    let handoff = app.handoffs(&ana.token, "waiting").await[0].clone();
    let conversation = handoff["conversation_id"].as_i64().unwrap();
    app.text(phone, "STOP", &sid()).await;
    app.settle().await;
    let refused = app
        .api_post(
            &ana.token,
            &format!("/api/v1/conversations/{conversation}/messages"),
            json!({ "body": "Are you still there?" }),
        )
        .await;
    assert_eq!(refused.status(), 409);
    let why: Value = refused.json().await.unwrap();
    assert!(
        why["error"].as_str().unwrap().contains("opted out"),
        "{why}"
    );
    let detail = app
        .api_json(&ana.token, &format!("/api/v1/conversations/{conversation}"))
        .await;
    assert_eq!(detail["consent"], "opted_out");
}

#[tokio::test]
async fn nobody_gets_in_without_a_valid_token_or_beyond_their_role() {
    let (app, ana) = app_with_agent().await;
    let ben = app.add_agent("ben", Role::Agent).await;
    let boss = app.add_agent("boss", Role::Admin).await;

    for path in [
        "/api/v1/handoffs",
        "/api/v1/events",
        "/api/v1/conversations/1",
        "/api/v1/me",
        "/api/v1/agents",
        "/api/v1/contacts/%2B13035550101",
    ] {
        assert_eq!(app.get(path).await.status(), 401, "{path}");
        assert_eq!(app.api_get("tdk_wrong", path).await.status(), 401, "{path}");
    }
    assert_eq!(
        app.api_get(&ana.token, "/api/v1/admin/knowledge")
            .await
            .status(),
        403,
        "agents do not reach admin endpoints"
    );
    assert_ne!(
        app.api_get(&boss.token, "/api/v1/admin/knowledge")
            .await
            .status(),
        403
    );

    app.text("+13035550107", "talk to someone please", &sid())
        .await;
    app.settle().await;
    let id = app.handoffs(&ana.token, "waiting").await[0]["id"]
        .as_i64()
        .unwrap();
    let claim = app
        .api_post(
            &ana.token,
            &format!("/api/v1/handoffs/{id}/claim"),
            json!({}),
        )
        .await;
    assert_eq!(claim.status(), 200);
    let theft = app
        .api_post(
            &ben.token,
            &format!("/api/v1/handoffs/{id}/resolve"),
            json!({}),
        )
        .await;
    assert_eq!(theft.status(), 403, "ben cannot resolve ana's conversation");
    let transfer = app
        .api_post(
            &ana.token,
            &format!("/api/v1/handoffs/{id}/transfer"),
            json!({ "agent": "ben" }),
        )
        .await;
    assert_eq!(transfer.status(), 200);
    let now_bens = app
        .api_post(
            &ben.token,
            &format!("/api/v1/handoffs/{id}/resolve"),
            json!({}),
        )
        .await;
    assert_eq!(now_bens.status(), 200, "after the transfer it is ben's");

    // Guessing tokens from one address is cut off.
    let mut last = 0;
    for _ in 0..15 {
        last = app
            .api_get("tdk_guess", "/api/v1/handoffs")
            .await
            .status()
            .as_u16();
    }
    assert_eq!(last, 429);
}

#[tokio::test]
async fn an_agent_learns_who_they_are_the_team_clock_and_who_can_take_over() {
    let (app, ana) = app_with_agent().await;
    app.add_agent("boss", Role::Admin).await;
    app.add_agent("cleo", Role::Agent).await;
    app.store()
        .revoke_agent("cleo", 1)
        .await
        .expect("cleo is revoked");
    app.add_agent("ben", Role::Agent).await;

    let me = app.api_json(&ana.token, "/api/v1/me").await;
    assert_eq!(me["name"], "ana");
    assert_eq!(me["role"], "agent");
    assert_eq!(me["team"]["timezone"], "America/Denver", "{me:#}");
    assert_eq!(me["team"]["open_now"], true, "Wednesday 11:00 in Denver");
    assert_eq!(me["team"]["csat_on_resolve"], true);
    assert_eq!(me["team"]["max_agent_segments"], 10);

    let agents = app.api_json(&ana.token, "/api/v1/agents").await;
    let names: Vec<&str> = agents
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["ana", "ben", "boss"], "revoked cleo is not offered");

    // The conversation view carries the number already masked for screens.
    app.text("+13035550142", "agent please", &sid()).await;
    app.settle().await;
    let conversation = app.handoffs(&ana.token, "waiting").await[0]["conversation_id"]
        .as_i64()
        .unwrap();
    let detail = app
        .api_json(&ana.token, &format!("/api/v1/conversations/{conversation}"))
        .await;
    assert_eq!(detail["phone_masked"], "+1303***0142");
}

#[tokio::test]
async fn malformed_requests_get_a_json_reason_and_a_missing_token_is_not_a_guess() {
    let (app, ana) = app_with_agent().await;
    let post_raw = |path: &'static str, content_type: Option<&'static str>, body: &'static str| {
        let mut request = app
            .http
            .post(format!("{}{path}", app.base_url))
            .bearer_auth(&ana.token)
            .body(body);
        if let Some(content_type) = content_type {
            request = request.header("content-type", content_type);
        }
        async move {
            let response = request.send().await.unwrap();
            let status = response.status().as_u16();
            let body: Value = response.json().await.expect("a JSON error body");
            (
                status,
                body["error"].as_str().unwrap_or_default().to_string(),
            )
        }
    };

    let (status, why) = post_raw("/api/v1/handoffs/abc/claim", None, "").await;
    assert_eq!(status, 400);
    assert!(why.contains("abc"), "{why}");
    let (status, why) = post_raw("/api/v1/handoffs/1/transfer", None, r#"{"agent":"ben"}"#).await;
    assert_eq!(status, 415, "{why}");
    assert!(why.contains("application/json"), "{why}");
    let json = Some("application/json");
    let (status, why) = post_raw("/api/v1/handoffs/1/transfer", json, "{}").await;
    assert_eq!(status, 422);
    assert!(why.contains("missing field `agent`"), "{why}");
    let (status, why) = post_raw("/api/v1/handoffs/1/transfer", json, "{not json").await;
    assert_eq!(status, 400);
    assert!(
        why.contains("Failed to parse the request body as JSON"),
        "{why}"
    );

    // A page that forgot its header guesses nothing: no lock-out, however often.
    for _ in 0..15 {
        assert_eq!(app.get("/api/v1/handoffs").await.status(), 401);
    }
    assert_eq!(
        app.api_get("tdk_wrong", "/api/v1/handoffs").await.status(),
        401,
        "wrong tokens are counted from here on"
    );
}

#[tokio::test]
async fn the_event_stream_resumes_after_the_last_event_id() {
    let (app, ana) = app_with_agent().await;
    app.text("+13035550108", "agent", &sid()).await;
    app.settle().await;
    app.text("+13035550109", "human please", &sid()).await;
    app.settle().await;
    let mut from_start = app.events(&ana.token, Some(0)).await;
    let first = from_start.next(WAIT).await.expect("first event");
    let second = from_start.next(WAIT).await.expect("second event");
    assert_eq!(
        (first.kind.as_str(), second.kind.as_str()),
        ("handoff.created", "handoff.created")
    );
    let mut resumed = app.events(&ana.token, Some(first.id)).await;
    let next = resumed.next(WAIT).await.expect("the missed event");
    assert_eq!(
        next.id, second.id,
        "resume starts right after Last-Event-ID"
    );
}

#[tokio::test]
async fn the_openapi_document_is_valid_openapi_3_and_lists_the_agent_api() {
    let app = TestApp::spawn().await;
    let text = app.get("/api/v1/openapi.json").await.text().await.unwrap();
    let spec = oas3::from_json(&text).expect("parses as OpenAPI 3.1");
    assert!(spec.openapi.starts_with("3."), "{}", spec.openapi);
    let paths = spec.paths.as_ref().expect("paths");
    for path in [
        "/api/v1/handoffs",
        "/api/v1/handoffs/{id}/claim",
        "/api/v1/handoffs/{id}/release",
        "/api/v1/handoffs/{id}/resolve",
        "/api/v1/handoffs/{id}/transfer",
        "/api/v1/conversations",
        "/api/v1/conversations/{id}",
        "/api/v1/conversations/{id}/history",
        "/api/v1/conversations/{id}/messages",
        "/api/v1/conversations/{id}/notes",
        "/api/v1/events",
        "/api/v1/me",
        "/api/v1/agents",
        "/api/v1/contacts/{phone}",
        "/api/v1/conversations/{id}/labels",
        "/api/v1/conversations/{id}/labels/{label}",
        "/api/v1/labels",
        "/api/v1/replies",
        "/api/v1/search",
        "/api/v1/conversations/export",
        "/api/v1/admin/audit",
        "/api/v1/admin/gaps",
        "/api/v1/admin/suggestions",
        "/api/v1/admin/suggestions/{id}/accept",
        "/api/v1/messages/{id}/feedback",
    ] {
        assert!(paths.contains_key(path), "{path} is documented");
    }
    // Every schema reference resolves.
    let raw: Value = serde_json::from_str(&text).unwrap();
    let schemas = &raw["components"]["schemas"];
    for reference in text.split("\"$ref\":\"#/components/schemas/").skip(1) {
        let name = &reference[..reference.find('"').unwrap()];
        assert!(schemas.get(name).is_some(), "dangling $ref to {name}");
    }
    assert_eq!(
        raw["components"]["securitySchemes"]["bearer"]["scheme"],
        "bearer"
    );
    // Every refusal an operation can give is documented, not only its own.
    let transfer = &raw["paths"]["/api/v1/handoffs/{id}/transfer"]["post"]["responses"];
    for status in [
        "200", "400", "401", "403", "404", "409", "415", "422", "429",
    ] {
        assert!(
            transfer.get(status).is_some(),
            "transfer documents {status}"
        );
    }
}

#[tokio::test]
async fn an_unanswered_customer_gets_one_holding_text_never_more() {
    // A Wednesday, 11:00 in Denver: the team is in.
    let clock = ManualClock::at(WEDNESDAY_11AM);
    let app = TestApp::spawn_with_clock(clock.clone(), |_| {}).await;
    let ana = app.add_agent("ana", Role::Agent).await;
    let (waits, answered) = ("+13035550110", "+13035550111");
    for phone in [waits, answered] {
        app.text(phone, "I want to talk to a person", &sid()).await;
    }
    app.settle().await;
    let handoffs = app.handoffs(&ana.token, "waiting").await;
    let conversation_of = |phone: &str| {
        handoffs.iter().find(|h| h["phone"] == phone).unwrap()["conversation_id"]
            .as_i64()
            .unwrap()
    };
    let sent = app
        .api_post(
            &ana.token,
            &format!(
                "/api/v1/conversations/{}/messages",
                conversation_of(answered)
            ),
            json!({ "body": "Hi, Ana here. How can I help?" }),
        )
        .await;
    assert_eq!(sent.status(), 201);
    app.settle().await;

    let holding = app.running.engine.policy().handoff.holding.clone();
    let holding_texts = |entries: Vec<textdesk::store::TranscriptEntry>| {
        entries.iter().filter(|e| e.body == holding).count()
    };
    clock.advance(14 * 60_000);
    tokio::time::sleep(Duration::from_millis(1200)).await;
    app.settle().await;
    assert_eq!(
        holding_texts(app.outbound(waits).await),
        0,
        "not before the SLA"
    );

    clock.advance(2 * 60_000);
    tokio::time::sleep(Duration::from_millis(1200)).await;
    app.settle().await;
    assert_eq!(
        holding_texts(app.outbound(waits).await),
        1,
        "once the SLA passed"
    );
    assert_eq!(
        holding_texts(app.outbound(answered).await),
        0,
        "an answered customer needs no holding text"
    );

    clock.advance(60 * 60_000);
    tokio::time::sleep(Duration::from_millis(1200)).await;
    app.settle().await;
    assert_eq!(
        holding_texts(app.outbound(waits).await),
        1,
        "never more than one"
    );
}

#[tokio::test]
async fn a_returning_customers_earlier_conversations_show_in_the_history() {
    let (app, ana) = app_with_agent().await;
    let phone = "+13035550131";
    let first_text = "can I talk to a real person about order #48213";
    app.text(phone, first_text, &sid()).await;
    app.text("+13035550132", "agent please", &sid()).await;
    app.settle().await;
    let waiting = app.handoffs(&ana.token, "waiting").await;
    let handoff = waiting
        .iter()
        .find(|h| h["phone"] == phone)
        .expect("the first customer's handoff");
    let (id, earlier) = (
        handoff["id"].as_i64().unwrap(),
        handoff["conversation_id"].as_i64().unwrap(),
    );
    let other = waiting.iter().find(|h| h["phone"] != phone).unwrap()["conversation_id"]
        .as_i64()
        .unwrap();
    for (path, body) in [
        (format!("/api/v1/handoffs/{id}/claim"), json!({})),
        (
            format!("/api/v1/conversations/{earlier}/messages"),
            json!({ "body": "Hi, Ana here: your refund for #48213 is on its way." }),
        ),
        (
            format!("/api/v1/conversations/{earlier}/labels"),
            json!({ "label": "refund" }),
        ),
        (
            format!("/api/v1/handoffs/{id}/resolve"),
            json!({ "hand_back": false }),
        ),
    ] {
        let response = app.api_post(&ana.token, &path, body).await;
        assert!(
            response.status().is_success(),
            "{path}: {}",
            response.status()
        );
    }
    let history = format!("/api/v1/conversations/{earlier}/history");
    assert_eq!(app.api_json(&ana.token, &history).await, json!([]));

    // They come back a week later: a new conversation, with the earlier one beside it.
    app.text(phone, "hi, it's me again about the refund", &sid())
        .await;
    app.settle().await;
    let theirs = app
        .api_json(
            &ana.token,
            &format!("/api/v1/conversations?phone=%2B{}", &phone[1..]),
        )
        .await;
    let now = theirs[0]["id"].as_i64().unwrap();
    assert_ne!(now, earlier, "a resolved conversation is not reopened");
    let listed = app
        .api_json(&ana.token, &format!("/api/v1/conversations/{now}/history"))
        .await;
    let listed = listed.as_array().unwrap();
    assert_eq!(listed.len(), 1, "{listed:#?}");
    let past = &listed[0];
    assert_eq!(past["id"], earlier);
    assert_eq!(past["status"], "resolved");
    assert!(past["resolved_at"].as_i64().is_some());
    assert_eq!(past["first_text"], first_text);
    assert!(
        past["headline"].as_str().unwrap().contains("#48213"),
        "{past}"
    );
    assert_eq!(past["agent"], "ana");
    assert_eq!(past["labels"], json!(["refund"]));
    assert!(past["messages"].as_i64().unwrap() >= 3, "{past}");

    // The earlier one lists the new one; another customer's lists neither.
    let back = app.api_json(&ana.token, &history).await;
    assert_eq!(back[0]["id"], now);
    assert_eq!(back[0]["first_text"], "hi, it's me again about the refund");
    let unrelated = app
        .api_json(
            &ana.token,
            &format!("/api/v1/conversations/{other}/history"),
        )
        .await;
    assert_eq!(unrelated, json!([]));
    let missing = app
        .api_get(&ana.token, "/api/v1/conversations/999999/history")
        .await;
    assert_eq!(missing.status(), 404);
}
