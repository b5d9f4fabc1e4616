//! How well a grouping matches labelled topics: the adjusted Rand index (pairs of texts
//! put together or apart as the labels do, 0 for chance and 1 for exact) and purity
//! (the share of texts whose group's most common topic is their own).

use std::collections::BTreeMap;

/// Adjusted Rand index (Hubert & Arabie) of `predicted` against `truth`.
pub fn adjusted_rand_index(truth: &[usize], predicted: &[usize]) -> f64 {
    let n = truth.len().min(predicted.len());
    if n < 2 {
        return 1.0;
    }
    let mut table: BTreeMap<(usize, usize), u64> = BTreeMap::new();
    let mut rows: BTreeMap<usize, u64> = BTreeMap::new();
    let mut columns: BTreeMap<usize, u64> = BTreeMap::new();
    for i in 0..n {
        *table.entry((truth[i], predicted[i])).or_default() += 1;
        *rows.entry(truth[i]).or_default() += 1;
        *columns.entry(predicted[i]).or_default() += 1;
    }
    let pairs = |x: u64| (x * x.saturating_sub(1) / 2) as f64;
    let index: f64 = table.values().map(|&c| pairs(c)).sum();
    let row_pairs: f64 = rows.values().map(|&c| pairs(c)).sum();
    let column_pairs: f64 = columns.values().map(|&c| pairs(c)).sum();
    let expected = row_pairs * column_pairs / pairs(n as u64);
    let max = (row_pairs + column_pairs) / 2.0;
    if (max - expected).abs() < f64::EPSILON {
        return 1.0;
    }
    (index - expected) / (max - expected)
}

/// Share of texts that belong to their group's most common topic.
pub fn purity(truth: &[usize], predicted: &[usize]) -> f64 {
    let n = truth.len().min(predicted.len());
    if n == 0 {
        return 1.0;
    }
    let mut table: BTreeMap<usize, BTreeMap<usize, u64>> = BTreeMap::new();
    for i in 0..n {
        *table
            .entry(predicted[i])
            .or_default()
            .entry(truth[i])
            .or_default() += 1;
    }
    let majority: u64 = table
        .values()
        .map(|topics| topics.values().copied().max().unwrap_or(0))
        .sum();
    majority as f64 / n as f64
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_exact_grouping_scores_one_whatever_its_numbers() {
        let truth = [0, 0, 1, 1, 2];
        assert!((adjusted_rand_index(&truth, &[5, 5, 3, 3, 9]) - 1.0).abs() < 1e-9);
        assert!((purity(&truth, &[5, 5, 3, 3, 9]) - 1.0).abs() < 1e-9);
    }

    #[test]
    fn one_big_group_is_pure_only_by_its_largest_topic_and_no_better_than_chance() {
        let truth = [0, 0, 0, 1, 1, 2];
        let all = [0; 6];
        assert!(adjusted_rand_index(&truth, &all).abs() < 1e-9);
        assert!((purity(&truth, &all) - 0.5).abs() < 1e-9);
    }

    #[test]
    fn a_known_value() {
        // scikit-learn: adjusted_rand_score([0,0,1,1],[0,0,1,2]) = 0.5714…
        let ari = adjusted_rand_index(&[0, 0, 1, 1], &[0, 0, 1, 2]);
        assert!((ari - 0.571_428_57).abs() < 1e-6, "{ari}");
    }
}
