//! `textdesk knowledge check | search | eval`: the knowledge base from the terminal.
//!
//! `check` reads the files only, so it runs while `textdesk serve` holds the index;
//! `search` and `eval` open the index (and bring it up to date first), which another
//! running textdesk process prevents — they say so.

use std::io::Write;
use std::path::PathBuf;
use std::sync::Arc;

use anyhow::Context;
use clap::Subcommand;

use crate::app;
use crate::clock::SystemClock;
use crate::config::Config;
use crate::engine::policy::Policy;
use crate::knowledge::embed::Embedder;
use crate::knowledge::{self, Knowledge, KnowledgeDirs, SearchMode};

#[derive(Debug, Subcommand)]
pub enum KnowledgeCommand {
    /// Parse every knowledge file; print documents, chunks and errors (exit 1 on errors).
    Check,
    /// Search the knowledge base and print the ranked chunks.
    Search {
        query: String,
        /// How many chunks to print.
        #[arg(short, default_value_t = 5)]
        k: usize,
        /// bm25, dense or hybrid (hybrid is BM25 alone without an embedder).
        #[arg(long, default_value = "hybrid")]
        mode: SearchMode,
        /// Only chunks of documents with this tag (repeatable: any of them).
        #[arg(long = "tag")]
        tags: Vec<String>,
    },
    /// Retrieval quality over JSON lines {"text", "expected"}: recall@1, recall@3, MRR
    /// for each search mode and for what a turn retrieves ("answered": the text
    /// classified, then searched with its intent; each question of a text that asks
    /// several). `expected` is a file, or a list with one file per question.
    Eval {
        file: PathBuf,
        /// Also write an HTML page (figures, recall at 1-10, the misses with what was
        /// found instead, expected-vs-found matrix) to this file.
        #[arg(long)]
        report: Option<PathBuf>,
    },
}

pub async fn run(
    config: &Config,
    command: KnowledgeCommand,
    mut out: impl Write,
) -> anyhow::Result<()> {
    match command {
        KnowledgeCommand::Check => check(config, out),
        KnowledgeCommand::Search {
            query,
            k,
            mode,
            tags,
        } => {
            let (knowledge, _) = open(config).await?;
            if mode == SearchMode::Hybrid && !knowledge.has_dense() {
                eprintln!(
                    "note: no embedder configured; {mode} search runs on BM25 (run scripts/fetch-model.sh)"
                );
            }
            let hits = knowledge.search(&query, k, mode, &tags).await?;
            if hits.is_empty() {
                writeln!(out, "no matching chunks")?;
            }
            for (rank, hit) in hits.iter().enumerate() {
                let c = &hit.chunk;
                writeln!(
                    out,
                    "{}. {:.4}  {}:{}-{}  {}",
                    rank + 1,
                    hit.score,
                    c.file,
                    c.line_start,
                    c.line_end,
                    c.heading_trail()
                )?;
                let preview: String = c
                    .text
                    .split_whitespace()
                    .collect::<Vec<_>>()
                    .join(" ")
                    .chars()
                    .take(160)
                    .collect();
                writeln!(out, "   {preview}")?;
            }
            Ok(())
        }
        KnowledgeCommand::Eval { file, report } => {
            let cases = knowledge::eval::read_cases(&file)?;
            let (knowledge, embedder) = open(config).await?;
            let mut scores = Vec::new();
            let mut missing = Vec::new();
            for mode in [SearchMode::Bm25, SearchMode::Dense, SearchMode::Hybrid] {
                if mode == SearchMode::Bm25 || knowledge.has_dense() {
                    scores.push(knowledge::eval::evaluate(&knowledge, &cases, mode).await?);
                } else {
                    missing.push(mode.to_string());
                }
            }
            scores.push(answered(config, knowledge, embedder, &cases).await?);

            writeln!(out, "{} cases from {}", cases.len(), file.display())?;
            writeln!(
                out,
                "{:<9} {:>9} {:>9} {:>7}",
                "mode", "recall@1", "recall@3", "MRR"
            )?;
            for s in &scores {
                writeln!(
                    out,
                    "{:<9} {:>9.3} {:>9.3} {:>7.3}",
                    s.label, s.recall_at_1, s.recall_at_3, s.mrr
                )?;
            }
            for mode in &missing {
                writeln!(
                    out,
                    "{mode:<9} {:>9} {:>9} {:>7}   (no embedder: run scripts/fetch-model.sh)",
                    "-", "-", "-"
                )?;
            }
            if let Some(path) = report {
                let page =
                    super::retrieval_report::retrieval_page(&file.display().to_string(), &scores);
                std::fs::write(&path, page)
                    .with_context(|| format!("cannot write the report to {}", path.display()))?;
                writeln!(out, "report: {}", path.display())?;
            }
            Ok(())
        }
    }
}

/// What turns retrieve for the cases: the shipped brain (intents, classifier, the
/// LLM when configured) over this knowledge base.
async fn answered(
    config: &Config,
    knowledge: Arc<Knowledge>,
    embedder: Option<Arc<dyn Embedder>>,
    cases: &[knowledge::eval::EvalCase],
) -> anyhow::Result<knowledge::eval::EvalScore> {
    let policy = Policy::load(&config.prompts_dir)?;
    let brain = app::open_brain(
        config,
        &policy,
        embedder,
        Some(knowledge),
        Arc::new(SystemClock),
    )
    .await?;
    let mut rankings = Vec::with_capacity(cases.len());
    for case in cases {
        rankings.push(brain.retrieve_for_text(&case.text, 30).await);
    }
    Ok(knowledge::eval::score("answered", cases, &rankings))
}

fn check(config: &Config, mut out: impl Write) -> anyhow::Result<()> {
    let report = knowledge::check(&config.knowledge_dir)?;
    writeln!(
        out,
        "{}: {} documents, {} chunks",
        config.knowledge_dir.display(),
        report.documents,
        report.chunks
    )?;
    for error in &report.errors {
        writeln!(out, "error: {}/{error}", config.knowledge_dir.display())?;
    }
    if !report.errors.is_empty() {
        anyhow::bail!(
            "{} knowledge file(s) have errors; fix them and run `textdesk knowledge check` again",
            report.errors.len()
        );
    }
    Ok(())
}

/// Opens the index and syncs it with the files, reporting file errors on stderr.
async fn open(config: &Config) -> anyhow::Result<(Arc<Knowledge>, Option<Arc<dyn Embedder>>)> {
    let embedder = knowledge::embedder_from_config(config);
    let knowledge = Knowledge::open(&KnowledgeDirs::from_config(config), embedder.clone()).await?;
    let report = knowledge.reindex().await?;
    for error in &report.errors {
        eprintln!(
            "warning: not indexed (its last good version is searched): {}/{error}",
            config.knowledge_dir.display()
        );
    }
    Ok((knowledge, embedder))
}
