//! Binary operators: arithmetic, comparisons (filtering, or 0/1 with `bool`) and the set
//! operators `and`, `or`, `unless`, with `on` / `ignoring` and `group_left` / `group_right`.

use std::collections::{HashMap, HashSet};

use promql_parser::parser::{BinModifier, BinaryExpr, LabelModifier, VectorMatchCardinality};
use vigil_metricstore::{Labels, DROPPED_NAME};

use crate::{
    error::{execution, unsupported, QueryError},
    eval::{check_unique, Evaluator},
    value::{Sample, Value},
};

pub fn eval(evaluator: &mut Evaluator<'_>, binary: &BinaryExpr, time: i64) -> Result<Value, QueryError> {
    let op = binary.op.to_string().to_lowercase();
    if let Some(modifier) = &binary.modifier {
        if modifier.fill_values.lhs.is_some() || modifier.fill_values.rhs.is_some() {
            return Err(unsupported("fill modifiers on binary operators"));
        }
    }
    let return_bool = binary.return_bool();
    let comparison = binary.op.is_comparison_operator();
    let lhs = evaluator.eval(&binary.lhs, time)?;
    let rhs = evaluator.eval(&binary.rhs, time)?;
    match (lhs, rhs) {
        (Value::Scalar(l), Value::Scalar(r)) => {
            let (value, keep) = apply(&op, l, r)?;
            Ok(Value::Scalar(if comparison { f64::from(u8::from(keep)) } else { value }))
        }
        (Value::Vector(vector), Value::Scalar(scalar)) => {
            with_scalar(&op, vector, scalar, false, comparison, return_bool).map(Value::Vector)
        }
        (Value::Scalar(scalar), Value::Vector(vector)) => {
            with_scalar(&op, vector, scalar, true, comparison, return_bool).map(Value::Vector)
        }
        (Value::Vector(lhs), Value::Vector(rhs)) => {
            let modifier = binary.modifier.as_ref();
            let result = match op.as_str() {
                "and" | "or" | "unless" => set_operation(&op, lhs, rhs, modifier),
                _ => match_vectors(&op, lhs, rhs, modifier, comparison, return_bool)?,
            };
            Ok(Value::Vector(result))
        }
        (l, r) => Err(execution(format!("{op} cannot combine a {} and a {}", l.type_name(), r.type_name()))),
    }
}

/// The operator on two values: the arithmetic result, and for comparisons whether it holds.
pub fn apply(op: &str, l: f64, r: f64) -> Result<(f64, bool), QueryError> {
    Ok(match op {
        "+" => (l + r, true),
        "-" => (l - r, true),
        "*" => (l * r, true),
        "/" => (l / r, true),
        "%" => (l % r, true),
        "^" => (l.powf(r), true),
        "atan2" => (l.atan2(r), true),
        "==" => (l, l == r),
        "!=" => (l, l != r),
        ">" => (l, l > r),
        "<" => (l, l < r),
        ">=" => (l, l >= r),
        "<=" => (l, l <= r),
        other => return Err(unsupported(format!("the operator {other}"))),
    })
}

fn with_scalar(
    op: &str,
    vector: Vec<Sample>,
    scalar: f64,
    scalar_on_left: bool,
    comparison: bool,
    return_bool: bool,
) -> Result<Vec<Sample>, QueryError> {
    let mut out = Vec::with_capacity(vector.len());
    for sample in vector {
        let (l, r) = if scalar_on_left { (scalar, sample.value) } else { (sample.value, scalar) };
        let (value, keep) = apply(op, l, r)?;
        if comparison && !return_bool {
            // A filter keeps the vector's element as it was.
            if keep {
                out.push(sample);
            }
            continue;
        }
        let value = if comparison { f64::from(u8::from(keep)) } else { value };
        out.push(Sample { labels: sample.labels.with_name_dropped(), value });
    }
    if !comparison || return_bool {
        check_unique(&out)?;
    }
    Ok(out)
}

/// The metric name, kept or set aside to be dropped.
fn is_name(label: &str) -> bool {
    label == "__name__" || label == DROPPED_NAME
}

/// The labels two elements are matched on.
fn signature(labels: &Labels, modifier: Option<&BinModifier>) -> Labels {
    let matching = modifier.and_then(|m| m.matching.as_ref());
    let kept = labels.iter().filter(|(name, _)| match matching {
        Some(LabelModifier::Include(on)) => on.labels.iter().any(|l| l == name),
        Some(LabelModifier::Exclude(ignoring)) => !is_name(name) && !ignoring.labels.iter().any(|l| l == name),
        None => !is_name(name),
    });
    Labels::unchecked(kept).unwrap_or_default()
}

