//! An instant-vector expression's value at every step of a range query, stored series-major:
//! one [`Column`] per label set with one slot per step. The series-major path builds these;
//! the per-step evaluator reads one step out of them ([`at_step`]); a range query's result is
//! made from them directly ([`into_series`]).

use std::collections::HashMap;

use vigil_metricstore::Labels;

use crate::{
    error::{execution, QueryError},
    value::{Sample, Series},
};

/// The evaluation times of a range query: `start`, `start + step`, ... `count` of them.
#[derive(Debug, Clone, Copy)]
pub struct Steps {
    pub start: i64,
    pub step: i64,
    pub count: usize,
}

impl Steps {
    pub fn time(&self, index: usize) -> i64 {
        self.start + index as i64 * self.step
    }

    /// The index of the evaluation at `time`, if `time` is one of them.
    pub fn index_of(&self, time: i64) -> Option<usize> {
        let offset = time.checked_sub(self.start)?;
        if offset < 0 || offset % self.step != 0 {
            return None;
        }
        usize::try_from(offset / self.step).ok().filter(|index| *index < self.count)
    }
}

/// One element of the vector at every step: None where it is absent.
#[derive(Debug, Clone)]
pub struct Column {
    pub labels: Labels,
    pub values: Vec<Option<f64>>,
}

impl Column {
    /// A column, or None when it has no value at any step (it would add nothing anywhere).
    pub fn non_empty(labels: Labels, values: Vec<Option<f64>>) -> Option<Column> {
        values.iter().any(Option::is_some).then_some(Column { labels, values })
    }
}

/// The instant vector at step `index`, its elements in column order (the order the per-step
/// evaluator would have produced them in).
pub fn at_step(columns: &[Column], index: usize) -> Vec<Sample> {
    columns
        .iter()
        .filter_map(|column| Some(Sample { labels: column.labels.clone(), value: column.values[index]? }))
        .collect()
}

/// Fails, as the per-step evaluator would at the first such step, when two columns with the
/// same labels both have a value at one step.
pub fn check_unique(columns: &[Column]) -> Result<(), QueryError> {
    let mut by_labels: HashMap<&Labels, Vec<&Column>> = HashMap::new();
    for column in columns {
        by_labels.entry(&column.labels).or_default().push(column);
    }
    for same in by_labels.values().filter(|same| same.len() > 1) {
        let mut taken = vec![false; same[0].values.len()];
        for column in same {
            for (taken, value) in taken.iter_mut().zip(&column.values) {
                if value.is_some() && std::mem::replace(taken, true) {
                    return Err(duplicate_labels());
                }
            }
        }
    }
    Ok(())
}

/// A range query's result: one series per label set with its points in time order, sorted
/// by labels. Columns with equal labels take turns (e.g. after a function dropped the metric
/// name) and become one series; two with a value at the same step are an error.
pub fn into_series(columns: Vec<Column>, steps: Steps) -> Result<Vec<Series>, QueryError> {
    let mut positions: HashMap<Labels, usize> = HashMap::new();
    let mut merged: Vec<Column> = Vec::new();
    for mut column in columns {
        // Names set aside by functions go now, before equal label sets are merged.
        column.labels = column.labels.finish_name_drop();
        let Some(&at) = positions.get(&column.labels) else {
            positions.insert(column.labels.clone(), merged.len());
            merged.push(column);
            continue;
        };
        for (kept, value) in merged[at].values.iter_mut().zip(column.values) {
            match (&kept, value) {
                (Some(_), Some(_)) => return Err(duplicate_labels()),
                (None, Some(_)) => *kept = value,
                _ => {}
            }
        }
    }
    merged.sort_by(|a, b| a.labels.cmp(&b.labels));
    Ok(merged
        .into_iter()
        .map(|column| Series {
            labels: column.labels,
            points: (column.values.into_iter().enumerate())
                .filter_map(|(index, value)| Some((steps.time(index), value?)))
                .collect(),
        })
        .collect())
}

fn duplicate_labels() -> QueryError {
    execution("vector cannot contain metrics with the same labelset")
}
