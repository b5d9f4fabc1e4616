//! `textdesk report`: the analytics figures for a recent window as a table in the
//! terminal (or JSON), read straight from the database. Same numbers as
//! `GET /api/v1/analytics`.

use std::io::Write;

use crate::analytics::{self, Durations, Figures, GroupBy, Report};
use crate::store::Store;

/// Prints the report for the conversations started in the last `since` before `now`.
pub async fn run(
    store: &Store,
    since: &str,
    group_by: Option<&str>,
    json: bool,
    now: i64,
    mut out: impl Write,
) -> anyhow::Result<()> {
    let span = analytics::parse_span(since).ok_or_else(|| {
        anyhow::anyhow!("--since {since:?}: use a number and m, h, d or w (e.g. 7d)")
    })?;
    let group_by =
        match group_by {
            None => None,
            Some(g) => Some(GroupBy::parse(g).ok_or_else(|| {
                anyhow::anyhow!("--group-by {g:?}: use day, intent, agent or label")
            })?),
        };
    let from = now - span;
    let facts = store.conversation_facts(from, now).await?;
    let mut report = analytics::report(from, now, &facts, group_by);
    report.bot_answers = Some(analytics::BotAnswers::of(
        store.feedback_counts(from, now).await?,
    ));
    if json {
        serde_json::to_writer_pretty(&mut out, &report)?;
        writeln!(out)?;
    } else {
        write!(out, "{}", render(&report))?;
    }
    Ok(())
}

/// The report as aligned text: one column for the totals and one per group.
pub fn render(report: &Report) -> String {
    let mut columns: Vec<(&str, &Figures)> = vec![("total", &report.totals)];
    columns.extend(report.groups.iter().map(|g| (g.key.as_str(), &g.figures)));
    let rows = rows(&columns);
    let label_width = rows
        .iter()
        .map(|(l, _)| l.chars().count())
        .max()
        .unwrap_or(0);
    let widths: Vec<usize> = (0..columns.len())
        .map(|i| {
            rows.iter()
                .map(|(_, cells)| cells[i].chars().count())
                .chain(std::iter::once(columns[i].0.chars().count()))
                .max()
                .unwrap_or(0)
        })
        .collect();
    let mut text = format!("Conversations started {} to {}\n\n", report.from, report.to);
    let mut line = format!("{:label_width$}", "");
    for ((name, _), w) in columns.iter().zip(&widths) {
        line.push_str(&format!("  {name:>w$}"));
    }
    text.push_str(line.trim_end());
    text.push('\n');
    for (label, cells) in &rows {
        let mut line = format!("{label:label_width$}");
        for (cell, w) in cells.iter().zip(&widths) {
            line.push_str(&format!("  {cell:>w$}"));
        }
        text.push_str(&line);
        text.push('\n');
    }
    if let Some(bot) = &report.bot_answers {
        text.push_str(&format!(
            "\nbot texts {}: {} marked wrong, {} should have been a person's{}\n",
            bot.sent,
            bot.marked_wrong,
            bot.marked_should_have_handed_over,
            bot.quality
                .map(|q| format!(" (answer quality {:.1}%)", q * 100.0))
                .unwrap_or_default()
        ));
    }
    text
}

