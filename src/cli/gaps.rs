//! `textdesk gaps`: what customers asked that the bot could not handle, grouped by
//! meaning (the same report as `GET /api/v1/admin/gaps`); `--suggest` also drafts
//! knowledge files from the agents' answers into `knowledge/_suggested/`.
//! `textdesk gaps eval FILE` measures the grouping and the gap detection on labelled
//! texts.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::{Context, bail};
use serde::{Deserialize, Serialize};

use crate::config::Config;
use crate::gaps::{self, ClusterSettings, GapReport, cluster, quality, suggest, text};
use crate::knowledge::embed::Embedder;

#[derive(Debug, clap::Args)]
pub struct GapsArgs {
    #[command(subcommand)]
    pub command: Option<GapsCommand>,
    /// How far back: a span (30d, 2w), a date (2026-11-01, UTC) or an RFC 3339 time.
    #[arg(long, default_value = "30d")]
    pub since: String,
    /// The end of the period (default: now): a date or an RFC 3339 time.
    #[arg(long)]
    pub until: Option<String>,
    /// The report as JSON (the same document as GET /api/v1/admin/gaps).
    #[arg(long)]
    pub json: bool,
    /// Also draft knowledge files from the agents' answers into knowledge/_suggested/,
    /// and propose the texts agents re-labelled as intent examples (review them with
    /// GET /api/v1/admin/suggestions or the inbox).
    #[arg(long)]
    pub suggest: bool,
}

#[derive(Debug, clap::Subcommand)]
pub enum GapsCommand {
    /// Score the grouping (adjusted Rand index, purity) and the gap detection
    /// (precision, recall) on labelled texts: JSON lines {"text","topic","gap"}.
    Eval {
        file: PathBuf,
        /// The scores as JSON.
        #[arg(long)]
        json: bool,
    },
}

pub async fn run(
    config: &Config,
    args: GapsArgs,
    now: i64,
    mut out: impl Write,
) -> anyhow::Result<()> {
    if let Some(GapsCommand::Eval { file, json }) = args.command {
        let scores = eval(config, &file).await?;
        if json {
            serde_json::to_writer_pretty(&mut out, &scores)?;
            writeln!(out)?;
        } else {
            write!(out, "{}", render_scores(&scores))?;
        }
        return Ok(());
    }
    let until = match &args.until {
        Some(until) => super::consent::parse_time(until, now).context("--until")?,
        None => now + 1,
    };
    let from = super::consent::parse_time(&args.since, until).context("--since")?;
    if from >= until {
        bail!("--since must be before --until");
    }
    let store = crate::store::Store::open(&config.database_url()).await?;
    let embedder = crate::knowledge::embedder_from_config(config);
    let report = gaps::find(
        &store,
        embedder.as_deref(),
        from,
        until,
        ClusterSettings::default(),
    )
    .await?;
    if args.json {
        serde_json::to_writer_pretty(&mut out, &report)?;
        writeln!(out)?;
    } else {
        write!(out, "{}", render(&report))?;
    }
    if args.suggest {
        let policy = crate::engine::policy::Policy::load(&config.prompts_dir)?;
        let llm = crate::app::open_llm(config, Arc::new(crate::clock::SystemClock))?;
        let drafted = suggest::suggest(
            &store,
            &config.knowledge_dir,
            &report,
            policy.replies.max_segments,
            llm.as_deref().map(|l| (l, policy.business.name.as_str())),
            now,
        )
        .await?;
        for row in &drafted {
            writeln!(
                out,
                "drafted {}/{}/{}.md ({}) from conversations {:?}",
                config.knowledge_dir.display(),
                suggest::SUGGESTED_DIR,
                row.slug,
                row.title,
                row.sources
            )?;
        }
        if drafted.is_empty() {
            writeln!(
                out,
                "no new drafts: no group of gaps has answers from agents that were not drafted before"
            )?;
        }
        let intents = crate::brain::intents::IntentSet::load(&config.prompts_dir)?;
        for row in gaps::examples::suggest(&store, &intents, now).await? {
            writeln!(
                out,
                "proposed intent_example for {}: {:?} from conversations {:?}",
                row.intent.as_deref().unwrap_or_default(),
                row.example.as_deref().unwrap_or_default(),
                row.sources
            )?;
        }
    }
    Ok(())
}

/// The report as text: one block per group, most customers first.
pub fn render(report: &GapReport) -> String {
    let mut text = format!(
        "Gaps {} to {}: {} texts from {} customers, {} groups (by {})\n",
        report.from,
        report.until,
        report.texts,
        report.customers,
        report.clusters.len(),
        report.grouped_by
    );
    if report.left_out > 0 {
        text.push_str(&format!(
            "({} older texts left out: at most {} are grouped)\n",
            report.left_out,
            gaps::MAX_TEXTS
        ));
    }
    for cluster in &report.clusters {
        let kinds: Vec<String> = cluster
            .kinds
            .iter()
            .map(|(k, n)| format!("{} {n}", k.as_str()))
            .collect();
        text.push_str(&format!(
            "\n{}  {} customers, {} texts, {:?} (before: {})  {}\n",
            cluster.id,
            cluster.customers,
            cluster.texts,
            cluster.trend,
            cluster.previous_customers,
            kinds.join(", ")
        ));
        if !cluster.confused_with.is_empty() {
            text.push_str(&format!(
                "  taken for: {}\n",
                cluster.confused_with.join(", ")
            ));
        }
        for example in &cluster.examples {
            text.push_str(&format!("  - {example}\n"));
        }
    }
    text
}

