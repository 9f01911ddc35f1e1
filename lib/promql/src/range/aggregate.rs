//! Aggregations and `histogram_quantile` over columns. Each input column's group is worked
//! out once for the whole query (the per-step evaluator builds every group key again at every
//! step); then each group's members are combined step by step with the same functions the
//! per-step evaluator uses, in the same order, so the results are the same to the bit.

use std::collections::{BTreeMap, HashMap};

use promql_parser::parser::LabelModifier;
use vigil_metricstore::Labels;

use super::columns::{Column, Steps};
use crate::{
    aggregate::{combine, group_labels, group_pairs, key_labels},
    error::QueryError,
    histogram::{bucket, duplicate_bucket, quantile_of_buckets},
};

/// A group's member columns, in input order, and whether any member's name was set aside.
type Group<'a> = (Vec<&'a Column>, bool);

/// A combining aggregation (`sum`, `avg`, ... see [`crate::aggregate::is_combining`]) at every
/// step. Groups come out in label order, as the per-step evaluator gives them.
pub fn combine_groups(
    op: &str,
    param: Option<f64>,
    modifier: Option<&LabelModifier>,
    input: &[Column],
    steps: Steps,
) -> Result<Vec<Column>, QueryError> {
    // Grouped by the borrowed pairs of each key; a key's labels are built once per group,
    // not once per member, and the groups sorted once.
    let mut by_pairs: HashMap<Vec<(&str, &str)>, Group<'_>> = HashMap::new();
    for column in input {
        let (pairs, dropped) = group_pairs(&column.labels, modifier);
        let group = by_pairs.entry(pairs).or_default();
        group.0.push(column);
        group.1 |= dropped;
    }
    let mut groups: Vec<(Labels, Group<'_>)> = Vec::with_capacity(by_pairs.len());
    for (pairs, group) in by_pairs {
        groups.push((key_labels(&pairs)?, group));
    }
    // Keys are unique: an unstable sort gives the one order.
    groups.sort_unstable_by(|a, b| a.0.cmp(&b.0));
    let mut values: Vec<f64> = Vec::new();
    Ok(groups
        .into_iter()
        .filter_map(|(key, (members, dropped))| {
            let results = (0..steps.count)
                .map(|index| {
                    values.clear();
                    values.extend(members.iter().filter_map(|member| member.values[index]));
                    // A group with no member at this step is not in that step's result.
                    (!values.is_empty()).then(|| combine(op, &mut values, param))
                })
                .collect();
            Column::non_empty(group_labels(key, dropped), results)
        })
        .collect())
}

/// `histogram_quantile(q, input)` at every step, one column per histogram, in label order.
pub fn histogram_quantile(q: f64, input: &[Column], steps: Steps) -> Result<Vec<Column>, QueryError> {
    // Per histogram: its buckets' `le` text, bound and values, in `le` text order (the order
    // the per-step evaluator adds equal bounds in).
    let mut histograms: BTreeMap<Labels, Vec<(&str, f64, &Column)>> = BTreeMap::new();
    for column in input {
        let Some(found) = bucket(&column.labels) else { continue };
        let (group, le, bound) = found?;
        histograms.entry(group).or_default().push((le, bound, column));
    }
    let mut buckets: Vec<(f64, f64)> = Vec::new();
    let mut out = Vec::new();
    for (labels, mut members) in histograms {
        members.sort_by(|a, b| a.0.cmp(b.0));
        let mut results = Vec::with_capacity(steps.count);
        for index in 0..steps.count {
            buckets.clear();
            let mut last_le = None;
            for &(le, bound, column) in &members {
                let Some(count) = column.values[index] else { continue };
                // Two series that differ only by name: refused, as at one step.
                if last_le.replace(le) == Some(le) {
                    return Err(duplicate_bucket());
                }
                buckets.push((bound, count));
            }
            results.push((!buckets.is_empty()).then(|| quantile_of_buckets(q, &mut buckets)));
        }
        out.extend(Column::non_empty(labels, results));
    }
    Ok(out)
}
