//! Per-message cost of the brain: classify + retrieve + compose, on the shipped intents
//! and knowledge base. With the local model present (scripts/fetch-model.sh) this
//! includes embedding the customer's text; without it, words and BM25 only.

use std::path::PathBuf;
use std::sync::Arc;

use criterion::{Criterion, criterion_group, criterion_main};
use textdesk::brain::classify::Classifier;
use textdesk::brain::intents::IntentSet;
use textdesk::brain::state::ConversationState;
use textdesk::brain::think::{Brain, BrainSettings, IntentModel, TurnInput};
use textdesk::config::Config;
use textdesk::knowledge::{Knowledge, KnowledgeDirs, embedder_from_config};

fn repo(rel: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join(rel)
}

fn brain(rt: &tokio::runtime::Runtime, data: &std::path::Path, dense: bool) -> Brain {
    let mut config = Config::default();
    config.data_dir = data.to_path_buf();
    config.knowledge_dir = repo("knowledge");
    config.embeddings.model_dir = repo("models/all-MiniLM-L6-v2");
    // Chunk and example vectors survive between runs; only customer texts are embedded
    // while measuring.
    config.embeddings.cache_dir =
        Some(PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("bench-embeddings"));
    if !dense {
        config.embeddings.provider = textdesk::config::EmbeddingsProvider::None;
    }
    rt.block_on(async {
        let embedder = embedder_from_config(&config);
        let set = IntentSet::load(&repo("prompts")).expect("intents load");
        let classifier = Classifier::train(&set, embedder.clone(), None)
            .await
            .expect("classifier trains");
        let knowledge = Knowledge::open(&KnowledgeDirs::from_config(&config), embedder)
            .await
            .expect("index opens");
        knowledge.reindex().await.expect("index syncs");
        Brain::new(
            IntentModel { set, classifier },
            Some(Arc::<Knowledge>::clone(&knowledge)),
            None,
            BrainSettings::default(),
        )
    })
}

fn bench(c: &mut Criterion) {
    let rt = tokio::runtime::Runtime::new().expect("runtime");
    let texts = [
        "wheres my stuff",
        "can i send these shoes back",
        "u guys open sunday?",
        "whats the weather in paris",
    ];
    let state = ConversationState::default();
    let mut group = c.benchmark_group("think");
    group.sample_size(20);
    let modes: &[(&str, bool)] = if repo("models/all-MiniLM-L6-v2/model.safetensors").exists() {
        &[("words+bm25", false), ("local-dense+hybrid", true)]
    } else {
        &[("words+bm25", false)]
    };
    for &(name, dense) in modes {
        let dir = tempfile::tempdir().expect("temp dir");
        let brain = brain(&rt, dir.path(), dense);
        let mut i = 0;
        group.bench_function(name, |b| {
            b.iter(|| {
                i += 1;
                // Never the same text twice: the embedder remembers recent query
                // vectors, and a repeated text would skip the model pass.
                let text = format!("{} #{i}", texts[i % texts.len()]);
                rt.block_on(brain.think(&TurnInput {
                    text: &text,
                    history: &[],
                    state: &state,
                    business: "Trailhead",
                    escalation: &Default::default(),
                    said_recently: &[],
                    under_way: false,
                    returning: false,
                    contact: None,
                }))
            })
        });
    }
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
