//! The head: every live series in memory, its recent samples in compressed chunks, and an
//! inverted index (postings) for selecting series by matchers.
//!
//! Chunks are cut at block boundaries (every `block_ms`), so the oldest closed chunks can be
//! handed to a block whole ([`Head::take_before`]) and then dropped ([`Head::drop_taken`]).
//! Samples older than a series' last one are accepted into a small sorted out-of-order buffer
//! when they are within the out-of-order window of the newest sample in the head.

use std::{
    collections::HashMap,
    sync::{
        atomic::{AtomicI64, Ordering},
        Arc, Mutex, RwLock,
    },
};

use crate::{
    chunk::{encode_all, Chunk, ChunkEncoder},
    labels::Labels,
    matcher::Matcher,
    merge::merge_samples,
    postings::{matches_all, unindexed, Postings},
    sync::{lock, read, write},
};

/// A series' number in this head, in creation order. Numbers are never reused.
pub type SeriesId = u32;

/// Why a sample was not appended.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum AppendError {
    #[error("sample at {time} is older than the series' last sample at {last} and outside the out-of-order window")]
    OutOfOrder { time: i64, last: i64 },
    #[error("another value for timestamp {time} was already stored")]
    Duplicate { time: i64 },
    #[error("no series with id {0}")]
    UnknownSeries(SeriesId),
}

/// How the head cuts chunks and which late samples it takes.
#[derive(Debug, Clone, Copy)]
pub struct HeadOptions {
    /// Chunks never straddle a multiple of this (the block length), in ms.
    pub block_ms: i64,
    /// A sample older than its series' last one is still accepted when it is at most this
    /// much older than the newest sample in the head (ms); 0 refuses every late sample.
    pub out_of_order_window_ms: i64,
}

impl Default for HeadOptions {
    fn default() -> Self {
        HeadOptions { block_ms: 2 * 3_600_000, out_of_order_window_ms: 0 }
    }
}

/// One series' samples.
#[derive(Debug, Default)]
struct SeriesData {
    closed: Vec<Chunk>,
    open: ChunkEncoder,
    last_value: f64,
    /// Late samples, sorted by time, with no time that the chunks also hold.
    out_of_order: Vec<(i64, f64)>,
}

impl SeriesData {
    fn last_time(&self) -> Option<i64> {
        self.open.last_time().or_else(|| self.closed.last().map(|c| c.max_time))
    }

    fn min_time(&self) -> Option<i64> {
        let chunks = self.closed.first().map(|c| c.min_time).or_else(|| self.open.min_time());
        match (chunks, self.out_of_order.first()) {
            (Some(a), Some((b, _))) => Some(a.min(*b)),
            (a, b) => a.or(b.map(|(t, _)| *t)),
        }
    }

    fn is_empty(&self) -> bool {
        self.closed.is_empty() && self.open.count() == 0 && self.out_of_order.is_empty()
    }

    /// The in-order sample stored at `time`, if any.
    fn in_order_at(&self, time: i64) -> Option<f64> {
        let closed = self.closed.iter().filter(|c| (c.min_time..=c.max_time).contains(&time));
        closed.flat_map(Chunk::iter).chain(self.open.iter()).find(|(t, _)| *t == time).map(|(_, v)| v)
    }
}

/// A selected series with its samples in the asked time range.
#[derive(Debug, Clone, PartialEq)]
pub struct SeriesSamples {
    pub labels: Labels,
    pub samples: Vec<(i64, f64)>,
}

/// What [`Head::take_before`] took from one series, for a block; [`Head::drop_taken`] then
/// removes exactly that from the head.
#[derive(Debug)]
pub struct Taken {
    pub id: SeriesId,
    pub labels: Labels,
    pub chunks: Vec<Chunk>,
    closed_taken: usize,
    out_of_order_taken: Vec<(i64, u64)>,
}

#[derive(Debug, Default)]
struct Index {
    by_labels: HashMap<Labels, SeriesId>,
    /// By id; `None` once a series was dropped.
    labels: Vec<Option<Labels>>,
    postings: Postings,
    live: usize,
}

