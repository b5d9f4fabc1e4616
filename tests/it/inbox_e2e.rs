//! The agent inbox (`GET /inbox`) in a real headless Chromium.
//!
//! - The main story: sign in, see an escalation arrive live, claim it, reply with a
//!   UCS-2 text while the counter tells the truth, and resolve with hand-back. It saves
//!   screenshots of the queue and the conversation at 1280 and 360 px under
//!   `target/inbox-screenshots/`.
//! - The working day around it: j/k/c/r keys, GSM look-alikes, a refused send that
//!   keeps the draft, private notes, the team's clock, a colleague's claim, transfer,
//!   and a customer who opts out mid-conversation.
//! - Feedback: an agent marks a bot answer wrong, with a correction, and another as
//!   one a person should have given; each becomes a gap and counts in analytics.
//! - Suggestions: an admin reviews the knowledge drafted from agents' answers, opens a
//!   source thread, accepts one (published and indexed) and rejects another.
//! - The reply counter (inbox/segments.js) against the server's arithmetic
//!   (src/sms/segments) on boundary cases and a few hundred random texts.
//!
//! Needs Debian's `chromium` and `chromium-driver` (scripts/test.sh installs them when
//! it runs as root); without them each test prints SKIPPED and passes.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use crate::support::process::free_port;
use crate::support::{TestApp, sid};
use fantoccini::actions::{InputSource, KeyAction, KeyActions};
use fantoccini::elements::Element;
use fantoccini::{Client, ClientBuilder, Locator};
use hyper_util::client::legacy::connect::HttpConnector;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde_json::{Value, json};
use textdesk::clock::ManualClock;
use textdesk::sms::segments;
use textdesk::store::{Author, Role};

/// Wednesday 2 Dec 2026, 11:00 in Denver: the demo team is in.
const WEDNESDAY_11AM: i64 = 1_796_234_400_000;
const CHROMIUM: &str = "/usr/bin/chromium";
const CHROMEDRIVER: &str = "/usr/bin/chromedriver";
const WAIT: Duration = Duration::from_secs(15);
/// WebDriver's key code for Enter.
const ENTER: &str = "\u{E007}";

// ---- the browser -------------------------------------------------------------------

/// chromedriver on a free port, killed when dropped.
struct Driver {
    child: Child,
    port: u16,
}

