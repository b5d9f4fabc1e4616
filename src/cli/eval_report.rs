//! The operator's picture of a classification evaluation: one self-contained HTML
//! page (no scripts, no external files) with the headline figures, the threshold
//! curve, the calibration table, the worst confusions with their texts and the
//! confusion matrix. Written by `textdesk classify --eval FILE --report page.html`.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;

use crate::brain::classify::eval::Score;

pub struct ClassificationReport<'a> {
    /// The labelled file, as the operator named it.
    pub source: String,
    /// `(classifier name, its score)`, ours first.
    pub rows: Vec<(String, &'a Score)>,
    /// `(text, expected, predicted)` for every labelled text.
    pub texts: Vec<(&'a str, &'a str, &'a str)>,
    /// `(threshold, score)` of the local classifier.
    pub calibration: &'a [(f32, Score)],
    /// The threshold in use.
    pub threshold: f32,
}

/// The look shared by the evaluation pages: plain tables, a compact matrix.
pub(super) const PAGE_STYLE: &str = "<style>body{font:14px system-ui,sans-serif;margin:2rem;max-width:1100px}\
    table{border-collapse:collapse}td,th{border:1px solid #ccc;padding:3px 6px;text-align:right}\
    th{background:#f4f4f4;text-align:left}td.t{text-align:left}.m td{width:14px;height:14px;padding:0;font-size:9px;text-align:center}\
    .m th{font-size:10px;font-weight:normal}.m th.c{writing-mode:vertical-rl;transform:rotate(180deg)}</style>";

/// Worst confusions listed, each with up to this many texts.
const WORST: usize = 15;
const TEXTS_PER_CONFUSION: usize = 3;

pub fn classification_page(report: &ClassificationReport) -> String {
    let mut html = String::new();
    let _ = write!(
        html,
        "<!doctype html><html lang=\"en\"><meta charset=\"utf-8\"><title>textdesk classify: {}</title>{PAGE_STYLE}\
         <h1>Intent classification</h1><p>{} labelled texts from <code>{}</code>; threshold {:.2}.</p>",
        escape(&report.source),
        report.texts.len(),
        escape(&report.source),
        report.threshold
    );
    html.push_str("<h2>Figures</h2><table><tr><th>classifier</th><th>accuracy</th><th>in-scope accuracy</th><th>off-topic precision</th><th>off-topic recall</th></tr>");
    for (name, s) in &report.rows {
        let _ = write!(
            html,
            "<tr><td class=t>{}</td><td>{:.3}</td><td>{:.3}</td><td>{:.3}</td><td>{:.3}</td></tr>",
            escape(name),
            s.accuracy,
            s.in_scope_accuracy,
            s.oos_precision,
            s.oos_recall
        );
    }
    html.push_str("</table>");
    threshold_curve(&mut html, report);
    worst_confusions(&mut html, report);
    confusion_matrix(&mut html, report);
    html.push_str("</html>\n");
    html
}

/// Off-topic precision and recall and in-scope accuracy against the threshold, as
/// an SVG chart and the table it is drawn from.
fn threshold_curve(html: &mut String, report: &ClassificationReport) {
    // The plot is `w` wide; the legend sits to its right, clear of the lines.
    let (w, h, pad, legend) = (520.0f32, 260.0f32, 36.0f32, 150.0f32);
    let x = |t: f32| pad + t * (w - 2.0 * pad);
    let y = |v: f64| h - pad - v as f32 * (h - 2.0 * pad);
    html.push_str("<h2>Threshold</h2><p>What each threshold would give (local classifier). Below the threshold, or when \"none of these\" is likelier, a text is off-topic.</p>");
    let _ = write!(
        html,
        "<svg width=\"{0}\" height=\"{h}\" viewBox=\"0 0 {0} {h}\" role=\"img\" aria-label=\"precision and recall against threshold\">\
         <rect x=\"{pad}\" y=\"{pad}\" width=\"{1}\" height=\"{2}\" fill=\"none\" stroke=\"#999\"/>",
        w + legend,
        w - 2.0 * pad,
        h - 2.0 * pad
    );
    for tick in [0.0f32, 0.25, 0.5, 0.75, 1.0] {
        let _ = write!(
            html,
            "<text x=\"{}\" y=\"{}\" font-size=\"10\" text-anchor=\"middle\">{tick}</text>\
             <text x=\"{}\" y=\"{}\" font-size=\"10\" text-anchor=\"end\">{tick}</text>",
            x(tick),
            h - pad + 14.0,
            pad - 4.0,
            y(tick as f64) + 3.0
        );
    }
    let series: [(&str, &str, fn(&Score) -> f64); 3] = [
        ("off-topic precision", "#1f77b4", |s| s.oos_precision),
        ("off-topic recall", "#ff7f0e", |s| s.oos_recall),
        ("in-scope accuracy", "#2ca02c", |s| s.in_scope_accuracy),
    ];
    for (i, (label, colour, value)) in series.iter().enumerate() {
        let points: Vec<String> = report
            .calibration
            .iter()
            .map(|(t, s)| format!("{:.1},{:.1}", x(*t), y(value(s))))
            .collect();
        let _ = write!(
            html,
            "<polyline fill=\"none\" stroke=\"{colour}\" stroke-width=\"2\" points=\"{}\"/>\
             <text x=\"{}\" y=\"{}\" font-size=\"11\" fill=\"{colour}\">{label}</text>",
            points.join(" "),
            w - pad + 10.0,
            pad + 10.0 + 14.0 * i as f32
        );
    }
    let _ = write!(
        html,
        "<line x1=\"{0}\" x2=\"{0}\" y1=\"{pad}\" y2=\"{1}\" stroke=\"#555\" stroke-dasharray=\"4 3\"/>\
         <text x=\"{0}\" y=\"{2}\" font-size=\"10\" text-anchor=\"middle\">default</text></svg>",
        x(report.threshold),
        h - pad,
        pad - 6.0
    );
    html.push_str("<table><tr><th>threshold</th><th>in-scope accuracy</th><th>off-topic precision</th><th>off-topic recall</th><th>accuracy</th></tr>");
    for (t, s) in report.calibration {
        let bold = (t - report.threshold).abs() < 1e-6;
        let _ = write!(
            html,
            "<tr{}><td>{t:.1}</td><td>{:.3}</td><td>{:.3}</td><td>{:.3}</td><td>{:.3}</td></tr>",
            if bold {
                " style=\"font-weight:bold\""
            } else {
                ""
            },
            s.in_scope_accuracy,
            s.oos_precision,
            s.oos_recall,
            s.accuracy
        );
    }
    html.push_str("</table>");
}

/// The most frequent `(expected, predicted)` mistakes, with the texts behind them.
fn worst_confusions(html: &mut String, report: &ClassificationReport) {
    let mut by_pair: BTreeMap<(&str, &str), Vec<&str>> = BTreeMap::new();
    for (text, expected, predicted) in &report.texts {
        if expected != predicted {
            by_pair.entry((expected, predicted)).or_default().push(text);
        }
    }
    let mut pairs: Vec<_> = by_pair.into_iter().collect();
    pairs.sort_by(|a, b| b.1.len().cmp(&a.1.len()).then(a.0.cmp(&b.0)));
    html.push_str("<h2>Worst confusions</h2>");
    if pairs.is_empty() {
        html.push_str("<p>None: every text got its label.</p>");
        return;
    }
    html.push_str(
        "<table><tr><th>count</th><th>expected</th><th>predicted</th><th>texts</th></tr>",
    );
    for ((expected, predicted), texts) in pairs.into_iter().take(WORST) {
        let sample: Vec<String> = texts
            .iter()
            .take(TEXTS_PER_CONFUSION)
            .map(|t| format!("\u{201c}{}\u{201d}", escape(t)))
            .collect();
        let _ = write!(
            html,
            "<tr><td>{}</td><td class=t>{}</td><td class=t>{}</td><td class=t>{}</td></tr>",
            texts.len(),
            escape(expected),
            escape(predicted),
            sample.join("<br>")
        );
    }
    html.push_str("</table>");
}

/// Rows are the expected labels, columns the predicted ones; hover a cell for its
/// meaning.
fn confusion_matrix(html: &mut String, report: &ClassificationReport) {
    html.push_str(
        "<h2>Confusion matrix</h2><p>Rows: the right label; columns: the label given.</p>",
    );
    matrix(html, report.texts.iter().map(|(_, e, p)| (*e, *p)));
}

/// A heat-map table of `(right, given)` pairs: one row per right value, one column
/// per given one, green on the diagonal, red off it; hover a cell for its meaning.
pub(super) fn matrix<'a>(html: &mut String, pairs: impl Iterator<Item = (&'a str, &'a str)>) {
    let mut counts: BTreeMap<(&str, &str), usize> = BTreeMap::new();
    for pair in pairs {
        *counts.entry(pair).or_default() += 1;
    }
    let labels: Vec<&str> = counts
        .keys()
        .flat_map(|(e, p)| [*e, *p])
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect();
    let max = counts.values().copied().max().unwrap_or(1) as f32;
    html.push_str("<table class=m><tr><th></th>");
    for l in &labels {
        let _ = write!(html, "<th class=c>{}</th>", escape(l));
    }
    html.push_str("</tr>");
    for expected in &labels {
        let _ = write!(html, "<tr><th>{}</th>", escape(expected));
        for given in &labels {
            let n = counts.get(&(*expected, *given)).copied().unwrap_or(0);
            if n == 0 {
                html.push_str("<td></td>");
                continue;
            }
            let alpha = 0.15 + 0.85 * n as f32 / max;
            let colour = if expected == given {
                "44,160,44"
            } else {
                "214,39,40"
            };
            let _ = write!(
                html,
                "<td style=\"background:rgba({colour},{alpha:.2})\" title=\"{} \u{2192} {}: {n}\">{n}</td>",
                escape(expected),
                escape(given)
            );
        }
        html.push_str("</tr>");
    }
    html.push_str("</table>");
}

pub(super) fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::brain::classify::eval::score;

    #[test]
    fn the_page_holds_the_figures_the_worst_confusion_and_escaped_texts() {
        let texts = vec![
            ("where is <my> order", "order_status", "order_status"),
            ("refund pls", "refunds", "order_status"),
            ("weather?", "out_of_scope", "out_of_scope"),
        ];
        let s = score(texts.iter().map(|(_, e, p)| (*e, *p)));
        let calibration = vec![(0.4, s.clone())];
        let page = classification_page(&ClassificationReport {
            source: "eval.jsonl".into(),
            rows: vec![("textdesk".into(), &s)],
            texts,
            calibration: &calibration,
            threshold: 0.4,
        });
        assert!(page.contains("<td>0.667</td>"), "accuracy 2/3");
        assert!(page.contains("refunds</td><td class=t>order_status"));
        assert!(page.contains("where is &lt;my&gt; order") || !page.contains("<my>"));
        assert!(page.contains("<polyline"));
        assert!(page.contains("refunds \u{2192} order_status: 1"));
    }
}
