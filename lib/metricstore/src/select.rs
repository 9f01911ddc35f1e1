//! Reading series for a query from the head and the blocks. A [`Plan`] first finds, per
//! matching series, which sources hold its samples in which time ranges (downsampled tier
//! blocks where the query allows it, raw blocks and the head for the rest) without decoding
//! anything; [`Plan::map`] then decodes and merges one series at a time and maps it, so a
//! query that reduces each series as it comes never holds all their samples at once.

use std::sync::{
    atomic::{AtomicUsize, Ordering},
    Arc, OnceLock,
};

use crate::{
    block::{Block, Stream},
    downsample::RESOLUTIONS_MS,
    head::{Head, SeriesId, SeriesSamples},
    hints::SelectHints,
    labels::Labels,
    matcher::Matcher,
    merge::merge_samples,
};

/// Where one series' samples in one time range are.
#[derive(Debug, Clone, Copy)]
enum Part {
    /// Series `id` of block `block` (an index into the plan's blocks).
    Block {
        block: usize,
        id: u32,
        from: i64,
        to: i64,
        aggregate: Option<Aggregate>,
    },
    Head {
        id: SeriesId,
        from: i64,
        to: i64,
    },
}

/// Per matching series in label order, its parts from the oldest source to the newest (the
/// order [`merge_samples`] wants: on a shared timestamp the newer source wins).
pub struct Plan {
    /// Every part with its series' labels, sorted by labels; a series' parts are adjacent.
    parts: Vec<(Labels, Part)>,
    /// Each series' stretch of `parts`, in label order.
    series: Vec<std::ops::Range<usize>>,
    /// The time range read, in ms: with the series count, how much there is to decode.
    span_ms: i64,
}

/// Finds the parts of every series matching `matchers` in `[min_time, max_time]`. `blocks` are
/// those overlapping the range, sorted by resolution then time.
pub fn plan(
    head: &Head,
    blocks: &[Arc<Block>],
    matchers: &[Matcher],
    min_time: i64,
    max_time: i64,
    hints: &SelectHints,
) -> Plan {
    // Parts in the order their sources are read (oldest first), then sorted by labels once:
    // the sort is stable, so each series keeps that order. One list, not a map of lists: a
    // 5 m instant query over a few hundred series spent a sixth of its time building the map.
    let mut parts: Vec<(Labels, Part)> = Vec::new();
    // The stretches no tier block covers are read raw.
    let mut raw_ranges = vec![(min_time, max_time)];
    if let Some((resolution, aggregate)) = tier_for(hints) {
        let mut covered = Vec::new();
        for (index, block) in blocks.iter().enumerate().filter(|(_, b)| b.meta.resolution_ms == resolution) {
            let (from, to) = (min_time.max(block.meta.min_time), max_time.min(block.meta.max_time - 1));
            for (id, labels) in block.matching(matchers, from, to) {
                parts.push((labels, Part::Block { block: index, id, from, to, aggregate: Some(aggregate) }));
            }
            covered.push((block.meta.min_time, block.meta.max_time));
        }
        raw_ranges = uncovered(min_time, max_time, covered.into_iter());
    }
    let in_head = if raw_ranges.is_empty() { Vec::new() } else { head.matching(matchers) };
    for (from, to) in raw_ranges {
        for (index, block) in blocks.iter().enumerate().filter(|(_, b)| b.meta.resolution_ms == 0) {
            for (id, labels) in block.matching(matchers, from, to) {
                parts.push((labels, Part::Block { block: index, id, from, to, aggregate: None }));
            }
        }
        for (id, labels) in &in_head {
            parts.push((labels.clone(), Part::Head { id: *id, from, to }));
        }
    }
    parts.sort_by(|a, b| a.0.cmp(&b.0));
    let mut series = Vec::new();
    let mut start = 0;
    for end in 1..=parts.len() {
        if end == parts.len() || parts[end].0 != parts[start].0 {
            series.push(start..end);
            start = end;
        }
    }
    Plan { parts, series, span_ms: max_time.saturating_sub(min_time) }
}

/// Plans with less to decode than this many series-hours are read on the calling thread:
/// starting a thread costs more than it saves (a 5 m instant `rate` over 250 series stays on
/// one thread, over 8,000 series or over 1 h of 250 series it takes every core).
const PARALLEL_FROM_SERIES_HOURS: i64 = 150;

/// Series a worker thread takes at a time.
const SERIES_PER_TAKE: usize = 16;

