//! Learning from the people: customers ask what the knowledge base does not cover, the
//! bot cannot answer (or answers wrongly, and an agent marks it), agents do; the gaps report groups the questions, a draft made
//! from the agents' answers is accepted, and the bot answers the next customer.
//! Runs with the local embedding model (the grouping and the bot's retrieval need it).

use std::path::{Path, PathBuf};

use serde_json::{Value, json};
use textdesk::clock::ManualClock;
use textdesk::store::Role;

use crate::support::{TestApp, repo_path, sid};

/// Tuesday 2027-01-12, 10:00 in Denver: the team is in.
fn t0() -> i64 {
    "2027-01-12T17:00:00Z"
        .parse::<jiff::Timestamp>()
        .unwrap()
        .as_millisecond()
}

fn model_dir() -> PathBuf {
    let dir = repo_path("models/all-MiniLM-L6-v2");
    assert!(
        dir.join("model.safetensors").exists(),
        "the local embedding model is missing: run scripts/fetch-model.sh"
    );
    dir
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), &target).unwrap();
        }
    }
}

/// The app on a pinned clock with the local model and its own copy of the knowledge
/// base (accepting a suggestion writes into it).
async fn app_with_model(clock: std::sync::Arc<ManualClock>) -> (TestApp, tempfile::TempDir) {
    let knowledge = tempfile::tempdir().unwrap();
    copy_dir(&repo_path("knowledge"), knowledge.path());
    let dir = knowledge.path().to_path_buf();
    let app = TestApp::spawn_with_clock(clock, move |config| {
        config.knowledge_dir = dir;
        config.embeddings.provider = textdesk::config::EmbeddingsProvider::Local;
        config.embeddings.model_dir = model_dir();
        config.seed_dir = repo_path("seed");
    })
    .await;
    app.wait_for_knowledge().await;
    (app, knowledge)
}

/// Twelve ways to ask whether dogs may come into the store: nothing in the shipped
/// knowledge says. Two give a name and a number, which must never reach a draft.
const ASKED: [&str; 12] = [
    "can i bring my dog into the store?",
    "are dogs allowed inside your shops",
    "hi this is Priya Raman, is your Denver store dog friendly? my cell is 303-555-0148",
    "my pup comes everywhere with me, ok to bring him in?",
    "do you allow dogs in the boulder location",
    "can my golden retriever come shopping with me",
    "are leashed dogs welcome at your stores",
    "is it ok to bring my dog when i shop",
    "can i walk in with my puppy",
    "do you let people bring dogs in the store, email me at sam.k@example.com",
    "dogs allowed in store?",
    "could i bring my two dogs inside while i look at tents",
];

/// What the agents answered, each in their own words.
const ANSWERED: [&str; 12] = [
    "Hi Priya, yes! Leashed, well-behaved dogs are welcome in all our stores. Have a great day!",
    "Yes, leashed dogs are welcome in every Trailhead store. There is a water bowl by the door.",
    "Good news: dogs on a leash are welcome in all our stores.",
    "Yes, well-behaved dogs on a leash are welcome in our stores.",
    "Absolutely, leashed dogs are welcome in all our stores, including Boulder.",
    "Yes! Dogs on a leash are welcome in all our stores.",
    "Leashed dogs are welcome in all our stores. Thanks for asking!",
    "Yes, dogs on a leash are welcome in all our stores.",
    "Puppies too: leashed dogs are welcome in all our stores.",
    "Yes, leashed dogs are welcome in all our stores. Call us at (303) 555-0100 with questions.",
    "Yes, dogs are welcome in all our stores as long as they are on a leash.",
    "Two dogs are fine: leashed dogs are welcome in all our stores.",
];

