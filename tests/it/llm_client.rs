//! The LLM client against a fake OpenAI-compatible server on loopback: what it sends
//! (model, schema, redacted text, passages within budget), what it makes of the reply,
//! and how it fails fast (timeout, garbage, circuit breaker).

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use serde_json::{Value, json};
use textdesk::clock::ManualClock;
use textdesk::llm::{LlmClient, LlmError, LlmSettings, Passage, PromptTemplates, Turn, TurnRole};
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

const CHAT: &str = "/v1/chat/completions";

fn settings(server: &MockServer) -> LlmSettings {
    LlmSettings {
        base_url: Some(format!("{}/v1", server.uri())),
        api_key: Some("sk-test".into()),
        chat_model: "test-model".into(),
        timeout_ms: 2_000,
        failures_to_open: 3,
        open_secs: 60,
        ..LlmSettings::default()
    }
}

fn client_with(settings: &LlmSettings, clock: Arc<ManualClock>) -> LlmClient {
    let prompts =
        PromptTemplates::load(&Path::new(env!("CARGO_MANIFEST_DIR")).join("prompts")).unwrap();
    LlmClient::new(settings, prompts, clock).unwrap()
}

fn client(server: &MockServer) -> LlmClient {
    client_with(&settings(server), ManualClock::at(1_000_000))
}

