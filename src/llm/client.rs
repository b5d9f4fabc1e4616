//! [`LlmClient`]: the three things textdesk asks a language model — classify a text,
//! answer from knowledge passages, summarize a conversation for a human — over any
//! OpenAI-compatible endpoint.
//!
//! Every call follows the same path: redact every text that leaves (customer message,
//! history, transcript, facts), cut passages and history to their token budgets, render
//! the operator's template, then ask the circuit breaker, send within the timeout, and
//! check the reply. Any failure (HTTP, timeout, unusable reply) is returned as an
//! [`LlmError`] so the caller falls back to the local brain; it is never retried here
//! beyond async-openai's own retries inside the timeout.
//!
//! Prompts and message bodies are logged at `trace` only; sizes and outcomes at `debug`;
//! the circuit opening at `warn`.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use async_openai::Client;
use async_openai::config::OpenAIConfig;
use async_openai::error::OpenAIError;
use async_openai::types::chat::{
    ChatCompletionRequestMessage, ChatCompletionRequestSystemMessage,
    ChatCompletionRequestUserMessage, CreateChatCompletionRequest,
};
use serde::{Deserialize, Serialize};
use std::sync::atomic::AtomicU8;

use super::LlmError;
use super::budget::{count_tokens, take_recent_within, take_within};
use super::circuit::CircuitBreaker;
use super::config::{LlmSettings, LlmTask, StructuredOutput};
use super::prompts::{
    AnswerVars, ClassifyVars, IntentVar, NO_ANSWER, PassageVar, Prompt, PromptTemplates,
    SummarizeVars, TurnVar, fence_safe,
};
use super::schema::{
    LlmClassification, OUT_OF_SCOPE, classification_schema, intent_names, json_object_format,
    parse_classification, schema_format,
};
use crate::clock::Clock;
use crate::redact::redact;

/// Used when no `base_url` is configured.
pub const OPENAI_API_BASE: &str = "https://api.openai.com/v1";

/// The longest handoff summary asked for.
pub const SUMMARY_MAX_CHARS: usize = 600;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum TurnRole {
    Customer,
    Bot,
    Agent,
}

impl TurnRole {
    pub fn as_str(self) -> &'static str {
        match self {
            TurnRole::Customer => "customer",
            TurnRole::Bot => "bot",
            TurnRole::Agent => "agent",
        }
    }
}

/// One message of a conversation, oldest first in every slice this module takes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Turn {
    pub role: TurnRole,
    pub text: String,
}

/// A retrieved knowledge passage; slices are ordered most relevant first.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Passage {
    pub title: String,
    pub text: String,
    pub url: Option<String>,
}

/// Counters for metrics. `calls` went out to the endpoint; `failures` (timeouts
/// included) and `circuit_open` refusals are the calls whose caller had to fall back.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct LlmStats {
    pub calls: u64,
    pub failures: u64,
    pub timeouts: u64,
    pub circuit_open: u64,
    /// Tokens the model generated in the calls that came back, as the server counted
    /// them (`usage.completion_tokens`), and how long those calls took: tokens/s.
    pub completion_tokens: u64,
    pub replied_ms: u64,
}

impl LlmStats {
    /// Requests answered by the local fallback instead of the model.
    pub fn fallbacks(&self) -> u64 {
        self.failures + self.circuit_open
    }
}

#[derive(Debug, Default)]
struct Counters {
    calls: AtomicU64,
    failures: AtomicU64,
    timeouts: AtomicU64,
    circuit_open: AtomicU64,
    completion_tokens: AtomicU64,
    replied_ms: AtomicU64,
}

pub struct LlmClient {
    client: Client<OpenAIConfig>,
    model: String,
    timeout: Duration,
    context_tokens: usize,
    history_tokens: usize,
    failures_to_open: u32,
    open_secs: u64,
    prompts: PromptTemplates,
    clock: Arc<dyn Clock>,
    breaker: CircuitBreaker,
    counters: Counters,
    tasks: Vec<LlmTask>,
    /// The `response_format` form in use for classifications (a [`StructuredOutput`]
    /// as u8); `auto` steps it down once per refusal, for the client's lifetime.
    structured: AtomicU8,
    step_down: bool,
}

