//! PromQL functions. The supported set is listed in `call`; any other answers "not supported".

use std::collections::BTreeMap;

use promql_parser::parser::{Call, Expr};
use vigil_metricstore::Labels;

use crate::{
    error::{execution, unsupported, QueryError},
    eval::Evaluator,
    value::{Sample, Series, Value},
};

pub fn call(evaluator: &mut Evaluator<'_>, call: &Call, time: i64) -> Result<Value, QueryError> {
    let name = call.func.name;
    let args: Vec<&Expr> = call.args.args.iter().map(|arg| arg.as_ref()).collect();
    let result = match name {
        "rate" | "increase" | "delta" | "irate" | "idelta" | "avg_over_time" | "min_over_time" | "max_over_time"
        | "sum_over_time" | "count_over_time" | "last_over_time" | "stddev_over_time" | "stdvar_over_time"
        | "present_over_time" => over_time(evaluator, name, arg(&args, 0)?, None, time)?,
        "quantile_over_time" => {
            let q = scalar_arg(evaluator, arg(&args, 0)?, time)?;
            over_time(evaluator, name, arg(&args, 1)?, Some(q), time)?
        }
        "abs" | "ceil" | "floor" | "exp" | "ln" | "log2" | "log10" | "sqrt" | "sgn" => {
            let f: fn(f64) -> f64 = match name {
                "abs" => f64::abs,
                "ceil" => f64::ceil,
                "floor" => f64::floor,
                "exp" => f64::exp,
                "ln" => f64::ln,
                "log2" => f64::log2,
                "log10" => f64::log10,
                "sqrt" => f64::sqrt,
                _ => |v: f64| {
                    if v > 0.0 {
                        1.0
                    } else if v < 0.0 {
                        -1.0
                    } else {
                        v
                    }
                },
            };
            map_vector(evaluator, arg(&args, 0)?, time, f)?
        }
        "round" => {
            let to_nearest = match args.get(1) {
                Some(expr) => scalar_arg(evaluator, expr, time)?,
                None => 1.0,
            };
            // Prometheus rounds half up, in units of `to_nearest`.
            let inverse = 1.0 / to_nearest;
            map_vector(evaluator, arg(&args, 0)?, time, move |v| (v * inverse + 0.5).floor() / inverse)?
        }
        "clamp_min" | "clamp_max" | "clamp" => {
            let (low, high) = match name {
                "clamp_min" => (scalar_arg(evaluator, arg(&args, 1)?, time)?, f64::INFINITY),
                "clamp_max" => (f64::NEG_INFINITY, scalar_arg(evaluator, arg(&args, 1)?, time)?),
                _ => (scalar_arg(evaluator, arg(&args, 1)?, time)?, scalar_arg(evaluator, arg(&args, 2)?, time)?),
            };
            if low > high {
                Value::Vector(Vec::new())
            } else {
                map_vector(evaluator, arg(&args, 0)?, time, move |v| v.max(low).min(high))?
            }
        }
        "time" => Value::Scalar(time as f64 / 1000.0),
        "vector" => Value::Vector(vec![Sample {
            labels: Labels::default(),
            value: scalar_arg(evaluator, arg(&args, 0)?, time)?,
        }]),
        "scalar" => match vector_arg(evaluator, arg(&args, 0)?, time)?.as_slice() {
            [only] => Value::Scalar(only.value),
            _ => Value::Scalar(f64::NAN),
        },
        "absent" => absent(evaluator, arg(&args, 0)?, time)?,
        "histogram_quantile" => {
            let q = scalar_arg(evaluator, arg(&args, 0)?, time)?;
            histogram_quantile(q, vector_arg(evaluator, arg(&args, 1)?, time)?)?
        }
        other => return Err(unsupported(format!("the function {other}()"))),
    };
    // Two results with the same labels (their names dropped) are refused at the end of the
    // query, not here: an aggregation on top may still tell them apart or merge them, as in
    // Prometheus 3, which drops names late.
    Ok(result)
}