#[tokio::test]
async fn twelve_unanswered_customers_teach_the_bot_to_answer_the_thirteenth() {
    let clock = ManualClock::at(t0());
    let (app, knowledge) = app_with_model(clock.clone()).await;
    let ana = app.add_agent("ana", Role::Agent).await;
    let boss = app.add_agent("boss", Role::Admin).await;
    let phone = |i: usize| format!("+1303555{:04}", 3100 + i);

    // Twelve customers ask; the bot cannot answer (a clarifying question, no answer).
    for (i, text) in ASKED.iter().enumerate() {
        app.text(&phone(i), text, &sid()).await;
    }
    app.settle().await;
    // Each then asks for a person, who answers.
    for i in 0..ASKED.len() {
        app.text(&phone(i), "can I talk to a person", &sid()).await;
    }
    app.settle().await;
    let waiting = app.handoffs(&ana.token, "waiting").await;
    assert_eq!(waiting.len(), 12, "{waiting:#?}");
    let mut marked_wrong = 0;
    for (i, answer) in ANSWERED.iter().enumerate() {
        let handoff = waiting
            .iter()
            .find(|h| h["phone"] == phone(i).as_str())
            .unwrap_or_else(|| panic!("no handoff for customer {i}"));
        let (id, conversation) = (
            handoff["id"].as_i64().unwrap(),
            handoff["conversation_id"].as_i64().unwrap(),
        );
        let claimed = app
            .api_post(
                &ana.token,
                &format!("/api/v1/handoffs/{id}/claim"),
                json!({}),
            )
            .await;
        assert_eq!(claimed.status(), 200);
        // Where the bot answered anyway (it took the question for one about store
        // locations), the agent marks its answer wrong.
        let detail = app
            .api_json(&ana.token, &format!("/api/v1/conversations/{conversation}"))
            .await;
        let messages = detail["messages"].as_array().unwrap();
        assert_eq!(messages[0]["author"], "customer");
        assert_eq!(messages[1]["author"], "bot");
        if messages[0]["intent"] != "out_of_scope" {
            let marked = app
                .api_post(
                    &ana.token,
                    &format!("/api/v1/messages/{}/feedback", messages[1]["id"]),
                    json!({ "kind": "wrong_answer" }),
                )
                .await;
            assert_eq!(marked.status(), 200);
            marked_wrong += 1;
        }
        let sent = app
            .api_post(
                &ana.token,
                &format!("/api/v1/conversations/{conversation}/messages"),
                json!({ "body": answer }),
            )
            .await;
        assert_eq!(sent.status(), 201);
    }
    app.settle().await;
    clock.advance(3_600_000);

    // The report, from the command line: one group of all twelve.
    let until = jiff::Timestamp::from_millisecond(t0() + 86_400_000)
        .unwrap()
        .to_string();
    let cache = tempfile::tempdir().unwrap();
    let mut cli = std::process::Command::new(env!("CARGO_BIN_EXE_textdesk"));
    cli.args(["gaps", "--since", "30d", "--until", &until, "--json"])
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("TEXTDESK_DATA_DIR", &app.config.data_dir)
        .env("TEXTDESK_EMBEDDINGS", "local")
        .env("TEXTDESK_MODEL_DIR", model_dir())
        .env("TEXTDESK_EMBEDDINGS_CACHE_DIR", cache.path())
        .env("RUST_LOG", "error")
        .current_dir(&app.config.data_dir);
    if let Some(url) = &app.config.database_url {
        cli.env("TEXTDESK_DATABASE_URL", url);
    }
    let output = cli.output().expect("textdesk gaps runs");
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let report: Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(report["grouped_by"], "dense");
    assert_eq!(report["texts"], 12, "{report:#}");
    let clusters = report["clusters"].as_array().unwrap();
    assert_eq!(clusters.len(), 1, "one topic, one group: {report:#}");
    let gap = &clusters[0];
    assert_eq!(gap["customers"], 12);
    assert_eq!(gap["trend"], "new");
    // Most got a clarifying question; the few the bot answered wrongly were marked.
    assert!(marked_wrong < 6, "the bot answered {marked_wrong} of 12");
    assert_eq!(gap["kinds"]["out_of_scope"], 12 - marked_wrong, "{gap:#}");
    if marked_wrong > 0 {
        assert_eq!(gap["kinds"]["wrong_answer"], marked_wrong, "{gap:#}");
    }
    let examples = gap["examples"].as_array().unwrap();
    assert_eq!(examples.len(), 3);
    for example in examples {
        let example = example.as_str().unwrap().to_lowercase();
        assert!(
            example.contains("dog") || example.contains("pup"),
            "{example}"
        );
    }
    let everything = report.to_string();
    for private in ["Priya", "Raman", "303-555-0148", "sam.k@example.com"] {
        assert!(
            !everything.contains(private),
            "{private} leaked: {everything}"
        );
    }

    // The same report over HTTP, for admins only.
    let forbidden = app.api_get(&ana.token, "/api/v1/admin/gaps").await;
    assert_eq!(forbidden.status(), 403);
    let over_http = app
        .api_json(&boss.token, "/api/v1/admin/gaps?since=30d")
        .await;
    assert_eq!(over_http["clusters"][0]["customers"], 12);
    assert_eq!(over_http["clusters"][0]["examples"], gap["examples"]);

    // A draft from the agents' answers, waiting in _suggested/ and not indexed.
    let documents_before = app.api_json(&boss.token, "/api/v1/admin/knowledge").await["documents"]
        .as_i64()
        .unwrap();
    let drafted = app
        .api_post(
            &boss.token,
            "/api/v1/admin/suggestions",
            json!({ "since": "30d" }),
        )
        .await;
    assert_eq!(drafted.status(), 201);
    let drafted: Value = drafted.json().await.unwrap();
    let drafted = drafted.as_array().unwrap();
    assert_eq!(drafted.len(), 1, "{drafted:#?}");
    let suggestion = &drafted[0];
    assert_eq!(suggestion["status"], "pending");
    assert_eq!(suggestion["sources"].as_array().unwrap().len(), 12);
    let draft = suggestion["draft"].as_str().unwrap().to_string();
    println!("{gap:#}\n{draft}");
    let file = knowledge.path().join(suggestion["file"].as_str().unwrap());
    assert!(file.starts_with(knowledge.path().join("_suggested")));
    assert_eq!(std::fs::read_to_string(&file).unwrap(), draft);
    for private in [
        "Priya",
        "Raman",
        "303-555-0148",
        "555-0100",
        "sam.k@example.com",
        "ana",
    ] {
        assert!(!draft.contains(private), "{private} in the draft:\n{draft}");
    }
    assert!(draft.contains("sms: "), "{draft}");
    assert!(draft.to_lowercase().contains("leash"), "{draft}");
    let again = app
        .api_post(
            &boss.token,
            "/api/v1/admin/suggestions",
            json!({ "since": "30d" }),
        )
        .await;
    let again: Value = again.json().await.unwrap();
    assert_eq!(
        again,
        json!([]),
        "the same conversations are not drafted twice"
    );
    let knowledge_now = app.api_json(&boss.token, "/api/v1/admin/knowledge").await;
    assert_eq!(
        knowledge_now["documents"].as_i64().unwrap(),
        documents_before,
        "drafts are not indexed"
    );

    // Nothing is published without an operator: the bot still cannot answer.
    let preview = app
        .api_post(
            &boss.token,
            "/api/v1/admin/preview",
            json!({ "text": "is it alright if my pooch comes along when i visit your shop?" }),
        )
        .await;
    let preview: Value = preview.json().await.unwrap();
    assert_eq!(preview["gap"], "out_of_scope", "{preview:#}");

    // Accepted through the API: published under learned/ and indexed.
    let id = suggestion["id"].as_i64().unwrap();
    let by_agent = app
        .api_post(
            &ana.token,
            &format!("/api/v1/admin/suggestions/{id}/accept"),
            json!({}),
        )
        .await;
    assert_eq!(by_agent.status(), 403);
    let accepted = app
        .api_post(
            &boss.token,
            &format!("/api/v1/admin/suggestions/{id}/accept"),
            json!({}),
        )
        .await;
    assert_eq!(accepted.status(), 200);
    let accepted: Value = accepted.json().await.unwrap();
    assert_eq!(accepted["status"], "accepted");
    assert_eq!(accepted["decided_by"], "boss");
    let published = knowledge.path().join(accepted["file"].as_str().unwrap());
    assert!(published.starts_with(knowledge.path().join("learned")));
    assert_eq!(std::fs::read_to_string(&published).unwrap(), draft);
    assert!(!file.exists());
    let knowledge_now = app.api_json(&boss.token, "/api/v1/admin/knowledge").await;
    assert_eq!(
        knowledge_now["documents"].as_i64().unwrap(),
        documents_before + 1
    );
    let twice = app
        .api_post(
            &boss.token,
            &format!("/api/v1/admin/suggestions/{id}/accept"),
            json!({}),
        )
        .await;
    assert_eq!(twice.status(), 409);

    // The thirteenth customer, in words nobody used, gets the team's answer.
    let thirteenth = "+13035553199";
    app.text(
        thirteenth,
        "is it alright if my pooch comes along when i visit your shop?",
        &sid(),
    )
    .await;
    app.settle().await;
    let replies = app.outbound(thirteenth).await;
    assert_eq!(replies.len(), 1, "{replies:#?}");
    let sms = draft
        .lines()
        .find_map(|l| l.strip_prefix("sms: "))
        .map(|s| serde_json::from_str::<String>(s).unwrap())
        .unwrap();
    assert_eq!(replies[0].body, sms);
    assert!(
        app.handoffs(&boss.token, "waiting")
            .await
            .iter()
            .all(|h| h["phone"] != thirteenth),
        "answered by the bot, not handed over"
    );
    let audit = app
        .api_json(
            &boss.token,
            "/api/v1/admin/audit?action=suggestion.accepted",
        )
        .await;
    assert_eq!(
        audit["entries"].as_array().map(Vec::len),
        Some(1),
        "{audit:#}"
    );
}

