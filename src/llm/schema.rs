//! The structured reply of `classify`: the JSON schema sent as `response_format`
//! (strict, with the intent names as an enum) and the parser that checks the reply
//! against the same rules, because not every OpenAI-compatible server enforces schemas.

use async_openai::types::chat::{ResponseFormat, ResponseFormatJsonSchema};
use serde::Deserialize;
use serde_json::json;

use super::LlmError;

/// The catch-all intent the model picks when none of the configured ones fits.
pub const OUT_OF_SCOPE: &str = "out_of_scope";

/// What the model made of one inbound text.
#[derive(Debug, Clone, PartialEq)]
pub struct LlmClassification {
    /// One of the configured intent names, or [`OUT_OF_SCOPE`].
    pub intent: String,
    /// -1 (very negative) to 1 (very positive).
    pub sentiment: f32,
    pub needs_human: bool,
    /// The model's one-sentence explanation (for logs at debug and the handoff note).
    pub reason: String,
}

/// The allowed intent names: the configured ones in order, without duplicates, then
/// [`OUT_OF_SCOPE`].
pub fn intent_names(intents: &[(String, String)]) -> Vec<String> {
    let mut names: Vec<String> = Vec::with_capacity(intents.len() + 1);
    for (name, _) in intents {
        if name != OUT_OF_SCOPE && !names.contains(name) {
            names.push(name.clone());
        }
    }
    names.push(OUT_OF_SCOPE.to_string());
    names
}

/// The JSON schema of a classification, intent as an enum of `names`.
pub fn classification_schema(names: &[String]) -> serde_json::Value {
    json!({
        "type": "object",
        "properties": {
            "intent": {
                "type": "string",
                "enum": names,
                "description": "The single best-matching intent name."
            },
            "sentiment": {
                "type": "number",
                "description": "-1 very negative, 0 neutral, 1 very positive."
            },
            "needs_human": {
                "type": "boolean",
                "description": "Whether a human agent should take over."
            },
            "reason": {
                "type": "string",
                "description": "One short sentence explaining the choice."
            }
        },
        "required": ["intent", "sentiment", "needs_human", "reason"],
        "additionalProperties": false
    })
}

/// `response_format` for a classification: strict JSON schema, intent as an enum.
pub fn classification_format(names: &[String]) -> ResponseFormat {
    schema_format(classification_schema(names))
}

/// `schema` as OpenAI's strict `json_schema` response format.
pub fn schema_format(schema: serde_json::Value) -> ResponseFormat {
    ResponseFormat::JsonSchema {
        json_schema: ResponseFormatJsonSchema {
            description: Some("Classification of one customer text message.".to_string()),
            name: "classification".to_string(),
            schema,
            strict: Some(true),
        },
    }
}

/// `schema` as a `json_object` response format carrying the schema, the form
/// llama-cpp-python's server (and llama.cpp's) turns into a grammar. The grammar also
/// bounds the `reason`, so a small model cannot ramble past the token limit (OpenAI's
/// strict mode does not take `maxLength`, hence only here).
pub fn json_object_format(mut schema: serde_json::Value) -> serde_json::Value {
    if let Some(reason) = schema.pointer_mut("/properties/reason") {
        reason["maxLength"] = json!(REASON_MAX_CHARS);
    }
    json!({ "type": "json_object", "schema": schema })
}

/// The longest `reason` a grammar-constrained server may write.
pub const REASON_MAX_CHARS: usize = 160;

#[derive(Deserialize)]
struct RawClassification {
    intent: String,
    sentiment: f64,
    needs_human: bool,
    reason: String,
}

