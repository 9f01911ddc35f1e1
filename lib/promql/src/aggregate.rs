//! Aggregations: `sum`, `avg`, `min`, `max`, `count`, `group`, `stddev`, `stdvar`, `quantile`,
//! `topk` and `bottomk`, with `by` / `without`.

use std::collections::BTreeMap;

use promql_parser::parser::{AggregateExpr, LabelModifier};
use vigil_metricstore::{Labels, DROPPED_NAME};

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
    let mut groups: BTreeMap<Labels, (Vec<Sample>, bool)> = BTreeMap::new();
    for sample in samples {
        let (key, dropped) = group_key(&sample.labels, aggregation.modifier.as_ref())?;
        let group = groups.entry(key).or_default();
        group.0.push(sample);
        group.1 |= dropped;
    }
    let mut out = Vec::new();
    for (key, (members, dropped)) in groups {
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
                out.push(Sample { labels: group_labels(key, dropped), value: combine(&op, &mut values, param) });
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
/// (and the metric name). With `by (__name__)` a name set aside to be dropped still groups
/// (Prometheus 3); the bool says this sample's name was set aside.
pub fn group_key(labels: &Labels, modifier: Option<&LabelModifier>) -> Result<(Labels, bool), QueryError> {
    let (pairs, dropped) = group_pairs(labels, modifier);
    Ok((key_labels(&pairs)?, dropped))
}

/// The pairs [`group_key`] makes its key of, borrowed from `labels`, in one order for every
/// series: equal pairs mean the same group, so many series can be grouped before any key is
/// built.
pub fn group_pairs<'a>(labels: &'a Labels, modifier: Option<&LabelModifier>) -> (Vec<(&'a str, &'a str)>, bool) {
    match modifier {
        None => (Vec::new(), false),
        Some(LabelModifier::Include(by)) => {
            let name = by.labels.iter().any(|l| l == "__name__").then(|| labels.name_for_grouping()).flatten();
            let others =
                labels.iter().filter(|(label, _)| *label != "__name__" && by.labels.iter().any(|l| l == label));
            let pairs = others.chain(name.map(|(name, _)| ("__name__", name))).collect();
            (pairs, name.is_some_and(|(_, dropped)| dropped))
        }
        Some(LabelModifier::Exclude(without)) => {
            let kept = labels.iter().filter(|(name, _)| {
                *name != "__name__" && *name != DROPPED_NAME && !without.labels.iter().any(|l| l == name)
            });
            (kept.collect(), false)
        }
    }
}

/// A group's key from its pairs (see [`group_pairs`]).
pub fn key_labels(pairs: &[(&str, &str)]) -> Result<Labels, QueryError> {
    if pairs.is_empty() {
        return Ok(Labels::default());
    }
    Labels::unchecked(pairs.iter().copied()).map_err(|error| execution(error.to_string()))
}

/// A group's labels: its key, with the name set aside when any member's was.
pub fn group_labels(key: Labels, dropped: bool) -> Labels {
    if dropped {
        key.with_name_dropped()
    } else {
        key
    }
}