/// Asks, then asks for a person, who answers: one customer's whole story.
async fn asked_and_answered(app: &TestApp, agent: &str, phone: &str, question: &str, answer: &str) {
    app.text(phone, question, &sid()).await;
    app.settle().await;
    app.text(phone, "can I talk to a person", &sid()).await;
    app.settle().await;
    let waiting = app.handoffs(agent, "waiting").await;
    let handoff = waiting
        .iter()
        .find(|h| h["phone"] == phone)
        .unwrap_or_else(|| panic!("no handoff for {phone}: {waiting:#?}"));
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
async fn without_the_model_gaps_group_by_words_and_a_rejected_draft_stays_rejected() {
    let clock = ManualClock::at(t0());
    let knowledge = tempfile::tempdir().unwrap();
    copy_dir(&repo_path("knowledge"), knowledge.path());
    let dir = knowledge.path().to_path_buf();
    // Embeddings off (the test default): words only.
    let app =
        TestApp::spawn_with_clock(clock.clone(), move |config| config.knowledge_dir = dir).await;
    app.wait_for_knowledge().await;
    let ana = app.add_agent("ana", Role::Agent).await;
    let boss = app.add_agent("boss", Role::Admin).await;

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
            "Yes! Bring worn-out jackets to any store and we recycle them. - Ana",
        )
        .await;
    }
    for phone in ["+13035553204", "+13035553205"] {
        let question = if phone.ends_with('4') {
            "do you mail out a paper catalog"
        } else {
            "can i get your catalog in the mail"
        };
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

    let report = app
        .api_json(&boss.token, "/api/v1/admin/gaps?since=30d")
        .await;
    assert_eq!(report["grouped_by"], "lexical", "{report:#}");
    let clusters = report["clusters"].as_array().unwrap();
    let sizes: Vec<i64> = clusters
        .iter()
        .map(|c| c["customers"].as_i64().unwrap())
        .collect();
    assert_eq!(sizes, [3, 2], "most customers first: {report:#}");
    assert!(
        clusters[0]["examples"][0]
            .as_str()
            .unwrap()
            .contains("recycl")
    );
    assert!(
        clusters[1]["examples"][0]
            .as_str()
            .unwrap()
            .contains("catalog")
    );
    assert_eq!(
        app.api_get(&ana.token, "/api/v1/admin/suggestions")
            .await
            .status(),
        403
    );

    // Two drafts; the catalog one is turned down.
    let drafted = app
        .api_post(&boss.token, "/api/v1/admin/suggestions", json!({}))
        .await;
    assert_eq!(drafted.status(), 201);
    let drafted: Value = drafted.json().await.unwrap();
    assert_eq!(drafted.as_array().unwrap().len(), 2, "{drafted:#}");
    let catalog = drafted
        .as_array()
        .unwrap()
        .iter()
        .find(|d| d["draft"].as_str().unwrap().contains("catalog"))
        .expect("a catalog draft")
        .clone();
    let recycle = drafted
        .as_array()
        .unwrap()
        .iter()
        .find(|d| d["draft"].as_str().unwrap().contains("recycle them"))
        .expect("a recycling draft")
        .clone();
    assert!(
        !recycle["draft"].as_str().unwrap().contains("Ana"),
        "{recycle:#}"
    );
    let file = knowledge.path().join(catalog["file"].as_str().unwrap());
    assert!(file.exists());
    let id = catalog["id"].as_i64().unwrap();
    let rejected = app
        .api_post(
            &boss.token,
            &format!("/api/v1/admin/suggestions/{id}/reject"),
            json!({}),
        )
        .await;
    assert_eq!(rejected.status(), 200);
    let rejected: Value = rejected.json().await.unwrap();
    assert_eq!(rejected["status"], "rejected");
    assert!(!file.exists(), "a rejected draft's file is removed");
    let again = app
        .api_post(
            &boss.token,
            &format!("/api/v1/admin/suggestions/{id}/reject"),
            json!({}),
        )
        .await;
    assert_eq!(again.status(), 409);
    let redrafted: Value = app
        .api_post(&boss.token, "/api/v1/admin/suggestions", json!({}))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(redrafted, json!([]), "neither topic is drafted again");
    let listed = app.api_json(&boss.token, "/api/v1/admin/suggestions").await;
    let statuses: Vec<&str> = listed
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["status"].as_str().unwrap())
        .collect();
    assert_eq!(statuses.len(), 2);
    assert!(
        statuses.contains(&"pending") && statuses.contains(&"rejected"),
        "{listed:#}"
    );

    // A month on, one more customer asks about recycling: fewer than before.
    clock.advance(31 * 86_400_000);
    app.text("+13035553206", "recycle old jackets at your shop?", &sid())
        .await;
    app.settle().await;
    clock.advance(60_000);
    let later = app
        .api_json(&boss.token, "/api/v1/admin/gaps?since=30d")
        .await;
    let clusters = later["clusters"].as_array().unwrap();
    assert_eq!(clusters.len(), 1, "{later:#}");
    assert_eq!(clusters[0]["customers"], 1);
    assert_eq!(clusters[0]["previous_customers"], 3);
    assert_eq!(clusters[0]["trend"], "falling");
}

