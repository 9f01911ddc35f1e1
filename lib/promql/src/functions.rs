//! PromQL functions. The supported set is listed in `call`; any other answers "not supported".

use std::collections::BTreeMap;

use promql_parser::parser::{Call, Expr};
use vigil_metricstore::Labels;

use crate::{
    error::{execution, unsupported, QueryError},
    eval::Evaluator,
    histogram,
    over_time::WindowFunction,
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
            let f = math_function(name).ok_or_else(|| unsupported(format!("the function {name}()")))?;
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
            histogram::histogram_quantile(q, vector_arg(evaluator, arg(&args, 1)?, time)?)?
        }
        other => return Err(unsupported(format!("the function {other}()"))),
    };
    // Two results with the same labels (their names dropped) are refused at the end of the
    // query, not here: an aggregation on top may still tell them apart or merge them, as in
    // Prometheus 3, which drops names late.
    Ok(result)
}

/// The function of one value called `name` (`abs`, `ceil`, ...), if it is one.
pub fn math_function(name: &str) -> Option<fn(f64) -> f64> {
    Some(match name {
        "abs" => f64::abs,
        "ceil" => f64::ceil,
        "floor" => f64::floor,
        "exp" => f64::exp,
        "ln" => f64::ln,
        "log2" => f64::log2,
        "log10" => f64::log10,
        "sqrt" => f64::sqrt,
        "sgn" => |v: f64| {
            if v > 0.0 {
                1.0
            } else if v < 0.0 {
                -1.0
            } else {
                v
            }
        },
        _ => return None,
    })
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
        samples.into_iter().map(|s| Sample { labels: s.labels.with_name_dropped(), value: f(s.value) }).collect(),
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
    let function = WindowFunction::parse(name, q.unwrap_or(f64::NAN))
        .ok_or_else(|| unsupported(format!("the function {name}()")))?;
    let range = selector.range.as_millis() as i64;
    let (series, end) = evaluator.range_vector(selector, time, Some(name))?;
    let mut out = Vec::new();
    for Series { labels, points } in series {
        let (times, values): (Vec<i64>, Vec<f64>) = points.into_iter().unzip();
        if let Some(value) = function.apply(&times, &values, range, end) {
            let labels = if function.keeps_name() { labels } else { labels.with_name_dropped() };
            out.push(Sample { labels, value });
        }
    }
    Ok(Value::Vector(out))
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

/// The q-quantile of `values` with linear interpolation between closest ranks (sorts them).
pub fn quantile(q: f64, values: &mut [f64]) -> f64 {
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
