//! Flow stories through the real HTTP API: booking an appointment from the first
//! text to a booked time, qualifying a lead (and its `flow.completed` event), leaving
//! for a person mid-flow, a restart mid-flow, and flows the business starts.

use std::time::Duration;

use serde_json::json;
use textdesk::clock::ManualClock;
use textdesk::store::Role;

use crate::support::{TestApp, sid};

/// Wednesday 2 Dec 2026, 11:00 in Denver: the team is in.
const WEDNESDAY_11AM: i64 = 1_796_234_400_000;
/// Wednesday 2 Dec 2026, 20:30 in Denver (22:30 in New York).
const WEDNESDAY_830PM: i64 = WEDNESDAY_11AM + 34_200_000;
/// Thursday 3 Dec 2026, 08:00 in New York.
const THURSDAY_8AM_NEW_YORK: i64 = WEDNESDAY_11AM + 19 * 3_600_000;

async fn say(app: &TestApp, phone: &str, body: &str) -> String {
    app.text(phone, body, &sid()).await;
    app.settle().await;
    let out = app.outbound(phone).await;
    out.last().map(|e| e.body.clone()).unwrap_or_default()
}

#[tokio::test]
async fn booking_from_first_text_to_a_booked_time_and_the_time_is_not_offered_again() {
    let app = TestApp::spawn_with_clock(ManualClock::at(WEDNESDAY_11AM), |_| {}).await;
    let ann = "+13035550111";

    let first = say(&app, ann, "i want to book a bike fitting").await;
    assert!(
        first.contains("1) Ski boot fitting 2) Bike fitting"),
        "{first}"
    );
    let week = say(&app, ann, "bike").await;
    assert_eq!(
        week,
        "Reply 1 for this week, 2 for next week, or 3 to call us."
    );

    // A garbled answer is re-asked once, with the options again.
    let reask = say(&app, ann, "purple monkey dishwasher").await;
    assert!(reask.starts_with("Sorry, I didn't catch that."), "{reask}");
    assert!(reask.contains("2 for next week"), "{reask}");

    let times = say(&app, ann, "next week").await;
    assert!(
        times.contains("1) Tue Dec 8, 10:00 AM 2) Tue Dec 8, 2:00 PM"),
        "{times}"
    );
    let confirm = say(&app, ann, "2").await;
    assert!(
        confirm.contains("Bike fitting on Tue Dec 8, 2:00 PM"),
        "{confirm}"
    );
    let booked = say(&app, ann, "yes").await;
    assert!(
        booked.starts_with("You're booked: Bike fitting, Tue Dec 8, 2:00 PM"),
        "{booked}"
    );
    let slots = app.store().booked_slots("2026-12-01").await.unwrap();
    assert!(slots.contains("2026-12-08T14:00"), "{slots:?}");

    // A second customer picks next week by its digit: the taken time is gone.
    let bo = "+13035550122";
    say(&app, bo, "can i book a tune up for my bike").await;
    say(&app, bo, "3").await;
    let times = say(&app, bo, "2").await;
    assert!(times.contains("Tue Dec 8, 10:00 AM"), "{times}");
    assert!(
        !times.contains("2:00 PM"),
        "a booked time is offered again: {times}"
    );
}

#[tokio::test]
async fn asking_for_an_agent_mid_flow_hands_over_with_the_answers_so_far() {
    let app = TestApp::spawn_with_clock(ManualClock::at(WEDNESDAY_11AM), |_| {}).await;
    let agent = app.add_agent("ana", Role::Agent).await;
    let cy = "+13035550133";
    say(&app, cy, "i want to book a boot fitting").await;
    say(&app, cy, "1").await;
    let handed = say(&app, cy, "agent").await;
    assert!(handed.contains("member of our team"), "{handed}");

    let waiting = app.handoffs(&agent.token, "waiting").await;
    assert_eq!(waiting.len(), 1, "{waiting:?}");
    let summary = waiting[0]["summary"].as_str().unwrap_or_default();
    assert!(summary.contains("booking flow"), "{summary}");
    assert!(summary.contains("service: Ski boot fitting"), "{summary}");
    assert_eq!(waiting[0]["rule"], "asked_for_human");

    // The flow is over: the next text goes to the people, not to a flow step (the
    // bot only says, once, that it was noted).
    let before = app.outbound(cy).await.len();
    app.text(cy, "2", &sid()).await;
    app.settle().await;
    let after = app.outbound(cy).await;
    assert_eq!(after.len(), before + 1);
    assert!(
        after[before].body.contains("added that"),
        "{}",
        after[before].body
    );
}