/// What the classifier makes of `text` now, from the admin preview.
async fn intent_of(app: &TestApp, admin: &str, text: &str) -> String {
    let preview: Value = app
        .api_post(admin, "/api/v1/admin/preview", json!({ "text": text }))
        .await
        .json()
        .await
        .unwrap();
    preview["thought"]["understanding"]["intent"]
        .as_str()
        .unwrap_or_else(|| panic!("no intent in {preview:#}"))
        .to_string()
}

/// The messages of `phone`'s latest conversation, through the agent API.
async fn thread_of(app: &TestApp, agent: &str, phone: &str) -> Vec<Value> {
    let phone = phone.replace('+', "%2B");
    let conversations = app
        .api_json(agent, &format!("/api/v1/conversations?phone={phone}"))
        .await;
    let id = conversations[0]["id"].as_i64().expect("a conversation");
    let detail = app
        .api_json(agent, &format!("/api/v1/conversations/{id}"))
        .await;
    detail["messages"].as_array().unwrap().clone()
}

#[tokio::test]
async fn an_agent_relabels_a_misread_text_and_the_accepted_example_teaches_the_classifier() {
    let prompts = crate::support::copy_prompts();
    let dir = prompts.path().to_path_buf();
    let app = TestApp::spawn_with(move |config| config.prompts_dir = dir).await;
    app.wait_for_knowledge().await;
    let ana = app.add_agent("ana", Role::Agent).await;
    let boss = app.add_agent("boss", Role::Admin).await;
    let later = "can my son use my member discount";
    // The shipped intents do not read a question about the members' discount as one
    // about the rewards membership (they take it for promotions).
    assert_ne!(intent_of(&app, &boss.token, later).await, "rewards");

    // A customer asks; the bot takes it for a promotions question and answers that.
    let phone = "+13035553301";
    app.text(
        phone,
        "can my daughter use my member discount? text me at 303-555-0199",
        &sid(),
    )
    .await;
    app.settle().await;
    let thread = thread_of(&app, &ana.token, phone).await;
    assert_eq!(thread[0]["author"], "customer");
    assert_ne!(thread[0]["intent"], "rewards", "{thread:#?}");
    let bot = thread
        .iter()
        .find(|m| m["author"] == "bot")
        .expect("the bot answered");
    let feedback = format!("/api/v1/messages/{}/feedback", bot["id"]);

    // The agent says what it really was; an intent the file does not have is refused
    // with the ones it has.
    let unknown = app
        .api_post(
            &ana.token,
            &feedback,
            json!({ "kind": "wrong_answer", "intent": "loyalty" }),
        )
        .await;
    assert_eq!(unknown.status(), 422);
    let unknown: Value = unknown.json().await.unwrap();
    let error = unknown["error"].as_str().unwrap();
    assert!(
        error.contains("loyalty") && error.contains("rewards"),
        "{error}"
    );
    let relabelled = app
        .api_post(
            &ana.token,
            &feedback,
            json!({ "kind": "wrong_answer", "intent": "rewards" }),
        )
        .await;
    assert_eq!(relabelled.status(), 200);
    let audit = app
        .api_json(&boss.token, "/api/v1/admin/audit?action=bot.feedback")
        .await;
    assert_eq!(
        audit["entries"][0]["detail"]["intent"], "rewards",
        "{audit:#}"
    );

    // Proposed as an example of rewards, redacted, once.
    let proposed = app
        .api_post(&boss.token, "/api/v1/admin/suggestions", json!({}))
        .await;
    assert_eq!(proposed.status(), 201);
    let proposed: Value = proposed.json().await.unwrap();
    let examples: Vec<&Value> = proposed
        .as_array()
        .unwrap()
        .iter()
        .filter(|s| s["kind"] == "intent_example")
        .collect();
    assert_eq!(examples.len(), 1, "{proposed:#}");
    let suggestion = examples[0];
    assert_eq!(suggestion["intent"], "rewards");
    assert_eq!(suggestion["status"], "pending");
    assert_eq!(suggestion["file"], "intents.toml");
    let example = suggestion["example"].as_str().unwrap().to_string();
    assert!(example.contains("member discount"), "{example}");
    assert!(
        !example.contains("0199"),
        "the phone number leaked: {example}"
    );
    let again: Value = app
        .api_post(&boss.token, "/api/v1/admin/suggestions", json!({}))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(again, json!([]), "a text is proposed once");
    let listed = app.api_json(&boss.token, "/api/v1/admin/suggestions").await;
    assert_eq!(listed[0]["kind"], "intent_example", "{listed:#}");

    // Accepted by an admin: added to rewards in intents.toml, nothing else touched.
    let id = suggestion["id"].as_i64().unwrap();
    let accept = format!("/api/v1/admin/suggestions/{id}/accept");
    assert_eq!(
        app.api_post(&ana.token, &accept, json!({})).await.status(),
        403
    );
    let before = std::fs::read_to_string(prompts.path().join("intents.toml")).unwrap();
    let accepted = app.api_post(&boss.token, &accept, json!({})).await;
    assert_eq!(accepted.status(), 200);
    let accepted: Value = accepted.json().await.unwrap();
    assert_eq!(accepted["status"], "accepted");
    assert_eq!(accepted["decided_by"], "boss");
    let after = std::fs::read_to_string(prompts.path().join("intents.toml")).unwrap();
    let added: Vec<&str> = after
        .lines()
        .filter(|l| !before.lines().any(|b| b == *l))
        .collect();
    assert_eq!(
        added,
        [format!("  {},", json!(example)).as_str()],
        "{after}"
    );
    assert_eq!(after.lines().count(), before.lines().count() + 1);
    let rewards = after.find("[intents.rewards]").unwrap();
    let next_intent = rewards + after[rewards + 1..].find("[intents.").unwrap();
    let at = after.find(added[0]).unwrap();
    assert!(rewards < at && at < next_intent, "added under rewards");
    assert_eq!(
        app.api_post(&boss.token, &accept, json!({})).await.status(),
        409
    );

    // intents.toml reloads and the classifier learns: the next customer's question in
    // other words is a rewards question.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    while intent_of(&app, &boss.token, later).await != "rewards" {
        assert!(
            std::time::Instant::now() < deadline,
            "the classifier did not learn the accepted example"
        );
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    }
    let next = "+13035553302";
    app.text(next, later, &sid()).await;
    app.settle().await;
    let thread = thread_of(&app, &ana.token, next).await;
    assert_eq!(thread[0]["intent"], "rewards", "{thread:#?}");
    let audit = app
        .api_json(
            &boss.token,
            "/api/v1/admin/audit?action=suggestion.accepted",
        )
        .await;
    assert_eq!(
        audit["entries"][0]["detail"]["intent"], "rewards",
        "{audit:#}"
    );
}

