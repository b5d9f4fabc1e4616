//! The operator's picture of a retrieval evaluation: one self-contained HTML page
//! (no scripts, no external files) with the figures of each way of searching, recall
//! at 1 to 10 files, the texts a turn answered from the wrong file (and what it found
//! instead), and which file was expected against which came first. Written by
//! `textdesk knowledge eval FILE --report page.html`.

use std::fmt::Write as _;

use super::eval_report::{PAGE_STYLE, escape, matrix};
use crate::knowledge::eval::{CaseResult, EvalScore};

/// Recall is drawn for the first this many files.
const DEPTH: usize = 10;
/// Misses listed, worst (not found at all, then found lowest) first.
const MISSES: usize = 40;

/// `scores` in the order printed; the last is what turns retrieve (`answered`), whose
/// misses and matrix the page shows.
pub fn retrieval_page(source: &str, scores: &[EvalScore]) -> String {
    let mut html = String::new();
    let cases = scores.first().map_or(0, |s| s.cases);
    let _ = write!(
        html,
        "<!doctype html><html lang=\"en\"><meta charset=\"utf-8\"><title>textdesk knowledge eval: {0}</title>{PAGE_STYLE}\
         <h1>Retrieval</h1><p>{cases} labelled texts from <code>{0}</code>. A text is answered at <i>k</i> when its file \
         is among the first <i>k</i> files found (a text asking two things: both files among the first <i>k</i> + 1).</p>",
        escape(source)
    );
    html.push_str("<h2>Figures</h2><table><tr><th>search</th><th>recall@1</th><th>recall@3</th><th>MRR</th></tr>");
    for s in scores {
        let _ = write!(
            html,
            "<tr><td class=t>{}</td><td>{:.3}</td><td>{:.3}</td><td>{:.3}</td></tr>",
            escape(&s.label),
            s.recall_at_1,
            s.recall_at_3,
            s.mrr
        );
    }
    html.push_str("</table><p><i>answered</i> is what a turn retrieves: the text classified, then searched with the customer's words first and the intent's description as a tie-breaker.</p>");
    recall_curve(&mut html, scores);
    if let Some(answered) = scores.last() {
        misses(&mut html, answered);
        file_matrix(&mut html, answered);
    }
    html.push_str("</html>\n");
    html
}

/// Recall against the number of files read, one line per way of searching.
fn recall_curve(html: &mut String, scores: &[EvalScore]) {
    let (w, h, pad, legend) = (520.0f32, 260.0f32, 36.0f32, 120.0f32);
    let x = |k: usize| pad + (k - 1) as f32 / (DEPTH - 1) as f32 * (w - 2.0 * pad);
    let y = |v: f64| h - pad - v as f32 * (h - 2.0 * pad);
    html.push_str("<h2>Recall at k</h2>");
    let _ = write!(
        html,
        "<svg width=\"{0}\" height=\"{h}\" viewBox=\"0 0 {0} {h}\" role=\"img\" aria-label=\"recall against files read\">\
         <rect x=\"{pad}\" y=\"{pad}\" width=\"{1}\" height=\"{2}\" fill=\"none\" stroke=\"#999\"/>",
        w + legend,
        w - 2.0 * pad,
        h - 2.0 * pad
    );
    for k in 1..=DEPTH {
        let _ = write!(
            html,
            "<text x=\"{}\" y=\"{}\" font-size=\"10\" text-anchor=\"middle\">{k}</text>",
            x(k),
            h - pad + 14.0
        );
    }
    for tick in [0.0f64, 0.25, 0.5, 0.75, 1.0] {
        let _ = write!(
            html,
            "<text x=\"{}\" y=\"{}\" font-size=\"10\" text-anchor=\"end\">{tick}</text>",
            pad - 4.0,
            y(tick) + 3.0
        );
    }
    const COLOURS: [&str; 4] = ["#1f77b4", "#ff7f0e", "#2ca02c", "#d62728"];
    for (i, s) in scores.iter().enumerate() {
        let colour = COLOURS[i % COLOURS.len()];
        let points: Vec<String> = (1..=DEPTH)
            .map(|k| format!("{:.1},{:.1}", x(k), y(s.recall_at(k))))
            .collect();
        let _ = write!(
            html,
            "<polyline fill=\"none\" stroke=\"{colour}\" stroke-width=\"2\" points=\"{}\"/>\
             <text x=\"{}\" y=\"{}\" font-size=\"11\" fill=\"{colour}\">{}</text>",
            points.join(" "),
            w - pad + 10.0,
            pad + 10.0 + 14.0 * i as f32,
            escape(&s.label)
        );
    }
    html.push_str("</svg><table><tr><th>search</th>");
    for k in 1..=DEPTH {
        let _ = write!(html, "<th>@{k}</th>");
    }
    html.push_str("</tr>");
    for s in scores {
        let _ = write!(html, "<tr><td class=t>{}</td>", escape(&s.label));
        for k in 1..=DEPTH {
            let _ = write!(html, "<td>{:.3}</td>", s.recall_at(k));
        }
        html.push_str("</tr>");
    }
    html.push_str("</table>");
}

