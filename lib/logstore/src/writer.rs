//! [`PartitionWriter`]: indexes one bus partition into time-bucketed splits, with the bus
//! offset it covers written into every commit's payload (exactly-once indexing).

use std::path::{Path, PathBuf};

use tantivy::{
    store::{Compressor, ZstdCompressor},
    Index, IndexSettings, IndexWriter, TantivyDocument,
};
use vigil_model::LogEvent;

use crate::{
    payload::{CommitPayload, StreamMark},
    split::{list_splits, split_dir},
    LogSchema, LogStoreError,
};

/// Stream marks idle longer than this are forgotten, so the payload stays small.
const STREAM_MARK_TTL_MS: i64 = 24 * 3600 * 1000;

/// How splits are cut and how much memory indexing may use.
#[derive(Debug, Clone)]
pub struct WriterConfig {
    /// Width of an arrival-time bucket: one split per partition and bucket.
    pub bucket_ms: i64,
    /// tantivy indexing memory budget per partition.
    pub heap_bytes: usize,
    /// tantivy indexing threads per partition.
    pub threads: usize,
}

impl Default for WriterConfig {
    fn default() -> Self {
        WriterConfig { bucket_ms: 3_600_000, heap_bytes: 64 << 20, threads: 1 }
    }
}

/// The index settings of every split: zstd for the doc store, since logs compress well and the
/// doc store is most of an index's bytes.
pub fn index_settings() -> IndexSettings {
    IndexSettings {
        docstore_compression: Compressor::Zstd(ZstdCompressor { compression_level: Some(3) }),
        docstore_blocksize: 64 * 1024,
        ..IndexSettings::default()
    }
}

struct ActiveSplit {
    bucket_start_ms: i64,
    path: PathBuf,
    writer: IndexWriter<TantivyDocument>,
}

/// Writes one partition. Not thread-safe by design: one owner (the pipeline's indexing stage
/// for that partition) calls it from a blocking thread.
pub struct PartitionWriter {
    root: PathBuf,
    partition: u32,
    schema: LogSchema,
    config: WriterConfig,
    active: Option<ActiveSplit>,
    /// The state the next commit will write.
    pending: CommitPayload,
    /// The state of the last commit.
    committed: Option<CommitPayload>,
    pending_docs: u64,
}

impl PartitionWriter {
    /// Opens the partition under `root`, reading where its last commit stopped.
    pub fn open(root: &Path, partition: u32, schema: LogSchema, config: WriterConfig) -> Result<Self, LogStoreError> {
        let committed = read_committed_payload(root, partition)?;
        Ok(PartitionWriter {
            root: root.to_path_buf(),
            partition,
            schema,
            config,
            active: None,
            pending: committed
                .clone()
                .unwrap_or(CommitPayload { version: CommitPayload::VERSION, ..Default::default() }),
            committed,
            pending_docs: 0,
        })
    }

    pub fn partition(&self) -> u32 {
        self.partition
    }

    /// The bus offset to resume at: the first offset no commit covers (`None`: never committed).
    pub fn committed_offset(&self) -> Option<u64> {
        self.committed.as_ref().map(|payload| payload.next_offset)
    }

    /// The offset the next message must have: messages below it were added already (a
    /// redelivery after a rebalance or a consumer retry) and must be skipped.
    pub fn position(&self) -> u64 {
        self.pending.next_offset
    }

    /// Documents added since the last commit.
    pub fn pending_docs(&self) -> u64 {
        self.pending_docs
    }

    /// Records that the line `[offset, end)` of `stream` is about to be indexed; returns false
    /// when it was indexed already (an agent resent it), so the caller skips it. Lines of a
    /// stream arrive in order on one partition, so one end mark per stream is enough.
    pub fn admit(&mut self, stream: &str, offset: u64, end: u64, now_ms: i64) -> bool {
        if stream.is_empty() {
            return true;
        }
        if let Some(mark) = self.pending.streams.get_mut(stream) {
            if offset < mark.end {
                return false;
            }
            *mark = StreamMark { end, seen_ms: now_ms };
            return true;
        }
        self.pending.streams.insert(stream.to_string(), StreamMark { end, seen_ms: now_ms });
        true
    }