fn set_operation(op: &str, lhs: Vec<Sample>, rhs: Vec<Sample>, modifier: Option<&BinModifier>) -> Vec<Sample> {
    let right: HashSet<Labels> = rhs.iter().map(|s| signature(&s.labels, modifier)).collect();
    match op {
        "and" => lhs.into_iter().filter(|s| right.contains(&signature(&s.labels, modifier))).collect(),
        "unless" => lhs.into_iter().filter(|s| !right.contains(&signature(&s.labels, modifier))).collect(),
        _ => {
            let left: HashSet<Labels> = lhs.iter().map(|s| signature(&s.labels, modifier)).collect();
            let mut out = lhs;
            out.extend(rhs.into_iter().filter(|s| !left.contains(&signature(&s.labels, modifier))));
            out
        }
    }
}

fn match_vectors(
    op: &str,
    lhs: Vec<Sample>,
    rhs: Vec<Sample>,
    modifier: Option<&BinModifier>,
    comparison: bool,
    return_bool: bool,
) -> Result<Vec<Sample>, QueryError> {
    let card = modifier.map(|m| &m.card).unwrap_or(&VectorMatchCardinality::OneToOne);
    // Iterate over the "many" side; look the other side up by signature.
    let (many, one, swapped) = match card {
        VectorMatchCardinality::OneToMany(_) => (rhs, lhs, true),
        VectorMatchCardinality::ManyToMany => return Err(execution("many-to-many matching is only for and/or/unless")),
        _ => (lhs, rhs, false),
    };
    let mut by_signature: HashMap<Labels, &Sample> = HashMap::new();
    for sample in &one {
        if by_signature.insert(signature(&sample.labels, modifier), sample).is_some() {
            let side = if swapped { "left" } else { "right" };
            return Err(execution(format!(
                "found duplicate series for the match group on the {side} hand-side of the operation: many-to-many matching not allowed: matching labels must be unique on one side"
            )));
        }
    }
    let one_to_one = matches!(card, VectorMatchCardinality::OneToOne);
    let mut matched_signatures = HashSet::new();
    let mut out = Vec::new();
    for sample in &many {
        let key = signature(&sample.labels, modifier);
        let Some(other) = by_signature.get(&key) else { continue };
        if one_to_one && !matched_signatures.insert(key.clone()) {
            return Err(execution(
                "multiple matches for labels: many-to-one matching must be explicit (group_left/group_right)",
            ));
        }
        let (l, r) = if swapped { (other.value, sample.value) } else { (sample.value, other.value) };
        let (value, keep) = apply(op, l, r)?;
        let value = if comparison {
            if return_bool {
                f64::from(u8::from(keep))
            } else if keep {
                value
            } else {
                continue;
            }
        } else {
            value
        };
        let labels = result_labels(&sample.labels, &other.labels, card, modifier, !comparison || return_bool);
        out.push(Sample { labels, value });
    }
    if !one_to_one {
        let mut seen = HashSet::new();
        if out.iter().any(|s| !seen.insert(s.labels.clone())) {
            return Err(execution("multiple matches for labels: grouping labels must ensure unique matches"));
        }
    }
    Ok(out)
}

/// The labels of a matched pair's result, from the "many" side's labels.
fn result_labels(
    many: &Labels,
    one: &Labels,
    card: &VectorMatchCardinality,
    modifier: Option<&BinModifier>,
    drop_name: bool,
) -> Labels {
    let mut pairs: Vec<(String, String)> = many
        .iter()
        .filter(|(name, _)| !(drop_name && is_name(name)))
        .map(|(n, v)| (n.to_string(), v.to_string()))
        .collect();
    match card {
        VectorMatchCardinality::OneToOne => match modifier.and_then(|m| m.matching.as_ref()) {
            Some(LabelModifier::Include(on)) => pairs.retain(|(name, _)| on.labels.iter().any(|l| l == name)),
            Some(LabelModifier::Exclude(ignoring)) => {
                pairs.retain(|(name, _)| !ignoring.labels.iter().any(|l| l == name))
            }
            None => {}
        },
        VectorMatchCardinality::ManyToOne(include) | VectorMatchCardinality::OneToMany(include) => {
            for name in &include.labels {
                pairs.retain(|(n, _)| n != name);
                if let Some(value) = one.get(name) {
                    pairs.push((name.clone(), value.to_string()));
                }
            }
        }
        VectorMatchCardinality::ManyToMany => {}
    }
    Labels::unchecked(pairs).unwrap_or_default()
}