#[tokio::test]
async fn a_second_miss_hands_over_and_never_mind_leaves_the_flow() {
    let app = TestApp::spawn_with_clock(ManualClock::at(WEDNESDAY_11AM), |_| {}).await;
    let agent = app.add_agent("ana", Role::Agent).await;
    let di = "+13035550144";
    say(&app, di, "do you do team orders").await;
    say(&app, di, "2").await;
    say(&app, di, "lots").await;
    say(&app, di, "a bunch honestly").await;
    let waiting = app.handoffs(&agent.token, "waiting").await;
    assert_eq!(waiting.len(), 1);
    assert_eq!(waiting[0]["rule"], "not_understood");
    let summary = waiting[0]["summary"].as_str().unwrap_or_default();
    assert!(summary.contains("goal: Improve support"), "{summary}");

    let ed = "+13035550155";
    say(&app, ed, "i want to book a bike fitting").await;
    let left = say(&app, ed, "never mind").await;
    assert!(left.starts_with("OK, I've stopped that."), "{left}");
    // A lone CANCEL is an opt-out, never a flow command.
    let fi = "+13035550166";
    say(&app, fi, "i want to book a bike fitting").await;
    let stop = say(&app, fi, "CANCEL").await;
    assert!(stop.contains("unsubscribed"), "{stop}");
}

#[tokio::test]
async fn the_lead_flow_completes_and_its_answers_are_in_the_event_log() {
    let app = TestApp::spawn_with_clock(ManualClock::at(WEDNESDAY_11AM), |_| {}).await;
    let gus = "+13035550177";
    let goal = say(&app, gus, "do you do team orders").await;
    assert!(
        goal.contains("1) Increase sales 2) Improve support 3) Other"),
        "{goal}"
    );
    say(&app, gus, "improve our support").await;
    say(&app, gus, "about 25 people").await;
    let done = say(&app, gus, "it's coach@example.com").await;
    assert!(done.contains("coach@example.com"), "{done}");

    let events = app.store().events_after(0, 100).await.unwrap();
    let completed: Vec<_> = events
        .iter()
        .filter(|e| e.kind == "flow.completed")
        .collect();
    assert_eq!(completed.len(), 1, "{events:?}");
    assert_eq!(
        completed[0].payload,
        json!({
            "flow": "lead",
            "slots": {"goal": "Improve support", "size": "25", "email": "coach@example.com"},
            "contact": gus,
            "booking": null,
        })
    );
}

#[tokio::test]
async fn a_restart_mid_flow_continues_at_the_same_step() {
    let clock = ManualClock::at(WEDNESDAY_11AM);
    let app = TestApp::spawn_with_clock(clock.clone(), |_| {}).await;
    let hal = "+13035550188";
    say(&app, hal, "i want to book a bike fitting").await;
    say(&app, hal, "2").await;

    let app = app.restart(clock).await;
    let times = say(&app, hal, "1").await;
    assert!(
        times.starts_with("These times are open: 1) Wed Dec 2, 3:00 PM"),
        "{times}"
    );
}