impl Plan {
    /// Decodes and merges each series' samples and maps them with `map`, in label order;
    /// series without samples in the range are left out. Large plans are read on every core:
    /// decoding is most of a long-range query's time, and each series is read on its own.
    pub fn map<T: Send>(&self, head: &Head, blocks: &[Arc<Block>], map: impl Fn(SeriesSamples) -> T + Sync) -> Vec<T> {
        let read = |range: &std::ops::Range<usize>| {
            let parts = &self.parts[range.clone()];
            let samples = match parts {
                [(_, part)] => read_part(head, blocks, *part),
                _ => merge_samples(parts.iter().map(|(_, part)| read_part(head, blocks, *part)).collect()),
            };
            (!samples.is_empty()).then(|| map(SeriesSamples { labels: parts[0].0.clone(), samples }))
        };
        let threads = cores();
        let series_hours = (self.series.len() as i64).saturating_mul(self.span_ms / 60_000) / 60;
        if threads == 1 || self.series.len() < 2 * SERIES_PER_TAKE || series_hours < PARALLEL_FROM_SERIES_HOURS {
            return self.series.iter().filter_map(read).collect();
        }
        // Workers take the next few series until none are left; each keeps what it made
        // with the series' positions, and the parts are put back in order.
        let next = AtomicUsize::new(0);
        let work = || {
            let mut made = Vec::new();
            loop {
                let from = next.fetch_add(SERIES_PER_TAKE, Ordering::Relaxed);
                let Some(taken) = self.series.get(from..(from + SERIES_PER_TAKE).min(self.series.len())) else {
                    return made;
                };
                if taken.is_empty() {
                    return made;
                }
                made.push((from, taken.iter().filter_map(read).collect::<Vec<T>>()));
            }
        };
        let mut parts: Vec<(usize, Vec<T>)> = std::thread::scope(|scope| {
            let helpers: Vec<_> = (1..threads).map(|_| scope.spawn(work)).collect();
            let mut parts = work();
            for helper in helpers {
                // A panic in a worker is a bug in decoding; it surfaces here as it would have
                // on the calling thread.
                parts.extend(helper.join().unwrap_or_else(|panic| std::panic::resume_unwind(panic)));
            }
            parts
        });
        parts.sort_unstable_by_key(|(from, _)| *from);
        parts.into_iter().flat_map(|(_, made)| made).collect()
    }
}

/// Cores this process may use, looked up once (the lookup reads cgroup files).
fn cores() -> usize {
    static CORES: OnceLock<usize> = OnceLock::new();
    *CORES.get_or_init(|| std::thread::available_parallelism().map_or(1, |n| n.get()))
}

fn read_part(head: &Head, blocks: &[Arc<Block>], part: Part) -> Vec<(i64, f64)> {
    match part {
        Part::Head { id, from, to } => head.samples_of(id, from, to),
        Part::Block { block, id, from, to, aggregate: None } => blocks[block].samples_of(id, from, to, Stream::Raw),
        Part::Block { block, id, from, to, aggregate: Some(aggregate) } => {
            let block = &blocks[block];
            let mut samples = block.samples_of(id, from, to, aggregate.stream());
            if aggregate == Aggregate::Average {
                // Both streams have one sample per window, at the same times.
                let counts = block.samples_of(id, from, to, Stream::Count);
                for ((_, sum), (_, count)) in samples.iter_mut().zip(counts) {
                    *sum /= count;
                }
            }
            samples
        }
    }
}

/// The downsampled tier a query can read instead of raw samples, and how: only for functions
/// whose result over a tier's aggregates matches the raw result at window boundaries, only
/// when the query's window spans at least [`TIER_WINDOWS_PER_QUERY_WINDOW`] of the tier's
/// windows, and only when the query steps at least one tier window at a time (finer steps
/// want raw detail). The answer can differ from the raw one at the query window's edges (the
/// tier's first window may start before it, rate extrapolates from the first tier sample):
/// by at most about one tier window's share of the query window.
pub fn tier_for(hints: &SelectHints) -> Option<(i64, Aggregate)> {
    let aggregate = match hints.function.as_deref()? {
        "rate" | "increase" => Aggregate::Counter,
        "min_over_time" => Aggregate::Min,
        "max_over_time" => Aggregate::Max,
        "sum_over_time" => Aggregate::Sum,
        "avg_over_time" => Aggregate::Average,
        _ => return None,
    };
    let resolution = RESOLUTIONS_MS
        .iter()
        .rev()
        .copied()
        .find(|r| hints.range_ms >= TIER_WINDOWS_PER_QUERY_WINDOW * r && hints.step_ms >= *r)?;
    Some((resolution, aggregate))
}

/// A tier is read only by queries whose window spans this many of its windows: the edge
/// error stays within about a tenth.
pub const TIER_WINDOWS_PER_QUERY_WINDOW: i64 = 10;

/// Which aggregate of a downsampled tier stands in for raw samples.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Aggregate {
    Counter,
    Min,
    Max,
    Sum,
    /// Sum / count of each window.
    Average,
}

impl Aggregate {
    /// The tier stream that holds it (an average divides the sum stream by the count stream).
    fn stream(self) -> Stream {
        match self {
            Aggregate::Counter => Stream::Counter,
            Aggregate::Min => Stream::Min,
            Aggregate::Max => Stream::Max,
            Aggregate::Sum | Aggregate::Average => Stream::Sum,
        }
    }
}

/// The parts of `[min_time, max_time]` (inclusive) outside every half-open range of `covered`.
fn uncovered(min_time: i64, max_time: i64, covered: impl Iterator<Item = (i64, i64)>) -> Vec<(i64, i64)> {
    let mut covered: Vec<(i64, i64)> = covered.collect();
    covered.sort_unstable();
    let mut gaps = Vec::new();
    let mut next = min_time;
    for (from, to) in covered {
        if from > next {
            gaps.push((next, (from - 1).min(max_time)));
        }
        next = next.max(to);
        if next > max_time {
            break;
        }
    }
    if next <= max_time {
        gaps.push((next, max_time));
    }
    gaps.retain(|(from, to)| from <= to);
    gaps
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uncovered_stretches_are_the_gaps_between_tier_blocks() {
        assert_eq!(uncovered(0, 100, [].into_iter()), [(0, 100)]);
        assert_eq!(uncovered(0, 100, [(10, 20), (20, 50)].into_iter()), [(0, 9), (50, 100)]);
        assert_eq!(uncovered(0, 100, [(-5, 200)].into_iter()), []);
        assert_eq!(uncovered(0, 100, [(60, 70), (10, 20)].into_iter()), [(0, 9), (20, 59), (70, 100)]);
    }
}