fn arg<'e>(args: &[&'e Expr], index: usize) -> Result<&'e Expr, QueryError> {
    args.get(index).copied().ok_or_else(|| execution(format!("missing argument {}", index + 1)))
}

pub fn scalar_arg(evaluator: &mut Evaluator<'_>, expr: &Expr, time: i64) -> Result<f64, QueryError> {
    match evaluator.eval(expr, time)? {
        Value::Scalar(value) => Ok(value),
        other => Err(execution(format!("expected a scalar argument, got a {}", other.type_name()))),
    }
}

fn vector_arg(evaluator: &mut Evaluator<'_>, expr: &Expr, time: i64) -> Result<Vec<Sample>, QueryError> {
    match evaluator.eval(expr, time)? {
        Value::Vector(samples) => Ok(samples),
        other => Err(execution(format!("expected an instant vector argument, got a {}", other.type_name()))),
    }
}

fn map_vector(
    evaluator: &mut Evaluator<'_>,
    expr: &Expr,
    time: i64,
    f: impl Fn(f64) -> f64,
) -> Result<Value, QueryError> {
    let samples = vector_arg(evaluator, expr, time)?;
    Ok(Value::Vector(
        samples.into_iter().map(|s| Sample { labels: s.labels.without_name(), value: f(s.value) }).collect(),
    ))
}

/// Functions over a range vector, one output per series.
fn over_time(
    evaluator: &mut Evaluator<'_>,
    name: &str,
    expr: &Expr,
    q: Option<f64>,
    time: i64,
) -> Result<Value, QueryError> {
    let mut expr = expr;
    while let Expr::Paren(paren) = expr {
        expr = &paren.expr;
    }
    let Expr::MatrixSelector(selector) = expr else {
        return Err(match expr {
            Expr::Subquery(_) => unsupported("subqueries (expr[range:step])"),
            _ => execution(format!("{name}() needs a range vector such as metric[5m]")),
        });
    };
    let range = selector.range.as_millis() as i64;
    let (series, end) = evaluator.range_vector(selector, time, Some(name))?;
    let mut out = Vec::new();
    for Series { labels, points } in series {
        let values: Vec<f64> = points.iter().map(|(_, v)| *v).collect();
        let value = match name {
            "rate" => extrapolated(&points, end - range, end, true, true),
            "increase" => extrapolated(&points, end - range, end, true, false),
            "delta" => extrapolated(&points, end - range, end, false, false),
            "irate" | "idelta" => instant_delta(&points, name == "irate"),
            "avg_over_time" => Some(average(&values)),
            "min_over_time" => values.iter().copied().reduce(|a, b| if b < a || a.is_nan() { b } else { a }),
            "max_over_time" => values.iter().copied().reduce(|a, b| if b > a || a.is_nan() { b } else { a }),
            "sum_over_time" => Some(kahan_sum(&values)),
            "count_over_time" => Some(values.len() as f64),
            "last_over_time" => values.last().copied(),
            "present_over_time" => Some(1.0),
            "stddev_over_time" => Some(variance(&values).sqrt()),
            "stdvar_over_time" => Some(variance(&values)),
            "quantile_over_time" => Some(quantile(q.unwrap_or(f64::NAN), values)),
            _ => return Err(unsupported(format!("the function {name}()"))),
        };
        if let Some(value) = value {
            // Like Prometheus, only last_over_time keeps the metric name.
            let labels = if name == "last_over_time" { labels } else { labels.without_name() };
            out.push(Sample { labels, value });
        }
    }
    Ok(Value::Vector(out))
}

