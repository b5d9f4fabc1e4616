//! The consent ledger and the texts the business starts: every change recorded with
//! its source and exact words, exported for a day; flows only with express consent;
//! nothing the business starts outside the contact's sending hours.

use std::time::Duration;

use serde_json::json;
use textdesk::clock::ManualClock;
use textdesk::sms::PhoneNumber;
use textdesk::store::Role;

use crate::support::{TestApp, sid};

/// Tuesday 2026-12-08 17:00 UTC (10:00 in Denver).
const TUESDAY_10AM_DENVER: i64 = 1_796_749_200_000;
const DAY: i64 = 86_400_000;

async fn say(app: &TestApp, phone: &str, body: &str) {
    app.text(phone, body, &sid()).await;
    app.settle().await;
}

/// `textdesk consent export` through the real binary, on the app's database.
fn export(app: &TestApp, since: &str, until: &str) -> Vec<csv::StringRecord> {
    let output = app.cli(&["consent", "export", "--since", since, "--until", until]);
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let mut reader = csv::Reader::from_reader(output.stdout.as_slice());
    assert_eq!(
        reader.headers().unwrap(),
        vec![
            "at",
            "phone",
            "consent",
            "source",
            "detail",
            "actor",
            "message_id"
        ]
    );
    reader.records().map(Result::unwrap).collect()
}

#[tokio::test]
async fn the_ledger_export_lists_every_change_of_a_day_with_its_source() {
    let clock = ManualClock::at(TUESDAY_10AM_DENVER);
    let app = TestApp::spawn_with_clock(clock.clone(), |_| {}).await;
    let admin = app.add_agent("root", Role::Admin).await;
    let ana = app.add_agent("ana", Role::Agent).await;

    // The customers' own words.
    say(&app, "+13035550301", "STOP").await;
    say(&app, "+13035550301", "START").await;
    say(&app, "+13035550302", "please stop texting me").await;
    // An agent who took a call; a sign-up form through the API.
    say(&app, "+13035550303", "hi, are you open today?").await;
    let agent = app
        .api_post(
            &ana.token,
            "/api/v1/contacts/%2B13035550303/consent",
            json!({"consent": "opted_out", "detail": "asked on the phone to stop all texts"}),
        )
        .await;
    assert_eq!(agent.status(), 201);
    let form = app
        .api_post(
            &admin.token,
            "/api/v1/admin/consent",
            json!({"phone": "+13035550304", "consent": "opted_in", "detail": "web sign-up form, box ticked"}),
        )
        .await;
    assert_eq!(form.status(), 201);

    // An import with a bad row imports nothing and names the line.
    let import = |csv: &'static str| {
        app.http
            .post(format!("{}/api/v1/admin/consent/import", app.base_url))
            .bearer_auth(&admin.token)
            .header("content-type", "text/csv")
            .body(csv)
            .send()
    };
    let bad = import(
        "phone,consent,detail\n+13035550305,opted_in,store sign-up sheet\n+1303555,opted_in,sheet\n",
    )
    .await
    .unwrap();
    assert_eq!(bad.status(), 422);
    let why = bad.text().await.unwrap();
    assert!(why.contains("line 3"), "{why}");
    // An import never undoes an opt-out (+13035550302 asked us to stop).
    let good = import(
        "phone,consent,detail\n+13035550305,opted_in,store sign-up sheet 2026-12-01\n\
         +13035550306,opted_out,unsubscribed by e-mail\n+13035550302,opted_in,old sign-up sheet\n",
    )
    .await
    .unwrap();
    assert_eq!(good.status(), 200);
    let report: serde_json::Value = good.json().await.unwrap();
    assert_eq!(report["recorded"], 2, "{report}");
    assert_eq!(report["new_contacts"], 2, "{report}");
    assert_eq!(
        report["kept_opted_out"],
        json!(["+1303***0302"]),
        "{report}"
    );

    // The next day's change is not in this day's export.
    clock.set(TUESDAY_10AM_DENVER + DAY);
    say(&app, "+13035550307", "unsubscribe").await;

    let rows = export(&app, "2026-12-08", "2026-12-09");
    let got: Vec<(&str, &str, &str, &str, &str)> = rows
        .iter()
        .map(|r| (&r[1], &r[2], &r[3], &r[4], &r[5]))
        .collect();
    assert_eq!(
        got,
        vec![
            ("+13035550301", "opted_out", "keyword", "STOP", ""),
            ("+13035550301", "opted_in", "keyword", "START", ""),
            (
                "+13035550302",
                "opted_out",
                "plain_language",
                "please stop texting me",
                ""
            ),
            (
                "+13035550303",
                "opted_out",
                "agent",
                "asked on the phone to stop all texts",
                "ana"
            ),
            (
                "+13035550304",
                "opted_in",
                "api",
                "web sign-up form, box ticked",
                "root"
            ),
            (
                "+13035550305",
                "opted_in",
                "import",
                "store sign-up sheet 2026-12-01",
                "root"
            ),
            (
                "+13035550306",
                "opted_out",
                "import",
                "unsubscribed by e-mail",
                "root"
            ),
        ]
    );
    assert!(
        rows.iter().all(|r| r[0].starts_with("2026-12-08T17:00")),
        "{rows:?}"
    );
    // The customers' changes point at the text that made them.
    assert!(!rows[0][6].is_empty() && rows[3][6].is_empty());
    assert_eq!(export(&app, "2026-12-09", "2026-12-10").len(), 1);

    // One contact's ledger, for an admin.
    let ledger = app
        .api_json(&admin.token, "/api/v1/admin/consent?phone=%2B13035550301")
        .await;
    assert_eq!(ledger["consent"], "opted_in");
    assert_eq!(ledger["express"], true);
    assert_eq!(ledger["ledger"].as_array().unwrap().len(), 2);
    let not_admin = app
        .api_get(&ana.token, "/api/v1/admin/consent?phone=%2B13035550301")
        .await;
    assert_eq!(not_admin.status(), 403);
    // What is not a consent, or has no evidence, is refused with the reason.
    let vague = app
        .api_post(
            &admin.token,
            "/api/v1/admin/consent",
            json!({"phone": "+13035550308", "consent": "implied", "detail": "x"}),
        )
        .await;
    assert_eq!(vague.status(), 400);
    let bare = app
        .api_post(
            &admin.token,
            "/api/v1/admin/consent",
            json!({"phone": "+13035550308", "consent": "opted_in", "detail": " "}),
        )
        .await;
    assert_eq!(bare.status(), 400);
    assert!(bare.text().await.unwrap().contains("detail"));
}

