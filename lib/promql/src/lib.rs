//! Vigil's PromQL engine. Queries are parsed by the `promql-parser` crate and evaluated here
//! over a [`Storage`] (the metric store). The supported subset: selectors with every matcher
//! type and `offset`; the functions listed in `functions.rs`; the aggregations in
//! `aggregate.rs`; every binary operator with vector matching (`binary.rs`). Anything else
//! answers [`QueryError::Unsupported`], never a wrong result.
//!
//! Start with [`instant_query`] and [`range_query`]; `eval.rs` walks the expression at one
//! time, `range/` evaluates the common shapes of a range query for all steps at once.

mod aggregate;
mod binary;
mod error;
mod eval;
mod functions;
mod histogram;
mod over_time;
mod parse_cache;
mod position;
mod range;
mod value;

use std::collections::HashMap;

pub use error::QueryError;
pub use eval::{Storage, DEFAULT_LOOKBACK_MS};
pub use value::{is_stale, Sample, Series, Value, STALE_NAN_BITS};
use vigil_metricstore::Labels;

/// Parses `query`; an error says where (`at 1:16: unclosed left parenthesis`) when the
/// place can be told.
pub fn parse(query: &str) -> Result<promql_parser::parser::Expr, QueryError> {
    parse_cache::parse_cached(query, promql_parser::parser::parse).map_err(|message| {
        match position::locate(query, &message) {
            Some((line, column)) => QueryError::Parse(format!("at {line}:{column}: {message}")),
            None => QueryError::Parse(message),
        }
    })
}

/// The matchers of a series selector such as `up{job="node"}` (the `match[]` of the series API).
pub fn selector_matchers(selector: &str) -> Result<Vec<vigil_metricstore::Matcher>, QueryError> {
    match parse(selector)? {
        promql_parser::parser::Expr::VectorSelector(selector) => eval::matchers_of(&selector),
        _ => Err(QueryError::Parse(format!("{selector:?} is not a series selector such as up{{job=\"node\"}}"))),
    }
}

/// A Prometheus duration (`1h30m`, `15s`, `0s`) or plain seconds (`1.5`), in ms; None when it
/// is neither.
pub fn parse_duration_ms(text: &str) -> Option<i64> {
    if let Ok(seconds) = text.parse::<f64>() {
        return seconds.is_finite().then(|| (seconds * 1000.0).round() as i64);
    }
    let mut total = 0i64;
    let mut rest = text;
    while !rest.is_empty() {
        let digits = rest.find(|c: char| !c.is_ascii_digit())?;
        let number: i64 = rest[..digits].parse().ok()?;
        rest = &rest[digits..];
        let unit_len = rest.find(|c: char| c.is_ascii_digit()).unwrap_or(rest.len());
        let unit = match &rest[..unit_len] {
            "ms" => 1,
            "s" => 1_000,
            "m" => 60_000,
            "h" => 3_600_000,
            "d" => 86_400_000,
            "w" => 604_800_000,
            "y" => 31_536_000_000,
            _ => return None,
        };
        total = total.checked_add(number.checked_mul(unit)?)?;
        rest = &rest[unit_len..];
    }
    Some(total)
}

/// Removes the metric names that functions and operators set aside (they stayed until now so
/// that `by (__name__)` could still group by them, as in Prometheus 3).
fn finish_name_drop(samples: &mut [Sample]) {
    for sample in samples {
        sample.labels = sample.labels.finish_name_drop();
    }
}

/// Evaluates `query` at `time` (ms). Vector-valued shapes the range path knows are evaluated
/// there, as a range query of one step (it reads each series once, as it is decoded, on
/// every core); the rest per step as usual.
pub fn instant_query(storage: &dyn Storage, query: &str, time: i64) -> Result<Value, QueryError> {
    let expr = parse(query)?;
    let mut evaluator = eval::Evaluator::new(storage, time, time, 0, DEFAULT_LOOKBACK_MS);
    let steps = range::columns::Steps { start: time, step: 1, count: 1 };
    let mut value = match range::precompute(&mut evaluator, &expr, steps) {
        Some(whole) => Value::Vector(range::columns::at_step(&whole?, 0)),
        None => evaluator.eval(&expr, time)?,
    };
    if let Value::Vector(samples) = &mut value {
        finish_name_drop(samples);
        eval::check_unique(samples)?;
    }
    Ok(value)
}

/// Evaluates `query` at every `step` from `start` to `end` (ms, inclusive), one series per
/// label set with its points in time order.
pub fn range_query(
    storage: &dyn Storage,
    query: &str,
    start: i64,
    end: i64,
    step: i64,
) -> Result<Vec<Series>, QueryError> {
    if step <= 0 {
        return Err(QueryError::Execution("step must be positive".into()));
    }
    let expr = parse(query)?;
    let mut evaluator = eval::Evaluator::new(storage, start, end, step, DEFAULT_LOOKBACK_MS);
    if end < start {
        return Ok(Vec::new());
    }
    let steps = range::columns::Steps { start, step, count: ((end - start) / step + 1) as usize };
    if let Some(whole) = range::precompute(&mut evaluator, &expr, steps) {
        return range::columns::into_series(whole?, steps);
    }
    // The rest per step; `evaluator` reads the subtrees `precompute` did from there.
    // Each label set's position in `series`: hashed once per point, sorted once at the end.
    let mut positions: HashMap<Labels, usize> = HashMap::new();
    let mut series: Vec<Series> = Vec::new();
    let mut push = |labels: Labels, point: (i64, f64)| {
        let at = *positions.entry(labels.clone()).or_insert_with(|| {
            series.push(Series { labels, points: Vec::new() });
            series.len() - 1
        });
        series[at].points.push(point);
    };
    let mut time = start;
    while time <= end {
        match evaluator.eval(&expr, time)? {
            Value::Scalar(value) => push(Labels::default(), (time, value)),
            Value::Vector(mut samples) => {
                finish_name_drop(&mut samples);
                eval::check_unique(&samples)?;
                for sample in samples {
                    push(sample.labels, (time, sample.value));
                }
            }
            other => {
                return Err(QueryError::Execution(format!(
                    "a range query needs a scalar or instant vector expression, not a {}",
                    other.type_name()
                )))
            }
        }
        time += step;
    }
    series.sort_by(|a, b| a.labels.cmp(&b.labels));
    Ok(series)
}
