//! The agent inbox (`GET /inbox`) in a real headless Chromium: sign in, see an
//! escalation arrive live, claim it, reply with a UCS-2 text while the counter tells
//! the truth, and resolve with hand-back. Saves screenshots of the queue and the
//! conversation at 1280 and 360 px under `target/inbox-screenshots/`.
//!
//! Needs Debian's `chromium` and `chromium-driver` (scripts/test.sh installs them when
//! it runs as root); without them the test prints SKIPPED and passes.

#[path = "support/mod.rs"]
mod support;

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use fantoccini::elements::Element;
use fantoccini::{Client, ClientBuilder, Locator};
use serde_json::json;
use support::process::free_port;
use support::{TestApp, sid};
use textdesk::clock::ManualClock;
use textdesk::store::{Author, Role};

/// Wednesday 2 Dec 2026, 11:00 in Denver: the demo team is in.
const WEDNESDAY_11AM: i64 = 1_796_234_400_000;
const CHROMIUM: &str = "/usr/bin/chromium";
const CHROMEDRIVER: &str = "/usr/bin/chromedriver";
const WAIT: Duration = Duration::from_secs(15);

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
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    while tokio::net::TcpStream::connect(("127.0.0.1", port))
        .await
        .is_err()
    {
        assert!(
            tokio::time::Instant::now() < deadline,
            "chromedriver did not listen"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    driver
}

async fn browser(driver: &Driver, profile: &Path) -> Client {
    let mut caps = serde_json::Map::new();
    caps.insert(
        "goog:chromeOptions".into(),
        json!({
            "binary": CHROMIUM,
            "args": [
                "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
                "--no-first-run", "--disable-background-networking",
                "--disable-component-update", "--disable-sync",
                format!("--user-data-dir={}", profile.display()),
                "--window-size=1280,900",
            ],
        }),
    );
    ClientBuilder::native()
        .capabilities(caps)
        .connect(&format!("http://127.0.0.1:{}", driver.port))
        .await
        .expect("a Chromium session opens")
}

fn screenshot_dir() -> PathBuf {
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("target"));
    let dir = target.join("inbox-screenshots");
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

async fn screenshot(client: &Client, name: &str) {
    let png = client.screenshot().await.expect("screenshot");
    std::fs::write(screenshot_dir().join(name), png).unwrap();
}

/// Resizes the viewport (not just the window) to `width` CSS pixels.
async fn set_width(client: &Client, width: u32) {
    client.set_window_size(width, 900).await.unwrap();
    let inner = client
        .execute("return window.innerWidth", vec![])
        .await
        .unwrap();
    let inner = inner.as_u64().unwrap_or(0) as u32;
    if inner != width {
        // Window chrome took some of it: grow the window by the difference.
        client
            .set_window_size(width + (width - inner.min(width)), 900)
            .await
            .unwrap();
    }
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

async fn text_of(client: &Client, css: &str) -> String {
    match client.find(Locator::Css(css)).await {
        Ok(e) => e.text().await.unwrap_or_default(),
        Err(_) => String::new(),
    }
}

async fn attr(e: &Element, name: &str) -> String {
    e.attr(name).await.ok().flatten().unwrap_or_default()
}

#[tokio::test]
async fn an_agent_claims_answers_and_resolves_an_escalation_in_the_browser() {
    if !Path::new(CHROMIUM).exists() || !Path::new(CHROMEDRIVER).exists() {
        eprintln!(
            "SKIPPED: {CHROMIUM} or {CHROMEDRIVER} is missing \
             (apt-get install chromium chromium-driver)"
        );
        return;
    }
    let app = TestApp::spawn_with_clock(ManualClock::at(WEDNESDAY_11AM), |_| {}).await;
    let ana = app.add_agent("ana", Role::Agent).await;
    app.wait_for_knowledge().await;

    let driver = start_driver().await;
    let profile = tempfile::tempdir().unwrap();
    let client = browser(&driver, profile.path()).await;
    client.set_window_size(1280, 900).await.unwrap();
    client
        .goto(&format!("{}/inbox", app.base_url))
        .await
        .unwrap();

    // A wrong token says so.
    let token_input = client
        .wait()
        .at_most(WAIT)
        .for_element(Locator::Id("token"))
        .await
        .unwrap();
    token_input.send_keys("tdk_not-a-real-token").await.unwrap();
    client
        .find(Locator::Css("#signin-form button[type=submit]"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    let error = eventually("the wrong-token message", || async {
        Some(text_of(&client, "#signin-error").await).filter(|t| !t.is_empty())
    })
    .await;
    assert!(error.contains("wrong"), "{error}");

    // The right one signs in and opens the live stream.
    token_input.clear().await.unwrap();
    token_input.send_keys(&ana.token).await.unwrap();
    client
        .find(Locator::Css("#signin-form button[type=submit]"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    eventually("the live stream connects", || async {
        text_of(&client, "#live")
            .await
            .contains("live")
            .then_some(())
    })
    .await;
    assert!(text_of(&client, "#queue-waiting").await.contains("Nobody"));

    // An angry text escalates; the queue shows it without a reload.
    let phone = "+13035550142";
    app.text(
        phone,
        "Where is my order #48213? this is ridiculous!!!",
        &sid(),
    )
    .await;
    app.settle().await;
    let waiting = app.handoffs(&ana.token, "waiting").await;
    assert_eq!(waiting.len(), 1, "the text escalated: {waiting:#?}");
    let handoff_id = waiting[0]["id"].as_i64().unwrap();
    let item_css = format!("#queue-waiting li[data-handoff-id=\"{handoff_id}\"]");
    let item = client
        .wait()
        .at_most(WAIT)
        .for_element(Locator::Css(&item_css))
        .await
        .expect("the escalation appears live");
    let item_text = item.text().await.unwrap();
    assert!(item_text.contains("0142"), "masked number: {item_text}");
    assert!(!item_text.contains("+13035550142"), "{item_text}");
    screenshot(&client, "queue-1280.png").await;

    // Claim it: the summary carries the order number.
    item.click().await.unwrap();
    let summary = eventually("the summary", || async {
        Some(text_of(&client, "#summary").await).filter(|t| t.contains("48213"))
    })
    .await;
    assert!(summary.contains("48213"), "{summary}");
    client
        .find(Locator::Id("claim"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    eventually("the handoff is claimed", || async {
        let assigned = app.handoffs(&ana.token, "assigned").await;
        assigned
            .iter()
            .any(|h| h["id"] == handoff_id && h["assignee"] == "ana")
            .then_some(())
    })
    .await;
    eventually("it moves to 'assigned to me'", || async {
        client
            .find(Locator::Css(&format!(
                "#queue-mine li[data-handoff-id=\"{handoff_id}\"]"
            )))
            .await
            .ok()
            .map(|_| ())
    })
    .await;

    // A reply with é and 😀 is UCS-2; the counter agrees with the server's arithmetic.
    let reply = "Hi, I am sorry about the wait é 😀 your order 48213 left our warehouse \
                 this morning and should arrive tomorrow.";
    let expected = textdesk::sms::segments::count(reply);
    assert_eq!(expected.encoding.as_str(), "UCS-2");
    assert_eq!(expected.segments, 2, "the reply spans two parts");
    let reply_box = client.find(Locator::Id("reply")).await.unwrap();
    // ChromeDriver types only BMP characters: type up to the emoji, set the rest as a
    // paste would (value + input event).
    let (typed, _) = reply.split_once('😀').unwrap();
    reply_box.send_keys(typed).await.unwrap();
    client
        .execute(
            "const r = document.getElementById('reply'); r.value = arguments[0]; \
             r.dispatchEvent(new Event('input', { bubbles: true }));",
            vec![json!(reply)],
        )
        .await
        .unwrap();
    let counter = client.find(Locator::Id("counter")).await.unwrap();
    assert_eq!(attr(&counter, "data-encoding").await, "UCS-2");
    assert_eq!(
        attr(&counter, "data-segments").await,
        expected.segments.to_string()
    );
    assert_eq!(
        attr(&counter, "data-remaining").await,
        textdesk::sms::segments::remaining_in_last_segment(reply).to_string()
    );
    let counter_text = counter.text().await.unwrap();
    assert!(
        counter_text.contains("UCS-2") && counter_text.contains("2 segments"),
        "{counter_text}"
    );
    let flagged = text_of(&client, "#nongsm-chars").await;
    assert!(
        flagged.contains('é') || flagged.contains('😀'),
        "non-GSM characters are shown: {flagged}"
    );
    screenshot(&client, "conversation-1280.png").await;

    set_width(&client, 360).await;
    screenshot(&client, "conversation-360.png").await;
    client
        .find(Locator::Id("back"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    screenshot(&client, "queue-360.png").await;
    set_width(&client, 1280).await;
    client
        .find(Locator::Css(&format!(
            "#queue-mine li[data-handoff-id=\"{handoff_id}\"]"
        )))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();

    // Enter sends; the text is in the transcript as the agent's.
    let reply_box = client
        .wait()
        .at_most(WAIT)
        .for_element(Locator::Id("reply"))
        .await
        .unwrap();
    reply_box.send_keys("\u{E007}").await.unwrap();
    eventually("the reply is in the transcript", || async {
        app.settle().await;
        app.transcript(phone)
            .await
            .iter()
            .any(|e| e.author == Author::Agent && e.body == reply)
            .then_some(())
    })
    .await;
    eventually("the reply shows in the thread", || async {
        text_of(&client, "#thread li.agent:last-child")
            .await
            .contains("48213 left our warehouse")
            .then_some(())
    })
    .await;
    assert_eq!(
        reply_box.prop("value").await.unwrap().unwrap_or_default(),
        "",
        "a sent reply clears the box"
    );

    // Resolve with hand-back.
    let hand_back = client.find(Locator::Id("hand-back")).await.unwrap();
    assert!(
        hand_back.is_selected().await.unwrap(),
        "hand-back is the default"
    );
    client
        .find(Locator::Id("resolve"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    eventually("the handoff is resolved with hand-back", || async {
        app.handoffs(&ana.token, "resolved")
            .await
            .iter()
            .any(|h| h["id"] == handoff_id && h["hand_back"] == true)
            .then_some(())
    })
    .await;

    client.close().await.unwrap();
}