#[derive(Debug)]
pub struct Head {
    options: HeadOptions,
    index: RwLock<Index>,
    series: RwLock<Vec<Option<Arc<Mutex<SeriesData>>>>>,
    max_time: AtomicI64,
}

impl Default for Head {
    fn default() -> Self {
        Head::with_options(HeadOptions::default())
    }
}

impl Head {
    pub fn new() -> Head {
        Head::default()
    }

    pub fn with_options(options: HeadOptions) -> Head {
        Head { options, index: RwLock::default(), series: RwLock::default(), max_time: AtomicI64::new(i64::MIN) }
    }

    pub fn options(&self) -> HeadOptions {
        self.options
    }

    /// The id of `labels`, creating the series if needed (true when created).
    pub fn series_id(&self, labels: &Labels) -> (SeriesId, bool) {
        if let Some(id) = read(&self.index).by_labels.get(labels) {
            return (*id, false);
        }
        let mut index = write(&self.index);
        if let Some(id) = index.by_labels.get(labels) {
            return (*id, false);
        }
        let mut series = write(&self.series);
        let id = series.len() as SeriesId;
        series.push(Some(Arc::default()));
        index.by_labels.insert(labels.clone(), id);
        index.labels.push(Some(labels.clone()));
        index.postings.add(id, labels);
        index.live += 1;
        (id, true)
    }

    /// The head's own copy of `labels` when it has the series (so blocks share it).
    pub fn intern(&self, labels: Labels) -> Labels {
        let index = read(&self.index);
        match index.by_labels.get_key_value(&labels) {
            Some((shared, _)) => shared.clone(),
            None => labels,
        }
    }

    pub fn series_count(&self) -> usize {
        read(&self.index).live
    }

    pub fn labels_of(&self, id: SeriesId) -> Option<Labels> {
        read(&self.index).labels.get(id as usize).cloned().flatten()
    }

    /// The newest sample time in the head, if any sample was appended.
    pub fn max_time(&self) -> Option<i64> {
        Some(self.max_time.load(Ordering::Relaxed)).filter(|t| *t != i64::MIN)
    }

    /// The oldest sample time in the head (a scan of every series).
    pub fn min_time(&self) -> Option<i64> {
        let series = read(&self.series);
        series.iter().flatten().filter_map(|s| lock(s).min_time()).min()
    }

    /// Appends one sample: true when stored, false when that very sample was already stored
    /// (a resent batch). A late sample outside the out-of-order window, or another value at a
    /// stored time, is refused.
    pub fn append(&self, id: SeriesId, time: i64, value: f64) -> Result<bool, AppendError> {
        self.append_within(id, time, value, self.options.out_of_order_window_ms)
    }

    /// Appends while replaying the log: every late sample the log holds was accepted once.
    pub fn append_replayed(&self, id: SeriesId, time: i64, value: f64) -> Result<bool, AppendError> {
        self.append_within(id, time, value, i64::MAX)
    }

    fn append_within(&self, id: SeriesId, time: i64, value: f64, window: i64) -> Result<bool, AppendError> {
        let series = read(&self.series).get(id as usize).cloned().flatten().ok_or(AppendError::UnknownSeries(id))?;
        let mut data = lock(&series);
        if let Some(last) = data.last_time() {
            if time == last {
                return if value.to_bits() == data.last_value.to_bits() {
                    Ok(false)
                } else {
                    Err(AppendError::Duplicate { time })
                };
            }
            if time < last {
                let newest = self.max_time().unwrap_or(last);
                if window == 0 || time < newest.saturating_sub(window) {
                    return Err(AppendError::OutOfOrder { time, last });
                }
                return append_late(&mut data, time, value);
            }
        }
        if data.open.must_close_before(time, self.options.block_ms) {
            let chunk = data.open.to_chunk();
            data.closed.push(chunk);
            data.open = ChunkEncoder::default();
        }
        data.open.append(time, value);
        data.last_value = value;
        self.max_time.fetch_max(time, Ordering::Relaxed);
        Ok(true)
    }

