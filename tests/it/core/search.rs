//! Search over messages and notes, and exports that stream: what a team looks for
//! after the fact.

use std::time::Duration;

use serde_json::{Value, json};
use textdesk::api::auth::{generate_token, hash_token};
use textdesk::store::Role;

use crate::support::process::{free_port, open_store, start_textdesk, wait_healthy};
use crate::support::{TestApp, sid, test_database_url};

fn hits(page: &Value) -> Vec<(String, String)> {
    page["hits"]
        .as_array()
        .expect("hits")
        .iter()
        .map(|h| {
            (
                h["kind"].as_str().unwrap().to_string(),
                h["body"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

fn conversations_of(page: &Value) -> Vec<i64> {
    page["hits"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| h["conversation_id"].as_i64().unwrap())
        .collect()
}

#[tokio::test]
async fn search_finds_a_word_in_a_message_and_in_a_note_and_filters_by_contact() {
    let app = TestApp::spawn().await;
    let ana = app.add_agent("ana", Role::Agent).await;
    let dana = "+13035550171";
    let sam = "+13035550172";
    app.text(
        dana,
        "can I talk to a person, my parcel arrived crushed",
        &sid(),
    )
    .await;
    app.text(sam, "where is my parcel? it says delivered", &sid())
        .await;
    app.settle().await;
    let handoff = app.handoffs(&ana.token, "waiting").await;
    let conversation = handoff
        .iter()
        .find(|h| h["phone"] == dana)
        .expect("dana's handoff")["conversation_id"]
        .as_i64()
        .unwrap();
    let note = app
        .api_post(
            &ana.token,
            &format!("/api/v1/conversations/{conversation}/notes"),
            json!({ "body": "Courier Zebulon promised a pickup on Friday" }),
        )
        .await;
    assert_eq!(note.status(), 201);

    // A word in two customers' messages: both, newest first.
    let parcel = app.api_json(&ana.token, "/api/v1/search?q=parcel").await;
    let found = hits(&parcel);
    assert!(found.len() >= 2, "{parcel:#}");
    assert!(found.iter().all(|(kind, _)| kind == "message"));
    assert!(found.iter().any(|(_, body)| body.contains("crushed")));
    assert!(found.iter().any(|(_, body)| body.contains("delivered")));

    // A word only in the note: found as a note, with its author.
    let zebulon = app.api_json(&ana.token, "/api/v1/search?q=zebulon").await;
    assert_eq!(
        hits(&zebulon),
        [(
            "note".to_string(),
            "Courier Zebulon promised a pickup on Friday".to_string()
        )]
    );
    assert_eq!(zebulon["hits"][0]["author"], "ana");
    assert_eq!(zebulon["hits"][0]["conversation_id"], conversation);

    // Filtered by another contact's number: not in their thread.
    let theirs = app
        .api_json(&ana.token, "/api/v1/search?q=zebulon&phone=%2B13035550172")
        .await;
    assert!(hits(&theirs).is_empty(), "{theirs:#}");
    let sams = app
        .api_json(&ana.token, "/api/v1/search?q=parcel&phone=%2B13035550172")
        .await;
    assert!(
        hits(&sams)
            .iter()
            .any(|(_, body)| body.contains("delivered")),
        "{sams:#}"
    );
    assert!(conversations_of(&sams).iter().all(|c| *c != conversation));

    // Label, status and agent filters narrow to the conversations they name.
    let labeled = app
        .api_post(
            &ana.token,
            &format!("/api/v1/conversations/{conversation}/labels"),
            json!({ "label": "damaged" }),
        )
        .await;
    assert_eq!(labeled.status(), 200);
    for filter in ["label=damaged", "status=waiting"] {
        let narrowed = app
            .api_json(&ana.token, &format!("/api/v1/search?q=parcel&{filter}"))
            .await;
        assert!(!hits(&narrowed).is_empty(), "{filter}: {narrowed:#}");
        assert!(
            conversations_of(&narrowed)
                .iter()
                .all(|c| *c == conversation),
            "{filter}: {narrowed:#}"
        );
    }
    let nobody = app
        .api_json(&ana.token, "/api/v1/search?q=parcel&agent=ana")
        .await;
    assert!(
        hits(&nobody).is_empty(),
        "nobody claimed it yet: {nobody:#}"
    );

    // Punctuation and operators in the words are words, not syntax; pages follow.
    let odd = app
        .api_json(&ana.token, "/api/v1/search?q=%22parcel%22%20OR%20*")
        .await;
    assert!(hits(&odd).is_empty(), "every word must match: {odd:#}");
    let first = app
        .api_json(&ana.token, "/api/v1/search?q=parcel&limit=1")
        .await;
    assert_eq!(hits(&first).len(), 1);
    let next = first["next_offset"].as_i64().expect("a next page");
    let second = app
        .api_json(
            &ana.token,
            &format!("/api/v1/search?q=parcel&limit=1&offset={next}"),
        )
        .await;
    assert_ne!(hits(&first), hits(&second));
    let empty = app.api_get(&ana.token, "/api/v1/search?q=%20").await;
    assert_eq!(empty.status(), 400);

    // Erasing the contact takes their words out of the index too.
    let root = app.add_agent("root", Role::Admin).await;
    let erased = app
        .api_post(
            &root.token,
            "/api/v1/admin/contacts/%2B13035550171/forget",
            json!({}),
        )
        .await;
    assert_eq!(erased.status(), 200);
    let after = app.api_json(&ana.token, "/api/v1/search?q=crushed").await;
    assert!(hits(&after).is_empty(), "{after:#}");
}

/// Resident memory of a process, in bytes.
fn rss(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    let kb: u64 = status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next())
        .and_then(|v| v.parse().ok())
        .expect("VmRSS");
    kb * 1024
}

/// Streams the export, sampling the server's memory as the bytes arrive; returns
/// (bytes, lines, the highest resident memory seen).
async fn stream_export(port: u16, token: &str, pid: u32) -> (usize, usize, u64) {
    let mut response = crate::support::http_client()
        .get(format!(
            "http://127.0.0.1:{port}/api/v1/conversations/export?format=csv&per=message"
        ))
        .bearer_auth(token)
        .timeout(Duration::from_secs(120))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert!(
        response.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/csv")
    );
    let (mut bytes, mut lines, mut peak) = (0, 0, rss(pid));
    while let Some(chunk) = response.chunk().await.unwrap() {
        bytes += chunk.len();
        lines += chunk.iter().filter(|b| **b == b'\n').count();
        peak = peak.max(rss(pid));
    }
    (bytes, lines, peak)
}

#[tokio::test]
async fn an_export_of_ten_thousand_messages_streams_in_bounded_memory() {
    const MESSAGES: usize = 10_000;
    let dir = tempfile::tempdir().unwrap();
    let db = test_database_url().await;
    let port = free_port();
    let textdesk = Serving(start_textdesk(dir.path(), db.as_deref(), port, None));
    wait_healthy(port).await;
    let phone = "+13035550173";
    assert_eq!(
        crate::support::process::post_text(port, phone, "hello").await,
        200
    );
    let store = open_store(dir.path(), db.as_deref()).await;
    let token = generate_token();
    store
        .create_agent("root", Role::Admin, &hash_token(&token), 0)
        .await
        .unwrap();
    crate::support::process::wait_until("the text is stored", || async {
        store
            .transcript(phone, None)
            .await
            .is_ok_and(|t| !t.is_empty())
    })
    .await;

    // Arrange: 10,000 texts of the longest SMS (10 segments, 1,530 characters) in the
    // customer's conversation, written straight to the database.
    let url = db.clone().unwrap_or_else(|| {
        format!(
            "sqlite://{}?mode=rwc",
            dir.path().join("textdesk.db").display()
        )
    });
    let pool = sqlx::AnyPool::connect(&url).await.unwrap();
    let (conversation, contact): (i64, i64) =
        sqlx::query_as("SELECT id, contact_id FROM conversations ORDER BY id LIMIT 1")
            .fetch_one(&pool)
            .await
            .unwrap();
    let body = "All good, thanks. ".repeat(85);
    let mut tx = pool.acquire().await.unwrap();
    let begin = if db.is_none() {
        // The server writes beside us (its sweeps): wait for its turns as it does, and
        // take the write lock at BEGIN. A deferred transaction would take it at the
        // first insert, and SQLite refuses that upgrade at once ("database is locked",
        // no waiting) when the server committed in between.
        sqlx::query("PRAGMA busy_timeout = 60000")
            .execute(&mut *tx)
            .await
            .unwrap();
        "BEGIN IMMEDIATE"
    } else {
        "BEGIN"
    };
    sqlx::query(begin).execute(&mut *tx).await.unwrap();
    for batch in 0..MESSAGES / 100 {
        let rows: Vec<String> = (0..100)
            .map(|i| {
                format!(
                    "({conversation}, {contact}, 'inbound', 'customer', '{body} #{}', 'GSM-7', 10, 1530, 'received', 1, 1)",
                    batch * 100 + i
                )
            })
            .collect();
        sqlx::query(&format!(
            "INSERT INTO messages (conversation_id, contact_id, direction, author, body, encoding,
                 segments, units, delivery_status, created_at, updated_at) VALUES {}",
            rows.join(", ")
        ))
        .execute(&mut *tx)
        .await
        .unwrap();
    }
    sqlx::query("COMMIT").execute(&mut *tx).await.unwrap();
    drop(tx);

    // The first export warms the database's caches; the second is measured from there.
    let pid = textdesk.0.id();
    let (bytes, lines, _) = stream_export(port, &token, pid).await;
    assert!(
        lines > MESSAGES,
        "a header and every message: {lines} lines"
    );
    let before = rss(pid);
    let (again, _, peak) = stream_export(port, &token, pid).await;
    assert_eq!(again, bytes, "the same export twice");
    let growth = peak.saturating_sub(before);
    println!(
        "export: {MESSAGES} messages, {} KiB streamed; server memory {} KiB before, peak {} KiB (+{} KiB)",
        bytes / 1024,
        before / 1024,
        peak / 1024,
        growth / 1024
    );
    assert!(
        (growth as usize) < bytes / 2,
        "the export held {} KiB of a {} KiB export in memory at once",
        growth / 1024,
        bytes / 1024
    );
}

/// The server under test, stopped however the test ends (a failed assertion too: a
/// server left running would keep writing into the test run's output).
struct Serving(std::process::Child);

impl Drop for Serving {
    fn drop(&mut self) {
        self.0.kill().ok();
        self.0.wait().ok();
    }
}
