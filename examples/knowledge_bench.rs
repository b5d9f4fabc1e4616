//! Knowledge index bench: writes synthetic knowledge files (10,000 chunks by default),
//! indexes them through the real pipeline (parse, chunk, BM25, qdrant-edge), then
//! prints the indexing rate, query latency p50/p99 per search mode and the process's
//! peak memory (VmHWM).
//!
//! Usage: `cargo run --release --example knowledge-bench [-- CHUNKS] [--dense-random]`.
//! `--dense-random` (or `KNOWLEDGE_BENCH_DENSE=random`) adds a 384-d dense vector filled
//! with pseudo-random unit vectors, so dense and hybrid timings measure the index, not
//! a model.

use std::sync::Arc;
use std::time::{Duration, Instant};

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use textdesk::knowledge::embed::{EmbedError, Embedder};
use textdesk::knowledge::{Knowledge, KnowledgeDirs, SearchMode};

const SECTIONS_PER_FILE: usize = 20;
const QUERIES: usize = 300;

/// Not a model: a unit vector seeded by the text's hash, so equal texts get equal
/// vectors and the cost is negligible next to the index's.
struct RandomUnitVectors;

#[async_trait::async_trait]
impl Embedder for RandomUnitVectors {
    fn model_id(&self) -> &str {
        "bench:random-unit-384"
    }
    fn dimensions(&self) -> usize {
        384
    }
    async fn embed(&self, texts: &[String]) -> Result<Vec<Vec<f32>>, EmbedError> {
        Ok(texts
            .iter()
            .map(|t| {
                let seed = t.bytes().fold(0xcbf29ce484222325u64, |h, b| {
                    (h ^ b as u64).wrapping_mul(0x100000001b3)
                });
                let mut rng = StdRng::seed_from_u64(seed);
                let v: Vec<f32> = (0..384).map(|_| rng.random_range(-1.0f32..1.0)).collect();
                let norm = v.iter().map(|x| x * x).sum::<f32>().sqrt().max(1e-6);
                v.into_iter().map(|x| x / norm).collect()
            })
            .collect())
    }
}

fn vocabulary(rng: &mut StdRng) -> Vec<String> {
    const SYLLABLES: &[&str] = &[
        "ba", "ket", "lo", "mar", "ni", "por", "sal", "tri", "ven", "dor", "ex", "fin", "gra",
        "hol", "ip", "jus", "ka", "lum", "mo", "nex", "or", "pla", "qui", "ros", "sta", "tur",
        "ul", "vi", "wen", "zor",
    ];
    (0..5_000)
        .map(|_| {
            (0..rng.random_range(2..4))
                .map(|_| SYLLABLES[rng.random_range(0..SYLLABLES.len())])
                .collect()
        })
        .collect()
}

/// A word, skewed towards the start of the vocabulary like real text.
fn word<'a>(rng: &mut StdRng, vocab: &'a [String]) -> &'a str {
    let u: f64 = rng.random();
    &vocab[((u * u * u) * vocab.len() as f64) as usize % vocab.len()]
}

fn sentence(rng: &mut StdRng, vocab: &[String], words: usize) -> String {
    (0..words)
        .map(|_| word(rng, vocab))
        .collect::<Vec<_>>()
        .join(" ")
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    sorted[((sorted.len() as f64 - 1.0) * p).round() as usize]
}

fn peak_memory_kib() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let chunks: usize = args.iter().find_map(|a| a.parse().ok()).unwrap_or(10_000);
    let dense = args.iter().any(|a| a == "--dense-random")
        || std::env::var("KNOWLEDGE_BENCH_DENSE").is_ok_and(|v| v == "random");

    let dir = tempfile::tempdir()?;
    let kb = dir.path().join("knowledge");
    let mut rng = StdRng::seed_from_u64(42);
    let vocab = vocabulary(&mut rng);
    let files = chunks.div_ceil(SECTIONS_PER_FILE);
    for f in 0..files {
        let sub = kb.join(format!("topic-{:02}", f % 25));
        std::fs::create_dir_all(&sub)?;
        let mut text = format!("---\ntitle: Topic {f}\ntags: [t{}]\n---\n", f % 10);
        for s in 0..SECTIONS_PER_FILE.min(chunks - f * SECTIONS_PER_FILE) {
            text.push_str(&format!(
                "## Section {s} {}\n\n{}.\n\n",
                sentence(&mut rng, &vocab, 3),
                sentence(&mut rng, &vocab, 60)
            ));
        }
        std::fs::write(sub.join(format!("doc-{f}.md")), text)?;
    }

    let embedder: Option<Arc<dyn Embedder>> = if dense {
        Some(Arc::new(RandomUnitVectors))
    } else {
        None
    };
    let dirs = KnowledgeDirs {
        knowledge_dir: kb,
        data_dir: dir.path().join("data"),
        qdrant: None,
    };
    let knowledge = Knowledge::open(&dirs, embedder.clone()).await?;
    let started = Instant::now();
    let report = knowledge.reindex().await?;
    let took = started.elapsed();
    println!(
        "indexed {} chunks from {} files in {:.2} s: {:.0} chunks/s (parse, chunk, BM25{}, qdrant-edge, flush)",
        report.chunks,
        report.documents,
        took.as_secs_f64(),
        report.chunks as f64 / took.as_secs_f64(),
        if dense { ", random dense" } else { "" }
    );
    let started = Instant::now();
    let again = knowledge.reindex().await?;
    println!(
        "re-sync with no changes: {:.2} s, {} written",
        started.elapsed().as_secs_f64(),
        again.written
    );

    // A restart: the manifest is read back from the index's payloads.
    drop(knowledge);
    let started = Instant::now();
    let knowledge = Knowledge::open(&dirs, embedder.clone()).await?;
    let restarted = knowledge.reindex().await?;
    println!(
        "restart (open + re-sync): {:.2} s, {} chunks known, {} written, {} embedded",
        started.elapsed().as_secs_f64(),
        knowledge.status().chunks,
        restarted.written,
        restarted.embedded
    );

    let queries: Vec<String> = (0..QUERIES)
        .map(|_| {
            let words = rng.random_range(2..6);
            sentence(&mut rng, &vocab, words)
        })
        .collect();
    let modes: &[SearchMode] = if dense {
        &[SearchMode::Bm25, SearchMode::Dense, SearchMode::Hybrid]
    } else {
        &[SearchMode::Bm25]
    };
    for &mode in modes {
        let mut latencies = Vec::with_capacity(QUERIES);
        let mut answered = 0;
        for q in &queries {
            let t = Instant::now();
            let hits = knowledge.search(q, 5, mode, &[]).await?;
            latencies.push(t.elapsed());
            answered += usize::from(!hits.is_empty());
        }
        latencies.sort();
        println!(
            "{mode:<6} query latency over {QUERIES} queries (k=5, {answered} with hits): p50 {:.2} ms, p99 {:.2} ms",
            percentile(&latencies, 0.50).as_secs_f64() * 1e3,
            percentile(&latencies, 0.99).as_secs_f64() * 1e3,
        );
    }
    match peak_memory_kib() {
        Some(kib) => println!("peak memory (VmHWM): {:.1} MiB", kib as f64 / 1024.0),
        None => println!("peak memory: /proc/self/status not available"),
    }
    Ok(())
}