    /// Series matching every matcher, with their samples in `[min_time, max_time]`; series
    /// without samples there are left out. Sorted by labels.
    pub fn select(&self, matchers: &[Matcher], min_time: i64, max_time: i64) -> Vec<SeriesSamples> {
        let mut selected: Vec<SeriesSamples> = self
            .matching(matchers)
            .into_iter()
            .map(|(id, labels)| SeriesSamples { labels, samples: self.samples_of(id, min_time, max_time) })
            .filter(|series| !series.samples.is_empty())
            .collect();
        // Label sets are unique: an unstable sort gives the same order, without a buffer.
        selected.sort_unstable_by(|a, b| a.labels.cmp(&b.labels));
        selected
    }

    /// Ids and labels of the series matching every matcher, in no particular order; no sample
    /// is read.
    pub fn matching(&self, matchers: &[Matcher]) -> Vec<(SeriesId, Labels)> {
        let unindexed = unindexed(matchers);
        let index = read(&self.index);
        let ids = index.postings.candidate_ids(matchers, index.labels.len() as u32);
        ids.filter_map(|id| Some((id, index.labels[id as usize].clone()?)))
            .filter(|(_, labels)| unindexed.is_empty() || matches_all(&unindexed, labels))
            .collect()
    }

    /// The samples in `[min_time, max_time]` of the series `id` (from [`Head::matching`]).
    pub fn samples_of(&self, id: SeriesId, min_time: i64, max_time: i64) -> Vec<(i64, f64)> {
        let series = read(&self.series);
        match series.get(id as usize).and_then(Option::as_ref) {
            Some(data) => samples_in(&lock(data), min_time, max_time),
            None => Vec::new(),
        }
    }

    /// Labels of the series matching every matcher that have samples in `[min_time,
    /// max_time]`, without decoding them.
    pub fn series(&self, matchers: &[Matcher], min_time: i64, max_time: i64) -> Vec<Labels> {
        let index = read(&self.index);
        let series = read(&self.series);
        let ids = index.postings.candidate_ids(matchers, index.labels.len() as u32);
        ids.filter_map(|id| {
            let labels = index.labels[id as usize].as_ref().filter(|l| matches_all(matchers, l))?;
            let data = lock(series[id as usize].as_ref()?);
            let newest = data.last_time().max(data.out_of_order.last().map(|(t, _)| *t));
            let overlaps =
                data.min_time().is_some_and(|oldest| oldest <= max_time) && newest.is_some_and(|n| n >= min_time);
            overlaps.then(|| labels.clone())
        })
        .collect()
    }

    /// Label names in use, sorted.
    pub fn label_names(&self) -> Vec<String> {
        read(&self.index).postings.label_names().map(str::to_string).collect()
    }

    /// Values of label `name`, sorted.
    pub fn label_values(&self, name: &str) -> Vec<String> {
        read(&self.index).postings.label_values(name).map(str::to_string).collect()
    }

    /// Copies every sample before `before` (ms) out of the head, as chunks per series, sorted
    /// by labels. Open chunks that end before `before` are closed first, so samples appended
    /// from now on go to new chunks and stay in the head.
    pub fn take_before(&self, before: i64) -> Vec<Taken> {
        let all: Vec<(SeriesId, Labels)> = {
            let index = read(&self.index);
            index.labels.iter().enumerate().filter_map(|(id, l)| Some((id as SeriesId, l.clone()?))).collect()
        };
        let series = read(&self.series);
        let mut taken = Vec::new();
        for (id, labels) in all {
            let Some(slot) = series[id as usize].as_ref() else { continue };
            let mut data = lock(slot);
            if data.open.last_time().is_some_and(|last| last < before) {
                let chunk = data.open.to_chunk();
                data.closed.push(chunk);
                data.open = ChunkEncoder::default();
            }
            let closed_taken = data.closed.iter().take_while(|c| c.max_time < before).count();
            let late: Vec<(i64, f64)> = data.out_of_order.iter().copied().take_while(|(t, _)| *t < before).collect();
            if closed_taken == 0 && late.is_empty() {
                continue;
            }
            let chunks = if late.is_empty() {
                data.closed[..closed_taken].to_vec()
            } else {
                let in_order: Vec<(i64, f64)> = data.closed[..closed_taken].iter().flat_map(Chunk::iter).collect();
                encode_all(merge_samples(vec![in_order, late.clone()]), self.options.block_ms)
            };
            let out_of_order_taken = late.iter().map(|(t, v)| (*t, v.to_bits())).collect();
            taken.push(Taken { id, labels, chunks, closed_taken, out_of_order_taken });
        }
        taken.sort_by(|a, b| a.labels.cmp(&b.labels));
        taken
    }

