//! Building multi-row statements: one statement for a batch of rows instead of one
//! per row, because on SQLite every statement is a hand-off to the connection's thread
//! and back while the one write lock is held.

use std::fmt::Write as _;

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

/// The type of a column of [`json_rows`].
#[derive(Clone, Copy)]
pub(super) enum Column {
    Text,
    Int,
}

/// A batch's rows, bound as one parameter (`$1`, a JSON array of arrays, see
/// [`json_param`]), as a relation `b` with these columns: `FROM {json_rows} AS b`,
/// or `INSERT … SELECT … FROM {json_rows} AS b`.
///
/// Unlike a `VALUES` list, the statement's text is the same whatever the batch's size,
/// so each connection prepares it once: sqlx keeps 100 prepared statements per
/// connection, and a list per batch size (1 to 256 texts, several statements each)
/// missed that cache nearly every time, when parsing a 15-row statement took about
/// as long as running it.
pub(super) fn json_rows(dialect: super::Dialect, columns: &[(&str, Column)]) -> String {
    let mut select = String::new();
    for (i, (name, column)) in columns.iter().enumerate() {
        if i > 0 {
            select.push_str(", ");
        }
        // SQLite's `->>` gives a JSON number as an INTEGER already; PostgreSQL's gives
        // text, which an integer column only takes with an explicit cast.
        match (dialect, column) {
            (super::Dialect::Postgres, Column::Int) => {
                let _ = write!(select, "(value->>{i})::bigint AS {name}");
            }
            _ => {
                let _ = write!(select, "value->>{i} AS {name}");
            }
        }
    }
    match dialect {
        super::Dialect::Sqlite => format!("(SELECT {select} FROM json_each($1))"),
        super::Dialect::Postgres => {
            format!("(SELECT {select} FROM jsonb_array_elements($1::jsonb))")
        }
    }
}

/// The parameter of [`json_rows`]: each row a tuple (serialised as an array), in the
/// order of the columns.
pub(super) fn json_param<T: serde::Serialize>(rows: &[T]) -> super::Result<String> {
    serde_json::to_string(rows).map_err(|e| super::StoreError::Corrupt(e.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn value_rows_number_placeholders_across_rows() {
        assert_eq!(value_rows(2, "?, 'x', ?"), "($1, 'x', $2), ($3, 'x', $4)");
    }

    #[test]
    fn json_rows_cast_integers_where_the_engine_needs_it() {
        let columns = [("phone", Column::Text), ("at", Column::Int)];
        assert_eq!(
            json_rows(super::super::Dialect::Sqlite, &columns),
            "(SELECT value->>0 AS phone, value->>1 AS at FROM json_each($1))"
        );
        assert_eq!(
            json_rows(super::super::Dialect::Postgres, &columns),
            "(SELECT value->>0 AS phone, (value->>1)::bigint AS at FROM jsonb_array_elements($1::jsonb))"
        );
    }
}
