//! Counts per event-time bucket: the chart above a result list.

use std::time::Instant;

use tantivy::collector::{Count, HistogramCollector};

use super::{check_deadline, LogFilter};
use crate::{schema::names, LogReader, LogStoreError};

/// Most buckets one histogram may have.
pub const MAX_BUCKETS: i64 = 10_000;

#[derive(Debug, Clone, PartialEq)]
pub struct Histogram {
    pub interval_ms: i64,
    pub total: u64,
    /// (bucket start ms, count), ascending, empty buckets included.
    pub buckets: Vec<(i64, u64)>,
}

/// Buckets of `interval_ms` (chosen to give about 100 buckets when `None`) between the filter's
/// start and end; when those are open, the range of the stored events closes them.
pub fn histogram(
    reader: &LogReader,
    filter: &LogFilter,
    interval_ms: Option<i64>,
    deadline: Instant,
) -> Result<Histogram, LogStoreError> {
    let schema = reader.schema();
    let query = filter.to_query(schema)?;
    let searchers = reader.searchers()?;
    let (stored_min, stored_max) = stored_time_range(&searchers)?;
    let start = filter.start_ms.or(stored_min);
    let end = filter.end_ms.or(stored_max.map(|max| max + 1));
    let (Some(start), Some(end)) = (start, end) else {
        return Ok(Histogram { interval_ms: interval_ms.unwrap_or(60_000), total: 0, buckets: Vec::new() });
    };
    let span = (end - start).max(1);
    let interval_ms = match interval_ms {
        Some(interval) if interval <= 0 => {
            return Err(LogStoreError::OverLimit("interval must be positive".to_string()));
        }
        Some(interval) => interval,
        None => nice_interval(span / 100),
    };
    let first = start - start.rem_euclid(interval_ms);
    let count = (end - first + interval_ms - 1) / interval_ms;
    if count > MAX_BUCKETS {
        return Err(LogStoreError::OverLimit(format!(
            "{count} buckets of {interval_ms} ms, over the limit of {MAX_BUCKETS}: raise interval or narrow start/end"
        )));
    }
    let mut counts = vec![0u64; count.max(0) as usize];
    let mut total = 0;
    for searcher in &searchers {
        check_deadline(deadline)?;
        let collector =
            HistogramCollector::new::<i64>(names::TIMESTAMP.to_string(), first, interval_ms as u64, counts.len());
        let (matched, split_counts) = searcher.search(&*query, &(Count, collector))?;
        total += matched as u64;
        for (sum, add) in counts.iter_mut().zip(split_counts) {
            *sum += add;
        }
    }
    let buckets = counts.into_iter().enumerate().map(|(i, count)| (first + i as i64 * interval_ms, count)).collect();
    Ok(Histogram { interval_ms, total, buckets })
}

/// Smallest and largest event time stored, from fast-field metadata (no document is read).
fn stored_time_range(searchers: &[tantivy::Searcher]) -> Result<(Option<i64>, Option<i64>), LogStoreError> {
    let (mut min, mut max) = (None::<i64>, None::<i64>);
    for searcher in searchers {
        for segment in searcher.segment_readers() {
            if segment.num_docs() == 0 {
                continue;
            }
            let column = segment.fast_fields().i64(names::TIMESTAMP)?;
            min = Some(min.map_or(column.min_value(), |m| m.min(column.min_value())));
            max = Some(max.map_or(column.max_value(), |m| m.max(column.max_value())));
        }
    }
    Ok((min, max))
}

/// Rounds a raw interval up to a human one (1s, 5s, 1m, 1h, 1d, ...).
fn nice_interval(raw_ms: i64) -> i64 {
    const STEPS: [i64; 16] = [
        1, 10, 100, 1_000, 5_000, 10_000, 30_000, 60_000, 300_000, 600_000, 1_800_000, 3_600_000, 10_800_000,
        21_600_000, 43_200_000, 86_400_000,
    ];
    STEPS.into_iter().find(|step| *step >= raw_ms).unwrap_or_else(|| (raw_ms + 86_399_999) / 86_400_000 * 86_400_000)
}