    /// Removes what `take_before` took (now safe in a block); a series left with no samples
    /// is forgotten. Appends must not run meanwhile (the store holds its log lock).
    pub fn drop_taken(&self, taken: &[Taken]) {
        let mut emptied = Vec::new();
        {
            let series = read(&self.series);
            for entry in taken {
                let Some(slot) = series[entry.id as usize].as_ref() else { continue };
                let mut data = lock(slot);
                let count = entry.closed_taken.min(data.closed.len());
                data.closed.drain(..count);
                if !entry.out_of_order_taken.is_empty() {
                    data.out_of_order
                        .retain(|(t, v)| entry.out_of_order_taken.binary_search(&(*t, v.to_bits())).is_err());
                }
                if data.is_empty() {
                    emptied.push(entry.id);
                }
            }
        }
        if emptied.is_empty() {
            return;
        }
        let mut index = write(&self.index);
        let mut series = write(&self.series);
        for id in emptied {
            if let Some(labels) = index.labels[id as usize].take() {
                index.by_labels.remove(&labels);
                index.postings.remove(id, &labels);
                index.live -= 1;
            }
            series[id as usize] = None;
        }
    }

    /// Calls `visit` with every live series' id, labels and samples (closed chunks, the open
    /// chunk as a chunk, late samples): what a log checkpoint writes.
    pub fn for_each_series(&self, mut visit: impl FnMut(SeriesId, &Labels, &[Chunk], Option<Chunk>, &[(i64, f64)])) {
        let index = read(&self.index);
        let series = read(&self.series);
        for (id, labels) in index.labels.iter().enumerate() {
            let (Some(labels), Some(slot)) = (labels, series[id].as_ref()) else { continue };
            let data = lock(slot);
            let open = (data.open.count() > 0).then(|| data.open.to_chunk());
            visit(id as SeriesId, labels, &data.closed, open, &data.out_of_order);
        }
    }
}

/// Stores a late sample in the series' out-of-order buffer, unless that time is stored.
fn append_late(data: &mut SeriesData, time: i64, value: f64) -> Result<bool, AppendError> {
    let stored = match data.out_of_order.binary_search_by_key(&time, |(t, _)| *t) {
        Ok(at) => Some(data.out_of_order[at].1),
        Err(_) => data.in_order_at(time),
    };
    match stored {
        Some(old) if old.to_bits() == value.to_bits() => Ok(false),
        Some(_) => Err(AppendError::Duplicate { time }),
        None => {
            let at = data.out_of_order.partition_point(|(t, _)| *t < time);
            data.out_of_order.insert(at, (time, value));
            Ok(true)
        }
    }
}

/// Adds the samples of `iter` (in time order) in `[min_time, max_time]`, stopping after it.
fn extend_in_range(
    samples: &mut Vec<(i64, f64)>,
    iter: impl Iterator<Item = (i64, f64)>,
    min_time: i64,
    max_time: i64,
) {
    samples.extend(iter.skip_while(|(time, _)| *time < min_time).take_while(|(time, _)| *time <= max_time));
}

