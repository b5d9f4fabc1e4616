//! Embeddings from any OpenAI-compatible `/embeddings` endpoint (OpenAI, Ollama, vLLM,
//! llama.cpp, LiteLLM …) via async-openai.
//!
//! Vectors are re-normalised to unit length here, because not every server does it.
//! Every failure — network, timeout, HTTP status, a reply with the wrong count or
//! size — becomes [`EmbedError::Remote`]; nothing here retries beyond async-openai's
//! own backoff on 429 and 5xx.

use std::time::Duration;

use async_openai::Client;
use async_openai::config::OpenAIConfig;
use async_openai::types::embeddings::{CreateEmbeddingRequest, EmbeddingInput};

use super::{EmbedError, Embedder, normalize};

/// Inputs per request; OpenAI accepts up to 2048, smaller servers choke earlier.
const MAX_INPUTS_PER_REQUEST: usize = 256;

/// Calls an OpenAI-compatible embeddings endpoint.
pub struct OpenAiEmbedder {
    client: Client<OpenAIConfig>,
    base_url: String,
    model: String,
    model_id: String,
    dimensions: usize,
}

impl OpenAiEmbedder {
    /// `base_url` is the API root including the version, e.g. `https://api.openai.com/v1`
    /// or `http://localhost:11434/v1`; requests go to `{base_url}/embeddings`.
    /// `api_key: None` sends no usable key (local servers need none) and deliberately
    /// ignores `OPENAI_API_KEY`, so configuration stays in one place. `dimensions` is
    /// what the model returns; replies of another size are errors. `timeout` bounds
    /// each HTTP request.
    pub fn new(
        base_url: impl Into<String>,
        api_key: Option<String>,
        model: String,
        dimensions: usize,
        timeout: Duration,
    ) -> Result<Self, EmbedError> {
        let base_url = base_url.into().trim_end_matches('/').to_string();
        let config = OpenAIConfig::new()
            .with_api_base(base_url.clone())
            .with_api_key(api_key.unwrap_or_default());
        let http = crate::http::client_builder()
            .timeout(timeout)
            .build()
            .map_err(|e| EmbedError::Remote(format!("building HTTP client: {e}")))?;
        Ok(Self {
            client: Client::build(http, config),
            base_url,
            model_id: format!("openai:{model}"),
            model,
            dimensions,
        })
    }

    async fn embed_chunk(&self, texts: &[String]) -> Result<Vec<Vec<f32>>, EmbedError> {
        let request = CreateEmbeddingRequest {
            model: self.model.clone(),
            // Customer texts are embedded too: nothing personal leaves the machine.
            input: EmbeddingInput::StringArray(
                texts
                    .iter()
                    .map(|t| crate::redact::redact(t).into_owned())
                    .collect(),
            ),
            encoding_format: None,
            user: None,
            dimensions: None,
        };
        let response = self
            .client
            .embeddings()
            .create(request)
            .await
            .map_err(|e| {
                EmbedError::Remote(format!("{} (model {}): {e}", self.base_url, self.model))
            })?;

        if response.data.len() != texts.len() {
            return Err(EmbedError::Remote(format!(
                "asked for {} embeddings, got {}",
                texts.len(),
                response.data.len()
            )));
        }
        let mut slots: Vec<Option<Vec<f32>>> = vec![None; texts.len()];
        for item in response.data {
            let slot = slots.get_mut(item.index as usize).ok_or_else(|| {
                EmbedError::Remote(format!("embedding index {} out of range", item.index))
            })?;
            if item.embedding.len() != self.dimensions {
                return Err(EmbedError::Remote(format!(
                    "model {} returned {} dimensions, configured {}",
                    self.model,
                    item.embedding.len(),
                    self.dimensions
                )));
            }
            let mut v = item.embedding;
            normalize(&mut v);
            *slot = Some(v);
        }
        slots
            .into_iter()
            .enumerate()
            .map(|(i, v)| {
                v.ok_or_else(|| EmbedError::Remote(format!("no embedding for input {i}")))
            })
            .collect()
    }
}

#[async_trait::async_trait]
impl Embedder for OpenAiEmbedder {
    fn model_id(&self) -> &str {
        &self.model_id
    }

    fn dimensions(&self) -> usize {
        self.dimensions
    }