/// One labelled text.
#[derive(Debug, Deserialize)]
struct Labelled {
    text: String,
    topic: String,
    /// Whether the shipped knowledge leaves it unanswered: the bot should mark it a gap.
    gap: bool,
}

#[derive(Debug, Serialize)]
pub struct Scores {
    pub texts: usize,
    pub topics: usize,
    pub grouping: Vec<Grouping>,
    /// Texts the bot marked as gaps that are labelled gaps, of all it marked.
    pub gap_precision: f64,
    /// Labelled gaps the bot marked, of all labelled gaps.
    pub gap_recall: f64,
    pub marked: usize,
    pub labelled_gaps: usize,
}

#[derive(Debug, Serialize)]
pub struct Grouping {
    /// `dense` or `lexical`.
    pub by: &'static str,
    pub threshold: f32,
    pub groups: usize,
    pub adjusted_rand_index: f64,
    pub purity: f64,
    /// Whether this is the threshold textdesk uses.
    pub default: bool,
}

async fn eval(config: &Config, file: &Path) -> anyhow::Result<Scores> {
    let labelled = read_labelled(file)?;
    let mut topics: BTreeMap<&str, usize> = BTreeMap::new();
    for item in &labelled {
        let next = topics.len();
        topics.entry(&item.topic).or_insert(next);
    }
    let truth: Vec<usize> = labelled.iter().map(|l| topics[l.topic.as_str()]).collect();
    // Redacted as the report redacts them.
    let texts: Vec<String> = labelled
        .iter()
        .map(|l| crate::redact::redact_person(&l.text, &[]))
        .collect();
    let settings = ClusterSettings::default();

    let mut grouping = Vec::new();
    let embedder = crate::knowledge::embedder_from_config(config);
    let mut sets: Vec<(&'static str, Vec<Vec<f32>>, f32)> = Vec::new();
    if let Some(embedder) = &embedder {
        let (vectors, dense) =
            text::vectors(Some(embedder.as_ref() as &dyn Embedder), &texts).await;
        if dense {
            sets.push(("dense", vectors, settings.dense_threshold));
        }
    }
    sets.push((
        "lexical",
        text::lexical_vectors(&texts),
        settings.lexical_threshold,
    ));
    for (by, vectors, default) in &sets {
        let mut thresholds: Vec<f32> = (1..=8).map(|i| i as f32 * 0.1).collect();
        thresholds.push(*default);
        thresholds.sort_by(f32::total_cmp);
        thresholds.dedup_by(|a, b| (*a - *b).abs() < 1e-6);
        for threshold in thresholds {
            let labels = cluster::cluster(vectors, threshold);
            grouping.push(Grouping {
                by,
                threshold,
                groups: labels.iter().max().map_or(0, |m| m + 1),
                adjusted_rand_index: quality::adjusted_rand_index(&truth, &labels),
                purity: quality::purity(&truth, &labels),
                default: (threshold - default).abs() < 1e-6,
            });
        }
    }

    // Each text as the first of a new conversation, through the whole pipeline.
    let (shutdown, shutdown_rx) = tokio::sync::watch::channel(false);
    let mut tasks = tokio::task::JoinSet::new();
    let engine = crate::app::open_engine(
        config,
        Arc::new(crate::clock::SystemClock),
        &mut tasks,
        &shutdown_rx,
    )
    .await?;
    if let Some(knowledge) = engine.brain.as_ref().and_then(|b| b.knowledge()) {
        knowledge.reindex().await?;
    }
    let (mut marked, mut right) = (0usize, 0usize);
    for item in &labelled {
        let preview = crate::engine::preview::preview(&engine, &item.text, None).await?;
        if preview.gap.is_some() {
            marked += 1;
            right += usize::from(item.gap);
        }
    }
    let _ = shutdown.send(true);
    tasks.abort_all();
    let labelled_gaps = labelled.iter().filter(|l| l.gap).count();
    Ok(Scores {
        texts: labelled.len(),
        topics: topics.len(),
        grouping,
        gap_precision: ratio(right, marked),
        gap_recall: ratio(right, labelled_gaps),
        marked,
        labelled_gaps,
    })
}

fn ratio(n: usize, of: usize) -> f64 {
    if of == 0 { 0.0 } else { n as f64 / of as f64 }
}

fn read_labelled(file: &Path) -> anyhow::Result<Vec<Labelled>> {
    let text =
        std::fs::read_to_string(file).with_context(|| format!("cannot read {}", file.display()))?;
    let mut labelled = Vec::new();
    for (i, line) in text.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        let item: Labelled = serde_json::from_str(line).with_context(|| {
            format!(
                "{}:{}: expected {{\"text\", \"topic\", \"gap\"}}",
                file.display(),
                i + 1
            )
        })?;
        labelled.push(item);
    }
    if labelled.is_empty() {
        bail!("{} has no labelled texts", file.display());
    }
    Ok(labelled)
}

fn render_scores(scores: &Scores) -> String {
    let mut text = format!("{} texts, {} topics\n\n", scores.texts, scores.topics);
    text.push_str("grouping  threshold  groups  adjusted Rand  purity\n");
    for g in &scores.grouping {
        text.push_str(&format!(
            "{:<8}  {:>9.2}  {:>6}  {:>13.3}  {:>6.3}{}\n",
            g.by,
            g.threshold,
            g.groups,
            g.adjusted_rand_index,
            g.purity,
            if g.default { "  (default)" } else { "" }
        ));
    }
    text.push_str(&format!(
        "\ngap precision {:.3} ({} marked), gap recall {:.3} ({} labelled gaps)\n",
        scores.gap_precision, scores.marked, scores.gap_recall, scores.labelled_gaps
    ));
    text
}
