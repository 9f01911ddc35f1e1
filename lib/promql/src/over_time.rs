//! Functions over a range vector (`rate`, `irate`, `delta`, `*_over_time`, ...), applied to one
//! series' samples in one window. One implementation serves both the per-step evaluator
//! (`functions.rs`) and the range query's sliding windows (`range/window.rs`), so the two can
//! never disagree.

use crate::functions::{average, kahan_sum, quantile, variance};

/// A range-vector function, resolved from its name once per query rather than once per window.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum WindowFunction {
    Rate,
    Increase,
    Delta,
    Irate,
    Idelta,
    Avg,
    Min,
    Max,
    Sum,
    Count,
    Last,
    Present,
    Stddev,
    Stdvar,
    Quantile(f64),
}

impl WindowFunction {
    /// The function called `name`; `quantile_over_time` takes `q`. None for any other name.
    pub fn parse(name: &str, q: f64) -> Option<WindowFunction> {
        Some(match name {
            "rate" => WindowFunction::Rate,
            "increase" => WindowFunction::Increase,
            "delta" => WindowFunction::Delta,
            "irate" => WindowFunction::Irate,
            "idelta" => WindowFunction::Idelta,
            "avg_over_time" => WindowFunction::Avg,
            "min_over_time" => WindowFunction::Min,
            "max_over_time" => WindowFunction::Max,
            "sum_over_time" => WindowFunction::Sum,
            "count_over_time" => WindowFunction::Count,
            "last_over_time" => WindowFunction::Last,
            "present_over_time" => WindowFunction::Present,
            "stddev_over_time" => WindowFunction::Stddev,
            "stdvar_over_time" => WindowFunction::Stdvar,
            "quantile_over_time" => WindowFunction::Quantile(q),
            _ => return None,
        })
    }

    /// Like Prometheus, only last_over_time keeps the metric name.
    pub fn keeps_name(self) -> bool {
        self == WindowFunction::Last
    }

    /// For max_over_time Some(true), for min_over_time Some(false): these have a faster
    /// sliding form (`range/window.rs`).
    pub fn extreme(self) -> Option<bool> {
        match self {
            WindowFunction::Max => Some(true),
            WindowFunction::Min => Some(false),
            _ => None,
        }
    }

    /// The function over the samples (stale markers left out) of the window `(end - range,
    /// end]`, `times` and `values` side by side. None when the window gives no element.
    pub fn apply(self, times: &[i64], values: &[f64], range: i64, end: i64) -> Option<f64> {
        if values.is_empty() {
            return None;
        }
        let start = end - range;
        match self {
            WindowFunction::Rate => extrapolated(times, values, start, end, true, true),
            WindowFunction::Increase => extrapolated(times, values, start, end, true, false),
            WindowFunction::Delta => extrapolated(times, values, start, end, false, false),
            WindowFunction::Irate => instant_delta(times, values, true),
            WindowFunction::Idelta => instant_delta(times, values, false),
            WindowFunction::Avg => Some(average(values)),
            WindowFunction::Min => values.iter().copied().reduce(|a, b| if b < a || a.is_nan() { b } else { a }),
            WindowFunction::Max => values.iter().copied().reduce(|a, b| if b > a || a.is_nan() { b } else { a }),
            WindowFunction::Sum => Some(kahan_sum(values)),
            WindowFunction::Count => Some(values.len() as f64),
            WindowFunction::Last => values.last().copied(),
            WindowFunction::Present => Some(1.0),
            WindowFunction::Stddev => Some(variance(values).sqrt()),
            WindowFunction::Stdvar => Some(variance(values)),
            WindowFunction::Quantile(q) => Some(quantile(q, &mut values.to_vec())),
        }
    }
}

/// rate / increase / delta: the change over the window, extrapolated to its edges (at most
/// half a sample interval past the first and last samples, and for counters never below 0).
fn extrapolated(times: &[i64], values: &[f64], start: i64, end: i64, counter: bool, per_second: bool) -> Option<f64> {
    if values.len() < 2 {
        return None;
    }
    let (first_t, first_v) = (times[0], values[0]);
    let (last_t, last_v) = (times[times.len() - 1], values[values.len() - 1]);
    let mut result = last_v - first_v;
    if counter {
        // A drop is a counter reset: the value before it counted up too.
        for pair in values.windows(2) {
            if pair[1] < pair[0] {
                result += pair[0];
            }
        }
    }
    let sampled = (last_t - first_t) as f64 / 1000.0;
    let average_gap = sampled / (values.len() - 1) as f64;
    let threshold = average_gap * 1.1;
    let mut to_start = (first_t - start) as f64 / 1000.0;
    let mut to_end = (end - last_t) as f64 / 1000.0;
    if to_start >= threshold {
        to_start = average_gap / 2.0;
    }
    if counter && result > 0.0 && first_v >= 0.0 {
        // A counter starts at 0: do not extrapolate back past that.
        let to_zero = sampled * (first_v / result);
        if to_zero < to_start {
            to_start = to_zero;
        }
    }
    if to_end >= threshold {
        to_end = average_gap / 2.0;
    }
    let mut factor = (sampled + to_start + to_end) / sampled;
    if per_second {
        factor /= (end - start) as f64 / 1000.0;
    }
    Some(result * factor)
}

/// irate / idelta: from the last two samples.
fn instant_delta(times: &[i64], values: &[f64], rate: bool) -> Option<f64> {
    let ([.., t1, t2], [.., v1, v2]) = (times, values) else { return None };
    if !rate {
        return Some(v2 - v1);
    }
    let change = if v2 < v1 { *v2 } else { v2 - v1 };
    let seconds = (t2 - t1) as f64 / 1000.0;
    (seconds > 0.0).then(|| change / seconds)
}