    async fn embed(&self, texts: &[String]) -> Result<Vec<Vec<f32>>, EmbedError> {
        let mut out = Vec::with_capacity(texts.len());
        for chunk in texts.chunks(MAX_INPUTS_PER_REQUEST) {
            out.extend(self.embed_chunk(chunk).await?);
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;
    use wiremock::matchers::{body_partial_json, method, path};
    use wiremock::{Mock, MockServer, ResponseTemplate};

    /// The endpoint's answer for a single input.
    fn one_embedding() -> ResponseTemplate {
        ResponseTemplate::new(200).set_body_json(json!({
            "object": "list", "model": "m",
            "data": [{"object": "embedding", "index": 0, "embedding": [1.0, 0.0, 0.0]}],
            "usage": {"prompt_tokens": 1, "total_tokens": 1},
        }))
    }

    fn embedder(server: &MockServer) -> OpenAiEmbedder {
        OpenAiEmbedder::new(
            format!("{}/v1", server.uri()),
            Some("sk-test".into()),
            "nomic-embed-text".into(),
            3,
            Duration::from_secs(5),
        )
        .unwrap()
    }

    #[tokio::test]
    async fn sends_model_and_inputs_and_returns_unit_vectors_in_input_order() {
        let server = MockServer::start().await;
        Mock::given(method("POST"))
            .and(path("/v1/embeddings"))
            .and(body_partial_json(json!({
                "model": "nomic-embed-text",
                "input": ["where is my order", "STOP"],
            })))
            .respond_with(ResponseTemplate::new(200).set_body_json(json!({
                "object": "list",
                "model": "nomic-embed-text",
                // Out of order on purpose: the index field decides the position.
                "data": [
                    {"object": "embedding", "index": 1, "embedding": [0.0, 0.0, 2.0]},
                    {"object": "embedding", "index": 0, "embedding": [3.0, 4.0, 0.0]},
                ],
                "usage": {"prompt_tokens": 6, "total_tokens": 6},
            })))
            .expect(1)
            .mount(&server)
            .await;

        let e = embedder(&server);
        let texts = vec!["where is my order".to_string(), "STOP".to_string()];
        let vectors = e.embed(&texts).await.unwrap();

        assert_eq!(vectors, vec![vec![0.6, 0.8, 0.0], vec![0.0, 0.0, 1.0]]);
        assert_eq!(e.model_id(), "openai:nomic-embed-text");
        assert_eq!(e.dimensions(), 3);
    }

    #[tokio::test]
    async fn card_numbers_and_ssns_never_reach_the_endpoint() {
        let server = MockServer::start().await;
        Mock::given(method("POST"))
            .and(body_partial_json(json!({
                "input": ["refund to [card number] please, ssn [ssn]"],
            })))
            .respond_with(one_embedding())
            .expect(1)
            .mount(&server)
            .await;
        embedder(&server)
            .embed_query("refund to 4111.1111.1111.1111 please, ssn 078 05 1120")
            .await
            .unwrap();
        let sent =
            String::from_utf8(server.received_requests().await.unwrap()[0].body.clone()).unwrap();
        assert!(!sent.contains("4111") && !sent.contains("1120"), "{sent}");
    }

    #[tokio::test]
    async fn sends_the_api_key_as_a_bearer_token() {
        let server = MockServer::start().await;
        Mock::given(wiremock::matchers::header(
            "authorization",
            "Bearer sk-test",
        ))
        .respond_with(one_embedding())
        .expect(1)
        .mount(&server)
        .await;
        embedder(&server).embed(&["hi".to_string()]).await.unwrap();
    }

    #[tokio::test]
    async fn a_server_error_becomes_a_remote_error() {
        let server = MockServer::start().await;
        Mock::given(method("POST"))
            .and(path("/v1/embeddings"))
            .respond_with(ResponseTemplate::new(500).set_body_json(json!({
                "error": {"message": "model exploded", "type": "server_error", "param": null, "code": null}
            })))
            .mount(&server)
            .await;

        let err = embedder(&server)
            .embed(&["hi".to_string()])
            .await
            .unwrap_err();
        assert!(matches!(err, EmbedError::Remote(_)), "{err:?}");
    }

    #[tokio::test]
    async fn a_reply_of_the_wrong_size_is_an_error() {
        let server = MockServer::start().await;
        Mock::given(method("POST"))
            .respond_with(ResponseTemplate::new(200).set_body_json(json!({
                "object": "list", "model": "m",
                "data": [{"object": "embedding", "index": 0, "embedding": [1.0, 0.0]}],
                "usage": {"prompt_tokens": 1, "total_tokens": 1},
            })))
            .mount(&server)
            .await;
        let err = embedder(&server)
            .embed(&["hi".to_string()])
            .await
            .unwrap_err();
        assert!(
            matches!(err, EmbedError::Remote(ref m) if m.contains("2 dimensions")),
            "{err:?}"
        );
    }

    #[tokio::test]
    async fn no_texts_means_no_request() {
        let server = MockServer::start().await;
        Mock::given(method("POST"))
            .respond_with(ResponseTemplate::new(500))
            .expect(0)
            .mount(&server)
            .await;
        assert!(embedder(&server).embed(&[]).await.unwrap().is_empty());
    }
}