/// rate / increase / delta: the change over the window, extrapolated to its edges (at most
/// half a sample interval past the first and last samples, and for counters never below 0).
fn extrapolated(points: &[(i64, f64)], start: i64, end: i64, counter: bool, per_second: bool) -> Option<f64> {
    if points.len() < 2 {
        return None;
    }
    let (first_t, first_v) = points[0];
    let (last_t, last_v) = points[points.len() - 1];
    let mut result = last_v - first_v;
    if counter {
        // A drop is a counter reset: the value before it counted up too.
        for pair in points.windows(2) {
            if pair[1].1 < pair[0].1 {
                result += pair[0].1;
            }
        }
    }
    let sampled = (last_t - first_t) as f64 / 1000.0;
    let average_gap = sampled / (points.len() - 1) as f64;
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
fn instant_delta(points: &[(i64, f64)], rate: bool) -> Option<f64> {
    let [.., (t1, v1), (t2, v2)] = points else { return None };
    if !rate {
        return Some(v2 - v1);
    }
    let change = if v2 < v1 { *v2 } else { v2 - v1 };
    let seconds = (t2 - t1) as f64 / 1000.0;
    (seconds > 0.0).then(|| change / seconds)
}

pub fn mean(values: &[f64]) -> f64 {
    // Incremental, as Prometheus does, so large values do not overflow.
    let mut mean = 0.0f64;
    for (i, value) in values.iter().enumerate() {
        if value.is_infinite() && mean.is_infinite() && value.signum() != mean.signum() {
            return f64::NAN;
        }
        if mean.is_infinite() {
            continue;
        }
        if value.is_infinite() {
            mean = *value;
            continue;
        }
        mean += (value - mean) / (i + 1) as f64;
    }
    mean
}

pub fn variance(values: &[f64]) -> f64 {
    let (mut count, mut mean, mut m2) = (0.0, 0.0, 0.0);
    for value in values {
        count += 1.0;
        let delta = value - mean;
        mean += delta / count;
        m2 += delta * (value - mean);
    }
    if count == 0.0 {
        f64::NAN
    } else {
        m2 / count
    }
}

/// The q-quantile of `values` with linear interpolation between closest ranks.
pub fn quantile(q: f64, mut values: Vec<f64>) -> f64 {
    if values.is_empty() || q.is_nan() {
        return f64::NAN;
    }
    if q < 0.0 {
        return f64::NEG_INFINITY;
    }
    if q > 1.0 {
        return f64::INFINITY;
    }
    // NaN sorts first, as in Prometheus.
    values.sort_by(|a, b| match (a.is_nan(), b.is_nan()) {
        (true, true) => std::cmp::Ordering::Equal,
        (true, false) => std::cmp::Ordering::Less,
        (false, true) => std::cmp::Ordering::Greater,
        _ => a.total_cmp(b),
    });
    let rank = q * (values.len() - 1) as f64;
    let lower = rank.floor().max(0.0) as usize;
    let upper = (lower + 1).min(values.len() - 1);
    let weight = rank - rank.floor();
    values[lower] * (1.0 - weight) + values[upper] * weight
}

fn absent(evaluator: &mut Evaluator<'_>, expr: &Expr, time: i64) -> Result<Value, QueryError> {
    if !vector_arg(evaluator, expr, time)?.is_empty() {
        return Ok(Value::Vector(Vec::new()));
    }
    // The labels the selector pinned with `=` (each once) describe what is absent.
    let mut pinned: BTreeMap<String, Option<String>> = BTreeMap::new();
    if let Expr::VectorSelector(selector) = expr {
        for matcher in selector.matchers.matchers.iter().filter(|m| m.name != "__name__") {
            let equal = matches!(matcher.op, promql_parser::label::MatchOp::Equal);
            pinned
                .entry(matcher.name.clone())
                .and_modify(|value| *value = None)
                .or_insert(equal.then(|| matcher.value.clone()));
        }
    }
    let labels = Labels::unchecked(pinned.into_iter().filter_map(|(name, value)| Some((name, value?))))
        .map_err(|error| execution(error.to_string()))?;
    Ok(Value::Vector(vec![Sample { labels, value: 1.0 }]))
}

/// histogram_quantile over classic buckets (`le` labels), per group of the other labels.
fn histogram_quantile(q: f64, samples: Vec<Sample>) -> Result<Value, QueryError> {
    // Per group: bucket label text → (bound, count). The same text twice is two series that
    // differ only by name; the same bound written two ways ("0.1", "1e-1") is one bucket.
    let mut groups: BTreeMap<Labels, BTreeMap<String, (f64, f64)>> = BTreeMap::new();
    for sample in samples {
        let Some(le) = sample.labels.get("le") else { continue };
        let Some(bound) = parse_bound(le) else { continue };
        let group = Labels::unchecked(sample.labels.iter().filter(|(n, _)| *n != "le" && *n != "__name__"))
            .map_err(|error| execution(error.to_string()))?;
        if groups.entry(group).or_default().insert(le.to_string(), (bound, sample.value)).is_some() {
            return Err(execution("vector cannot contain metrics with the same labelset"));
        }
    }
    let groups = groups.into_iter().map(|(labels, by_text)| {
        let mut merged: Vec<(f64, f64)> = Vec::new();
        let mut buckets: Vec<(f64, f64)> = by_text.into_values().collect();
        buckets.sort_by(|a, b| a.0.total_cmp(&b.0));
        for (bound, count) in buckets {
            match merged.last_mut() {
                Some(last) if last.0 == bound => last.1 += count,
                _ => merged.push((bound, count)),
            }
        }
        (labels, merged)
    });
    Ok(Value::Vector(groups.map(|(labels, buckets)| Sample { labels, value: bucket_quantile(q, buckets) }).collect()))
}

fn parse_bound(text: &str) -> Option<f64> {
    match text {
        "+Inf" | "Inf" | "+inf" | "inf" => Some(f64::INFINITY),
        other => other.parse().ok(),
    }
}

fn bucket_quantile(q: f64, mut buckets: Vec<(f64, f64)>) -> f64 {
    if q.is_nan() {
        return f64::NAN;
    }
    if q < 0.0 {
        return f64::NEG_INFINITY;
    }
    if q > 1.0 {
        return f64::INFINITY;
    }
    buckets.sort_by(|a, b| a.0.total_cmp(&b.0));
    if buckets.len() < 2 || buckets.last().is_none_or(|b| b.0 != f64::INFINITY) {
        return f64::NAN;
    }
    // Counts must not decrease with the bound (scrapes can be torn): carry the maximum.
    let mut max = f64::NEG_INFINITY;
    for bucket in &mut buckets {
        max = max.max(bucket.1);
        bucket.1 = max;
    }
    let observations = buckets[buckets.len() - 1].1;
    if observations == 0.0 || observations.is_nan() {
        return f64::NAN;
    }
    let mut rank = q * observations;
    let index = buckets.partition_point(|b| b.1 < rank);
    if index >= buckets.len() - 1 {
        return buckets[buckets.len() - 2].0;
    }
    if index == 0 && buckets[0].0 <= 0.0 {
        return buckets[0].0;
    }
    let (mut start, end, mut count) = (0.0, buckets[index].0, buckets[index].1);
    if index > 0 {
        start = buckets[index - 1].0;
        count -= buckets[index - 1].1;
        rank -= buckets[index - 1].1;
    }
    start + (end - start) * (rank / count)
}

/// Sum with Kahan compensation, as Prometheus sums, so large and small values mix exactly.
pub fn kahan_sum(values: &[f64]) -> f64 {
    let (mut sum, mut compensation) = (0.0f64, 0.0f64);
    for value in values {
        let t = sum + value;
        if sum.abs() >= value.abs() {
            compensation += (sum - t) + value;
        } else {
            compensation += (value - t) + sum;
        }
        sum = t;
    }
    if sum.is_infinite() {
        sum
    } else {
        sum + compensation
    }
}

pub fn average(values: &[f64]) -> f64 {
    let sum = kahan_sum(values);
    if sum.is_finite() || values.iter().any(|v| v.is_infinite() || v.is_nan()) {
        sum / values.len() as f64
    } else {
        // The sum overflowed: fall back to an incremental mean.
        mean(values)
    }
}
