//! Settings of the optional language model: which OpenAI-compatible endpoint, which
//! model, and how quickly to give up on it. The main [`crate::config::Config`] embeds
//! this struct as `llm`; defaults live in [`LlmSettings::default`] and nowhere else.

use serde::{Deserialize, Serialize};

#[derive(Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct LlmSettings {
    /// Base URL of an OpenAI-compatible API (`OPENAI_BASE_URL`), e.g.
    /// `http://localhost:11434/v1` for Ollama. Defaults to OpenAI's own API.
    pub base_url: Option<String>,
    /// API key (`OPENAI_API_KEY`); optional for local servers.
    pub api_key: Option<String>,
    /// Model for classification, answers and summaries.
    pub chat_model: String,
    /// Upper bound for one call, retries included; after it the local brain answers.
    pub timeout_ms: u64,
    /// Consecutive failures that open the circuit breaker.
    pub failures_to_open: u32,
    /// How long the breaker stays open before one call probes the endpoint again.
    pub open_secs: u64,
    /// Token budget for retrieved knowledge passages in an answer prompt.
    pub context_tokens: usize,
    /// Token budget for conversation history in a prompt.
    pub history_tokens: usize,
    /// What the model is asked to do (`TEXTDESK_LLM_TASKS`, comma-separated); the local
    /// brain does the rest. A small local model may be worth it for summaries only.
    #[serde(deserialize_with = "tasks_from_list_or_text")]
    pub tasks: Vec<LlmTask>,
    /// How a classification's JSON shape is asked for; `auto` starts with a strict
    /// `json_schema` and steps down when the server refuses it.
    pub structured_output: StructuredOutput,
}

/// One job the language model can take over from the local brain.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LlmTask {
    /// Pick the intent, sentiment and whether a person is needed.
    Classify,
    /// Write answers from the retrieved knowledge passages.
    Answer,
    /// Write the handoff note an agent reads.
    Summaries,
}

impl LlmTask {
    pub const ALL: [LlmTask; 3] = [LlmTask::Classify, LlmTask::Answer, LlmTask::Summaries];

    pub fn as_str(self) -> &'static str {
        match self {
            LlmTask::Classify => "classify",
            LlmTask::Answer => "answer",
            LlmTask::Summaries => "summaries",
        }
    }

    fn parse(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|t| t.as_str() == name)
    }
}

/// How `classify` asks for its JSON. Servers differ: OpenAI, vLLM, Ollama and
/// llama.cpp's `llama-server` take `json_schema`; llama-cpp-python's server only
/// `json_object` with a `schema` (which it turns into a grammar). The reply is checked
/// against the schema whichever is used.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum StructuredOutput {
    /// `json_schema` first; on a 400/422 refusal `json_object` with the schema, then
    /// the prompt alone, remembered for the client's lifetime.
    Auto,
    JsonSchema,
    JsonObject,
    /// No `response_format`: the prompt asks for the JSON, the parser checks it.
    Prompt,
}

/// `tasks = ["classify", "answer"]` in the file, `TEXTDESK_LLM_TASKS=classify,answer`
/// in the environment; an unknown name is refused with the ones allowed.
fn tasks_from_list_or_text<'de, D>(deserializer: D) -> Result<Vec<LlmTask>, D::Error>
where
    D: serde::Deserializer<'de>,
{
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Raw {
        List(Vec<String>),
        Text(String),
    }
    let names: Vec<String> = match Raw::deserialize(deserializer)? {
        Raw::List(list) => list,
        Raw::Text(text) => text.split(',').map(str::to_string).collect(),
    };
    let mut tasks = Vec::new();
    for name in names.iter().map(|n| n.trim()).filter(|n| !n.is_empty()) {
        let task = LlmTask::parse(name).ok_or_else(|| {
            serde::de::Error::custom(format!(
                "unknown LLM task `{name}`; use any of classify, answer, summaries"
            ))
        })?;
        if !tasks.contains(&task) {
            tasks.push(task);
        }
    }
    Ok(tasks)
}

impl std::fmt::Debug for LlmSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LlmSettings")
            .field("base_url", &self.base_url)
            .field("api_key", &crate::config::redacted(&self.api_key))
            .field("chat_model", &self.chat_model)
            .field("timeout_ms", &self.timeout_ms)
            .field("failures_to_open", &self.failures_to_open)
            .field("open_secs", &self.open_secs)
            .field("context_tokens", &self.context_tokens)
            .field("history_tokens", &self.history_tokens)
            .field("tasks", &self.tasks)
            .field("structured_output", &self.structured_output)
            .finish()
    }
}

impl Default for LlmSettings {
    fn default() -> Self {
        Self {
            base_url: None,
            api_key: None,
            chat_model: "gpt-4o-mini".to_string(),
            timeout_ms: 8_000,
            failures_to_open: 3,
            open_secs: 60,
            context_tokens: 1_200,
            history_tokens: 400,
            // Every task: the default model (gpt-4o-mini) beats the local brain at each.
            // For a small local model, README's measurements say `["summaries"]`.
            tasks: LlmTask::ALL.to_vec(),
            structured_output: StructuredOutput::Auto,
        }
    }
}

impl LlmSettings {
    /// The LLM is used only when an endpoint or a key is configured; otherwise textdesk
    /// runs on the local brain alone.
    pub fn enabled(&self) -> bool {
        let set = |v: &Option<String>| v.as_deref().is_some_and(|s| !s.trim().is_empty());
        set(&self.base_url) || set(&self.api_key)
    }

    /// Whether the model is configured and asked to do `task`.
    pub fn does(&self, task: LlmTask) -> bool {
        self.enabled() && self.tasks.contains(&task)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn disabled_until_an_endpoint_or_key_is_set() {
        let mut settings = LlmSettings::default();
        assert!(!settings.enabled());
        settings.api_key = Some("  ".to_string());
        assert!(!settings.enabled(), "a blank key is no key");
        settings.base_url = Some("http://localhost:11434/v1".to_string());
        assert!(settings.enabled());
    }

    #[test]
    fn unknown_keys_are_refused() {
        let err = toml::from_str::<LlmSettings>("chat_modle = \"x\"").unwrap_err();
        assert!(err.to_string().contains("chat_modle"));
        let ok: LlmSettings = toml::from_str("chat_model = \"llama3.2\"").unwrap();
        assert_eq!(ok.chat_model, "llama3.2");
        assert_eq!(ok.timeout_ms, 8_000);
    }

    #[test]
    fn tasks_come_as_a_list_or_comma_separated_and_unknown_ones_are_refused() {
        let all: LlmSettings = toml::from_str("").unwrap();
        assert_eq!(all.tasks, LlmTask::ALL);
        let list: LlmSettings = toml::from_str("tasks = [\"summaries\"]").unwrap();
        assert_eq!(list.tasks, [LlmTask::Summaries]);
        let text: LlmSettings = toml::from_str("tasks = \"classify, summaries\"").unwrap();
        assert_eq!(text.tasks, [LlmTask::Classify, LlmTask::Summaries]);
        let err = toml::from_str::<LlmSettings>("tasks = [\"replies\"]").unwrap_err();
        assert!(
            err.to_string().contains("classify, answer, summaries"),
            "{err}"
        );

        let mut settings = list;
        assert!(!settings.does(LlmTask::Summaries), "no endpoint, no task");
        settings.base_url = Some("http://127.0.0.1:8080/v1".into());
        assert!(settings.does(LlmTask::Summaries));
        assert!(!settings.does(LlmTask::Answer));
    }
}
