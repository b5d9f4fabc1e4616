//! Building multi-row statements: one statement for a batch of rows instead of one
//! per row, because on SQLite every statement is a hand-off to the connection's thread
//! and back while the one write lock is held.

use std::fmt::Write as _;

/// `$1, $2, … $n`.
pub(super) fn placeholders(n: usize) -> String {
    (1..=n)
        .map(|i| format!("${i}"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// `(…), (…)`: `rows` copies of `row`, whose `?`s become `$1, $2, …` numbered across
/// the rows (sqlx's `Any` driver takes `$n` on both engines). Used as
/// `VALUES {rows}`, or as `FROM (VALUES {rows}) AS b` in an `UPDATE`, whose columns
/// are then `b.column1`, `b.column2` … on both engines.
pub(super) fn value_rows(rows: usize, row: &str) -> String {
    let mut out = String::new();
    let mut n = 0;
    for r in 0..rows {
        if r > 0 {
            out.push_str(", ");
        }
        out.push('(');
        for ch in row.chars() {
            if ch == '?' {
                n += 1;
                let _ = write!(out, "${n}");
            } else {
                out.push(ch);
            }
        }
        out.push(')');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn value_rows_number_placeholders_across_rows() {
        assert_eq!(value_rows(2, "?, 'x', ?"), "($1, 'x', $2), ($3, 'x', $4)");
        assert_eq!(placeholders(3), "$1, $2, $3");
    }
}
