//! [`MetricStore`]: the head and its write-ahead log together. A batch is applied to the head,
//! the accepted samples (and any new series) are logged with the bus offsets they cover, and
//! the log is fsynced before `append` returns: what it acknowledges survives a crash.

use std::{
    collections::{BTreeMap, HashMap},
    path::Path,
    sync::Mutex,
};

use crate::{
    head::{AppendError, Head, SeriesSamples},
    hints::SelectHints,
    labels::Labels,
    matcher::Matcher,
    wal::{Record, Wal},
};

/// What an append did with its samples.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct AppendReport {
    pub appended: u64,
    /// Already stored (a resent batch): accepted, not stored twice.
    pub duplicates: u64,
    /// Older than the series' last sample.
    pub out_of_order: u64,
    /// A different value for a timestamp already stored.
    pub conflicting: u64,
}

/// What opening found in the log.
#[derive(Debug, Default, Clone)]
pub struct Recovered {
    pub series: usize,
    pub samples: u64,
    /// Bytes cut from a torn log tail (never acknowledged).
    pub truncated_bytes: u64,
    /// The bus position the recovered samples cover: resume consuming here.
    pub offsets: BTreeMap<i32, i64>,
}

pub struct MetricStore {
    head: Head,
    log: Mutex<Log>,
    /// Type, help and unit per metric family, as last sent. Kept in memory only: scrapes and
    /// remote-write senders send them again regularly.
    metadata: std::sync::RwLock<BTreeMap<String, Metadata>>,
}

/// A metric family's type (`counter`, `gauge`, ...), help and unit.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Metadata {
    pub kind: String,
    pub help: String,
    pub unit: String,
}

struct Log {
    wal: Wal,
    offsets: BTreeMap<i32, i64>,
}

impl MetricStore {
    /// Opens the store in `dir` (creating it), replaying its log into memory.
    pub fn open(dir: &Path) -> std::io::Result<(MetricStore, Recovered)> {
        let (wal, replayed) = Wal::open(&dir.join("wal"))?;
        let head = Head::new();
        let mut recovered = Recovered { truncated_bytes: replayed.truncated_bytes, ..Recovered::default() };
        // Log ids are the head's ids of the run that wrote them; map them to this run's.
        let mut ids = HashMap::new();
        for record in replayed.records {
            match record {
                Record::Series { id, labels } => {
                    ids.insert(id, head.series_id(&labels).0);
                }
                Record::Samples(samples) => {
                    for (id, time, value) in samples {
                        if let Some(id) = ids.get(&id) {
                            if head.append(*id, time, value).is_ok() {
                                recovered.samples += 1;
                            }
                        }
                    }
                }
                Record::Offsets(offsets) => recovered.offsets.extend(offsets),
            }
        }
        recovered.series = head.series_count();
        let log = Log { wal, offsets: recovered.offsets.clone() };
        Ok((MetricStore { head, log: Mutex::new(log), metadata: Default::default() }, recovered))
    }

    /// Stores a batch, durably, and records that it covers the bus up to `offsets` (next
    /// offset per partition). Returns once the log is fsynced.
    pub fn append(&self, batch: &[(Labels, i64, f64)], offsets: &BTreeMap<i32, i64>) -> std::io::Result<AppendReport> {
        let mut log = self.log.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        let mut report = AppendReport::default();
        let mut accepted = Vec::with_capacity(batch.len());
        for (labels, time, value) in batch {
            let (id, created) = self.head.series_id(labels);
            if created {
                log.wal.log_series(id, labels)?;
            }
            match self.head.append(id, *time, *value) {
                Ok(true) => {
                    accepted.push((id, *time, *value));
                    report.appended += 1;
                }
                Ok(false) => report.duplicates += 1,
                Err(AppendError::OutOfOrder { .. }) => report.out_of_order += 1,
                Err(AppendError::Duplicate { .. }) => report.conflicting += 1,
                Err(error @ AppendError::UnknownSeries(_)) => return Err(std::io::Error::other(error.to_string())),
            }
        }
        log.wal.log_samples(&accepted)?;
        if !offsets.is_empty() {
            log.wal.log_offsets(offsets)?;
            log.offsets.extend(offsets.iter().map(|(p, o)| (*p, *o)));
        }
        log.wal.sync()?;
        Ok(report)
    }

    pub fn select(
        &self,
        matchers: &[Matcher],
        min_time: i64,
        max_time: i64,
        _hints: &SelectHints,
    ) -> Vec<SeriesSamples> {
        self.head.select(matchers, min_time, max_time)
    }

    pub fn label_names(&self) -> Vec<String> {
        self.head.label_names()
    }

    pub fn label_values(&self, name: &str) -> Vec<String> {
        self.head.label_values(name)
    }

    pub fn series_count(&self) -> usize {
        self.head.series_count()
    }

    /// Records a metric family's type, help and unit.
    pub fn set_metadata(&self, family: &str, metadata: Metadata) {
        self.metadata.write().unwrap_or_else(|poisoned| poisoned.into_inner()).insert(family.to_string(), metadata);
    }

    /// Metadata of `family`, or of every family (at most `limit`).
    pub fn metadata(&self, family: Option<&str>, limit: usize) -> BTreeMap<String, Metadata> {
        let all = self.metadata.read().unwrap_or_else(|poisoned| poisoned.into_inner());
        all.iter()
            .filter(|(name, _)| family.is_none_or(|wanted| wanted == name.as_str()))
            .take(limit)
            .map(|(name, m)| (name.clone(), m.clone()))
            .collect()
    }

    /// The bus position everything stored so far covers.
    pub fn offsets(&self) -> BTreeMap<i32, i64> {
        self.log.lock().unwrap_or_else(|poisoned| poisoned.into_inner()).offsets.clone()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample(job: &str, time: i64, value: f64) -> (Labels, i64, f64) {
        (Labels::new([("__name__", "up"), ("job", job)]).unwrap(), time, value)
    }

    #[test]
    fn what_append_acknowledged_is_there_after_a_reopen_with_its_offsets() {
        let dir = tempfile::tempdir().unwrap();
        {
            let (store, recovered) = MetricStore::open(dir.path()).unwrap();
            assert_eq!(recovered.series, 0);
            let report = store
                .append(
                    &[sample("a", 1000, 1.0), sample("b", 1000, 0.0), sample("a", 2000, 1.0)],
                    &BTreeMap::from([(0, 10)]),
                )
                .unwrap();
            assert_eq!(report.appended, 3);
            // A resent batch is counted, not stored twice; an old sample is refused.
            let report =
                store.append(&[sample("a", 2000, 1.0), sample("a", 1500, 9.0)], &BTreeMap::from([(0, 12)])).unwrap();
            assert_eq!((report.appended, report.duplicates, report.out_of_order), (0, 1, 1));
        }
        let (store, recovered) = MetricStore::open(dir.path()).unwrap();
        assert_eq!((recovered.series, recovered.samples), (2, 3));
        assert_eq!(recovered.offsets, BTreeMap::from([(0, 12)]));
        let a = store.select(&[Matcher::equal("job", "a")], 0, 10_000, &SelectHints::raw());
        assert_eq!(a[0].samples, [(1000, 1.0), (2000, 1.0)]);
    }
}