#[tokio::test]
async fn a_flow_the_business_starts_waits_for_the_contacts_morning_and_skips_opted_out_contacts() {
    let clock = ManualClock::at(WEDNESDAY_830PM);
    let app = TestApp::spawn_with_clock(clock.clone(), |_| {}).await;
    let admin = app.add_agent("root", Role::Admin).await;
    let path = "/api/v1/admin/flows/order_confirmation/start";

    // 20:30 in Denver is 22:30 in New York: scheduled for 08:00 there.
    let ny = "+12125550199";
    app.record_express_consent(&admin.token, ny).await;
    let response = app.api_post(&admin.token, path, json!({"phone": ny})).await;
    assert_eq!(response.status(), 202);
    let body: serde_json::Value = response.json().await.unwrap();
    assert_eq!(body["status"], "scheduled", "{body}");
    assert_eq!(body["send_at"], THURSDAY_8AM_NEW_YORK);
    assert_eq!(body["timezone"], "America/New_York");

    // Still evening in Denver: a Denver number gets it now.
    let denver = "+13035550200";
    app.record_express_consent(&admin.token, denver).await;
    let response = app
        .api_post(&admin.token, path, json!({"phone": denver}))
        .await;
    let body: serde_json::Value = response.json().await.unwrap();
    assert_eq!(body["status"], "sent", "{body}");
    app.settle().await;
    let out = app.outbound(denver).await;
    assert!(out[0].body.contains("Reply YES to confirm"), "{out:?}");
    assert!(app.outbound(ny).await.is_empty());
    let confirmed = say(&app, denver, "yep").await;
    assert!(confirmed.contains("confirmed"), "{confirmed}");

    clock.set(THURSDAY_8AM_NEW_YORK + 60_000);
    for _ in 0..100 {
        if !app.outbound(ny).await.is_empty() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(app.outbound(ny).await.len(), 1);

    // Never to a contact who opted out.
    let gone = "+13035550211";
    say(&app, gone, "STOP").await;
    let response = app
        .api_post(&admin.token, path, json!({"phone": gone}))
        .await;
    assert_eq!(response.status(), 409);
    let unknown = app
        .api_post(
            &admin.token,
            "/api/v1/admin/flows/nope/start",
            json!({"phone": denver}),
        )
        .await;
    assert_eq!(unknown.status(), 404);
}

#[tokio::test]
async fn a_flow_the_business_starts_never_talks_over_a_person() {
    let clock = ManualClock::at(WEDNESDAY_830PM);
    let app = TestApp::spawn_with_clock(clock.clone(), |_| {}).await;
    let admin = app.add_agent("root", Role::Admin).await;
    let path = "/api/v1/admin/flows/order_confirmation/start";

    // A Denver customer is waiting for a person: the start is refused, and says why.
    let waiting = "+13035550230";
    app.record_express_consent(&admin.token, waiting).await;
    say(&app, waiting, "can I talk to a human").await;
    let before = app.outbound(waiting).await.len();
    let response = app
        .api_post(&admin.token, path, json!({"phone": waiting}))
        .await;
    assert_eq!(response.status(), 409);
    let why = response.text().await.unwrap();
    assert!(why.contains("a person is handling"), "{why}");
    app.settle().await;
    assert_eq!(app.outbound(waiting).await.len(), before, "nothing sent");

    // Scheduled overnight for New York, then the customer asks for a person before
    // 08:00 there: at 08:00 the start is dropped, not sent into the handoff.
    let ny = "+12125550230";
    app.record_express_consent(&admin.token, ny).await;
    let response = app.api_post(&admin.token, path, json!({"phone": ny})).await;
    let body: serde_json::Value = response.json().await.unwrap();
    assert_eq!(body["status"], "scheduled", "{body}");
    say(&app, ny, "I need to speak to a person").await;
    let handed_over = app.outbound(ny).await.len();
    clock.set(THURSDAY_8AM_NEW_YORK + 60_000);
    let due_at = THURSDAY_8AM_NEW_YORK + 60_000;
    let swept = async {
        while !app
            .store()
            .due_flow_starts(due_at, 10)
            .await
            .unwrap()
            .is_empty()
        {
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    };
    tokio::time::timeout(Duration::from_secs(10), swept)
        .await
        .expect("the sweep takes the due start");
    app.settle().await;
    assert_eq!(
        app.outbound(ny).await.len(),
        handed_over,
        "the bot stayed quiet"
    );
}

#[tokio::test]
async fn an_agent_sets_a_contacts_time_zone_and_flows_wait_for_their_morning() {
    let app = TestApp::spawn_with_clock(ManualClock::at(WEDNESDAY_830PM), |_| {}).await;
    let admin = app.add_agent("root", Role::Admin).await;
    let ana = app.add_agent("ana", Role::Agent).await;
    let moved = "+13035550240"; // a Denver number, living in New York now
    say(&app, moved, "hi, what are your hours?").await;
    let contact = "/api/v1/contacts/%2B13035550240";

    let before = app.api_json(&ana.token, contact).await;
    assert_eq!(before["phone_masked"], "+1303***0240");
    assert_eq!(before["timezone"], serde_json::Value::Null);
    assert_eq!(before["effective_timezone"], "America/Denver");
    assert_eq!(before["timezone_source"], "area_code");

    // Names that are not places are refused with the reason; nothing changes.
    for bad in ["localtime", "Mars/Olympus"] {
        let refused = app
            .http
            .patch(format!("{}{contact}", app.base_url))
            .bearer_auth(&ana.token)
            .json(&json!({ "timezone": bad }))
            .send()
            .await
            .unwrap();
        assert_eq!(refused.status(), 400, "{bad}");
        let why = refused.text().await.unwrap();
        assert!(why.contains("IANA"), "{why}");
    }
    let set = app
        .http
        .patch(format!("{}{contact}", app.base_url))
        .bearer_auth(&ana.token)
        .json(&json!({ "timezone": "America/New_York" }))
        .send()
        .await
        .unwrap();
    assert_eq!(set.status(), 200);
    let after: serde_json::Value = set.json().await.unwrap();
    assert_eq!(after["timezone"], "America/New_York");
    assert_eq!(after["timezone_source"], "contact");

    // 20:30 in Denver is 22:30 in New York: the flow waits for 08:00 there.
    app.record_express_consent(&admin.token, moved).await;
    let response = app
        .api_post(
            &admin.token,
            "/api/v1/admin/flows/order_confirmation/start",
            json!({"phone": moved}),
        )
        .await;
    let body: serde_json::Value = response.json().await.unwrap();
    assert_eq!(body["status"], "scheduled", "{body}");
    assert_eq!(body["send_at"], THURSDAY_8AM_NEW_YORK);

    let unknown = app
        .api_get(&ana.token, "/api/v1/contacts/%2B13035550999")
        .await;
    assert_eq!(unknown.status(), 404);
    let malformed = app.api_get(&ana.token, "/api/v1/contacts/12345").await;
    assert_eq!(malformed.status(), 400);
}