fn rows(columns: &[(&str, &Figures)]) -> Vec<(String, Vec<String>)> {
    let mut rows: Vec<(String, Vec<String>)> = Vec::new();
    let mut row = |label: &str, cell: &dyn Fn(&Figures) -> String| {
        rows.push((
            label.to_string(),
            columns.iter().map(|(_, f)| cell(f)).collect(),
        ));
    };
    row("conversations", &|f| f.conversations.to_string());
    row("customer texts", &|f| f.inbound_texts.to_string());
    row("response rate", &|f| pct(f.response_rate));
    row("first response, bot (mean/p50/p90)", &|f| {
        durations(&f.first_response.bot)
    });
    row("first response, human (mean/p50/p90)", &|f| {
        durations(&f.first_response.human)
    });
    row("containment", &|f| pct(f.containment_rate));
    row("escalation rate", &|f| pct(f.escalation_rate));
    row("handoff wait (mean/p50/p90)", &|f| {
        durations(&f.handoff_wait)
    });
    row("resolution time (mean/p50/p90)", &|f| {
        durations(&f.resolution_time)
    });
    row("completion rate", &|f| pct(f.completion.rate));
    row("CSAT average", &|f| {
        f.csat
            .average
            .map(|a| format!("{a:.2}"))
            .unwrap_or_else(|| "–".into())
    });
    row("CSAT responses / surveys", &|f| {
        format!("{}/{}", f.csat.responses, f.csat.surveys_sent)
    });
    row("CSAT 1/2/3/4/5", &|f| {
        (1..=5)
            .map(|s| {
                f.csat
                    .distribution
                    .get(&s)
                    .copied()
                    .unwrap_or(0)
                    .to_string()
            })
            .collect::<Vec<_>>()
            .join("/")
    });
    row("opt-out rate", &|f| pct(f.opt_out_rate));
    row("segments sent", &|f| f.segments_sent.to_string());
    row("LLM fallbacks", &|f| f.llm_fallbacks.to_string());
    let mut reasons: Vec<&String> = columns
        .iter()
        .flat_map(|(_, f)| f.escalation_reasons.keys())
        .collect();
    reasons.sort();
    reasons.dedup();
    for reason in reasons {
        let label = format!("  escalated: {reason}");
        row(&label, &|f| {
            f.escalation_reasons
                .get(reason)
                .copied()
                .unwrap_or(0)
                .to_string()
        });
    }
    let mut missed: Vec<&String> = columns
        .iter()
        .flat_map(|(_, f)| f.sla_breaches.keys())
        .collect();
    missed.sort();
    missed.dedup();
    for metric in missed {
        let label = format!("  SLA missed: {metric}");
        row(&label, &|f| {
            f.sla_breaches.get(metric).copied().unwrap_or(0).to_string()
        });
    }
    rows
}

fn pct(rate: Option<f64>) -> String {
    rate.map(|r| format!("{:.1}%", r * 100.0))
        .unwrap_or_else(|| "–".into())
}

fn durations(d: &Durations) -> String {
    match (d.mean_ms, d.p50_ms, d.p90_ms) {
        (Some(mean), Some(p50), Some(p90)) => {
            format!("{}/{}/{}", human(mean as i64), human(p50), human(p90))
        }
        _ => "–".into(),
    }
}

/// `850ms`, `42s`, `12m`, `3.5h`.
fn human(ms: i64) -> String {
    match ms {
        ms if ms < 1_000 => format!("{ms}ms"),
        ms if ms < 60_000 => format!("{}s", ms / 1_000),
        ms if ms < 3_600_000 => format!("{}m", ms / 60_000),
        ms => format!("{:.1}h", ms as f64 / 3_600_000.0),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::analytics::{Group, Report};

    #[test]
    fn the_table_has_a_column_per_group_and_readable_cells() {
        let mut ana = Figures {
            conversations: 2,
            response_rate: Some(0.5),
            handoff_wait: Durations::of(vec![120_000, 240_000]),
            ..Default::default()
        };
        ana.escalation_reasons.insert("threat".into(), 1);
        let report = Report {
            from: "2026-12-01T00:00:00.000Z".into(),
            to: "2026-12-08T00:00:00.000Z".into(),
            totals: ana.clone(),
            groups: vec![Group {
                key: "ana".into(),
                figures: ana,
            }],
            bot_answers: None,
        };
        let text = render(&report);
        let header: Vec<&str> = text.lines().nth(2).unwrap().split_whitespace().collect();
        assert_eq!(header, ["total", "ana"], "{text}");
        assert!(text.contains("50.0%"), "{text}");
        assert!(text.contains("3m/2m/4m"), "{text}");
        assert!(text.contains("escalated: threat"), "{text}");
    }
}
