//! `histogram_quantile` over classic buckets (`le` labels). The per-step evaluator calls
//! [`histogram_quantile`]; the range query's series-major path (`range/aggregate.rs`) groups
//! the buckets once and calls [`bucket`] and [`quantile_of_buckets`] per step, so both compute
//! exactly the same thing.

use std::collections::BTreeMap;

use vigil_metricstore::{Labels, DROPPED_NAME};

use crate::{
    error::{execution, QueryError},
    value::{Sample, Value},
};

/// Which histogram a bucket series belongs to (its labels but `le` and the name), its `le`
/// text and its bound. None for a series that is not a bucket (no `le`, or not a number).
pub fn bucket(labels: &Labels) -> Option<Result<(Labels, &str, f64), QueryError>> {
    let le = labels.get("le")?;
    let bound = parse_bound(le)?;
    let group = Labels::unchecked(labels.iter().filter(|(n, _)| *n != "le" && *n != "__name__" && *n != DROPPED_NAME))
        .map_err(|error| execution(error.to_string()));
    Some(group.map(|group| (group, le, bound)))
}

/// histogram_quantile over one instant vector, per group of the other labels.
pub fn histogram_quantile(q: f64, samples: Vec<Sample>) -> Result<Value, QueryError> {
    // Per group: bucket label text → (bound, count). The same text twice is two series that
    // differ only by name; the same bound written two ways ("0.1", "1e-1") is one bucket.
    let mut groups: BTreeMap<Labels, BTreeMap<String, (f64, f64)>> = BTreeMap::new();
    for sample in samples {
        let Some(found) = bucket(&sample.labels) else { continue };
        let (group, le, bound) = found?;
        if groups.entry(group).or_default().insert(le.to_string(), (bound, sample.value)).is_some() {
            return Err(duplicate_bucket());
        }
    }
    Ok(Value::Vector(
        groups
            .into_iter()
            .map(|(labels, by_text)| {
                let mut buckets: Vec<(f64, f64)> = by_text.into_values().collect();
                Sample { labels, value: quantile_of_buckets(q, &mut buckets) }
            })
            .collect(),
    ))
}

pub fn duplicate_bucket() -> QueryError {
    execution("vector cannot contain metrics with the same labelset")
}

/// The q-quantile of one histogram's `(bound, count)` buckets, given in `le` text order.
/// Buckets with the same bound written two ways are added up first.
pub fn quantile_of_buckets(q: f64, buckets: &mut Vec<(f64, f64)>) -> f64 {
    // A stable sort, so equal bounds add up in `le` text order.
    buckets.sort_by(|a, b| a.0.total_cmp(&b.0));
    buckets.dedup_by(|next, kept| {
        let same = next.0 == kept.0;
        if same {
            kept.1 += next.1;
        }
        same
    });
    bucket_quantile(q, buckets)
}

fn parse_bound(text: &str) -> Option<f64> {
    match text {
        "+Inf" | "Inf" | "+inf" | "inf" => Some(f64::INFINITY),
        other => other.parse().ok(),
    }
}

/// The quantile of sorted, merged buckets, interpolating linearly inside a bucket.
fn bucket_quantile(q: f64, buckets: &mut [(f64, f64)]) -> f64 {
    if q.is_nan() {
        return f64::NAN;
    }
    if q < 0.0 {
        return f64::NEG_INFINITY;
    }
    if q > 1.0 {
        return f64::INFINITY;
    }
    if buckets.len() < 2 || buckets.last().is_none_or(|b| b.0 != f64::INFINITY) {
        return f64::NAN;
    }
    // Counts must not decrease with the bound (scrapes can be torn): carry the maximum.
    let mut max = f64::NEG_INFINITY;
    for bucket in buckets.iter_mut() {
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
