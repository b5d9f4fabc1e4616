//! Throughput of the local embedder: sentences per second, batched, on this machine.
//!
//! ```sh
//! scripts/fetch-model.sh
//! cargo run --example embed_throughput            # debug, deps at opt-level 2
//! cargo run --release --example embed_throughput
//! ```

use std::path::Path;
use std::time::Instant;

use textdesk::knowledge::embed::LocalEmbedder;

fn main() -> anyhow::Result<()> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("models/all-MiniLM-L6-v2");
    let model = LocalEmbedder::load(&dir)?;

    // SMS-sized texts (8–20 tokens), like inbound messages and short knowledge chunks.
    let base = [
        "Where is my order? It was supposed to arrive yesterday.",
        "hi can u tell me wen ur store opens tmrw",
        "I want to cancel my subscription and get a refund.",
        "Do you deliver to Anchorage, Alaska?",
        "My package arrived damaged, what do I do now?",
        "Reset my password please, I'm locked out of the app",
        "What are your opening hours on public holidays?",
        "Can I change the delivery address for order 88231?",
    ];
    let texts: Vec<String> = (0..256)
        .map(|i| format!("{} #{i}", base[i % base.len()]))
        .collect();
    // A chunk-sized text (~200 tokens) for knowledge indexing.
    let long = "Our returns policy lets you send back any unworn item within 30 days of delivery for a full refund to the original payment method. ".repeat(8);
    let long_texts: Vec<String> = (0..64).map(|i| format!("{long} #{i}")).collect();

    model.embed_blocking(&texts[..8])?; // warm-up
    for (label, set) in [("short (SMS)", &texts), ("long (~200 tokens)", &long_texts)] {
        let start = Instant::now();
        let vectors = model.embed_blocking(set)?;
        let secs = start.elapsed().as_secs_f64();
        println!(
            "{label:>20}: {} texts in {secs:.2}s = {:.1} sentences/s",
            vectors.len(),
            vectors.len() as f64 / secs
        );
    }
    Ok(())
}