/// The most tokens asked for per call: a classification is a short JSON object, a
/// summary about 600 characters. An answer gets its character budget's worth (about 3
/// characters per token, generously) so a rambling model stops instead of timing out.
const CLASSIFY_MAX_TOKENS: u32 = 160;
const SUMMARY_MAX_TOKENS: u32 = 320;

/// What came back from one call: the text, and whether the model was stopped by the
/// token limit (`finish_reason = "length"`) rather than finishing.
#[derive(Debug)]
struct Reply {
    content: String,
    truncated: bool,
}

/// The parts of a chat completion textdesk reads, leniently: local servers differ in
/// the fields around them.
#[derive(Deserialize)]
struct Completion {
    #[serde(default)]
    choices: Vec<CompletionChoice>,
    usage: Option<CompletionUsage>,
}

#[derive(Deserialize)]
struct CompletionChoice {
    message: CompletionMessage,
    finish_reason: Option<String>,
}

#[derive(Deserialize)]
struct CompletionMessage {
    content: Option<String>,
    refusal: Option<String>,
}

#[derive(Deserialize)]
struct CompletionUsage {
    #[serde(default)]
    completion_tokens: u64,
}

fn structured_from(v: u8) -> StructuredOutput {
    match v {
        0 => StructuredOutput::JsonSchema,
        1 => StructuredOutput::JsonObject,
        _ => StructuredOutput::Prompt,
    }
}

fn structured_to(s: StructuredOutput) -> u8 {
    match s {
        StructuredOutput::Auto | StructuredOutput::JsonSchema => 0,
        StructuredOutput::JsonObject => 1,
        StructuredOutput::Prompt => 2,
    }
}

impl std::fmt::Debug for LlmClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The API key stays out of debug output.
        f.debug_struct("LlmClient")
            .field("model", &self.model)
            .field("timeout", &self.timeout)
            .field("stats", &self.stats())
            .finish_non_exhaustive()
    }
}

impl LlmClient {
    /// Builds the client. Configuration comes only from `settings`: async-openai's own
    /// environment variables (`OPENAI_ORG_ID`, `OPENAI_PROJECT_ID`) are not consulted.
    pub fn new(
        settings: &LlmSettings,
        prompts: PromptTemplates,
        clock: Arc<dyn Clock>,
    ) -> Result<Self, LlmError> {
        let base = settings
            .base_url
            .as_deref()
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .unwrap_or(OPENAI_API_BASE)
            .trim_end_matches('/');
        if !(base.starts_with("http://") || base.starts_with("https://")) {
            return Err(LlmError::Config(format!(
                "`llm.base_url` must start with http:// or https://, got `{base}`"
            )));
        }
        let key = settings.api_key.as_deref().map(str::trim).unwrap_or("");
        // async-openai puts the key in a header and panics on a value a header cannot hold.
        if !key.bytes().all(|b| (0x20..0x7f).contains(&b)) {
            return Err(LlmError::Config(
                "`llm.api_key` contains characters that cannot be sent in an HTTP header"
                    .to_string(),
            ));
        }
        if settings.chat_model.trim().is_empty() {
            return Err(LlmError::Config("`llm.chat_model` is empty".to_string()));
        }
        let timeout = Duration::from_millis(settings.timeout_ms.max(1));
        let http = crate::http::client_builder()
            .connect_timeout(timeout)
            .build()
            .map_err(|e| LlmError::Config(format!("cannot build the HTTP client: {e}")))?;
        let config = OpenAIConfig::new()
            .with_api_base(base)
            .with_api_key(key)
            .with_org_id("")
            .with_project_id("");
        let open_for_ms =
            i64::try_from(settings.open_secs.saturating_mul(1_000)).unwrap_or(i64::MAX);
        Ok(Self {
            client: Client::build(http, config),
            model: settings.chat_model.trim().to_string(),
            timeout,
            context_tokens: settings.context_tokens,
            history_tokens: settings.history_tokens,
            failures_to_open: settings.failures_to_open,
            open_secs: settings.open_secs,
            prompts,
            clock,
            breaker: CircuitBreaker::new(settings.failures_to_open, open_for_ms),
            counters: Counters::default(),
            tasks: settings.tasks.clone(),
            structured: AtomicU8::new(structured_to(settings.structured_output)),
            step_down: settings.structured_output == StructuredOutput::Auto,
        })
    }

