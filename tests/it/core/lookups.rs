//! Lookups: questions the business's own system answers ("where is my order?"),
//! through the signed webhook against a fake order API on loopback.

use std::sync::Arc;

use textdesk::clock::ManualClock;
use textdesk::conversation_tests::{FakeApi, FakeRoute};
use textdesk::store::{Direction, TranscriptEntry};

use crate::support::{TestApp, sid};

/// Friday 8 Jan 2027, 11:00 in Denver: business hours.
const FRIDAY_11AM: i64 = 1_799_431_200_000;

fn shipped_order() -> FakeRoute {
    FakeRoute {
        path: "/orders/12345".into(),
        method: "GET".into(),
        status: 200,
        json: Some(serde_json::json!({
            "number": "12345",
            "status": "shipped",
            "shipped_on": "2027-01-07",
            "delivery_estimate": "2027-01-09",
            "tracking_url": "https://track.example.com/1Z999AA10123456784"
        })),
        delay_ms: 0,
    }
}

/// textdesk with the demo's order lookup pointed at a fake order API.
async fn app_with_orders(routes: Vec<FakeRoute>) -> (TestApp, FakeApi, Arc<ManualClock>) {
    let (api, url) = FakeApi::start().await.unwrap();
    api.reset(routes);
    let clock = ManualClock::at(FRIDAY_11AM);
    let app = TestApp::spawn_with_clock(clock.clone(), |config| {
        config
            .lookup_env
            .insert("TEXTDESK_ORDER_API_URL".into(), url.clone());
    })
    .await;
    app.wait_for_knowledge().await;
    (app, api, clock)
}

/// The fake order API was asked for exactly these paths, in this order. A text whose
/// processing is retried (its lease ran out on a loaded machine) may repeat its
/// lookup, which only reads, while its reply is still sent once: repeats of the same
/// path count once.
fn assert_looked_up(api: &FakeApi, paths: &[&str]) {
    let mut called: Vec<String> = api.calls().into_iter().map(|c| c.path).collect();
    called.dedup();
    assert_eq!(called, paths);
}

/// Sends `text` 20 s after the last one and returns the bot's replies to it.
async fn say(app: &TestApp, clock: &ManualClock, phone: &str, text: &str) -> Vec<TranscriptEntry> {
    let before = app.transcript(phone).await.last().map(|e| e.id);
    clock.advance(20_000);
    assert_eq!(app.text(phone, text, &sid()).await.status(), 200);
    app.settle().await;
    app.store()
        .transcript(phone, before)
        .await
        .unwrap()
        .into_iter()
        .filter(|e| e.direction == Direction::Outbound)
        .collect()
}

#[tokio::test]
async fn the_order_question_asks_for_the_number_looks_it_up_and_offers_more_help() {
    let (app, api, clock) = app_with_orders(vec![shipped_order()]).await;
    let phone = "+15555550201";

    let asked = say(&app, &clock, phone, "I haven't received my order yet").await;
    assert_eq!(asked.len(), 1, "{asked:?}");
    assert!(asked[0].body.contains("order number"), "{}", asked[0].body);
    assert!(api.calls().is_empty(), "nothing to look up yet");

    let answered = say(&app, &clock, phone, "#12345").await;
    assert_eq!(answered.len(), 1, "{answered:?}");
    let text = &answered[0].body;
    assert!(text.contains("shipped on Jan 7"), "{text}");
    assert!(text.contains("delivery tomorrow"), "{text}");
    assert!(
        text.contains("https://track.example.com/1Z999AA10123456784"),
        "{text}"
    );
    assert!(text.contains("Anything else?"), "{text}");
    assert!(
        answered[0].segments <= 2,
        "{} segments",
        answered[0].segments
    );
    assert_looked_up(&api, &["/orders/12345"]);
}

