//! The embedded bus: a directory of topics, each a fixed number of partition logs, and the
//! calls producers make on it.

use std::{
    collections::HashMap,
    path::{Path, PathBuf},
    sync::{
        atomic::{AtomicU32, Ordering},
        Arc, PoisonError, RwLock,
    },
};

use tokio::sync::watch;

use crate::{metrics::PRODUCE_ERRORS_TOTAL, BusError, OutgoingMessage, ResumeFn};

use super::{
    config::{validate_topic, EmbeddedConfig},
    consumer::EmbeddedConsumer,
    partition::Partition,
    segment,
};

/// Prefix of a topic directory being created; `~` never appears in a topic name, and a
/// leftover of a crash mid-creation is removed on open.
const CREATING_PREFIX: &str = "~creating-";

/// A handle on the bus; clones share it. See the [module documentation](super).
#[derive(Clone)]
pub struct EmbeddedBus {
    inner: Arc<Inner>,
}

struct Inner {
    dir: PathBuf,
    config: EmbeddedConfig,
    topics: RwLock<HashMap<String, Arc<Topic>>>,
}

/// A topic and its partitions.
pub(crate) struct Topic {
    pub(crate) name: String,
    pub(crate) partitions: Vec<Partition>,
    /// Bumped whenever an append to any partition becomes durable.
    pub(crate) changed: Arc<watch::Sender<u64>>,
    round_robin: AtomicU32,
}

impl EmbeddedBus {
    /// Opens (creating if needed) the bus under `dir` and recovers every partition: the last
    /// segment of each is scanned and a torn tail (partial record or bad checksum) cut off.
    pub fn open(dir: &Path, config: EmbeddedConfig) -> Result<EmbeddedBus, BusError> {
        config.validate()?;
        std::fs::create_dir_all(dir).map_err(|err| BusError::io(dir, err))?;
        let mut topics = HashMap::new();
        let mut removed_leftovers = false;
        for entry in std::fs::read_dir(dir).map_err(|err| BusError::io(dir, err))? {
            let entry = entry.map_err(|err| BusError::io(dir, err))?;
            let path = entry.path();
            let Some(name) = entry.file_name().to_str().map(str::to_string) else { continue };
            if name.starts_with(CREATING_PREFIX) {
                std::fs::remove_dir_all(&path).map_err(|err| BusError::io(&path, err))?;
                removed_leftovers = true;
                continue;
            }
            let is_dir = entry.file_type().map_err(|err| BusError::io(&path, err))?.is_dir();
            if is_dir && validate_topic(&name).is_ok() {
                let topic = Topic::open(&path, &name, &config)?;
                topics.insert(name, Arc::new(topic));
            }
        }
        if removed_leftovers {
            segment::sync_dir(dir)?;
        }
        let inner = Inner { dir: dir.to_path_buf(), config, topics: RwLock::new(topics) };
        Ok(EmbeddedBus { inner: Arc::new(inner) })
    }

    /// Number of partitions of `topic`, creating the topic if it is new.
    pub fn partitions(&self, topic: &str) -> Result<u32, BusError> {
        Ok(self.topic(topic)?.partition_count())
    }

    /// The partition for `key`: a stable hash of the key, or round robin without a key.
    pub fn partition_for(&self, topic: &str, key: Option<&[u8]>) -> Result<u32, BusError> {
        let topic = self.topic(topic)?;
        let count = topic.partition_count();
        Ok(match key {
            Some(key) => crc32fast::hash(key) % count,
            None => topic.round_robin.fetch_add(1, Ordering::Relaxed) % count,
        })
    }

    /// Appends `messages` to one partition and returns the offset of the first, once all of
    /// them are fsynced. Concurrent appends to a partition share fsyncs. If nothing is
    /// appended (an error, or no messages), nothing has changed on disk.
    pub async fn append(&self, topic: &str, partition: u32, messages: Vec<OutgoingMessage>) -> Result<u64, BusError> {
        let result = match self.topic(topic) {
            Ok(topic) => match topic.partition(partition) {
                Ok(partition) => partition.append(messages).await,
                Err(err) => Err(err),
            },
            Err(err) => Err(err),
        };
        if result.is_err() {
            ::metrics::counter!(PRODUCE_ERRORS_TOTAL).increment(1);
        }
        result
    }