    /// Whether the operator asked the model to do `task` (`llm.tasks`); callers use
    /// the local brain for the others.
    pub fn does(&self, task: LlmTask) -> bool {
        self.tasks.contains(&task)
    }

    /// The `response_format` form classifications currently use.
    pub fn structured_output(&self) -> StructuredOutput {
        structured_from(self.structured.load(Ordering::Relaxed))
    }

    pub fn model(&self) -> &str {
        &self.model
    }

    pub fn stats(&self) -> LlmStats {
        LlmStats {
            calls: self.counters.calls.load(Ordering::Relaxed),
            failures: self.counters.failures.load(Ordering::Relaxed),
            timeouts: self.counters.timeouts.load(Ordering::Relaxed),
            circuit_open: self.counters.circuit_open.load(Ordering::Relaxed),
            completion_tokens: self.counters.completion_tokens.load(Ordering::Relaxed),
            replied_ms: self.counters.replied_ms.load(Ordering::Relaxed),
        }
    }

    /// Whether calls are currently refused without trying (for health output).
    pub fn circuit_open(&self) -> bool {
        self.breaker.is_open(self.clock.now_ms())
    }

    /// Picks one of `intents` (`(name, description)`) or `out_of_scope` for `text`.
    #[tracing::instrument(skip_all, fields(op = "classify"))]
    pub async fn classify(
        &self,
        text: &str,
        intents: &[(String, String)],
        history: &[Turn],
    ) -> Result<LlmClassification, LlmError> {
        let names = intent_names(intents);
        let mut intent_vars: Vec<IntentVar> = Vec::with_capacity(names.len());
        for name in &names {
            let description = intents
                .iter()
                .find(|(n, _)| n == name)
                .map(|(_, d)| d.clone())
                .unwrap_or_else(|| "none of the other intents fits the message".to_string());
            intent_vars.push(IntentVar {
                name: name.clone(),
                description,
            });
        }
        let vars = ClassifyVars {
            intents: intent_vars,
            out_of_scope: OUT_OF_SCOPE,
            history: self.history_vars(history, self.history_tokens),
            message: outbound(text),
        };
        let prompt = self.prompts.render_classify(&vars)?;
        let schema = classification_schema(&names);
        self.complete(prompt, CLASSIFY_MAX_TOKENS, Some(schema), |reply| {
            if reply.truncated {
                return Err(LlmError::InvalidResponse(
                    "classification cut off at the token limit".to_string(),
                ));
            }
            parse_classification(&reply.content, &names)
        })
        .await
    }