#[tokio::test]
async fn a_number_in_the_question_is_looked_up_at_once() {
    let (app, api, clock) = app_with_orders(vec![shipped_order()]).await;
    let phone = "+15555550202";
    let answered = say(&app, &clock, phone, "where is my order #12345?").await;
    assert_eq!(answered.len(), 1);
    assert!(
        answered[0].body.contains("shipped on Jan 7"),
        "{}",
        answered[0].body
    );
    assert_looked_up(&api, &["/orders/12345"]);
}

#[tokio::test]
async fn an_unknown_number_is_asked_again_then_a_person_is_offered() {
    let (app, api, clock) = app_with_orders(vec![shipped_order()]).await;
    let phone = "+15555550203";
    say(&app, &clock, phone, "where is my order").await;
    let first = say(&app, &clock, phone, "99999").await;
    assert!(
        first[0].body.contains("couldn't find order 99999"),
        "{}",
        first[0].body
    );
    let second = say(&app, &clock, phone, "12345").await;
    assert!(
        second[0].body.contains("shipped on Jan 7"),
        "{}",
        second[0].body
    );
    assert_looked_up(&api, &["/orders/99999", "/orders/12345"]);
}

#[tokio::test]
async fn a_customer_without_the_number_gets_the_general_answer_and_the_offer_of_a_person() {
    let (app, api, clock) = app_with_orders(vec![shipped_order()]).await;
    let phone = "+15555550204";
    say(&app, &clock, phone, "where is my order").await;
    let reask = say(&app, &clock, phone, "i dont have it").await;
    assert!(reask[0].body.contains("order number"), "{}", reask[0].body);
    let gave_up = say(&app, &clock, phone, "no idea sorry").await;
    assert_eq!(gave_up.len(), 1, "{gave_up:?}");
    assert!(
        gave_up[0].body.contains("reply AGENT"),
        "{}",
        gave_up[0].body
    );
    assert!(api.calls().is_empty());
}

#[tokio::test]
async fn a_failing_order_system_falls_back_to_the_knowledge_base_and_a_person() {
    let mut broken = shipped_order();
    broken.status = 503;
    let (app, _api, clock) = app_with_orders(vec![broken]).await;
    let phone = "+15555550205";
    let replies = say(&app, &clock, phone, "where is my order #12345").await;
    assert_eq!(replies.len(), 1, "{replies:?}");
    let text = &replies[0].body;
    assert!(text.contains("can't check that right now"), "{text}");
    assert!(text.contains("AGENT"), "{text}");
    assert!(
        text.len() > 100,
        "the knowledge base's answer follows: {text}"
    );
}

#[tokio::test]
async fn a_slow_order_system_times_out_into_the_fallback() {
    let mut slow = shipped_order();
    slow.delay_ms = 8_000;
    let (app, _api, clock) = app_with_orders(vec![slow]).await;
    let phone = "+15555550206";
    let started = std::time::Instant::now();
    let replies = say(&app, &clock, phone, "order #12345 status?").await;
    assert_eq!(replies.len(), 1);
    assert!(
        replies[0].body.contains("can't check that right now"),
        "{}",
        replies[0].body
    );
    assert!(
        started.elapsed() < std::time::Duration::from_secs(8),
        "the 5 s timeout ended the wait"
    );
}

#[tokio::test]
async fn without_the_order_api_configured_order_questions_answer_from_knowledge() {
    let app = TestApp::spawn().await;
    app.wait_for_knowledge().await;
    let phone = "+15555550207";
    assert_eq!(
        app.text(phone, "where is my order", &sid()).await.status(),
        200
    );
    app.settle().await;
    let out = app.outbound(phone).await;
    assert_eq!(out.len(), 1);
    assert!(!out[0].body.contains("order number?"), "{}", out[0].body);
    assert!(
        out[0].body.to_lowercase().contains("track"),
        "{}",
        out[0].body
    );
}