    /// The offset the next append to the partition gets: the number of messages ever appended.
    pub fn end_offset(&self, topic: &str, partition: u32) -> Result<u64, BusError> {
        Ok(self.topic(topic)?.partition(partition)?.shared.durable_end())
    }

    /// A consumer over every partition of `topic`, each starting at `resume(partition)`, or at
    /// the earliest offset still on disk.
    pub fn consumer(&self, topic: &str, resume: ResumeFn) -> Result<EmbeddedConsumer, BusError> {
        EmbeddedConsumer::new(self.topic(topic)?, resume)
    }

    /// The topic named `name`, created with the configured partitions if it is new.
    fn topic(&self, name: &str) -> Result<Arc<Topic>, BusError> {
        validate_topic(name)?;
        // The map only ever gains whole entries, so a panic elsewhere cannot leave it torn.
        if let Some(topic) = self.inner.topics.read().unwrap_or_else(PoisonError::into_inner).get(name) {
            return Ok(topic.clone());
        }
        let mut topics = self.inner.topics.write().unwrap_or_else(PoisonError::into_inner);
        if let Some(topic) = topics.get(name) {
            return Ok(topic.clone());
        }
        let topic = Arc::new(Topic::create(&self.inner.dir, name, &self.inner.config)?);
        topics.insert(name.to_string(), topic.clone());
        Ok(topic)
    }
}

impl Topic {
    /// Creates the topic directory with every partition and its first segment, all at once:
    /// it is built under a temporary name, then renamed into place.
    fn create(root: &Path, name: &str, config: &EmbeddedConfig) -> Result<Topic, BusError> {
        let staging = root.join(format!("{CREATING_PREFIX}{name}"));
        let final_dir = root.join(name);
        let io = |path: &Path| {
            let path = path.to_path_buf();
            move |err| BusError::io(path, err)
        };
        if staging.exists() {
            std::fs::remove_dir_all(&staging).map_err(io(&staging))?;
        }
        std::fs::create_dir(&staging).map_err(io(&staging))?;
        for index in 0..config.partitions {
            let partition_dir = staging.join(index.to_string());
            std::fs::create_dir(&partition_dir).map_err(io(&partition_dir))?;
            segment::create_segment(&partition_dir, 0)?;
        }
        segment::sync_dir(&staging)?;
        std::fs::rename(&staging, &final_dir).map_err(io(&final_dir))?;
        segment::sync_dir(root)?;
        Topic::open(&final_dir, name, config)
    }

    /// Opens a topic directory: partition directories `0..n`, each recovered.
    fn open(dir: &Path, name: &str, config: &EmbeddedConfig) -> Result<Topic, BusError> {
        let mut indexes = Vec::new();
        for entry in std::fs::read_dir(dir).map_err(|err| BusError::io(dir, err))? {
            let entry = entry.map_err(|err| BusError::io(dir, err))?;
            if let Some(index) = entry.file_name().to_str().and_then(|name| name.parse::<u32>().ok()) {
                indexes.push(index);
            }
        }
        indexes.sort_unstable();
        let contiguous = indexes.iter().enumerate().all(|(position, &index)| position as u32 == index);
        if indexes.is_empty() || !contiguous {
            return Err(BusError::Corrupt {
                path: dir.to_path_buf(),
                reason: format!("expected partition directories 0 to n-1, found {indexes:?}"),
            });
        }
        let changed = Arc::new(watch::channel(0).0);
        let partitions = indexes
            .iter()
            .map(|&index| Partition::open(name, index, &dir.join(index.to_string()), config, changed.clone()))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Topic { name: name.to_string(), partitions, changed, round_robin: AtomicU32::new(0) })
    }

    pub(crate) fn partition_count(&self) -> u32 {
        u32::try_from(self.partitions.len()).expect("partition indexes are u32")
    }

    pub(crate) fn partition(&self, index: u32) -> Result<&Partition, BusError> {
        self.partitions.get(index as usize).ok_or_else(|| {
            BusError::Rejected(format!(
                "partition {index} of topic {} does not exist: it has {} partitions",
                self.name,
                self.partitions.len()
            ))
        })
    }
}
