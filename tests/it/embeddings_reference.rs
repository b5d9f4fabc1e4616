//! The local embedder must reproduce sentence-transformers' all-MiniLM-L6-v2 vectors.
//!
//! `tests/fixtures/minilm_reference.json` was generated once by
//! `scripts/reference-embeddings.py` with the Python reference implementation
//! (Transformer → mean Pooling → Normalize, max_seq_length 256). The sentences cover SMS
//! shorthand, misspellings, emoji, accents, an empty string, a 213-token paragraph
//! (wrong if truncated at tokenizer.json's 128) and a 427-token one (wrong unless cut
//! at exactly 256).
//!
//! The model comes from `scripts/fetch-model.sh`, which the test command runs first.
//! A missing model is a failure, not a skip.

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use textdesk::knowledge::embed::{Embedder, LocalEmbedder, cosine};

const MIN_COSINE: f32 = 0.999;

struct Reference {
    text: String,
    vector: Vec<f32>,
}

fn repo() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

fn model_dir() -> PathBuf {
    repo().join("models").join("all-MiniLM-L6-v2")
}

fn model() -> &'static LocalEmbedder {
    static MODEL: OnceLock<LocalEmbedder> = OnceLock::new();
    MODEL.get_or_init(|| match LocalEmbedder::load(&model_dir()) {
        Ok(m) => m,
        Err(e) => panic!(
            "cannot load the local embedding model from {}: {e}\n\
             run scripts/fetch-model.sh first (scripts/test.sh does this)",
            model_dir().display()
        ),
    })
}

fn references() -> Vec<Reference> {
    let path = repo().join("tests/fixtures/minilm_reference.json");
    let raw = std::fs::read_to_string(&path).expect("reference fixture is committed");
    let json: serde_json::Value = serde_json::from_str(&raw).expect("fixture is JSON");
    json["sentences"]
        .as_array()
        .expect("fixture has a sentences array")
        .iter()
        .map(|s| Reference {
            text: s["text"].as_str().expect("text").to_string(),
            vector: s["vector"]
                .as_array()
                .expect("vector")
                .iter()
                .map(|x| x.as_f64().expect("number") as f32)
                .collect(),
        })
        .collect()
}

#[test]
fn local_vectors_match_sentence_transformers() {
    let refs = references();
    assert!(refs.len() >= 12, "fixture has {} sentences", refs.len());
    let texts: Vec<String> = refs.iter().map(|r| r.text.clone()).collect();
    let got = model().embed_blocking(&texts).expect("embedding works");
    assert_eq!(got.len(), refs.len());

    let mut worst = (f32::INFINITY, String::new());
    for (r, v) in refs.iter().zip(&got) {
        let c = cosine(&r.vector, v);
        let short: String = r.text.chars().take(40).collect();
        println!("cos={c:.7}  1-cos={:.2e}  {short:?}", 1.0 - c);
        if c < worst.0 {
            worst = (c, short);
        }
    }
    println!(
        "min cosine {:.7} (max 1-cos {:.2e}) on {:?}",
        worst.0,
        1.0 - worst.0,
        worst.1
    );
    assert!(
        worst.0 >= MIN_COSINE,
        "cosine {} < {MIN_COSINE} for {:?}",
        worst.0,
        worst.1
    );
}

#[test]
fn local_vectors_are_unit_length_and_384_wide() {
    let texts: Vec<String> = references().into_iter().map(|r| r.text).collect();
    for (t, v) in texts
        .iter()
        .zip(model().embed_blocking(&texts).expect("embedding works"))
    {
        assert_eq!(v.len(), 384);
        assert_eq!(model().dimensions(), 384);
        let norm = v.iter().map(|x| x * x).sum::<f32>().sqrt();
        assert!((norm - 1.0).abs() < 1e-5, "norm {norm} for {t:?}");
    }
}

#[test]
fn a_batch_gives_the_same_vectors_as_one_text_at_a_time() {
    // Padding to the longest text in the batch must not leak into the shorter ones.
    let texts: Vec<String> = references().into_iter().map(|r| r.text).collect();
    let batched = model().embed_blocking(&texts).expect("embedding works");
    for (t, b) in texts.iter().zip(&batched) {
        let single = model()
            .embed_blocking(std::slice::from_ref(t))
            .expect("embedding works");
        let max_diff = single[0]
            .iter()
            .zip(b)
            .map(|(x, y)| (x - y).abs())
            .fold(0.0, f32::max);
        assert!(
            max_diff < 1e-5,
            "batch and single differ by {max_diff} for {t:?}"
        );
    }
}

#[test]
fn more_texts_than_one_batch_keep_their_order() {
    let refs = references();
    // 3 × 14 = 42 texts: two forward passes of up to 32.
    let texts: Vec<String> = (0..3)
        .flat_map(|_| refs.iter().map(|r| r.text.clone()))
        .collect();
    let got = model().embed_blocking(&texts).expect("embedding works");
    assert_eq!(got.len(), texts.len());
    for (i, v) in got.iter().enumerate() {
        let c = cosine(v, &refs[i % refs.len()].vector);
        assert!(
            c >= MIN_COSINE,
            "text {i} came back as another text's vector (cos {c})"
        );
    }
}

#[tokio::test]
async fn the_async_embed_matches_the_blocking_one() {
    let texts = vec!["Where is my order?".to_string(), "STOP".to_string()];
    assert_eq!(model().model_id(), "local:all-MiniLM-L6-v2");
    let a = model().embed(&texts).await.expect("embedding works");
    let b = model().embed_blocking(&texts).expect("embedding works");
    assert_eq!(a, b);
    assert!(model().embed(&[]).await.expect("empty is fine").is_empty());
}

#[test]
fn a_missing_model_folder_says_to_run_fetch_model() {
    let dir = tempfile::tempdir().expect("tempdir");
    let err = LocalEmbedder::load(dir.path())
        .err()
        .expect("loading an empty folder fails");
    assert!(err.to_string().contains("scripts/fetch-model.sh"), "{err}");
}