/// Parses the model's reply; anything but a well-formed object with an allowed intent
/// is [`LlmError::InvalidResponse`]. A sentiment slightly out of range is clamped. A
/// Markdown code fence around the JSON (some local models add one) is tolerated.
pub fn parse_classification(
    content: &str,
    names: &[String],
) -> Result<LlmClassification, LlmError> {
    // Raw line breaks and tabs are whitespace between JSON tokens and invalid inside
    // strings, where llama-cpp-python's grammar lets a small model write them: as
    // spaces they change nothing valid and rescue those replies.
    let json = strip_code_fence(content).replace(['\n', '\r', '\t'], " ");
    let raw: RawClassification = serde_json::from_str(&json).map_err(|e| {
        LlmError::InvalidResponse(format!("classification is not the expected JSON: {e}"))
    })?;
    if !names.iter().any(|n| *n == raw.intent) {
        let shown: String = raw.intent.chars().take(40).collect();
        return Err(LlmError::InvalidResponse(format!(
            "intent `{shown}` is not a configured intent"
        )));
    }
    if !raw.sentiment.is_finite() {
        return Err(LlmError::InvalidResponse(
            "sentiment is not a number".to_string(),
        ));
    }
    Ok(LlmClassification {
        intent: raw.intent,
        sentiment: raw.sentiment.clamp(-1.0, 1.0) as f32,
        needs_human: raw.needs_human,
        reason: raw.reason.trim().to_string(),
    })
}

fn strip_code_fence(content: &str) -> &str {
    let trimmed = content.trim();
    let Some(rest) = trimmed.strip_prefix("```") else {
        return trimmed;
    };
    // Drop the info string (`json`) on the opening line and the closing fence.
    let body = rest.split_once('\n').map_or("", |(_, body)| body);
    body.trim_end().strip_suffix("```").unwrap_or(body).trim()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names() -> Vec<String> {
        intent_names(&[
            ("order_status".into(), "d".into()),
            ("refund".into(), "d".into()),
        ])
    }

    #[test]
    fn out_of_scope_is_always_allowed_and_never_twice() {
        let names = intent_names(&[
            ("a".into(), "".into()),
            (OUT_OF_SCOPE.into(), "".into()),
            ("a".into(), "".into()),
        ]);
        assert_eq!(names, ["a", OUT_OF_SCOPE]);
    }

    #[test]
    fn a_well_formed_reply_parses() {
        let c = parse_classification(
            r#"{"intent":"refund","sentiment":-0.5,"needs_human":true,"reason":"wants money back"}"#,
            &names(),
        )
        .unwrap();
        assert_eq!(c.intent, "refund");
        assert_eq!(c.sentiment, -0.5);
        assert!(c.needs_human);
    }

    #[test]
    fn fences_are_tolerated_and_sentiment_clamped() {
        let c = parse_classification(
            "```json\n{\"intent\":\"out_of_scope\",\"sentiment\":1.4,\"needs_human\":false,\"reason\":\"\"}\n```",
            &names(),
        )
        .unwrap();
        assert_eq!(c.intent, OUT_OF_SCOPE);
        assert_eq!(c.sentiment, 1.0);
    }

    #[test]
    fn a_line_break_inside_a_string_is_read_as_a_space() {
        // Recorded from Gemma 3 270M under llama-cpp-python's json_object grammar.
        let recorded = "{ \"intent\": \"refund\", \"sentiment\": 0, \"needs_human\": false, \"reason\": \"},\nclassify.\n<</class>> where is my order\n\" } ";
        let c = parse_classification(recorded, &names()).unwrap();
        assert_eq!(c.intent, "refund");
        assert_eq!(c.reason, "}, classify. <</class>> where is my order");
    }

    #[test]
    fn unknown_intents_and_missing_fields_are_invalid() {
        let unknown = r#"{"intent":"pizza","sentiment":0,"needs_human":false,"reason":""}"#;
        assert!(matches!(
            parse_classification(unknown, &names()),
            Err(LlmError::InvalidResponse(_))
        ));
        let missing = r#"{"intent":"refund","sentiment":0}"#;
        assert!(matches!(
            parse_classification(missing, &names()),
            Err(LlmError::InvalidResponse(_))
        ));
        assert!(matches!(
            parse_classification("sure!", &names()),
            Err(LlmError::InvalidResponse(_))
        ));
    }
}