    /// Adds the events of one bus message; `next_offset` is that message's offset + 1. The
    /// events become durable and searchable at the next [`commit`](Self::commit).
    pub fn add(&mut self, events: &[LogEvent], next_offset: u64, now_ms: i64) -> Result<(), LogStoreError> {
        self.roll_if_needed(now_ms)?;
        let active = self.active.as_mut().expect("roll_if_needed leaves an active split");
        for event in events {
            active
                .writer
                .add_document(self.schema.to_document(event))
                .map_err(|error| LogStoreError::index(&active.path, error))?;
        }
        self.pending.next_offset = next_offset;
        self.pending_docs += events.len() as u64;
        Ok(())
    }

    /// Makes everything added durable and searchable, with the covered offset in the commit
    /// payload. Returns false when there was nothing to commit.
    pub fn commit(&mut self) -> Result<bool, LogStoreError> {
        if self.committed.as_ref() == Some(&self.pending) {
            return Ok(false);
        }
        let Some(active) = self.active.as_mut() else {
            return Ok(false);
        };
        let now_ms = self.pending.streams.values().map(|mark| mark.seen_ms).max().unwrap_or(0);
        self.pending.streams.retain(|_, mark| now_ms - mark.seen_ms < STREAM_MARK_TTL_MS);
        let mut prepared = active.writer.prepare_commit().map_err(|error| LogStoreError::index(&active.path, error))?;
        prepared.set_payload(&self.pending.to_json());
        prepared.commit().map_err(|error| LogStoreError::index(&active.path, error))?;
        self.committed = Some(self.pending.clone());
        self.pending_docs = 0;
        Ok(true)
    }

    /// Commits and waits for background merges: call before dropping at shutdown.
    pub fn close(mut self) -> Result<(), LogStoreError> {
        self.commit()?;
        if let Some(active) = self.active.take() {
            active.writer.wait_merging_threads().map_err(|error| LogStoreError::index(&active.path, error))?;
        }
        Ok(())
    }

    fn roll_if_needed(&mut self, now_ms: i64) -> Result<(), LogStoreError> {
        let bucket_start_ms = now_ms - now_ms.rem_euclid(self.config.bucket_ms);
        if self.active.as_ref().is_some_and(|active| active.bucket_start_ms == bucket_start_ms) {
            return Ok(());
        }
        if self.active.is_some() {
            // The old split's last commit must carry the offset it covers before the new
            // split takes over; a crash in between resumes from that commit.
            self.commit()?;
            let old = self.active.take().expect("checked above");
            old.writer.wait_merging_threads().map_err(|error| LogStoreError::index(&old.path, error))?;
        }
        let path = split_dir(&self.root, self.partition, bucket_start_ms);
        let index = open_or_create(&path, &self.schema)?;
        let writer = index
            .writer_with_num_threads(self.config.threads, self.config.heap_bytes)
            .map_err(|error| LogStoreError::index(&path, error))?;
        tracing::debug!(partition = self.partition, path = %path.display(), "opened split");
        self.active = Some(ActiveSplit { bucket_start_ms, path, writer });
        Ok(())
    }
}

fn open_or_create(path: &Path, schema: &LogSchema) -> Result<Index, LogStoreError> {
    std::fs::create_dir_all(path).map_err(|error| LogStoreError::io(path, error))?;
    let exists = path.join("meta.json").exists();
    let index = if exists {
        Index::open_in_dir(path)
    } else {
        Index::builder().schema(schema.schema.clone()).settings(index_settings()).create_in_dir(path)
    };
    index.map_err(|error| LogStoreError::index(path, error))
}

/// The payload of the partition's newest commit. A split takes over only after the previous
/// one committed its last offset, so offsets grow with the split's bucket: the newest split
/// with a payload holds it, and older splits need not be opened.
pub fn read_committed_payload(root: &Path, partition: u32) -> Result<Option<CommitPayload>, LogStoreError> {
    for split in list_splits(root, partition)?.into_iter().rev() {
        if !split.path.join("meta.json").exists() {
            continue;
        }
        let index = Index::open_in_dir(&split.path).map_err(|error| LogStoreError::index(&split.path, error))?;
        let metas = index.load_metas().map_err(|error| LogStoreError::index(&split.path, error))?;
        if let Some(payload) = metas.payload.as_deref().and_then(CommitPayload::parse) {
            return Ok(Some(payload));
        }
    }
    Ok(None)
}