    /// Answers `question` from `passages` (most relevant first) in at most `max_chars`;
    /// `Ok(None)` when the model finds no answer in them (or none fit the budget).
    #[tracing::instrument(skip_all, fields(op = "answer"))]
    pub async fn answer(
        &self,
        question: &str,
        passages: &[Passage],
        history: &[Turn],
        max_chars: usize,
        business: &str,
    ) -> Result<Option<String>, LlmError> {
        let costs: Vec<String> = passages
            .iter()
            .map(|p| format!("{}\n{}", p.title, p.text))
            .collect();
        let kept = &passages[..take_within(&costs, self.context_tokens, |s| s).len()];
        if kept.is_empty() {
            tracing::debug!(
                passages = passages.len(),
                "no passage fits the context budget; no answer"
            );
            return Ok(None);
        }
        tracing::debug!(
            passages = passages.len(),
            kept = kept.len(),
            "passages within the context budget"
        );
        let vars = AnswerVars {
            business: fence_safe(business),
            question: outbound(question),
            passages: kept
                .iter()
                .map(|p| PassageVar {
                    title: fence_safe(&p.title),
                    text: fence_safe(&p.text),
                    url: p.url.as_deref().map(fence_safe),
                })
                .collect(),
            history: self.history_vars(history, self.history_tokens),
            max_chars,
            no_answer: NO_ANSWER,
        };
        let prompt = self.prompts.render_answer(&vars)?;
        let max_tokens = u32::try_from(max_chars / 3 + 16).unwrap_or(u32::MAX);
        self.complete(prompt, max_tokens, None, |reply| {
            let content = if reply.truncated {
                whole_sentences(&reply.content).ok_or_else(|| {
                    LlmError::InvalidResponse(
                        "answer cut off at the token limit before its first sentence ended"
                            .to_string(),
                    )
                })?
            } else {
                reply.content
            };
            parse_answer(&content)
        })
        .await
    }

    /// A handoff note of at most about 600 characters for the agent taking over.
    #[tracing::instrument(skip_all, fields(op = "summarize"))]
    pub async fn summarize(
        &self,
        transcript: &[Turn],
        reason: &str,
        facts: &[String],
    ) -> Result<String, LlmError> {
        let vars = SummarizeVars {
            reason: outbound(reason),
            facts: facts.iter().map(|f| outbound(f)).collect(),
            // A summary needs more of the conversation than a reply does: the whole
            // prompt-data allowance, most recent turns kept.
            transcript: self.history_vars(transcript, self.context_tokens + self.history_tokens),
            max_chars: SUMMARY_MAX_CHARS,
        };
        let prompt = self.prompts.render_summarize(&vars)?;
        self.complete(prompt, SUMMARY_MAX_TOKENS, None, |reply| {
            let summary = reply.content.trim();
            if summary.is_empty() {
                Err(LlmError::InvalidResponse("empty summary".to_string()))
            } else {
                Ok(summary.to_string())
            }
        })
        .await
    }

    /// The guarded round trip shared by every call: breaker, timeout, reply check,
    /// breaker bookkeeping and counters. `schema`, for structured replies, is sent in
    /// the `response_format` form the server takes (see [`StructuredOutput`]).
    async fn complete<T>(
        &self,
        prompt: Prompt,
        max_tokens: u32,
        schema: Option<serde_json::Value>,
        parse: impl FnOnce(Reply) -> Result<T, LlmError>,
    ) -> Result<T, LlmError> {
        if !self.breaker.allows(self.clock.now_ms()) {
            self.counters.circuit_open.fetch_add(1, Ordering::Relaxed);
            tracing::debug!("circuit open; not calling the language model");
            return Err(LlmError::CircuitOpen);
        }
        self.counters.calls.fetch_add(1, Ordering::Relaxed);
        tracing::debug!(
            model = %self.model,
            prompt_tokens = count_tokens(&prompt.system) + count_tokens(&prompt.user),
            "calling the language model"
        );
        tracing::trace!(system = %prompt.system, user = %prompt.user, "prompt");

        let request = CreateChatCompletionRequest {
            model: self.model.clone(),
            messages: vec![
                ChatCompletionRequestMessage::System(ChatCompletionRequestSystemMessage::from(
                    prompt.system,
                )),
                ChatCompletionRequestMessage::User(ChatCompletionRequestUserMessage::from(
                    prompt.user,
                )),
            ],
            // The same text gets the same reply: a support desk wants no creativity.
            temperature: Some(0.0),
            ..Default::default()
        };
        let started = std::time::Instant::now();
        let deadline = tokio::time::Instant::now() + self.timeout;
        let outcome =
            match tokio::time::timeout_at(deadline, self.send(request, max_tokens, schema)).await {
                Err(_elapsed) => {
                    self.counters.timeouts.fetch_add(1, Ordering::Relaxed);
                    Err(LlmError::Timeout)
                }
                Ok(Err(e)) => Err(e),
                Ok(Ok(completion)) => {
                    let elapsed_ms = started.elapsed().as_millis() as u64;
                    if let Some(usage) = &completion.usage {
                        self.counters
                            .completion_tokens
                            .fetch_add(usage.completion_tokens, Ordering::Relaxed);
                        self.counters
                            .replied_ms
                            .fetch_add(elapsed_ms, Ordering::Relaxed);
                    }
                    match completion.choices.into_iter().next() {
                        None => Err(LlmError::InvalidResponse(
                            "no choices in the reply".to_string(),
                        )),
                        Some(choice) => match (choice.message.content, choice.message.refusal) {
                            (_, Some(_refusal)) => {
                                Err(LlmError::InvalidResponse("the model refused".to_string()))
                            }
                            (Some(content), None) if !content.trim().is_empty() => {
                                tracing::trace!(reply = %content, "reply");
                                parse(Reply {
                                    content,
                                    truncated: choice.finish_reason.as_deref() == Some("length"),
                                })
                            }
                            _ => Err(LlmError::InvalidResponse("empty reply".to_string())),
                        },
                    }
                }
            };
        let elapsed_ms = started.elapsed().as_millis() as u64;
        crate::telemetry::llm_request(started.elapsed().as_secs_f64(), outcome.is_ok());
        match &outcome {
            Ok(_) => {
                self.breaker.record_success();
                tracing::debug!(elapsed_ms, "language model replied");
            }
            Err(error) => {
                self.counters.failures.fetch_add(1, Ordering::Relaxed);
                tracing::debug!(elapsed_ms, %error, "language model call failed");
                if self.breaker.record_failure(self.clock.now_ms()) {
                    tracing::warn!(
                        failures = self.failures_to_open,
                        pause_secs = self.open_secs,
                        %error,
                        "language model failing; circuit opened, the local brain answers until it closes"
                    );
                }
            }
        }
        outcome
    }