#[tokio::test]
async fn a_flow_needs_express_consent_and_texting_us_is_not_it() {
    let app = TestApp::spawn_with_clock(ManualClock::at(TUESDAY_10AM_DENVER), |_| {}).await;
    let admin = app.add_agent("root", Role::Admin).await;
    let path = "/api/v1/admin/flows/order_confirmation/start";

    // A customer who texted us agreed to that conversation, not to our flows.
    let texted = "+13035550320";
    say(&app, texted, "what are your hours?").await;
    let before = app.outbound(texted).await.len();
    let refused = app
        .api_post(&admin.token, path, json!({"phone": texted}))
        .await;
    assert_eq!(refused.status(), 409);
    let why = refused.text().await.unwrap();
    assert!(why.contains("no express consent"), "{why}");
    assert!(why.contains("/api/v1/admin/consent"), "{why}");
    // A number we never heard from.
    let stranger = "+13035550321";
    let refused = app
        .api_post(&admin.token, path, json!({"phone": stranger}))
        .await;
    assert_eq!(refused.status(), 409);
    app.settle().await;
    assert_eq!(app.outbound(texted).await.len(), before);
    assert!(app.outbound(stranger).await.is_empty());

    // Once their consent is recorded, it starts.
    app.record_express_consent(&admin.token, texted).await;
    let started = app
        .api_post(&admin.token, path, json!({"phone": texted}))
        .await;
    assert_eq!(started.status(), 202);
    let body: serde_json::Value = started.json().await.unwrap();
    assert_eq!(body["status"], "sent", "{body}");
}

/// Monday 2026-12-07 17:00 UTC (12:00 in New York).
const MONDAY_NOON_NEW_YORK: i64 = 1_796_662_800_000;
/// Wednesday 2026-12-09 03:30 UTC (Tuesday 22:30 in New York).
const TUESDAY_1030PM_NEW_YORK: i64 = 1_796_787_000_000;
/// Wednesday 2026-12-09 13:00 UTC (08:00 in New York).
const WEDNESDAY_8AM_NEW_YORK: i64 = 1_796_821_200_000;

/// An agent's text into the contact's latest conversation.
async fn send_as_agent(app: &TestApp, token: &str, phone: &str) -> reqwest::Response {
    let phone = PhoneNumber::parse(phone).unwrap();
    let id = app.store().conversations_of(&phone).await.unwrap()[0].id;
    app.api_post(
        token,
        &format!("/api/v1/conversations/{id}/messages"),
        json!({"body": "Good news: the trail runner is back in size 10."}),
    )
    .await
}

#[tokio::test]
async fn an_agent_text_to_a_customer_gone_quiet_waits_for_their_sending_hours() {
    let clock = ManualClock::at(MONDAY_NOON_NEW_YORK);
    let app = TestApp::spawn_with_clock(clock.clone(), |_| {}).await;
    let admin = app.add_agent("root", Role::Admin).await;
    let quiet = "+12125550330";
    say(&app, quiet, "do you have the trail runner in size 10?").await;

    // A day and a half later, at 22:30 their time, an agent follows up.
    clock.set(TUESDAY_1030PM_NEW_YORK);
    let active = "+12125550331";
    say(&app, active, "is the store open tomorrow?").await;
    let held = send_as_agent(&app, &admin.token, quiet).await;
    assert_eq!(held.status(), 201);
    let held: serde_json::Value = held.json().await.unwrap();
    assert_eq!(held["status"], "scheduled", "{held}");
    assert_eq!(held["send_at"], WEDNESDAY_8AM_NEW_YORK);
    // A customer who is texting us now gets the reply now: it is a conversation.
    let now: serde_json::Value = send_as_agent(&app, &admin.token, active)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(now["status"], "queued", "{now}");

    app.settle().await;
    let sent_quiet = app.outbound(quiet).await;
    assert_eq!(sent_quiet.len(), 2, "the held text is stored, not sent");
    assert_eq!(sent_quiet[1].delivery_status, "queued");
    // The customer writes meanwhile: the bot's answer is not held behind it.
    say(&app, quiet, "what time do you open?").await;
    let replies = app.outbound(quiet).await;
    assert_eq!(replies.len(), 3);
    assert_ne!(replies[2].delivery_status, "queued", "{replies:?}");

    clock.set(WEDNESDAY_8AM_NEW_YORK + 1_000);
    let delivered = async {
        loop {
            let out = app.outbound(quiet).await;
            if out[1].delivery_status != "queued" {
                return;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    };
    tokio::time::timeout(Duration::from_secs(10), delivered)
        .await
        .expect("the held text goes when their sending hours open");
}