/// The repo's prompts, with their flows and lookups, in a folder a test may edit.
fn prompts_with_flows_and_lookups() -> tempfile::TempDir {
    let dir = crate::support::copy_prompts();
    for sub in ["flows", "lookups"] {
        std::fs::create_dir_all(dir.path().join(sub)).unwrap();
        for entry in std::fs::read_dir(crate::support::repo_path("prompts").join(sub)).unwrap() {
            let entry = entry.unwrap();
            std::fs::copy(entry.path(), dir.path().join(sub).join(entry.file_name())).unwrap();
        }
    }
    dir
}

/// textdesk with the shipped claim flow turned on for `damaged_item` (as the flow's
/// file tells the operator to) and the order lookup pointed at a fake order API.
/// The prompts folder lives as long as the returned guard.
async fn app_with_claim_flow(
    routes: Vec<FakeRoute>,
) -> (TestApp, FakeApi, Arc<ManualClock>, tempfile::TempDir) {
    let prompts = prompts_with_flows_and_lookups();
    let intents_path = prompts.path().join("intents.toml");
    let intents = std::fs::read_to_string(&intents_path).unwrap().replacen(
        "[intents.damaged_item]\n",
        "[intents.damaged_item]\naction = \"flow\"\nflow = \"damaged_claim\"\n",
        1,
    );
    std::fs::write(&intents_path, intents).unwrap();
    let (api, url) = FakeApi::start().await.unwrap();
    api.reset(routes);
    let clock = ManualClock::at(FRIDAY_11AM);
    let prompts_dir = prompts.path().to_path_buf();
    let app = TestApp::spawn_with_clock(clock.clone(), |config| {
        config.prompts_dir = prompts_dir;
        config
            .lookup_env
            .insert("TEXTDESK_ORDER_API_URL".into(), url.clone());
    })
    .await;
    app.wait_for_knowledge().await;
    (app, api, clock, prompts)
}

#[tokio::test]
async fn a_flow_looks_the_order_up_as_a_step_and_asks_again_when_the_system_does_not_know_it() {
    let (app, api, clock, _prompts) = app_with_claim_flow(vec![shipped_order()]).await;
    let phone = "+15555550209";

    let asked = say(&app, &clock, phone, "my order arrived damaged").await;
    assert!(asked[0].body.contains("order number"), "{}", asked[0].body);
    assert!(api.calls().is_empty(), "nothing to look up yet");

    let unknown = say(&app, &clock, phone, "its 99999").await;
    assert_eq!(unknown.len(), 1, "{unknown:?}");
    assert!(
        unknown[0].body.contains("couldn't find order 99999"),
        "the lookup file's not-found reply: {}",
        unknown[0].body
    );

    let found = say(&app, &clock, phone, "sorry, #12345").await;
    assert_eq!(
        found[0].body,
        "Thanks, I found order 12345. What went wrong? 1) Damaged 2) Wrong item 3) Something missing"
    );
    assert_looked_up(&api, &["/orders/99999", "/orders/12345"]);

    say(&app, &clock, phone, "2").await;
    let done = say(&app, &clock, phone, "sam@example.com").await;
    assert!(
        done[0].body.contains("order 12345 (Wrong item)")
            && done[0].body.contains("sam@example.com"),
        "{}",
        done[0].body
    );
}

#[tokio::test]
async fn a_flow_whose_lookup_fails_goes_on_without_it_and_says_so() {
    let failing = FakeRoute {
        status: 503,
        json: None,
        ..shipped_order()
    };
    let (app, _api, clock, _prompts) = app_with_claim_flow(vec![failing]).await;
    let phone = "+15555550210";

    say(&app, &clock, phone, "you sent me the wrong item").await;
    let next = say(&app, &clock, phone, "12345").await;
    assert_eq!(next.len(), 1, "{next:?}");
    assert!(
        next[0].body.contains("can't check") && next[0].body.contains("What went wrong?"),
        "the failure is said and the flow goes on: {}",
        next[0].body
    );
}