/// The texts not answered from their file first, with the files found instead.
fn misses(html: &mut String, score: &EvalScore) {
    let mut missed: Vec<&CaseResult> = score.results.iter().filter(|r| r.rank != Some(0)).collect();
    missed.sort_by_key(|r| std::cmp::Reverse(r.rank.unwrap_or(usize::MAX)));
    let _ = write!(
        html,
        "<h2>Misses ({} of {}, {})</h2>",
        missed.len(),
        score.results.len(),
        escape(&score.label)
    );
    if missed.is_empty() {
        html.push_str("<p>None: every text found its file first.</p>");
        return;
    }
    html.push_str(
        "<table><tr><th>text</th><th>expected</th><th>found first</th><th>expected at</th></tr>",
    );
    for r in missed.into_iter().take(MISSES) {
        let _ = write!(
            html,
            "<tr><td class=t>\u{201c}{}\u{201d}</td><td class=t>{}</td><td class=t>{}</td><td>{}</td></tr>",
            escape(&r.text),
            escape(&r.expected.join(" + ")),
            r.files
                .iter()
                .take(3)
                .map(|f| escape(f))
                .collect::<Vec<_>>()
                .join("<br>"),
            r.rank
                .map_or("not in 10".to_string(), |k| (k + 1).to_string())
        );
    }
    html.push_str("</table>");
}

/// Rows: the expected file (the first, for texts asking several things); columns: the
/// file found first.
fn file_matrix(html: &mut String, score: &EvalScore) {
    let pairs: Vec<(&str, &str)> = score
        .results
        .iter()
        .map(|r| {
            let expected = r.expected.first().map_or("", String::as_str);
            let found = r.files.first().map_or("(nothing)", String::as_str);
            (short(expected), found)
        })
        .collect();
    html.push_str("<h2>Expected against found first</h2><p>Rows: the right file; columns: the file a turn found first.</p>");
    matrix(html, pairs.into_iter());
}

/// An expected file as the knowledge base names it (`knowledge/returns.md` →
/// `returns.md`), so rows and columns meet.
fn short(expected: &str) -> &str {
    let expected = expected.trim_start_matches("./");
    expected.strip_prefix("knowledge/").unwrap_or(expected)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn result(text: &str, expected: &[&str], files: &[&str], rank: Option<usize>) -> CaseResult {
        CaseResult {
            text: text.into(),
            expected: expected.iter().map(|s| s.to_string()).collect(),
            files: files.iter().map(|s| s.to_string()).collect(),
            rank,
        }
    }

    #[test]
    fn the_page_holds_figures_curve_misses_and_the_matrix() {
        let results = vec![
            result(
                "where <is> it",
                &["knowledge/orders.md"],
                &["orders.md"],
                Some(0),
            ),
            result(
                "how much is shipping",
                &["knowledge/shipping.md"],
                &["international.md", "shipping.md"],
                Some(1),
            ),
        ];
        let score = EvalScore {
            label: "answered".into(),
            cases: 2,
            recall_at_1: 0.5,
            recall_at_3: 1.0,
            mrr: 0.75,
            results,
        };
        let page = retrieval_page("eval.jsonl", &[score]);
        assert!(page.contains("<td>0.500</td><td>1.000</td><td>0.750</td>"));
        assert!(page.contains("<polyline"));
        assert!(page.contains("Misses (1 of 2"));
        assert!(page.contains("\u{201c}how much is shipping\u{201d}"));
        assert!(page.contains("international.md<br>shipping.md"));
        assert!(page.contains("shipping.md \u{2192} international.md: 1"));
        assert!(!page.contains("<is>"), "texts are escaped");
    }
}
