//! Selectors evaluated at every step of a range query at once, one series at a time. The
//! steps move forward in time, so each series is walked with indices that only move forward:
//! no binary search per step, and no allocation per step (the per-step evaluator does both
//! for every series at every step).

use std::collections::VecDeque;

use vigil_metricstore::SeriesSamples;

use super::columns::{Column, Steps};
use crate::{over_time::WindowFunction, value::is_stale};

/// A vector selector over one series: its last sample in `(t - lookback, t]` at every step
/// `t` (shifted back by `offset`), absent where that sample is a stale marker.
pub fn instant(series: &SeriesSamples, steps: Steps, offset: i64, lookback: i64) -> Option<Column> {
    let samples = &series.samples;
    // The first sample after the current step.
    let mut next = 0;
    let values = (0..steps.count)
        .map(|index| {
            let at = steps.time(index) - offset;
            while next < samples.len() && samples[next].0 <= at {
                next += 1;
            }
            let (t, value) = *samples[..next].last()?;
            (t > at - lookback && !is_stale(value)).then_some(value)
        })
        .collect();
    Column::non_empty(series.labels.clone(), values)
}

/// A function over a matrix selector over one series: `function` over its samples in `(t -
/// range, t]` at every step `t` (shifted back by `offset`).
pub fn over_range(
    series: SeriesSamples,
    steps: Steps,
    offset: i64,
    range: i64,
    function: WindowFunction,
) -> Option<Column> {
    // The samples as two columns, without stale markers (a range function skips them).
    // Sized up front: an unzip through a filter grows both lists step by step.
    let (mut times, mut values) = (Vec::with_capacity(series.samples.len()), Vec::with_capacity(series.samples.len()));
    for (time, value) in series.samples.into_iter().filter(|(_, value)| !is_stale(*value)) {
        times.push(time);
        values.push(value);
    }
    let labels = if function.keeps_name() { series.labels } else { series.labels.with_name_dropped() };
    if let Some(larger) = function.extreme() {
        return Column::non_empty(labels, sliding_extreme(&times, &values, steps, offset, range, larger));
    }
    // The window is times[from..to].
    let (mut from, mut to) = (0, 0);
    let results = (0..steps.count)
        .map(|index| {
            let end = steps.time(index) - offset;
            while to < times.len() && times[to] <= end {
                to += 1;
            }
            while from < to && times[from] <= end - range {
                from += 1;
            }
            function.apply(&times[from..to], &values[from..to], range, end)
        })
        .collect();
    Column::non_empty(labels, results)
}

/// max_over_time (`larger`) or min_over_time at every step without going over each window:
/// a queue holds the indices of the window's values that can still be its extreme, in time
/// order, their values never improving towards the back. A long window (`max_over_time(x[1h])`)
/// then costs O(1) per sample rather than O(window) per step.
///
/// The result is what [`WindowFunction::apply`] gives, to the bit: the earliest of the values
/// equal to the extreme (so of 0 and -0 the earlier one), NaN values ignored, and the last
/// value when all are NaN.
fn sliding_extreme(
    times: &[i64],
    values: &[f64],
    steps: Steps,
    offset: i64,
    range: i64,
    larger: bool,
) -> Vec<Option<f64>> {
    let better = |a: f64, b: f64| if larger { a > b } else { a < b };
    let mut candidates: VecDeque<usize> = VecDeque::new();
    let (mut from, mut to) = (0, 0);
    (0..steps.count)
        .map(|index| {
            let end = steps.time(index) - offset;
            while to < times.len() && times[to] <= end {
                if !values[to].is_nan() {
                    // An equal value stays: the earlier of two equal values is the answer.
                    while candidates.back().is_some_and(|&back| better(values[to], values[back])) {
                        candidates.pop_back();
                    }
                    candidates.push_back(to);
                }
                to += 1;
            }
            while from < to && times[from] <= end - range {
                from += 1;
            }
            while candidates.front().is_some_and(|&front| front < from) {
                candidates.pop_front();
            }
            if from == to {
                return None;
            }
            Some(candidates.front().map_or(values[to - 1], |&front| values[front]))
        })
        .collect()
}
