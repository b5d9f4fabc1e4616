//! The gaps report: each group of texts with the customers it cost in the period and
//! the one before, its most representative texts, what the bot took it for, and how
//! its texts ended up with the bot (the kinds of gap).

use std::collections::{BTreeMap, BTreeSet};

use serde::Serialize;
use utoipa::ToSchema;

use super::GapKind;
use super::cluster::most_central;
use crate::store::GapText;

/// Example texts shown per group.
pub const EXAMPLES: usize = 3;
/// Intents named per group as what the bot took it for.
pub const CONFUSED_WITH: usize = 3;

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct GapReport {
    /// The period, RFC 3339: `[from, until)`; the trend compares it with
    /// `[previous_from, from)`.
    pub from: String,
    pub until: String,
    pub previous_from: String,
    /// Gap texts in the period, and the customers who sent them.
    pub texts: usize,
    pub customers: usize,
    /// How texts were compared: `dense` (the embedding model) or `lexical` (words).
    pub grouped_by: &'static str,
    /// The oldest texts of the two periods left out of the grouping (beyond
    /// [`super::MAX_TEXTS`]); 0 normally.
    pub left_out: usize,
    /// Most customers first.
    pub clusters: Vec<GapCluster>,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct GapCluster {
    /// `gap-<id of its first text>`: stable while that text is in the period.
    pub id: String,
    /// Customers who sent a text of this group in the period.
    pub customers: usize,
    pub texts: usize,
    /// Customers in the period before.
    pub previous_customers: usize,
    pub trend: Trend,
    /// The texts that best stand for the group (redacted), most central first.
    pub examples: Vec<String>,
    /// The intents the bot was torn between, most often first.
    pub confused_with: Vec<String>,
    /// How the texts went: clarifying questions, handoffs, agents' verdicts.
    pub kinds: BTreeMap<GapKind, usize>,
    /// The conversations of its texts in the period, oldest first.
    pub conversations: Vec<i64>,
    /// The group's texts in the period (message ids), oldest first.
    #[serde(skip)]
    pub message_ids: Vec<i64>,
    /// The conversation of each text, in `message_ids` order.
    #[serde(skip)]
    pub text_conversations: Vec<i64>,
    /// Redacted texts of the period, in `message_ids` order.
    #[serde(skip)]
    pub redacted: Vec<String>,
    /// Names the group's customers are known by, for redacting agents' answers.
    #[serde(skip)]
    pub names: Vec<String>,
}

/// The period against the one before, by customers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Trend {
    /// None in the period before.
    New,
    /// At least half as many again.
    Rising,
    /// Within half either way.
    Steady,
    /// At most half as many.
    Falling,
}

impl Trend {
    fn of(now: usize, before: usize) -> Trend {
        match (now, before) {
            (_, 0) => Trend::New,
            (n, b) if 2 * n >= 3 * b => Trend::Rising,
            (n, b) if 2 * n <= b => Trend::Falling,
            _ => Trend::Steady,
        }
    }
}

/// Assembles the report from the texts of both periods, their redacted words and
/// vectors, and the group of each.
#[allow(clippy::too_many_arguments)]
pub fn build(
    texts: &[GapText],
    redacted: &[String],
    vectors: &[Vec<f32>],
    labels: &[usize],
    previous_from: i64,
    from: i64,
    until: i64,
    dense: bool,
) -> GapReport {
    let mut members: BTreeMap<usize, Vec<usize>> = BTreeMap::new();
    for (i, &label) in labels.iter().enumerate() {
        members.entry(label).or_default().push(i);
    }
    let in_period = |i: &usize| texts[*i].created_at >= from;
    let mut clusters: Vec<GapCluster> = members
        .values()
        .filter_map(|group| {
            let now: Vec<usize> = group.iter().copied().filter(in_period).collect();
            if now.is_empty() {
                return None;
            }
            let before: BTreeSet<i64> = group
                .iter()
                .filter(|i| !in_period(i))
                .map(|&i| texts[i].contact_id)
                .collect();
            let customers: BTreeSet<i64> = now.iter().map(|&i| texts[i].contact_id).collect();
            let mut kinds: BTreeMap<GapKind, usize> = BTreeMap::new();
            let mut intents: BTreeMap<&str, (usize, usize)> = BTreeMap::new();
            for (order, &i) in now.iter().enumerate() {
                *kinds.entry(texts[i].kind).or_default() += 1;
                for (rank, intent) in texts[i].intents.iter().enumerate() {
                    let entry = intents.entry(intent).or_insert((0, order * 10 + rank));
                    entry.0 += 1;
                }
            }
            let mut confused: Vec<(&str, (usize, usize))> = intents.into_iter().collect();
            confused.sort_by(|a, b| b.1.0.cmp(&a.1.0).then(a.1.1.cmp(&b.1.1)));
            let central = most_central(&now.iter().map(|&i| &vectors[i]).collect::<Vec<_>>());
            let mut examples: Vec<String> = Vec::new();
            for c in central {
                let text = redacted[now[c]].trim().to_string();
                if !examples.iter().any(|e| e.eq_ignore_ascii_case(&text)) {
                    examples.push(text);
                }
                if examples.len() == EXAMPLES {
                    break;
                }
            }
            let mut conversations: Vec<i64> =
                now.iter().map(|&i| texts[i].conversation_id).collect();
            conversations.sort();
            conversations.dedup();
            Some(GapCluster {
                id: format!("gap-{}", texts[now[0]].message_id),
                customers: customers.len(),
                texts: now.len(),
                previous_customers: before.len(),
                trend: Trend::of(customers.len(), before.len()),
                examples,
                confused_with: confused
                    .into_iter()
                    .take(CONFUSED_WITH)
                    .map(|(i, _)| i.to_string())
                    .collect(),
                kinds,
                conversations,
                message_ids: now.iter().map(|&i| texts[i].message_id).collect(),
                text_conversations: now.iter().map(|&i| texts[i].conversation_id).collect(),
                redacted: now.iter().map(|&i| redacted[i].clone()).collect(),
                names: now.iter().flat_map(|&i| texts[i].names.clone()).collect(),
            })
        })
        .collect();
    clusters.sort_by(|a, b| {
        b.customers
            .cmp(&a.customers)
            .then(b.texts.cmp(&a.texts))
            .then(a.message_ids.first().cmp(&b.message_ids.first()))
    });
    let period: Vec<&GapText> = texts.iter().filter(|t| t.created_at >= from).collect();
    GapReport {
        from: rfc3339(from),
        until: rfc3339(until),
        previous_from: rfc3339(previous_from),
        texts: period.len(),
        customers: period
            .iter()
            .map(|t| t.contact_id)
            .collect::<BTreeSet<_>>()
            .len(),
        grouped_by: if dense { "dense" } else { "lexical" },
        left_out: 0,
        clusters,
    }
}

fn rfc3339(ms: i64) -> String {
    jiff::Timestamp::from_millisecond(ms)
        .map(|t| t.to_string())
        .unwrap_or_else(|_| ms.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_trend_compares_customers_with_the_period_before() {
        assert_eq!(Trend::of(3, 0), Trend::New);
        assert_eq!(Trend::of(6, 4), Trend::Rising);
        assert_eq!(Trend::of(4, 4), Trend::Steady);
        assert_eq!(Trend::of(2, 4), Trend::Falling);
    }
}
