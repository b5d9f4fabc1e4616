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
}