/// A chat completion whose assistant message is `content`.
fn completion(content: &str) -> wiremock::ResponseTemplate {
    wiremock::ResponseTemplate::new(200).set_body_json(json!({
        "id": "chatcmpl-test",
        "object": "chat.completion",
        "created": 1_700_000_000,
        "model": "test-model",
        "choices": [{
            "index": 0,
            "message": { "role": "assistant", "content": content },
            "finish_reason": "stop"
        }],
        "usage": { "prompt_tokens": 10, "completion_tokens": 5, "total_tokens": 15 }
    }))
}

#[tokio::test]
async fn with_a_language_model_drafts_are_written_from_the_agents_answers_or_stay_extractive() {
    use wiremock::matchers::{body_string_contains, method, path};
    use wiremock::{Mock, MockServer};

    // The fake model answers only the drafting calls, which carry the agents' answers:
    // recycling gets a short answer, the catalog one that is far too long for two
    // texts, and donations none (an error). The bot's own calls fail too, and it
    // answers customers locally.
    let server = MockServer::start().await;
    let written = "Yes, bring your worn-out jackets to any of our stores and we will recycle them.";
    Mock::given(method("POST"))
        .and(path("/v1/chat/completions"))
        .and(body_string_contains("we recycle them"))
        .respond_with(completion(written))
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path("/v1/chat/completions"))
        .and(body_string_contains("no longer print a catalog"))
        .respond_with(completion(&"We no longer print a catalog. ".repeat(12)))
        .mount(&server)
        .await;

    let knowledge = tempfile::tempdir().unwrap();
    copy_dir(&repo_path("knowledge"), knowledge.path());
    let dir = knowledge.path().to_path_buf();
    let base_url = format!("{}/v1", server.uri());
    let clock = ManualClock::at(t0());
    let app = TestApp::spawn_with_clock(clock.clone(), move |config| {
        config.knowledge_dir = dir;
        config.llm.base_url = Some(base_url);
        config.llm.api_key = Some("sk-test".into());
        config.llm.chat_model = "test-model".into();
        config.llm.timeout_ms = 2_000;
        // Every call the fake does not answer fails: the breaker must not stop the
        // drafting calls that come after them.
        config.llm.failures_to_open = 1_000_000;
    })
    .await;
    app.wait_for_knowledge().await;
    let ana = app.add_agent("ana", Role::Agent).await;
    let boss = app.add_agent("boss", Role::Admin).await;
    for (phone, question) in [
        ("+13035553211", "do you recycle old jackets"),
        (
            "+13035553212",
            "can i drop off my worn out jacket for recycling",
        ),
        (
            "+13035553213",
            "where can i recycle a jacket that is worn out",
        ),
    ] {
        asked_and_answered(
            &app,
            &ana.token,
            phone,
            question,
            "Yes! Bring worn-out jackets to any store and we recycle them. Questions? Call 303-555-0100. - Ana",
        )
        .await;
    }
    for (phone, question) in [
        ("+13035553214", "do you mail out a paper catalog"),
        ("+13035553215", "can i get your catalog in the mail"),
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
    for (phone, question) in [
        ("+13035553216", "do you donate gear to school fundraisers"),
        (
            "+13035553217",
            "would you donate a raffle prize for our school",
        ),
    ] {
        asked_and_answered(
            &app,
            &ana.token,
            phone,
            question,
            "We donate gear to school fundraisers: email the store manager the details.",
        )
        .await;
    }
    clock.advance(60_000);

    let drafted = app
        .api_post(&boss.token, "/api/v1/admin/suggestions", json!({}))
        .await;
    assert_eq!(drafted.status(), 201);
    let drafted: Value = drafted.json().await.unwrap();
    let by_text = |needle: &str| -> Value {
        drafted
            .as_array()
            .unwrap()
            .iter()
            .find(|s| s["draft"].as_str().unwrap().contains(needle))
            .unwrap_or_else(|| panic!("a draft saying {needle:?}: {drafted:#}"))
            .clone()
    };
    // Written by the model: its answer is the sms and opens the body.
    let recycle = by_text("recycl");
    assert_eq!(recycle["sms"], written, "{recycle:#}");
    let draft = recycle["draft"].as_str().unwrap();
    assert!(draft.contains(&format!("\n\n{written}\n")), "{draft}");
    // Over two texts: the agents' own words instead.
    let catalog = by_text("catalog");
    assert_eq!(
        catalog["sms"], "We no longer print a catalog; every product is on our website.",
        "{catalog:#}"
    );
    // The model failed: the agents' own words.
    let donations = by_text("fundraisers");
    assert_eq!(
        donations["sms"],
        "We donate gear to school fundraisers: email the store manager the details.",
        "{donations:#}"
    );

    // What the model was shown: the agents' answers, redacted.
    let received = server.received_requests().await.unwrap_or_default();
    let drafting: Vec<String> = received
        .iter()
        .map(|r| String::from_utf8_lossy(&r.body).into_owned())
        .filter(|b| b.contains("we recycle them"))
        .collect();
    assert_eq!(drafting.len(), 1, "one drafting call for recycling");
    for private in ["303-555-0100", "555-0100", "Ana"] {
        assert!(
            !drafting[0].contains(private),
            "{private} reached the model: {}",
            drafting[0]
        );
    }

    // Accepted, the model's answer is what the bot texts the next customer.
    let id = recycle["id"].as_i64().unwrap();
    let accepted = app
        .api_post(
            &boss.token,
            &format!("/api/v1/admin/suggestions/{id}/accept"),
            json!({}),
        )
        .await;
    assert_eq!(accepted.status(), 200);
    let published = knowledge.path().join(
        accepted.json::<Value>().await.unwrap()["file"]
            .as_str()
            .unwrap(),
    );
    assert!(
        std::fs::read_to_string(published)
            .unwrap()
            .contains(&format!("sms: {}", json!(written)))
    );
}