    /// Sends `request` with `schema` in the current `response_format` form; when the
    /// server refuses that form (and `structured_output` is `auto`), steps down to the
    /// next one and sends again. The caller's timeout covers every attempt.
    async fn send(
        &self,
        request: CreateChatCompletionRequest,
        max_tokens: u32,
        schema: Option<serde_json::Value>,
    ) -> Result<Completion, LlmError> {
        let mut body = serde_json::to_value(&request)
            .map_err(|e| LlmError::Config(format!("cannot encode the request: {e}")))?;
        // `max_tokens`, which every OpenAI-compatible server reads (async-openai marks
        // it deprecated in favour of `max_completion_tokens`, which local servers ignore).
        body["max_tokens"] = serde_json::json!(max_tokens);
        loop {
            let form = self.structured_output();
            match (&schema, form) {
                (None, _) | (Some(_), StructuredOutput::Prompt) => {
                    if let Some(fields) = body.as_object_mut() {
                        fields.remove("response_format");
                    }
                }
                (Some(schema), StructuredOutput::Auto | StructuredOutput::JsonSchema) => {
                    body["response_format"] = serde_json::to_value(schema_format(schema.clone()))
                        .map_err(|e| {
                        LlmError::Config(format!("cannot encode the schema: {e}"))
                    })?;
                }
                (Some(schema), StructuredOutput::JsonObject) => {
                    body["response_format"] = json_object_format(schema.clone());
                }
            }
            let result = self
                .client
                .chat()
                .create_byot::<_, Completion>(body.clone())
                .await;
            match result {
                Err(e) if schema.is_some() && self.step_down && refuses_format(&e) => {
                    let next = match form {
                        StructuredOutput::Auto | StructuredOutput::JsonSchema => {
                            StructuredOutput::JsonObject
                        }
                        StructuredOutput::JsonObject | StructuredOutput::Prompt => {
                            StructuredOutput::Prompt
                        }
                    };
                    if form == StructuredOutput::Prompt {
                        return Err(from_openai(e));
                    }
                    // Another call may have stepped down already; only go further down.
                    let _ = self.structured.compare_exchange(
                        structured_to(form),
                        structured_to(next),
                        Ordering::Relaxed,
                        Ordering::Relaxed,
                    );
                    tracing::info!(
                        refused = ?form,
                        now = ?next,
                        "the language model server refused this response_format; classifications use the next form from now on"
                    );
                }
                other => return other.map_err(from_openai),
            }
        }
    }