impl Drop for Driver {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

async fn start_driver() -> Driver {
    let port = free_port();
    let child = Command::new(CHROMEDRIVER)
        .arg(format!("--port={port}"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("chromedriver starts");
    let driver = Driver { child, port };
    eventually("chromedriver listens", || async {
        tokio::net::TcpStream::connect(("127.0.0.1", port))
            .await
            .ok()
            .map(|_| ())
    })
    .await;
    driver
}

/// One headless Chromium showing the inbox, with the waits an agent's eyes would do.
struct Inbox {
    client: Client,
    // Dropped after the client: the browser profile and the driver process.
    _profile: tempfile::TempDir,
    _driver: Driver,
}

impl Inbox {
    /// Opens `/inbox`, or returns `None` (after printing SKIPPED) without Chromium.
    async fn open(app: &TestApp) -> Option<Inbox> {
        if !Path::new(CHROMIUM).exists() || !Path::new(CHROMEDRIVER).exists() {
            eprintln!(
                "SKIPPED: {CHROMIUM} or {CHROMEDRIVER} is missing \
                 (apt-get install chromium chromium-driver)"
            );
            return None;
        }
        let driver = start_driver().await;
        let profile = tempfile::tempdir().unwrap();
        let mut caps = serde_json::Map::new();
        caps.insert(
            "goog:chromeOptions".into(),
            json!({
                "binary": CHROMIUM,
                "args": [
                    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
                    "--no-first-run", "--disable-background-networking",
                    "--disable-component-update", "--disable-sync", "--lang=en-US",
                    format!("--user-data-dir={}", profile.path().display()),
                    "--window-size=1280,900",
                ],
            }),
        );
        // chromedriver speaks plain HTTP on loopback: no TLS connector needed.
        let client = ClientBuilder::new(HttpConnector::new())
            .capabilities(caps)
            .connect(&format!("http://127.0.0.1:{}", driver.port))
            .await
            .expect("a Chromium session opens");
        client.set_window_size(1280, 900).await.unwrap();
        client
            .goto(&format!("{}/inbox", app.base_url))
            .await
            .unwrap();
        Some(Inbox {
            client,
            _profile: profile,
            _driver: driver,
        })
    }

    async fn submit_token(&self, token: &str) {
        let input = self.wait_for("#token").await;
        input.clear().await.unwrap();
        input.send_keys(token).await.unwrap();
        self.click("#signin-form button[type=submit]").await;
    }

    /// Signs in and waits for the live stream.
    async fn sign_in(&self, token: &str) {
        self.submit_token(token).await;
        self.wait_text("the live stream connects", "#live", "live")
            .await;
    }

    async fn find(&self, css: &str) -> Element {
        self.client
            .find(Locator::Css(css))
            .await
            .unwrap_or_else(|e| panic!("{css} is on the page: {e}"))
    }

    async fn wait_for(&self, css: &str) -> Element {
        self.client
            .wait()
            .at_most(WAIT)
            .for_element(Locator::Css(css))
            .await
            .unwrap_or_else(|e| panic!("{css} appears: {e}"))
    }

    async fn exists(&self, css: &str) -> bool {
        self.client.find(Locator::Css(css)).await.is_ok()
    }

    async fn wait_gone(&self, what: &str, css: &str) {
        eventually(what, || async { (!self.exists(css).await).then_some(()) }).await;
    }

    /// Clicks `css`, finding it again if a live re-render replaced it in between.
    async fn click(&self, css: &str) {
        eventually(&format!("{css} can be clicked"), || async {
            let element = self.client.find(Locator::Css(css)).await.ok()?;
            element.click().await.ok()
        })
        .await;
    }

    /// The element's text, or "" when it is not there. Read in one script call: the
    /// page re-renders on every live event, and an element found in one WebDriver
    /// call can be gone by the next.
    async fn text(&self, css: &str) -> String {
        self.script(
            "return document.querySelector(arguments[0])?.innerText ?? ''",
            vec![json!(css)],
        )
        .await
        .as_str()
        .unwrap_or_default()
        .to_string()
    }

    /// Waits until `css` shows `needle`, and returns its whole text.
    async fn wait_text(&self, what: &str, css: &str, needle: &str) -> String {
        eventually(what, || async {
            Some(self.text(css).await).filter(|t| t.contains(needle))
        })
        .await
    }

    async fn value(&self, css: &str) -> String {
        self.find(css)
            .await
            .prop("value")
            .await
            .unwrap()
            .unwrap_or_default()
    }

    async fn enabled(&self, css: &str) -> bool {
        self.find(css).await.is_enabled().await.unwrap()
    }

    async fn attr(&self, css: &str, name: &str) -> String {
        self.find(css)
            .await
            .attr(name)
            .await
            .ok()
            .flatten()
            .unwrap_or_default()
    }

    async fn script(&self, js: &str, args: Vec<Value>) -> Value {
        self.client.execute(js, args).await.unwrap()
    }

    /// Sets a field as a paste would (value + input event). ChromeDriver types only
    /// BMP characters, so anything with an emoji goes in this way.
    async fn paste(&self, id: &str, value: &str) {
        self.script(
            "const f = document.getElementById(arguments[0]); f.value = arguments[1]; \
             f.dispatchEvent(new Event('input', { bubbles: true }));",
            vec![json!(id), json!(value)],
        )
        .await;
    }

    /// Presses one key wherever the focus is, as a keyboard shortcut.
    async fn press(&self, key: char) {
        let keys = KeyActions::new("keyboard".into())
            .then(KeyAction::Down { value: key })
            .then(KeyAction::Up { value: key });
        self.client.perform_actions(keys).await.unwrap();
    }

    async fn focused_id(&self) -> String {
        self.script("return document.activeElement?.id ?? ''", vec![])
            .await
            .as_str()
            .unwrap_or_default()
            .to_string()
    }

    /// The handoff ids in a queue list, top to bottom. Read in one script: the list is
    /// redrawn on every queue event, and elements found one call earlier can be gone
    /// by the next (a stale element reference).
    async fn queue(&self, list: &str) -> Vec<i64> {
        self.script(
            "return [...document.querySelectorAll(`#queue-${arguments[0]} li[data-handoff-id]`)]
               .map((li) => Number(li.dataset.handoffId))",
            vec![json!(list)],
        )
        .await
        .as_array()
        .expect("a list of ids")
        .iter()
        .map(|id| id.as_i64().expect("a numeric handoff id"))
        .collect()
    }

    /// Visible controls a screen reader would announce without a name: no label, no
    /// aria-label, no text. Returned as "tag#id" for the failure message.
    async fn unnamed_controls(&self) -> Vec<String> {
        let found = self
            .script(
                "return [...document.querySelectorAll('button, input, select, textarea, [role=button]')]
                   .filter((e) => e.offsetParent !== null)
                   .filter((e) => !(e.labels?.length || e.getAttribute('aria-label')
                                    || e.getAttribute('aria-labelledby')
                                    || (e.matches('button, [role=button]') && e.innerText.trim())))
                   .map((e) => `${e.tagName.toLowerCase()}#${e.id}`)",
                vec![],
            )
            .await;
        serde_json::from_value(found).unwrap()
    }

    /// Whether the page fits the viewport's width (no horizontal scrolling).
    async fn fits_width(&self) -> bool {
        self.script(
            "return document.documentElement.scrollWidth <= window.innerWidth",
            vec![],
        )
        .await
            == json!(true)
    }

    async fn screenshot(&self, name: &str) {
        let png = self.client.screenshot().await.expect("screenshot");
        std::fs::write(screenshot_dir().join(name), png).unwrap();
    }

    /// Resizes the viewport (not just the window) to `width` CSS pixels.
    async fn set_width(&self, width: u32) {
        self.client.set_window_size(width, 900).await.unwrap();
        let inner = self.script("return window.innerWidth", vec![]).await;
        let inner = inner.as_u64().unwrap_or(0) as u32;
        if inner != width {
            // Window chrome took some of it: grow the window by the difference.
            self.client
                .set_window_size(width + (width - inner.min(width)), 900)
                .await
                .unwrap();
        }
    }

    /// Ends the browser session. Best effort: every assertion has run by now, and
    /// a loaded 2-core CI machine has seen chromedriver drop the connection while
    /// Chrome shuts down; the driver process is killed on drop either way.
    async fn close(self) {
        if let Err(e) = self.client.close().await {
            eprintln!("closing the browser session failed (ignored at teardown): {e}");
        }
    }
}

fn screenshot_dir() -> PathBuf {
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("target"));
    let dir = target.join("inbox-screenshots");
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// Polls until `check` returns `Some`, or panics with `what`.
async fn eventually<T, F, Fut>(what: &str, mut check: F) -> T
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        if let Some(v) = check().await {
            return v;
        }
        assert!(tokio::time::Instant::now() < deadline, "timed out: {what}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

fn card(list: &str, handoff_id: i64) -> String {
    format!("#queue-{list} li[data-handoff-id=\"{handoff_id}\"]")
}

/// The waiting handoff opened by `phone`'s texts, from the API.
async fn waiting_handoff_of(app: &TestApp, token: &str, phone: &str) -> Value {
    let masked = textdesk::sms::PhoneNumber::parse(phone).unwrap().masked();
    app.handoffs(token, "waiting")
        .await
        .into_iter()
        .find(|h| h["phone_masked"] == masked.as_str())
        .unwrap_or_else(|| panic!("{masked} has a waiting handoff"))
}

async fn handoff_where(app: &TestApp, token: &str, status: &str, id: i64) -> Option<Value> {
    app.handoffs(token, status)
        .await
        .into_iter()
        .find(|h| h["id"] == id)
}

async fn story_app() -> TestApp {
    let app = TestApp::spawn_with_clock(ManualClock::at(WEDNESDAY_11AM), |_| {}).await;
    app.wait_for_knowledge().await;
    app
}

// ---- the stories -------------------------------------------------------------------

#[tokio::test]
async fn an_agent_claims_answers_and_resolves_an_escalation_in_the_browser() {
    let app = story_app().await;
    let ana = app.add_agent("ana", Role::Agent).await;
    let Some(inbox) = Inbox::open(&app).await else {
        return;
    };

    // A wrong token says so; the right one signs in and opens the live stream.
    inbox.submit_token("tdk_not-a-real-token").await;
    let error = inbox
        .wait_text("the wrong-token message", "#signin-error", "wrong")
        .await;
    assert!(error.contains("token"), "{error}");
    inbox.sign_in(&ana.token).await;
    assert!(inbox.text("#queue-waiting").await.contains("Nobody"));
    assert_eq!(inbox.text("#whoami").await, "Signed in as ana");

    // An angry text escalates; the queue shows it without a reload.
    let phone = "+13035550142";
    app.text(
        phone,
        "Where is my order #48213? this is ridiculous!!!",
        &sid(),
    )
    .await;
    app.settle().await;
    let handoff = waiting_handoff_of(&app, &ana.token, phone).await;
    let handoff_id = handoff["id"].as_i64().unwrap();
    inbox.wait_for(&card("waiting", handoff_id)).await;
    let item_text = inbox.text(&card("waiting", handoff_id)).await;
    assert!(item_text.contains("0142"), "masked number: {item_text}");
    assert!(!item_text.contains("+13035550142"), "{item_text}");
    // Why, in an agent's words; the rule's score stays in the API.
    let headline = handoff["headline"].as_str().unwrap();
    assert!(headline.contains("order #48213"), "{handoff:#}");
    assert_eq!(
        inbox
            .text(&format!("{} .reason", card("waiting", handoff_id)))
            .await,
        headline
    );
    assert!(!item_text.contains("VADER"), "{item_text}");
    assert_eq!(
        inbox.client.title().await.unwrap(),
        "(1) textdesk inbox",
        "a background tab shows who is waiting"
    );
    inbox.screenshot("queue-1280.png").await;

    // Open and claim it: the summary carries the order number.
    inbox.click(&card("waiting", handoff_id)).await;
    let summary = inbox.wait_text("the summary", "#summary", "48213").await;
    assert!(summary.starts_with("Why:"), "{summary}");
    inbox.click("#claim").await;
    eventually("the handoff is claimed by ana", || async {
        handoff_where(&app, &ana.token, "assigned", handoff_id)
            .await
            .filter(|h| h["assignee"] == "ana")
    })
    .await;
    inbox.wait_for(&card("mine", handoff_id)).await;

    // A label typed in the box shows on the conversation and its card, and is stored;
    // × takes it off again.
    let label_box = inbox.wait_for("#label-input").await;
    label_box.send_keys("VIP").await.unwrap();
    label_box.send_keys(ENTER).await.unwrap();
    inbox.wait_text("the label chip", "#labels", "vip").await;
    inbox
        .wait_text("the label on the card", &card("mine", handoff_id), "vip")
        .await;
    eventually("the label is stored", || async {
        handoff_where(&app, &ana.token, "assigned", handoff_id)
            .await
            .filter(|h| h["labels"] == json!(["vip"]))
    })
    .await;
    inbox.click("#labels .chip-remove").await;
    inbox.wait_gone("the removed label", "#labels li").await;
    eventually("the label is removed", || async {
        handoff_where(&app, &ana.token, "assigned", handoff_id)
            .await
            .filter(|h| h["labels"] == json!([]))
    })
    .await;
    label_box.send_keys("Refund asked").await.unwrap();
    label_box.send_keys(ENTER).await.unwrap();
    inbox
        .wait_text("the second label", "#labels", "refund-asked")
        .await;

    // "/sh" offers the saved /ship reply; Tab puts it in, filled in for this
    // conversation, and the counter counts it.
    let replies = app
        .api_json(
            &ana.token,
            &format!(
                "/api/v1/replies?conversation_id={}",
                handoff["conversation_id"]
            ),
        )
        .await;
    let ship = replies["replies"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["shortcut"] == "ship")
        .expect("the shipped /ship reply")["text"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(ship.contains("ana here"), "{ship}");
    let reply_box = inbox.wait_for("#reply").await;
    reply_box.send_keys("/sh").await.unwrap();
    inbox
        .wait_text("the saved-reply suggestion", "#reply-suggestions", "/ship")
        .await;
    reply_box.send_keys("\u{E004}").await.unwrap(); // Tab
    assert_eq!(inbox.value("#reply").await, ship);
    assert_eq!(
        inbox.attr("#counter", "data-segments").await,
        segments::count(&ship).segments.to_string()
    );
    assert!(!inbox.exists("#reply-suggestions:not([hidden])").await);
    inbox.paste("reply", "").await;

    // A reply with é and 😀 is UCS-2; the counter agrees with the server's arithmetic.
    let reply = "Hi, I am sorry about the wait é 😀 your order 48213 left our warehouse \
                 this morning and should arrive tomorrow.";
    let expected = segments::count(reply);
    assert_eq!(expected.encoding.as_str(), "UCS-2");
    assert_eq!(expected.segments, 2, "the reply spans two parts");
    let (typed, _) = reply.split_once('😀').unwrap();
    inbox.find("#reply").await.send_keys(typed).await.unwrap();
    inbox.paste("reply", reply).await;
    assert_eq!(inbox.attr("#counter", "data-encoding").await, "UCS-2");
    assert_eq!(
        inbox.attr("#counter", "data-segments").await,
        expected.segments.to_string()
    );
    assert_eq!(
        inbox.attr("#counter", "data-remaining").await,
        segments::remaining_in_last_segment(reply).to_string()
    );
    let counter = inbox.text("#counter").await;
    assert_eq!(counter, "UCS-2 · 2 segments · 23 left in segment");
    let flagged = inbox.text("#nongsm-chars").await;
    assert!(
        flagged.contains('😀'),
        "non-GSM characters are shown: {flagged}"
    );
    inbox.screenshot("conversation-1280.png").await;

    assert_eq!(inbox.unnamed_controls().await, Vec::<String>::new());

    inbox.set_width(360).await;
    assert!(inbox.fits_width().await, "no sideways scroll at 360 px");
    inbox.screenshot("conversation-360.png").await;
    inbox.click("#back").await;
    assert!(inbox.fits_width().await, "no sideways scroll at 360 px");
    inbox.screenshot("queue-360.png").await;
    inbox.set_width(1280).await;
    inbox.click(&card("mine", handoff_id)).await;

    // Enter sends; the text is in the transcript as the agent's.
    let reply_box = inbox.wait_for("#reply").await;
    reply_box.send_keys(ENTER).await.unwrap();
    eventually("the reply is in the transcript", || async {
        app.settle().await;
        app.transcript(phone)
            .await
            .iter()
            .any(|e| e.author == Author::Agent && e.body == reply)
            .then_some(())
    })
    .await;
    inbox
        .wait_text(
            "the reply shows in the thread",
            "#thread li.agent:last-child",
            "48213 left our warehouse",
        )
        .await;
    assert_eq!(
        inbox.value("#reply").await,
        "",
        "a sent reply clears the box"
    );

    // Resolve with hand-back; the survey goes too (CSAT is on in the default config,
    // so the box starts ticked).
    assert!(inbox.find("#hand-back").await.is_selected().await.unwrap());
    assert!(inbox.find("#send-csat").await.is_selected().await.unwrap());
    inbox.click("#resolve").await;
    eventually("the handoff is resolved with hand-back", || async {
        handoff_where(&app, &ana.token, "resolved", handoff_id)
            .await
            .filter(|h| h["hand_back"] == true)
    })
    .await;
    eventually("the survey is texted", || async {
        app.settle().await;
        app.outbound(phone)
            .await
            .iter()
            .any(|e| e.body.starts_with("How did we do?"))
            .then_some(())
    })
    .await;
    inbox
        .wait_text("the page shows it resolved", "#conv-status", "Resolved")
        .await;

    // Search finds the customer's words in the resolved thread; a hit opens it.
    let search = inbox.find("#search").await;
    search.send_keys("warehouse").await.unwrap();
    search.send_keys(ENTER).await.unwrap();
    let found = inbox
        .wait_text("a search hit", "#search-results", "warehouse")
        .await;
    assert!(
        found.contains("0142"),
        "the hit names the masked number: {found}"
    );
    inbox.screenshot("search-1280.png").await;
    inbox.click("#search-results li.hit").await;
    inbox
        .wait_text("the thread of the hit", "#thread", "left our warehouse")
        .await;
    inbox.close().await;
}

#[tokio::test]
async fn a_missed_sla_shows_on_the_card_in_the_browser() {
    let clock = ManualClock::at(WEDNESDAY_11AM);
    let app = TestApp::spawn_with_clock(clock.clone(), |_| {}).await;
    app.wait_for_knowledge().await;
    let ana = app.add_agent("ana", Role::Agent).await;
    let Some(inbox) = Inbox::open(&app).await else {
        return;
    };
    inbox.sign_in(&ana.token).await;
    let phone = "+13035550231";
    app.text(phone, "I want to talk to a person", &sid()).await;
    app.settle().await;
    let handoff_id = waiting_handoff_of(&app, &ana.token, phone).await["id"]
        .as_i64()
        .unwrap();
    let due = inbox
        .wait_text(
            "when the first reply is due",
            &card("waiting", handoff_id),
            "Reply by",
        )
        .await;
    assert!(!due.contains("SLA missed"), "{due}");

    // An hour of business time later the first-reply target is missed: the card says so.
    clock.advance(60 * 60_000);
    let missed = eventually("the SLA badge", || async {
        app.api_json(&ana.token, "/api/v1/handoffs?status=waiting")
            .await
            .as_array()?
            .iter()
            .any(|h| h["sla"]["breached"] == json!(["first_response"]))
            .then_some(())
    });
    missed.await;
    inbox.client.refresh().await.unwrap();
    inbox
        .wait_text(
            "the badge",
            &card("waiting", handoff_id),
            "SLA missed: first reply",
        )
        .await;
    inbox.screenshot("queue-sla-1280.png").await;
    inbox.close().await;
}

#[tokio::test]
async fn an_agent_marks_a_bot_answer_wrong_in_the_browser() {
    let clock = ManualClock::at(WEDNESDAY_11AM);
    let app = TestApp::spawn_with_clock(clock.clone(), |_| {}).await;
    app.wait_for_knowledge().await;
    let ana = app.add_agent("ana", Role::Agent).await;
    let boss = app.add_agent("boss", Role::Admin).await;
    let Some(inbox) = Inbox::open(&app).await else {
        return;
    };
    inbox.sign_in(&ana.token).await;
    // The bot answers a question, then the customer asks for a person.
    let phone = "+13035550251";
    let question = "what time do you open on sunday";
    app.text(phone, question, &sid()).await;
    app.settle().await;
    app.text(phone, "I want to talk to a person", &sid()).await;
    app.settle().await;
    let handoff = waiting_handoff_of(&app, &ana.token, phone).await;
    let (handoff_id, conversation) = (
        handoff["id"].as_i64().unwrap(),
        handoff["conversation_id"].as_i64().unwrap(),
    );
    // The bot's answer, not its later "someone will text you" (a bot text too).
    let detail = app
        .api_json(&ana.token, &format!("/api/v1/conversations/{conversation}"))
        .await;
    let answer = detail["messages"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["author"] == "bot")
        .expect("the bot answered")
        .clone();
    assert!(
        answer["body"].as_str().unwrap().contains("10am"),
        "{answer:#}"
    );
    let bot_answer = format!("#thread li[data-message-id=\"{}\"]", answer["id"]);
    let bot_answer = bot_answer.as_str();
    inbox.click(&card("waiting", handoff_id)).await;
    inbox.wait_for(bot_answer).await;
    assert!(
        !inbox
            .exists("#thread li[data-author=customer] details.feedback")
            .await,
        "only the bot's texts can be marked"
    );

    // She opens the flag, says what it should have said, and marks it wrong.
    inbox
        .click(&format!("{bot_answer} details.feedback summary"))
        .await;
    inbox
        .script(
            "const f = document.querySelector(arguments[0]); f.value = arguments[1]; \
             f.dispatchEvent(new Event('input', { bubbles: true }));",
            vec![
                json!(format!("{bot_answer} input.correction")),
                json!("Sundays we open at 10am in every store."),
            ],
        )
        .await;
    inbox
        .click(&format!("{bot_answer} button[data-feedback=wrong_answer]"))
        .await;
    inbox
        .wait_text(
            "the verdict on the answer",
            bot_answer,
            "Marked: Wrong answer",
        )
        .await;
    assert!(
        !inbox
            .exists(&format!("{bot_answer} details.feedback"))
            .await
    );

    // Stored, on the thread and in the audit log; the question is now a gap.
    let detail = app
        .api_json(&ana.token, &format!("/api/v1/conversations/{conversation}"))
        .await;
    let marked: Vec<&Value> = detail["messages"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|m| m["feedback"] == "wrong_answer")
        .collect();
    assert_eq!(marked.len(), 1, "{detail:#}");
    assert_eq!(marked[0]["author"], "bot");
    let audit = app
        .api_json(&boss.token, "/api/v1/admin/audit?action=bot.feedback")
        .await;
    assert_eq!(audit["entries"][0]["actor"], "ana", "{audit:#}");
    let gaps = app
        .api_json(&boss.token, "/api/v1/admin/gaps?since=1d")
        .await;
    let cluster = &gaps["clusters"][0];
    assert_eq!(cluster["kinds"]["wrong_answer"], 1, "{gaps:#}");
    assert_eq!(cluster["examples"], json!([question]));
    clock.advance(60_000);
    let analytics = app.api_json(&boss.token, "/api/v1/analytics").await;
    assert_eq!(analytics["bot_answers"]["marked_wrong"], 1, "{analytics:#}");
    inbox.close().await;
}

#[tokio::test]
async fn an_agent_marks_that_a_person_should_have_answered_in_the_browser() {
    let clock = ManualClock::at(WEDNESDAY_11AM);
    let app = TestApp::spawn_with_clock(clock.clone(), |_| {}).await;
    app.wait_for_knowledge().await;
    let ana = app.add_agent("ana", Role::Agent).await;
    let boss = app.add_agent("boss", Role::Admin).await;
    let Some(inbox) = Inbox::open(&app).await else {
        return;
    };
    inbox.sign_in(&ana.token).await;
    // The bot answers a customer whose gift went wrong; she then asks for a person.
    let phone = "+13035550252";
    let question = "can i return a gift without the receipt";
    app.text(phone, question, &sid()).await;
    app.settle().await;
    app.text(phone, "I want to talk to a person", &sid()).await;
    app.settle().await;
    let handoff = waiting_handoff_of(&app, &ana.token, phone).await;
    let (handoff_id, conversation) = (
        handoff["id"].as_i64().unwrap(),
        handoff["conversation_id"].as_i64().unwrap(),
    );
    let detail = app
        .api_json(&ana.token, &format!("/api/v1/conversations/{conversation}"))
        .await;
    let answer = detail["messages"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["author"] == "bot")
        .expect("the bot answered")
        .clone();
    let bot_answer = format!("#thread li[data-message-id=\"{}\"]", answer["id"]);
    let bot_answer = bot_answer.as_str();
    inbox.click(&card("waiting", handoff_id)).await;
    inbox.wait_for(bot_answer).await;

    // She flags it: a person should have taken this one. No correction.
    inbox
        .click(&format!("{bot_answer} details.feedback summary"))
        .await;
    inbox
        .click(&format!(
            "{bot_answer} button[data-feedback=should_have_handed_over]"
        ))
        .await;
    inbox
        .wait_text(
            "the verdict on the answer",
            bot_answer,
            "Marked: Should have handed over",
        )
        .await;
    assert!(
        !inbox
            .exists(&format!("{bot_answer} details.feedback"))
            .await,
        "a marked answer cannot be marked again from the thread"
    );

    // Stored on the bot's text, and nowhere else.
    let detail = app
        .api_json(&ana.token, &format!("/api/v1/conversations/{conversation}"))
        .await;
    let marked: Vec<(&Value, &Value)> = detail["messages"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|m| m.get("feedback").is_some())
        .map(|m| (&m["id"], &m["feedback"]))
        .collect();
    assert_eq!(
        marked,
        [(&answer["id"], &json!("should_have_handed_over"))],
        "{detail:#}"
    );
    let audit = app
        .api_json(&boss.token, "/api/v1/admin/audit?action=bot.feedback")
        .await;
    assert_eq!(audit["entries"][0]["actor"], "ana", "{audit:#}");
    assert_eq!(
        audit["entries"][0]["detail"]["kind"], "should_have_handed_over",
        "{audit:#}"
    );
    // The question is a gap of that kind, and the quality figure counts it.
    let gaps = app
        .api_json(&boss.token, "/api/v1/admin/gaps?since=1d")
        .await;
    assert_eq!(
        gaps["clusters"][0]["kinds"]["should_have_handed_over"], 1,
        "{gaps:#}"
    );
    assert_eq!(gaps["clusters"][0]["examples"], json!([question]));
    clock.advance(60_000);
    let analytics = app.api_json(&boss.token, "/api/v1/analytics").await;
    let bot_answers = &analytics["bot_answers"];
    assert_eq!(
        bot_answers["marked_should_have_handed_over"], 1,
        "{analytics:#}"
    );
    assert_eq!(bot_answers["marked_wrong"], 0, "{analytics:#}");
    let sent = bot_answers["sent"].as_f64().unwrap();
    let quality = bot_answers["quality"].as_f64().unwrap();
    assert!(
        (quality - (sent - 1.0) / sent).abs() < 1e-9,
        "{analytics:#}"
    );
    inbox.close().await;
}

/// A customer asks, then asks for a person, and `agent` answers: the lesson a
/// suggestion is drafted from.
async fn asked_and_answered(app: &TestApp, agent: &str, phone: &str, question: &str, answer: &str) {
    app.text(phone, question, &sid()).await;
    app.settle().await;
    app.text(phone, "can I talk to a person", &sid()).await;
    app.settle().await;
    let handoff = waiting_handoff_of(app, agent, phone).await;
    let (id, conversation) = (
        handoff["id"].as_i64().unwrap(),
        handoff["conversation_id"].as_i64().unwrap(),
    );
    let claimed = app
        .api_post(agent, &format!("/api/v1/handoffs/{id}/claim"), json!({}))
        .await;
    assert_eq!(claimed.status(), 200);
    let sent = app
        .api_post(
            agent,
            &format!("/api/v1/conversations/{conversation}/messages"),
            json!({ "body": answer }),
        )
        .await;
    assert_eq!(sent.status(), 201);
    app.settle().await;
}

#[tokio::test]
async fn an_admin_publishes_one_suggestion_and_rejects_another_in_the_browser() {
    let clock = ManualClock::at(WEDNESDAY_11AM);
    let knowledge = crate::support::copy_knowledge();
    let dir = knowledge.path().to_path_buf();
    let app =
        TestApp::spawn_with_clock(clock.clone(), move |config| config.knowledge_dir = dir).await;
    app.wait_for_knowledge().await;
    let ana = app.add_agent("ana", Role::Agent).await;
    let boss = app.add_agent("boss", Role::Admin).await;
    // Three customers ask about recycling and two about a paper catalog; nothing in
    // the knowledge base says, so agents answer.
    let recycling = [
        ("+13035553201", "do you recycle old jackets"),
        (
            "+13035553202",
            "can i drop off my worn out jacket for recycling",
        ),
        (
            "+13035553203",
            "where can i recycle a jacket that is worn out",
        ),
    ];
    for (phone, question) in recycling {
        asked_and_answered(
            &app,
            &ana.token,
            phone,
            question,
            "Yes! Bring worn-out jackets to any store and we recycle them.",
        )
        .await;
    }
    for (phone, question) in [
        ("+13035553204", "do you mail out a paper catalog"),
        ("+13035553205", "can i get your catalog in the mail"),
    ] {
        asked_and_answered(
            &app,
            &ana.token,
            phone,
            question,
            "We no longer print a catalog; every product is on our website.",
        )
        .await;
    }
    clock.advance(60_000);
    let Some(inbox) = Inbox::open(&app).await else {
        return;
    };

    // An agent is not shown the review, and the API turns her away.
    inbox.sign_in(&ana.token).await;
    assert!(
        !inbox
            .find("#review-open")
            .await
            .is_displayed()
            .await
            .unwrap(),
        "only admins review suggestions"
    );
    let refused = app
        .api_post(&ana.token, "/api/v1/admin/suggestions", json!({}))
        .await;
    assert_eq!(refused.status(), 403);
    inbox.click("#signout").await;

    // The admin opens the review and asks for drafts.
    inbox.sign_in(&boss.token).await;
    inbox.click("#review-open").await;
    inbox
        .wait_text(
            "an empty review",
            "#suggestion-list",
            "Nothing waits for review",
        )
        .await;
    inbox.click("#review-draft").await;
    inbox
        .wait_text("two drafts", "#review-status", "2 new suggestions")
        .await;
    let listed = app.api_json(&boss.token, "/api/v1/admin/suggestions").await;
    let by_text = |needle: &str| -> Value {
        listed
            .as_array()
            .unwrap()
            .iter()
            .find(|s| s["draft"].as_str().unwrap().contains(needle))
            .unwrap_or_else(|| panic!("a draft saying {needle:?}: {listed:#}"))
            .clone()
    };
    let recycle = by_text("recycle them");
    let catalog = by_text("catalog");
    let card = |s: &Value| format!("#suggestion-list li[data-suggestion-id=\"{}\"]", s["id"]);
    let (recycle_card, catalog_card) = (card(&recycle), card(&catalog));
    let shown = inbox
        .wait_text("the recycling draft", &recycle_card, "3 customers")
        .await;
    assert!(
        shown.contains(recycle["title"].as_str().unwrap()),
        "{shown}"
    );
    let sms = recycle["sms"].as_str().expect("the draft's sms answer");
    assert!(sms.contains("recycle them"), "{recycle:#}");
    assert!(shown.contains(sms), "the sms answer is shown: {shown}");
    assert!(inbox.text(&catalog_card).await.contains("2 customers"));
    // Each source conversation links to its thread.
    let sources = recycle["sources"].as_array().unwrap();
    assert_eq!(sources.len(), 3);
    let source = sources[0].as_i64().unwrap();
    inbox
        .click(&format!(
            "{recycle_card} button.source[data-conversation-id=\"{source}\"]"
        ))
        .await;
    inbox
        .wait_text("the source thread", "#thread", "do you recycle old jackets")
        .await;
    assert!(
        inbox
            .find("#review-pane")
            .await
            .is_displayed()
            .await
            .unwrap()
            == false
    );

    // Back to the review: accept one, reject the other.
    let documents_before = app.api_json(&boss.token, "/api/v1/admin/knowledge").await["documents"]
        .as_i64()
        .unwrap();
    inbox.click("#review-open").await;
    inbox.wait_for(&recycle_card).await;
    inbox
        .click(&format!("{recycle_card} button[data-decide=accept]"))
        .await;
    inbox
        .wait_text("published", "#review-status", "Published as learned/")
        .await;
    inbox
        .wait_gone("the accepted draft leaves the list", &recycle_card)
        .await;
    inbox
        .click(&format!("{catalog_card} button[data-decide=reject]"))
        .await;
    inbox
        .wait_gone("the rejected draft leaves the list", &catalog_card)
        .await;
    inbox
        .wait_text(
            "nothing left to review",
            "#suggestion-list",
            "Nothing waits for review",
        )
        .await;

    // Stored, published and audited as the API would have done it.
    let decided = app.api_json(&boss.token, "/api/v1/admin/suggestions").await;
    let status_of = |id: &Value| {
        decided
            .as_array()
            .unwrap()
            .iter()
            .find(|s| &s["id"] == id)
            .map(|s| {
                (
                    s["status"].clone(),
                    s["decided_by"].clone(),
                    s["file"].clone(),
                )
            })
            .unwrap()
    };
    let (status, by, file) = status_of(&recycle["id"]);
    assert_eq!((status, by), (json!("accepted"), json!("boss")));
    let published = knowledge.path().join(file.as_str().unwrap());
    assert!(published.starts_with(knowledge.path().join("learned")));
    assert_eq!(
        std::fs::read_to_string(&published).unwrap(),
        recycle["draft"].as_str().unwrap()
    );
    assert_eq!(status_of(&catalog["id"]).0, "rejected");
    assert!(
        !knowledge
            .path()
            .join(catalog["file"].as_str().unwrap())
            .exists()
    );
    for action in ["suggestion.accepted", "suggestion.rejected"] {
        let audit = app
            .api_json(&boss.token, &format!("/api/v1/admin/audit?action={action}"))
            .await;
        assert_eq!(audit["entries"][0]["actor"], "boss", "{audit:#}");
    }

    // Published means indexed: one more document in the knowledge base. (That the bot
    // then answers with it is core::gaps' story, with the local model.)
    let knowledge_now = app.api_json(&boss.token, "/api/v1/admin/knowledge").await;
    assert_eq!(
        knowledge_now["documents"].as_i64().unwrap(),
        documents_before + 1,
        "{knowledge_now:#}"
    );
    inbox.close().await;
}

#[tokio::test]
async fn a_returning_customers_history_and_the_teams_presence_in_the_browser() {
    let app = story_app().await;
    let ana = app.add_agent("ana", Role::Agent).await;
    let _bo = app.add_agent("bo", Role::Agent).await; // never signs in
    let Some(inbox) = Inbox::open(&app).await else {
        return;
    };
    inbox.sign_in(&ana.token).await;
    inbox
        .wait_text("ana online", "#team li[data-agent=\"ana\"]", "online")
        .await;
    let bo = inbox.text("#team li[data-agent=\"bo\"]").await;
    assert!(bo.contains("never signed in"), "{bo}");
    assert!(!inbox.exists("#team li.online[data-agent=\"bo\"]").await);

    // Last week: an escalation ana answered, labelled and resolved.
    let phone = "+13035550151";
    app.text(
        phone,
        "can I talk to a real person about order #48213",
        &sid(),
    )
    .await;
    app.settle().await;
    let earlier = waiting_handoff_of(&app, &ana.token, phone).await;
    let (id, conversation) = (
        earlier["id"].as_i64().unwrap(),
        earlier["conversation_id"].clone(),
    );
    for (path, body) in [
        (format!("/api/v1/handoffs/{id}/claim"), json!({})),
        (
            format!("/api/v1/conversations/{conversation}/messages"),
            json!({ "body": "Ana here: the refund for #48213 is on its way." }),
        ),
        (
            format!("/api/v1/conversations/{conversation}/labels"),
            json!({ "label": "refund" }),
        ),
    ] {
        let response = app.api_post(&ana.token, &path, body).await;
        assert!(
            response.status().is_success(),
            "{path}: {}",
            response.status()
        );
    }
    // The team list follows the claim: ana holds one.
    inbox
        .wait_text("ana's load", "#team li[data-agent=\"ana\"]", "1 open")
        .await;
    let resolved = app
        .api_post(
            &ana.token,
            &format!("/api/v1/handoffs/{id}/resolve"),
            json!({ "hand_back": false, "send_csat": false }),
        )
        .await;
    assert_eq!(resolved.status(), 200);

    // They are back: the new conversation shows the earlier one beside it.
    app.text(phone, "agent please, it's me again", &sid()).await;
    app.settle().await;
    let again = waiting_handoff_of(&app, &ana.token, phone).await["id"]
        .as_i64()
        .unwrap();
    inbox.wait_for(&card("waiting", again)).await;
    inbox.click(&card("waiting", again)).await;
    let history = inbox
        .wait_text("the history panel", "#history", "Earlier conversations (1)")
        .await;
    for expected in ["#48213", "ana", "refund", "can I talk to a real person"] {
        assert!(history.contains(expected), "{expected} in {history}");
    }
    inbox.screenshot("history-1280.png").await;
    inbox.set_width(360).await;
    assert!(inbox.fits_width().await, "no sideways scroll at 360 px");
    inbox.screenshot("history-360.png").await;
    inbox.set_width(1280).await;

    // `h` folds it; opening an item shows that thread, with ana's reply.
    let open = "return document.getElementById('history').open";
    inbox.press('h').await;
    assert_eq!(inbox.script(open, vec![]).await, json!(false));
    inbox.press('h').await;
    assert_eq!(inbox.script(open, vec![]).await, json!(true));
    let focused = "return document.activeElement.classList.contains('past')";
    assert_eq!(
        inbox.script(focused, vec![]).await,
        json!(true),
        "h puts the focus on the list"
    );
    inbox.click("#history-list li.past").await;
    inbox
        .wait_text(
            "the earlier thread",
            "#thread",
            "refund for #48213 is on its way",
        )
        .await;
    inbox.close().await;
}

#[tokio::test]
async fn keys_look_alikes_notes_transfer_and_opt_out_in_the_browser() {
    let app = story_app().await;
    let ana = app.add_agent("ana", Role::Agent).await;
    let ben = app.add_agent("ben", Role::Agent).await;
    let Some(inbox) = Inbox::open(&app).await else {
        return;
    };
    inbox.sign_in(&ana.token).await;

    // Three customers escalate: one angry (urgent), two asking for a person.
    let (angry, second, third) = ("+13035550101", "+13035550102", "+13035550103");
    app.text(
        angry,
        "Where is my order #48213? this is ridiculous!!!",
        &sid(),
    )
    .await;
    app.settle().await;
    app.text(second, "can I talk to a human", &sid()).await;
    app.settle().await;
    app.text(third, "can I talk to a human please", &sid())
        .await;
    app.settle().await;
    let h1 = waiting_handoff_of(&app, &ana.token, angry).await;
    let h2 = waiting_handoff_of(&app, &ana.token, second).await;
    let h3 = waiting_handoff_of(&app, &ana.token, third).await;
    let [h1_id, h2_id, h3_id] = [&h1, &h2, &h3].map(|h| h["id"].as_i64().unwrap());
    eventually("all three are queued, most urgent first", || async {
        (inbox.queue("waiting").await == vec![h1_id, h2_id, h3_id]).then_some(())
    })
    .await;

    // j and k move through the queue and open what they land on; c claims it.
    let title_of = |h: &Value| format!("Conversation with {}", h["phone_masked"].as_str().unwrap());
    inbox.press('j').await;
    inbox
        .wait_text("j opens the first", "#conv-title", &title_of(&h1))
        .await;
    inbox.press('j').await;
    inbox
        .wait_text("j opens the second", "#conv-title", &title_of(&h2))
        .await;
    inbox.press('k').await;
    inbox
        .wait_text("k goes back up", "#conv-title", &title_of(&h1))
        .await;
    inbox.press('c').await;
    inbox.wait_for(&card("mine", h1_id)).await;
    assert!(
        handoff_where(&app, &ana.token, "assigned", h1_id)
            .await
            .is_some()
    );
    inbox
        .wait_text(
            "the page says it is hers",
            "#conv-status",
            "Assigned to you",
        )
        .await;

    // Times are on the team's clock (America/Denver is on MST in December), whatever
    // the browser's own zone.
    inbox
        .wait_text("times in MST", "#thread li.customer .who", "MST")
        .await;

    // r jumps to the reply box; look-alikes are flagged and swapped in one click.
    inbox.press('r').await;
    assert_eq!(inbox.focused_id().await, "reply");
    let curly = "“Sorry” — we’re on it…";
    inbox.paste("reply", curly).await;
    assert_eq!(inbox.attr("#counter", "data-encoding").await, "UCS-2");
    let flagged = inbox.text("#nongsm-chars").await;
    for ch in ['“', '”', '—', '’', '…'] {
        assert!(flagged.contains(ch), "{ch} is flagged: {flagged}");
    }
    inbox.click("#smart").await;
    assert_eq!(
        inbox.value("#reply").await,
        segments::smart_encode(curly),
        "the page swaps exactly what the server would"
    );
    assert_eq!(inbox.attr("#counter", "data-encoding").await, "GSM-7");
    assert!(!inbox.find("#nongsm").await.is_displayed().await.unwrap());

    // A send the server refuses keeps the draft and shows why.
    let too_long = "a".repeat(153 * 10 + 1);
    inbox.paste("reply", &too_long).await;
    inbox
        .wait_text("the counter warns", "#counter", "over the 10-segment limit")
        .await;
    inbox.find("#reply").await.send_keys(ENTER).await.unwrap();
    let refused = inbox
        .wait_text("the refusal", "#send-error", "Not sent")
        .await;
    assert!(refused.contains("the limit is 10"), "{refused}");
    assert_eq!(inbox.value("#reply").await, too_long, "the draft is kept");
    app.settle().await;
    assert!(
        !app.transcript(angry)
            .await
            .iter()
            .any(|e| e.author == Author::Agent),
        "nothing was sent"
    );
    inbox.paste("reply", "").await;

    // A private note is shaded in the thread and never texted.
    inbox
        .find("#note")
        .await
        .send_keys("Coach of the under-12s, prefers texts after 5pm")
        .await
        .unwrap();
    inbox.click("#note-form button[type=submit]").await;
    let note = inbox
        .wait_text("the note is in the thread", "#thread li.note", "under-12s")
        .await;
    assert!(note.contains("Note by ana"), "{note}");
    assert!(
        !app.outbound(angry)
            .await
            .iter()
            .any(|e| e.body.contains("under-12s"))
    );

    // A colleague claims the second one: it leaves Ana's waiting list live.
    let claimed = app
        .api_post(
            &ben.token,
            &format!("/api/v1/handoffs/{h2_id}/claim"),
            json!({}),
        )
        .await;
    assert_eq!(claimed.status(), 200);
    inbox
        .wait_gone("ben's claim removes the card", &card("waiting", h2_id))
        .await;
    assert!(inbox.exists(&card("waiting", h3_id)).await);

    // Ana transfers the angry customer to Ben: it leaves her list, and the page says
    // who has it and stops her replying.
    inbox
        .find("#transfer-to")
        .await
        .select_by_value("ben")
        .await
        .unwrap();
    inbox.click("#transfer").await;
    eventually("the handoff is ben's", || async {
        handoff_where(&app, &ana.token, "assigned", h1_id)
            .await
            .filter(|h| h["assignee"] == "ben")
    })
    .await;
    inbox
        .wait_gone("the card leaves 'assigned to me'", &card("mine", h1_id))
        .await;
    inbox
        .wait_text(
            "the page says ben has it",
            "#conv-status",
            "Assigned to ben",
        )
        .await;
    assert!(!inbox.enabled("#reply").await);
    assert!(
        inbox
            .text("#consent")
            .await
            .contains("ben has this conversation")
    );

    // The third customer: Ana claims, then the customer texts STOP. The reply box
    // turns off and says why; resolving sends no survey to an opted-out number.
    inbox.click(&card("waiting", h3_id)).await;
    inbox
        .wait_text("the third opens", "#conv-title", &title_of(&h3))
        .await;
    inbox.click("#claim").await;
    inbox.wait_for(&card("mine", h3_id)).await;
    assert!(inbox.enabled("#reply").await);
    app.text(third, "STOP", &sid()).await;
    app.settle().await;
    inbox
        .wait_text("the opt-out shows", "#consent", "opted out")
        .await;
    assert!(!inbox.enabled("#reply").await);
    assert!(!inbox.enabled("#send").await);
    assert!(!inbox.enabled("#send-csat").await);
    inbox.click("#hand-back").await; // untick: close the conversation
    inbox.click("#resolve").await;
    eventually("resolved without hand-back", || async {
        handoff_where(&app, &ana.token, "resolved", h3_id)
            .await
            .filter(|h| h["hand_back"] == false)
    })
    .await;
    app.settle().await;
    let texts = app.outbound(third).await;
    assert!(
        !texts.iter().any(|e| e.body.starts_with("How did we do?")),
        "no survey after STOP: {texts:#?}"
    );
    inbox.close().await;
}

/// Texts whose counts sit on a boundary: the segment limits, escape pairs that must
/// not split, surrogate pairs and grapheme clusters, look-alikes that would cost more
/// once swapped.
fn boundary_texts() -> Vec<String> {
    let a = |n: usize| "a".repeat(n);
    let family = "👨\u{200D}👩\u{200D}👧\u{200D}👦";
    vec![
        String::new(),
        a(160),
        a(161),
        a(306),
        a(307),
        a(158) + "€",
        a(159) + "€",
        a(160) + "€",
        "€".repeat(80),
        "€".repeat(81),
        a(152) + "{" + &"b".repeat(10),
        a(151) + "{" + &"b".repeat(10),
        a(70).replace('a', "ж"),
        a(71).replace('a', "ж"),
        a(134).replace('a', "ж"),
        a(135).replace('a', "ж"),
        a(66) + "😀" + &a(10),
        a(65) + "😀" + &a(10),
        "😀".repeat(35),
        "😀".repeat(36),
        family.repeat(7),
        a(60) + family + &a(10),
        "🇺🇸".repeat(20),
        "👍🏽".repeat(20),
        "e\u{0301}".repeat(40),
        "中文短信".repeat(20),
        "“Sorry” — we’re on it…".into(),
        "…".repeat(60),
        "…".repeat(40),
        "tab\there\u{00A0}nbsp\u{200B}zero-width".into(),
        "Ça coûte 5€ — ok?".into(),
        "ÄÖÑÜ§¿äöñüà ÉÆæßØøÅå ΔΦΓΛΩΠΨΣΘΞ @£$¥èéùìò".into(),
        "line one\r\nline two\nline three".into(),
        "\u{000C}^{}\\[~]|€".repeat(20),
    ]
}

/// Random texts drawn from mostly-GSM pools with the characters that change the
/// arithmetic mixed in, from a fixed seed so a failure can be replayed.
fn random_texts(n: usize) -> Vec<String> {
    const GSM: &[&str] = &["a", "Z", "7", " ", ".", "\n", "é", "Ç", "Ø", "Δ", "@", "ü"];
    const ESCAPES: &[&str] = &["€", "{", "}", "^", "~", "|", "[", "]", "\\"];
    const LOOK_ALIKES: &[&str] = &["“", "”", "’", "—", "–", "…", "\u{00A0}", "\t"];
    const WIDE: &[&str] = &[
        "ç", "ñ", "ж", "中", "😀", "🇺", "🇸", "👍", "🏽", "\u{200D}", "\u{0301}", "👨",
    ];
    let mut rng = StdRng::seed_from_u64(0x5e65_7e57);
    (0..n)
        .map(|i| {
            // A third stay GSM-7, a third add look-alikes, a third anything.
            let pools: &[&[&str]] = match i % 3 {
                0 => &[GSM, GSM, GSM, ESCAPES],
                1 => &[GSM, GSM, ESCAPES, LOOK_ALIKES],
                _ => &[GSM, GSM, LOOK_ALIKES, WIDE],
            };
            let len = rng.random_range(0..=420);
            let mut text = String::new();
            for _ in 0..len {
                let pool = pools[rng.random_range(0..pools.len())];
                text.push_str(pool[rng.random_range(0..pool.len())]);
            }
            text
        })
        .collect()
}

#[tokio::test]
async fn the_reply_counter_agrees_with_the_server_on_boundary_and_random_texts() {
    let app = TestApp::spawn().await;
    let Some(inbox) = Inbox::open(&app).await else {
        return;
    };
    let mut texts = boundary_texts();
    texts.extend(random_texts(300));

    let answer = inbox
        .client
        .execute_async(
            "const [texts, done] = arguments;
             import('/inbox/segments.js').then((m) => done(texts.map((t) => {
               const c = m.count(t);
               return { encoding: c.encoding, segments: c.segments, units: c.units,
                        remaining: c.remaining, smart: m.smartEncode(t), parts: m.split(t) };
             })), (e) => done(String(e)));",
            vec![json!(texts)],
        )
        .await
        .unwrap();
    let results = answer
        .as_array()
        .unwrap_or_else(|| panic!("segments.js loads: {answer}"));
    assert_eq!(results.len(), texts.len());

    let mut differences = Vec::new();
    for (text, js) in texts.iter().zip(results) {
        let count = segments::count(text);
        let server = json!({
            "encoding": count.encoding.as_str(),
            "segments": count.segments,
            "units": count.units,
            "remaining": segments::remaining_in_last_segment(text),
            "smart": segments::smart_encode(text),
            "parts": segments::split(text),
        });
        if *js != server {
            differences.push(format!("{text:?}\n  server {server}\n  page   {js}"));
        }
    }
    assert!(
        differences.is_empty(),
        "{} of {} texts count differently in the page:\n{}",
        differences.len(),
        texts.len(),
        differences[..differences.len().min(5)].join("\n")
    );
    eprintln!(
        "segments.js agrees with src/sms/segments on {} texts",
        texts.len()
    );
    inbox.close().await;
}