/// A chat completion whose assistant message is `content`.
fn completion(content: &str) -> ResponseTemplate {
    ResponseTemplate::new(200).set_body_json(json!({
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

async fn mock_reply(server: &MockServer, reply: ResponseTemplate) {
    Mock::given(method("POST"))
        .and(path(CHAT))
        .respond_with(reply)
        .mount(server)
        .await;
}

/// The JSON bodies the fake server received, in order.
async fn requests(server: &MockServer) -> Vec<Value> {
    let received = server.received_requests().await.unwrap_or_default();
    received
        .iter()
        .map(|r| serde_json::from_slice(&r.body).unwrap())
        .collect()
}

/// Everything the model was shown in one request: all message contents joined.
fn prompt_text(request: &Value) -> String {
    request["messages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["content"].as_str().unwrap_or_default().to_string())
        .collect::<Vec<_>>()
        .join("\n")
}

fn intents() -> Vec<(String, String)> {
    vec![
        (
            "order_status".into(),
            "Where an order is, when it ships or arrives".into(),
        ),
        ("refund".into(), "Money back for an order".into()),
    ]
}

fn customer(text: &str) -> Turn {
    Turn {
        role: TurnRole::Customer,
        text: text.into(),
    }
}

#[tokio::test]
async fn classify_sends_the_model_and_intent_schema_and_parses_the_reply() {
    let server = MockServer::start().await;
    mock_reply(
        &server,
        completion(r#"{"intent":"refund","sentiment":-0.6,"needs_human":true,"reason":"Wants money back."}"#),
    )
    .await;
    let llm = client(&server);

    let result = llm
        .classify(
            "I want my money back for order TH-48213",
            &intents(),
            &[customer("hi")],
        )
        .await
        .unwrap();

    assert_eq!(result.intent, "refund");
    assert!((result.sentiment + 0.6).abs() < 1e-6);
    assert!(result.needs_human);
    assert_eq!(result.reason, "Wants money back.");

    let sent = requests(&server).await;
    assert_eq!(sent.len(), 1);
    assert_eq!(sent[0]["model"], "test-model");
    let format = &sent[0]["response_format"];
    assert_eq!(format["type"], "json_schema");
    assert_eq!(format["json_schema"]["strict"], true);
    assert_eq!(
        format["json_schema"]["schema"]["properties"]["intent"]["enum"],
        json!(["order_status", "refund", "out_of_scope"])
    );
    assert_eq!(sent[0]["messages"][0]["role"], "system");
    assert_eq!(sent[0]["messages"][1]["role"], "user");
    assert!(
        sent[0]["messages"][1]["content"]
            .as_str()
            .unwrap()
            .contains("order TH-48213")
    );
    assert_eq!(llm.stats().calls, 1);
    assert_eq!(llm.stats().failures, 0);
}

#[tokio::test]
async fn a_card_number_leaves_only_as_a_placeholder() {
    let server = MockServer::start().await;
    mock_reply(
        &server,
        completion(r#"{"intent":"out_of_scope","sentiment":0,"needs_human":false,"reason":"Payment details."}"#),
    )
    .await;
    let llm = client(&server);
    let history = [customer("my old card was 5500 0055 5555 5559")];

    llm.classify(
        "charge my card 4111 1111 1111 1111 please",
        &intents(),
        &history,
    )
    .await
    .unwrap();

    let raw = server.received_requests().await.unwrap_or_default();
    let body = String::from_utf8_lossy(&raw[0].body).to_string();
    assert!(!body.contains("4111 1111 1111 1111"), "{body}");
    assert!(!body.contains("4111"), "{body}");
    assert!(!body.contains("5500 0055"), "history is redacted too");
    let prompt = prompt_text(&requests(&server).await[0]);
    assert!(
        prompt.contains("charge my card [card number] please"),
        "{prompt}"
    );
}

#[tokio::test]
async fn answer_sends_only_the_most_relevant_passages_within_the_token_budget() {
    let server = MockServer::start().await;
    mock_reply(
        &server,
        completion("We ship within 2 business days. Track it at example.com/track"),
    )
    .await;
    let mut settings = settings(&server);
    settings.context_tokens = 300;
    let llm = client_with(&settings, ManualClock::at(0));
    let filler = "Shipping details and delivery policy words repeated for length. ".repeat(10);
    let passages: Vec<Passage> = (0..20)
        .map(|i| Passage {
            title: format!("Passage {i:02}"),
            text: format!("PASSAGE-{i:02} {filler}"),
            url: Some(format!("https://example.com/kb/{i}")),
        })
        .collect();

    let answer = llm
        .answer(
            "When will my order ship?",
            &passages,
            &[],
            300,
            "Thread & Co",
        )
        .await
        .unwrap();

    assert_eq!(
        answer.as_deref(),
        Some("We ship within 2 business days. Track it at example.com/track")
    );
    let prompt = prompt_text(&requests(&server).await[0]);
    assert!(
        prompt.contains("PASSAGE-00"),
        "the most relevant passage is sent"
    );
    let sent = (0..20)
        .filter(|i| prompt.contains(&format!("PASSAGE-{i:02}")))
        .count();
    assert!(
        (1..=3).contains(&sent),
        "{sent} passages sent for a 300-token budget"
    );
    assert!(!prompt.contains("PASSAGE-19"));
    assert!(prompt.contains("at most 300 characters"));
    assert!(prompt.contains("Thread & Co"));
}

#[tokio::test]
async fn no_answer_from_the_model_is_none() {
    let server = MockServer::start().await;
    mock_reply(&server, completion("NO_ANSWER")).await;
    let llm = client(&server);
    let passages = [Passage {
        title: "Hours".into(),
        text: "We open at 9am.".into(),
        url: None,
    }];

    let answer = llm
        .answer(
            "Do you sell gift cards?",
            &passages,
            &[],
            300,
            "Thread & Co",
        )
        .await
        .unwrap();

    assert_eq!(answer, None);
    assert_eq!(llm.stats().failures, 0, "NO_ANSWER is a successful call");
}

#[tokio::test]
async fn summarize_sends_the_redacted_transcript_and_returns_the_note() {
    let server = MockServer::start().await;
    mock_reply(
        &server,
        completion("Why: asked for a human.\nWants: refund for TH-48213.\nNext: approve refund."),
    )
    .await;
    let llm = client(&server);
    let transcript = [
        customer("where is order TH-48213?"),
        Turn {
            role: TurnRole::Bot,
            text: "It shipped Monday.".into(),
        },
        customer("it's broken, refund to card 4111-1111-1111-1111, I want a person"),
    ];

    let note = llm
        .summarize(
            &transcript,
            "customer asked for a human",
            &["order TH-48213".into()],
        )
        .await
        .unwrap();

    assert!(note.starts_with("Why: asked for a human."));
    let prompt = prompt_text(&requests(&server).await[0]);
    assert!(prompt.contains("bot: It shipped Monday."));
    assert!(prompt.contains("refund to card [card number]"));
    assert!(prompt.contains("600 characters"));
}

#[tokio::test]
async fn garbage_and_unknown_intents_are_invalid_responses() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path(CHAT))
        .respond_with(completion("Sure! The intent is refund."))
        .up_to_n_times(1)
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path(CHAT))
        .respond_with(completion(
            r#"{"intent":"pizza","sentiment":0,"needs_human":false,"reason":"x"}"#,
        ))
        .up_to_n_times(1)
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path(CHAT))
        .respond_with(ResponseTemplate::new(200).set_body_string("<html>proxy says hi</html>"))
        .mount(&server)
        .await;
    let llm = client(&server);

    for _ in 0..3 {
        let result = llm.classify("refund please", &intents(), &[]).await;
        assert!(
            matches!(result, Err(LlmError::InvalidResponse(_))),
            "{result:?}"
        );
    }
    assert_eq!(llm.stats().failures, 3);
}

#[tokio::test]
async fn a_slow_endpoint_times_out() {
    let server = MockServer::start().await;
    mock_reply(
        &server,
        completion("late").set_delay(Duration::from_millis(1_500)),
    )
    .await;
    let mut settings = settings(&server);
    settings.timeout_ms = 150;
    let llm = client_with(&settings, ManualClock::at(0));

    let started = std::time::Instant::now();
    let result = llm.summarize(&[customer("hello")], "test", &[]).await;

    assert_eq!(result, Err(LlmError::Timeout));
    assert!(
        started.elapsed() < Duration::from_millis(1_000),
        "gave up at the timeout"
    );
    assert_eq!(llm.stats().timeouts, 1);
}

#[tokio::test]
async fn after_repeated_failures_the_circuit_opens_without_calling_the_server() {
    let server = MockServer::start().await;
    mock_reply(&server, completion("not json")).await;
    let clock = ManualClock::at(1_000_000);
    let llm = client_with(&settings(&server), clock.clone());

    for _ in 0..3 {
        assert!(matches!(
            llm.classify("hi", &intents(), &[]).await,
            Err(LlmError::InvalidResponse(_))
        ));
    }
    assert_eq!(
        llm.classify("hi", &intents(), &[]).await,
        Err(LlmError::CircuitOpen)
    );
    assert_eq!(
        llm.summarize(&[customer("hi")], "test", &[]).await,
        Err(LlmError::CircuitOpen)
    );
    assert_eq!(
        server.received_requests().await.unwrap_or_default().len(),
        3,
        "no request while open"
    );
    assert!(llm.circuit_open());
    let stats = llm.stats();
    assert_eq!(
        (
            stats.calls,
            stats.failures,
            stats.circuit_open,
            stats.fallbacks()
        ),
        (3, 3, 2, 5)
    );

    // After the pause one probe goes out; a good reply closes the circuit.
    server.reset().await;
    mock_reply(&server, completion("Why: test.")).await;
    clock.advance(60_000);
    assert_eq!(
        llm.summarize(&[customer("hi")], "test", &[])
            .await
            .as_deref(),
        Ok("Why: test.")
    );
    assert!(!llm.circuit_open());
}

#[tokio::test]
async fn server_errors_are_http_errors() {
    let server = MockServer::start().await;
    mock_reply(
        &server,
        ResponseTemplate::new(401).set_body_json(json!({
            "error": { "message": "Incorrect API key provided", "type": "invalid_request_error", "param": null, "code": "invalid_api_key" }
        })),
    )
    .await;
    let llm = client(&server);

    let result = llm.classify("hi", &intents(), &[]).await;

    assert!(
        matches!(&result, Err(LlmError::Http(m)) if m.contains("401")),
        "{result:?}"
    );
}

/// llama-cpp-python's server answers `json_schema` with a 500 naming the field; the
/// client sends the schema as `json_object` instead, and keeps doing so.
#[tokio::test]
async fn a_server_without_json_schema_gets_the_schema_as_json_object() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path(CHAT))
        .and(wiremock::matchers::body_string_contains("json_schema"))
        .respond_with(ResponseTemplate::new(500).set_body_json(json!({"error": {
            "message": "1 validation error: {'type': 'literal_error', 'loc': ('body', 'response_format', 'type'), 'msg': \"Input should be 'text' or 'json_object'\"}",
            "type": "internal_server_error", "param": null, "code": null
        }})))
        .mount(&server)
        .await;
    mock_reply(
        &server,
        completion(
            r#"{"intent":"refund","sentiment":0,"needs_human":false,"reason":"money back"}"#,
        ),
    )
    .await;
    let llm = client(&server);

    for _ in 0..2 {
        let c = llm
            .classify("I want my money back", &intents(), &[])
            .await
            .unwrap();
        assert_eq!(c.intent, "refund");
    }
    let sent = requests(&server).await;
    // async-openai may retry the 500 itself before the client sees it: the refusals
    // come first, then one json_object request per classification.
    let (refused, later) = sent.split_at(sent.len() - 2);
    assert!(!refused.is_empty());
    for first in refused {
        assert_eq!(first["response_format"]["type"], "json_schema");
    }
    for later in later {
        assert_eq!(later["response_format"]["type"], "json_object");
        assert_eq!(
            later["response_format"]["schema"]["properties"]["intent"]["enum"],
            json!(["order_status", "refund", "out_of_scope"])
        );
    }
    assert_eq!(
        llm.structured_output(),
        textdesk::llm::StructuredOutput::JsonObject
    );
    assert_eq!(llm.stats().failures, 0, "a refused form is no failure");
}

/// A refusal that is not about the format (here: the context is too long) is a plain
/// failure: the client does not step down for it.
#[tokio::test]
async fn other_refusals_do_not_change_the_format() {
    let server = MockServer::start().await;
    mock_reply(
        &server,
        ResponseTemplate::new(400).set_body_json(json!({"error": {
            "message": "This model's maximum context length is 4096 tokens",
            "type": "invalid_request_error", "param": "messages", "code": null
        }})),
    )
    .await;
    let llm = client(&server);
    let result = llm.classify("where is my order", &intents(), &[]).await;
    assert!(matches!(result, Err(LlmError::Http(_))), "{result:?}");
    assert_eq!(requests(&server).await.len(), 1);
    assert_eq!(
        llm.structured_output(),
        textdesk::llm::StructuredOutput::JsonSchema
    );
}
