//! Aggregations: `sum`, `avg`, `min`, `max`, `count`, `group`, `stddev`, `stdvar`, `quantile`,
//! `topk` and `bottomk`, with `by` / `without`.

use std::collections::BTreeMap;

use promql_parser::parser::{AggregateExpr, LabelModifier};
use vigil_metricstore::Labels;

use crate::{
    error::{execution, unsupported, QueryError},
    eval::Evaluator,
    functions::{average, kahan_sum, quantile, scalar_arg, variance},
    value::{Sample, Value},
};

pub fn eval(evaluator: &mut Evaluator<'_>, aggregation: &AggregateExpr, time: i64) -> Result<Value, QueryError> {
    let op = aggregation.op.to_string().to_lowercase();
    let param = match (&aggregation.param, op.as_str()) {
        (Some(param), "topk" | "bottomk" | "quantile") => Some(scalar_arg(evaluator, param, time)?),
        (_, "sum" | "avg" | "min" | "max" | "count" | "group" | "stddev" | "stdvar") => None,
        _ => return Err(unsupported(format!("the aggregation {op}"))),
    };
    if matches!(op.as_str(), "topk" | "bottomk") && param.is_some_and(f64::is_nan) {
        return Err(execution(format!("{op}: the parameter value is NaN")));
    }
    let samples = match evaluator.eval(&aggregation.expr, time)? {
        Value::Vector(samples) => samples,
        other => return Err(execution(format!("{op} needs an instant vector, not a {}", other.type_name()))),
    };
    let mut groups: BTreeMap<Labels, Vec<Sample>> = BTreeMap::new();
    for sample in samples {
        let key = group_key(&sample.labels, aggregation.modifier.as_ref())?;
        groups.entry(key).or_default().push(sample);
    }
    let mut out = Vec::new();
    for (key, members) in groups {
        match op.as_str() {
            "topk" | "bottomk" => {
                let k = param.unwrap_or(f64::NAN);
                if k.is_nan() || k < 1.0 {
                    continue;
                }
                let mut ranked = members;
                // NaN ranks last either way.
                ranked.sort_by(|a, b| {
                    let order = match (a.value.is_nan(), b.value.is_nan()) {
                        (true, true) => std::cmp::Ordering::Equal,
                        (true, false) => return std::cmp::Ordering::Greater,
                        (false, true) => return std::cmp::Ordering::Less,
                        _ => a.value.total_cmp(&b.value),
                    };
                    if op == "topk" {
                        order.reverse()
                    } else {
                        order
                    }
                });
                out.extend(ranked.into_iter().take(k.min(1e9) as usize));
            }
            _ => {
                let mut values: Vec<f64> = members.iter().map(|s| s.value).collect();
                out.push(Sample { labels: key, value: combine(&op, &mut values, param) });
            }
        }
    }
    Ok(Value::Vector(out))
}

/// Whether `op` is one `combine` computes: one value per group, labelled by the group.
pub fn is_combining(op: &str) -> bool {
    matches!(op, "sum" | "avg" | "min" | "max" | "count" | "group" | "stddev" | "stdvar" | "quantile")
}

/// One group's value for a combining aggregation, from its members' values in input order
/// (`quantile` sorts them).
pub fn combine(op: &str, values: &mut [f64], param: Option<f64>) -> f64 {
    match op {
        "sum" => kahan_sum(values),
        "avg" => average(values),
        "min" => values.iter().copied().fold(f64::NAN, |a, b| if a.is_nan() || b < a { b } else { a }),
        "max" => values.iter().copied().fold(f64::NAN, |a, b| if a.is_nan() || b > a { b } else { a }),
        "count" => values.len() as f64,
        "group" => 1.0,
        "stddev" => variance(values).sqrt(),
        "stdvar" => variance(values),
        _ => quantile(param.unwrap_or(f64::NAN), values),
    }
}

/// The labels a sample is grouped by: those named in `by`, or all but those in `without`
/// (and the metric name).
pub fn group_key(labels: &Labels, modifier: Option<&LabelModifier>) -> Result<Labels, QueryError> {
    let key = match modifier {
        None => Labels::default(),
        Some(LabelModifier::Include(by)) => {
            Labels::unchecked(labels.iter().filter(|(name, _)| by.labels.iter().any(|l| l == name)))
                .map_err(|error| execution(error.to_string()))?
        }
        Some(LabelModifier::Exclude(without)) => Labels::unchecked(
            labels.iter().filter(|(name, _)| *name != "__name__" && !without.labels.iter().any(|l| l == name)),
        )
        .map_err(|error| execution(error.to_string()))?,
    };
    Ok(key)
}