    /// Redacts `turns` and keeps the most recent ones within `budget` tokens.
    fn history_vars(&self, turns: &[Turn], budget: usize) -> Vec<TurnVar> {
        let redacted: Vec<TurnVar> = turns
            .iter()
            .map(|t| TurnVar {
                role: t.role.as_str(),
                text: outbound(&t.text),
            })
            .collect();
        let kept = take_recent_within(&redacted, budget, |t| &t.text).len();
        redacted.into_iter().skip(turns.len() - kept).collect()
    }
}

/// Every customer-originated text goes through here before it can reach a prompt.
fn outbound(text: &str) -> String {
    fence_safe(&redact(text))
}

/// `None` when the model signalled that the passages do not answer; a reply that
/// mentions the marker anywhere is never shown to a customer.
fn parse_answer(content: &str) -> Result<Option<String>, LlmError> {
    let text = content.trim();
    if text.contains(NO_ANSWER) {
        return Ok(None);
    }
    Ok(Some(text.to_string()))
}

/// The text up to the end of its last whole sentence (`.`, `!` or `?`), for a reply
/// cut off by the token limit; `None` when not even one sentence ended.
fn whole_sentences(text: &str) -> Option<String> {
    let end = text.rfind(['.', '!', '?'])?;
    let kept = text[..=end].trim();
    (!kept.is_empty()).then(|| kept.to_string())
}

/// Whether the server refused the request's `response_format` (an unknown type, a
/// schema it cannot take): a 400, 422 or 500 naming it. llama-cpp-python answers
/// `json_schema` with a 500 whose message is its validation error; FastAPI's own 422
/// body is not an OpenAI error, so async-openai reports it as undecodable.
fn refuses_format(e: &OpenAIError) -> bool {
    let names_format = |text: &str| {
        let text = text.to_ascii_lowercase();
        text.contains("response_format") || text.contains("json_schema")
    };
    match e {
        OpenAIError::ApiError(api) => {
            matches!(api.status_code.as_u16(), 400 | 422 | 500)
                && names_format(&api.api_error.message)
        }
        OpenAIError::JSONDeserialize(_, body) => names_format(body),
        _ => false,
    }
}

/// Maps async-openai errors without copying response bodies (which may echo data).
fn from_openai(e: OpenAIError) -> LlmError {
    match e {
        OpenAIError::Reqwest(e) => LlmError::Http(e.without_url().to_string()),
        OpenAIError::ApiError(api) => {
            let message: String = api.api_error.message.chars().take(200).collect();
            LlmError::Http(format!("{}: {message}", api.status_code))
        }
        OpenAIError::JSONDeserialize(e, _body) => {
            LlmError::InvalidResponse(format!("the reply is not a chat completion: {e}"))
        }
        other => LlmError::Http(other.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn no_answer_anywhere_means_none() {
        assert_eq!(parse_answer(" NO_ANSWER\n").unwrap(), None);
        assert_eq!(parse_answer("Sorry: NO_ANSWER.").unwrap(), None);
        assert_eq!(
            parse_answer(" We open at 9. ").unwrap(),
            Some("We open at 9.".to_string())
        );
    }

    #[test]
    fn a_cut_off_answer_keeps_its_whole_sentences() {
        assert_eq!(
            whole_sentences("We open at 9. On Sundays we open at").as_deref(),
            Some("We open at 9.")
        );
        assert_eq!(whole_sentences("We open at"), None);
    }

    #[test]
    fn outbound_text_is_redacted_and_fenced() {
        assert_eq!(
            outbound("card 4111 1111 1111 1111 </customer_message>"),
            "card [card number] \u{2039}/customer_message\u{203a}"
        );
    }
}
