//! Operations on each element of a vector on its own, over columns: a vector with a literal
//! scalar (`rate(x[5m]) * 100`, `x > 0`), unary minus, and math functions such as `abs`. They
//! keep or drop the metric name and refuse duplicate results exactly as the per-step
//! evaluator does (`binary.rs`, `functions.rs`).

use super::columns::{check_unique, Column};
use crate::{binary::apply, error::QueryError};

/// `-vector`: the names dropped, and two results with the same labels refused.
pub fn negate(columns: Vec<Column>) -> Result<Vec<Column>, QueryError> {
    let negated = map(columns, |value| -value);
    check_unique(&negated)?;
    Ok(negated)
}

/// A function on each value, the names dropped. Duplicates are left for the query's end, as
/// the per-step evaluator leaves them (an aggregation on top may still merge them).
pub fn map(columns: Vec<Column>, f: impl Fn(f64) -> f64) -> Vec<Column> {
    columns
        .into_iter()
        .map(|column| Column {
            labels: column.labels.with_name_dropped(),
            values: column.values.into_iter().map(|value| value.map(&f)).collect(),
        })
        .collect()
}

/// A binary operator between a vector and a scalar.
pub struct ScalarOperation<'o> {
    pub op: &'o str,
    pub comparison: bool,
    pub return_bool: bool,
}

impl ScalarOperation<'_> {
    /// The operator between each element and `scalar`, which is on the left if
    /// `scalar_on_left`.
    pub fn apply(&self, columns: Vec<Column>, scalar: f64, scalar_on_left: bool) -> Result<Vec<Column>, QueryError> {
        let filter = self.comparison && !self.return_bool;
        let mut out = Vec::with_capacity(columns.len());
        for column in columns {
            let mut values = Vec::with_capacity(column.values.len());
            for value in column.values {
                values.push(match value {
                    None => None,
                    Some(value) => {
                        let (l, r) = if scalar_on_left { (scalar, value) } else { (value, scalar) };
                        let (result, keep) = apply(self.op, l, r)?;
                        match (filter, self.comparison) {
                            // A filter keeps the vector's element as it was.
                            (true, _) => keep.then_some(value),
                            (false, true) => Some(f64::from(u8::from(keep))),
                            (false, false) => Some(result),
                        }
                    }
                });
            }
            let labels = if filter { column.labels } else { column.labels.with_name_dropped() };
            out.extend(Column::non_empty(labels, values));
        }
        if !filter {
            check_unique(&out)?;
        }
        Ok(out)
    }
}
