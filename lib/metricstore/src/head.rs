//! The head: every series in memory, its recent samples in compressed chunks, and an inverted
//! index (postings: label name → value → series ids) for selecting series by matchers.

use std::{
    collections::{BTreeMap, HashMap},
    sync::{Arc, Mutex, RwLock},
};

use crate::{
    chunk::{Chunk, ChunkEncoder},
    labels::Labels,
    matcher::Matcher,
};

/// A series' number in this head, in creation order.
pub type SeriesId = u32;

/// Why a sample was not appended.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum AppendError {
    #[error("sample at {time} is older than the series' last sample at {last}")]
    OutOfOrder { time: i64, last: i64 },
    #[error("another value for timestamp {time} was already stored")]
    Duplicate { time: i64 },
    #[error("no series with id {0}")]
    UnknownSeries(SeriesId),
}

/// One series' samples.
#[derive(Debug, Default)]
struct SeriesData {
    closed: Vec<Chunk>,
    open: ChunkEncoder,
    last_value: f64,
}

/// A selected series with its samples in the asked time range.
#[derive(Debug, Clone, PartialEq)]
pub struct SeriesSamples {
    pub labels: Labels,
    pub samples: Vec<(i64, f64)>,
}

#[derive(Debug, Default)]
struct Index {
    by_labels: HashMap<Labels, SeriesId>,
    labels: Vec<Labels>,
    /// Ids are created in increasing order, so each list stays sorted.
    postings: BTreeMap<String, BTreeMap<String, Vec<SeriesId>>>,
}

#[derive(Debug, Default)]
pub struct Head {
    index: RwLock<Index>,
    series: RwLock<Vec<Arc<Mutex<SeriesData>>>>,
}

impl Head {
    pub fn new() -> Head {
        Head::default()
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
        series.push(Arc::default());
        index.by_labels.insert(labels.clone(), id);
        index.labels.push(labels.clone());
        for (name, value) in labels.iter() {
            index.postings.entry(name.to_string()).or_default().entry(value.to_string()).or_default().push(id);
        }
        (id, true)
    }

    pub fn series_count(&self) -> usize {
        read(&self.index).labels.len()
    }

    pub fn labels_of(&self, id: SeriesId) -> Option<Labels> {
        read(&self.index).labels.get(id as usize).cloned()
    }

    /// Appends one sample: true when stored, false when that very sample was already the
    /// last one (a resent batch). An older sample, or another value at the same time, is
    /// refused.
    pub fn append(&self, id: SeriesId, time: i64, value: f64) -> Result<bool, AppendError> {
        let series = read(&self.series).get(id as usize).cloned().ok_or(AppendError::UnknownSeries(id))?;
        let mut data = series.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        let last = data.open.last_time().or_else(|| data.closed.last().map(|c| c.max_time));
        if let Some(last) = last {
            if time < last {
                return Err(AppendError::OutOfOrder { time, last });
            }
            if time == last {
                return if value.to_bits() == data.last_value.to_bits() {
                    Ok(false)
                } else {
                    Err(AppendError::Duplicate { time })
                };
            }
        }
        if data.open.is_full() {
            let chunk = data.open.to_chunk();
            data.closed.push(chunk);
            data.open = ChunkEncoder::default();
        }
        data.open.append(time, value);
        data.last_value = value;
        Ok(true)
    }

    /// Series matching every matcher, with their samples in `[min_time, max_time]`; series
    /// without samples there are left out. Sorted by labels.
    pub fn select(&self, matchers: &[Matcher], min_time: i64, max_time: i64) -> Vec<SeriesSamples> {
        let candidates: Vec<(SeriesId, Labels)> = {
            let index = read(&self.index);
            let ids = candidate_ids(&index, matchers);
            ids.into_iter()
                .map(|id| (id, index.labels[id as usize].clone()))
                .filter(|(_, labels)| matchers.iter().all(|m| m.matches(labels.get(&m.name).unwrap_or(""))))
                .collect()
        };
        let series = read(&self.series);
        let mut selected: Vec<SeriesSamples> = candidates
            .into_iter()
            .filter_map(|(id, labels)| {
                let data = series[id as usize].lock().unwrap_or_else(|poisoned| poisoned.into_inner());
                let samples = samples_in(&data, min_time, max_time);
                (!samples.is_empty()).then_some(SeriesSamples { labels, samples })
            })
            .collect();
        selected.sort_by(|a, b| a.labels.cmp(&b.labels));
        selected
    }

    /// Label names in use, sorted.
    pub fn label_names(&self) -> Vec<String> {
        read(&self.index).postings.keys().cloned().collect()
    }

    /// Values of label `name`, sorted.
    pub fn label_values(&self, name: &str) -> Vec<String> {
        read(&self.index).postings.get(name).map(|values| values.keys().cloned().collect()).unwrap_or_default()
    }
}

/// Ids the matchers could select: narrowed by every matcher that series without its label
/// fail, else every series. The caller still checks each matcher on each candidate.
fn candidate_ids(index: &Index, matchers: &[Matcher]) -> Vec<SeriesId> {
    let mut narrowed: Option<Vec<SeriesId>> = None;
    for matcher in matchers.iter().filter(|m| !m.matches_empty()) {
        let mut ids: Vec<SeriesId> = index
            .postings
            .get(&matcher.name)
            .map(|values| {
                values
                    .iter()
                    .filter(|(value, _)| matcher.matches(value))
                    .flat_map(|(_, ids)| ids.iter().copied())
                    .collect()
            })
            .unwrap_or_default();
        ids.sort_unstable();
        ids.dedup();
        narrowed = Some(match narrowed {
            None => ids,
            Some(previous) => intersect(&previous, &ids),
        });
    }
    narrowed.unwrap_or_else(|| (0..index.labels.len() as SeriesId).collect())
}

fn intersect(a: &[SeriesId], b: &[SeriesId]) -> Vec<SeriesId> {
    let (mut i, mut j, mut out) = (0, 0, Vec::new());
    while i < a.len() && j < b.len() {
        match a[i].cmp(&b[j]) {
            std::cmp::Ordering::Less => i += 1,
            std::cmp::Ordering::Greater => j += 1,
            std::cmp::Ordering::Equal => {
                out.push(a[i]);
                i += 1;
                j += 1;
            }
        }
    }
    out
}

fn samples_in(data: &SeriesData, min_time: i64, max_time: i64) -> Vec<(i64, f64)> {
    let in_range = |time: &i64| (min_time..=max_time).contains(time);
    let mut samples: Vec<(i64, f64)> = data
        .closed
        .iter()
        .filter(|chunk| chunk.max_time >= min_time && chunk.min_time <= max_time)
        .flat_map(Chunk::iter)
        .filter(|(time, _)| in_range(time))
        .collect();
    // The open chunk is read where it is, not copied.
    if data.open.last_time().is_some_and(|last| last >= min_time) {
        samples.extend(data.open.iter().filter(|(time, _)| in_range(time)));
    }
    samples
}

fn read<T>(lock: &RwLock<T>) -> std::sync::RwLockReadGuard<'_, T> {
    lock.read().unwrap_or_else(|poisoned| poisoned.into_inner())
}

fn write<T>(lock: &RwLock<T>) -> std::sync::RwLockWriteGuard<'_, T> {
    lock.write().unwrap_or_else(|poisoned| poisoned.into_inner())
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