fn samples_in(data: &SeriesData, min_time: i64, max_time: i64) -> Vec<(i64, f64)> {
    let closed = data.closed.iter().filter(|chunk| chunk.max_time >= min_time && chunk.min_time <= max_time);
    let open = data.open.last_time().is_some_and(|last| last >= min_time).then_some(&data.open);
    let capacity =
        closed.clone().map(|chunk| chunk.count as usize).sum::<usize>() + open.map_or(0, |o| o.count() as usize);
    let mut samples = Vec::with_capacity(capacity);
    for chunk in closed {
        extend_in_range(&mut samples, chunk.iter(), min_time, max_time);
    }
    // The open chunk is read where it is, not copied, from its last resume point before
    // the range.
    if let Some(open) = open {
        extend_in_range(&mut samples, open.iter_from(min_time), min_time, max_time);
    }
    if data.out_of_order.is_empty() {
        return samples;
    }
    let late: Vec<(i64, f64)> =
        data.out_of_order.iter().copied().filter(|(t, _)| (min_time..=max_time).contains(t)).collect();
    merge_samples(vec![samples, late])
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::matcher::MatchOp;

    fn series(name: &str, pairs: &[(&str, &str)]) -> Labels {
        Labels::new(std::iter::once(("__name__", name)).chain(pairs.iter().copied())).unwrap()
    }

    fn names(selected: &[SeriesSamples]) -> Vec<String> {
        selected.iter().map(|s| s.labels.to_string()).collect()
    }

    #[test]
    fn matchers_select_through_the_postings_and_missing_labels_match_empty() {
        let head = Head::new();
        for (labels, value) in [
            (series("up", &[("job", "node"), ("instance", "a")]), 1.0),
            (series("up", &[("job", "api"), ("instance", "b")]), 0.0),
            (series("up", &[("instance", "c")]), 1.0),
            (series("down", &[("job", "node")]), 1.0),
        ] {
            let (id, created) = head.series_id(&labels);
            assert!(created);
            head.append(id, 1000, value).unwrap();
        }
        let up = Matcher::equal("__name__", "up");
        let all = |extra: Vec<Matcher>| {
            let mut matchers = vec![up.clone()];
            matchers.extend(extra);
            names(&head.select(&matchers, 0, 2000))
        };
        assert_eq!(all(vec![]).len(), 3);
        assert_eq!(all(vec![Matcher::equal("job", "node")]), [r#"up{instance="a", job="node"}"#]);
        assert_eq!(
            all(vec![Matcher::new("job", MatchOp::NotEqual, "node").unwrap()]).len(),
            2,
            "no job counts as \"\""
        );
        assert_eq!(all(vec![Matcher::new("job", MatchOp::Regex, "n.*|a.*").unwrap()]).len(), 2);
        assert_eq!(all(vec![Matcher::new("job", MatchOp::NotRegex, ".+").unwrap()]), [r#"up{instance="c"}"#]);
        assert_eq!(all(vec![Matcher::equal("job", "")]), [r#"up{instance="c"}"#]);
        assert!(head.select(&[up], 1001, 2000).is_empty(), "no samples in range, no series");
        assert_eq!(head.label_values("job"), ["api", "node"]);
        assert_eq!(head.label_names(), ["__name__", "instance", "job"]);
    }

    #[test]
    fn samples_span_chunks_and_out_of_order_or_conflicting_ones_are_refused() {
        let head = Head::new();
        let (id, _) = head.series_id(&series("x", &[]));
        for i in 0..500 {
            head.append(id, i * 15_000, i as f64).unwrap();
        }
        assert_eq!(head.append(id, 10, 1.0), Err(AppendError::OutOfOrder { time: 10, last: 499 * 15_000 }));
        assert_eq!(head.append(id, 499 * 15_000, 499.0), Ok(false), "the same sample again is accepted once");
        assert_eq!(head.append(id, 499 * 15_000, 1.0), Err(AppendError::Duplicate { time: 499 * 15_000 }));
        let selected = head.select(&[Matcher::equal("__name__", "x")], 100 * 15_000, 300 * 15_000);
        let samples = &selected[0].samples;
        assert_eq!(samples.len(), 201);
        assert_eq!(samples[0], (100 * 15_000, 100.0));
        assert_eq!(samples[200], (300 * 15_000, 300.0));
    }
}
