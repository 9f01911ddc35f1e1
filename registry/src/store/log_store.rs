//! The durable Raft log and vote, in a redb file, with group commit.
//!
//! Every entry is also kept in memory (entries are purged after each snapshot, so the log stays
//! short): reads never touch the disk, and `append` returns at once, as openraft expects. The
//! disk writes happen on one writer thread, in call order; it takes every operation queued while
//! the previous transaction was committing and commits them together, so one fsync covers many
//! appends (this disk takes 2-4 ms per fsync). An append is reported flushed only after its
//! transaction committed durably; a vote is saved durably before `save_vote` returns.

use std::{
    collections::BTreeMap,
    fmt::Debug,
    io,
    ops::RangeBounds,
    path::Path,
    sync::{mpsc, Arc, RwLock},
};

use openraft::{
    storage::{LogFlushed, LogState, RaftLogReader, RaftLogStorage},
    Entry, LogId, OptionalSend, RaftLogId, StorageError, StorageIOError, Vote,
};
use redb::{Database, ReadableDatabase, ReadableTable, TableDefinition};
use tokio::sync::oneshot;

use crate::TypeConfig;

const LOG: TableDefinition<u64, &[u8]> = TableDefinition::new("log");
const META: TableDefinition<&str, &[u8]> = TableDefinition::new("meta");
const VOTE_KEY: &str = "vote";
const COMMITTED_KEY: &str = "committed";
const PURGED_KEY: &str = "last_purged";

/// Operations queued to the writer thread, applied in order.
enum WriteOp {
    Append(Vec<(u64, Vec<u8>)>, LogFlushed<TypeConfig>),
    Meta(&'static str, Vec<u8>, Option<oneshot::Sender<io::Result<()>>>),
    /// Delete entries with index >= this.
    Truncate(u64, oneshot::Sender<io::Result<()>>),
    /// Delete entries with index <= this, and record the purged log id.
    Purge(u64, Vec<u8>, oneshot::Sender<io::Result<()>>),
}

#[derive(Default)]
struct Cache {
    entries: BTreeMap<u64, Entry<TypeConfig>>,
    last_purged: Option<LogId<u64>>,
    vote: Option<Vote<u64>>,
    committed: Option<LogId<u64>>,
}

/// The log store; clones share the same log (one of them is the reader handed to replication).
#[derive(Clone)]
pub struct LogStore {
    cache: Arc<RwLock<Cache>>,
    writer: mpsc::Sender<WriteOp>,
}

impl LogStore {
    /// Opens (or creates) `<dir>/raft-log.redb` and loads what it holds.
    pub fn open(dir: &Path) -> anyhow::Result<LogStore> {
        std::fs::create_dir_all(dir)?;
        let db = Database::create(dir.join("raft-log.redb"))?;
        let mut cache = Cache::default();
        {
            let write = db.begin_write()?;
            write.open_table(LOG)?;
            write.open_table(META)?;
            write.commit()?;
        }
        {
            let read = db.begin_read()?;
            let log = read.open_table(LOG)?;
            for item in log.iter()? {
                let (index, bytes) = item?;
                let entry: Entry<TypeConfig> = serde_json::from_slice(bytes.value())?;
                cache.entries.insert(index.value(), entry);
            }
            let meta = read.open_table(META)?;
            if let Some(bytes) = meta.get(VOTE_KEY)? {
                cache.vote = Some(serde_json::from_slice(bytes.value())?);
            }
            if let Some(bytes) = meta.get(COMMITTED_KEY)? {
                cache.committed = serde_json::from_slice(bytes.value())?;
            }
            if let Some(bytes) = meta.get(PURGED_KEY)? {
                cache.last_purged = serde_json::from_slice(bytes.value())?;
            }
        }
        let (writer, queue) = mpsc::channel();
        std::thread::Builder::new().name("raft-log-writer".into()).spawn(move || write_loop(db, queue))?;
        Ok(LogStore { cache: Arc::new(RwLock::new(cache)), writer })
    }

    fn read(&self) -> std::sync::RwLockReadGuard<'_, Cache> {
        self.cache.read().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    fn write(&self) -> std::sync::RwLockWriteGuard<'_, Cache> {
        self.cache.write().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    fn send(&self, op: WriteOp) -> Result<(), StorageError<u64>> {
        self.writer.send(op).map_err(|_| io_error(io::Error::other("the raft log writer stopped")))
    }
}

/// The writer thread: one redb transaction (one fsync) per batch of queued operations.
fn write_loop(db: Database, queue: mpsc::Receiver<WriteOp>) {
    while let Ok(first) = queue.recv() {
        let mut batch = vec![first];
        while let Ok(op) = queue.try_recv() {
            batch.push(op);
            if batch.len() >= 4096 {
                break;
            }
        }
        let result = commit_batch(&db, &batch).map_err(|error| error.to_string());
        for op in batch {
            let outcome = result.clone().map_err(io::Error::other);
            match op {
                WriteOp::Append(_, flushed) => flushed.log_io_completed(outcome),
                WriteOp::Meta(_, _, Some(done)) | WriteOp::Truncate(_, done) | WriteOp::Purge(_, _, done) => {
                    let _ = done.send(outcome);
                }
                WriteOp::Meta(_, _, None) => {}
            }
        }
    }
}

fn commit_batch(db: &Database, batch: &[WriteOp]) -> anyhow::Result<()> {
    let write = db.begin_write()?;
    {
        let mut log = write.open_table(LOG)?;
        let mut meta = write.open_table(META)?;
        for op in batch {
            match op {
                WriteOp::Append(entries, _) => {
                    for (index, bytes) in entries {
                        log.insert(*index, bytes.as_slice())?;
                    }
                }
                WriteOp::Meta(key, bytes, _) => {
                    meta.insert(*key, bytes.as_slice())?;
                }
                WriteOp::Truncate(from, _) => {
                    log.retain_in(*from.., |_, _| false)?;
                }
                WriteOp::Purge(upto, purged, _) => {
                    log.retain_in(..=*upto, |_, _| false)?;
                    meta.insert(PURGED_KEY, purged.as_slice())?;
                }
            }
        }
    }
    write.commit()?;
    Ok(())
}

fn io_error(error: impl std::error::Error + Send + Sync + 'static) -> StorageError<u64> {
    StorageIOError::write_logs(&error).into()
}

fn encode<T: serde::Serialize>(value: &T) -> Result<Vec<u8>, StorageError<u64>> {
    serde_json::to_vec(value).map_err(io_error)
}

async fn wait(done: oneshot::Receiver<io::Result<()>>) -> Result<(), StorageError<u64>> {
    match done.await {
        Ok(Ok(())) => Ok(()),
        Ok(Err(error)) => Err(io_error(error)),
        Err(_) => Err(io_error(io::Error::other("the raft log writer stopped"))),
    }
}

impl RaftLogReader<TypeConfig> for LogStore {
    async fn try_get_log_entries<RB: RangeBounds<u64> + Clone + Debug + OptionalSend>(
        &mut self,
        range: RB,
    ) -> Result<Vec<Entry<TypeConfig>>, StorageError<u64>> {
        Ok(self.read().entries.range(range).map(|(_, entry)| entry.clone()).collect())
    }
}

impl RaftLogStorage<TypeConfig> for LogStore {
    type LogReader = LogStore;

    async fn get_log_state(&mut self) -> Result<LogState<TypeConfig>, StorageError<u64>> {
        let cache = self.read();
        let last_purged_log_id = cache.last_purged;
        let last_log_id = cache.entries.values().next_back().map(|entry| *entry.get_log_id()).or(last_purged_log_id);
        Ok(LogState { last_purged_log_id, last_log_id })
    }

    async fn get_log_reader(&mut self) -> Self::LogReader {
        self.clone()
    }

    async fn save_vote(&mut self, vote: &Vote<u64>) -> Result<(), StorageError<u64>> {
        let (done, finished) = oneshot::channel();
        self.send(WriteOp::Meta(VOTE_KEY, encode(vote)?, Some(done)))?;
        wait(finished).await?;
        self.write().vote = Some(*vote);
        Ok(())
    }

    async fn read_vote(&mut self) -> Result<Option<Vote<u64>>, StorageError<u64>> {
        Ok(self.read().vote)
    }

    /// Saved with the next batch, not waited for: after a restart it only lets the node
    /// re-apply committed entries before hearing from a leader.
    async fn save_committed(&mut self, committed: Option<LogId<u64>>) -> Result<(), StorageError<u64>> {
        self.send(WriteOp::Meta(COMMITTED_KEY, encode(&committed)?, None))?;
        self.write().committed = committed;
        Ok(())
    }

    async fn read_committed(&mut self) -> Result<Option<LogId<u64>>, StorageError<u64>> {
        Ok(self.read().committed)
    }

    async fn append<I>(&mut self, entries: I, callback: LogFlushed<TypeConfig>) -> Result<(), StorageError<u64>>
    where
        I: IntoIterator<Item = Entry<TypeConfig>> + OptionalSend,
        I::IntoIter: OptionalSend,
    {
        let mut encoded = Vec::new();
        {
            let mut cache = self.write();
            for entry in entries {
                let index = entry.get_log_id().index;
                encoded.push((index, encode(&entry)?));
                cache.entries.insert(index, entry);
            }
        }
        self.send(WriteOp::Append(encoded, callback))
    }

    async fn truncate(&mut self, log_id: LogId<u64>) -> Result<(), StorageError<u64>> {
        self.write().entries.split_off(&log_id.index);
        let (done, finished) = oneshot::channel();
        self.send(WriteOp::Truncate(log_id.index, done))?;
        wait(finished).await
    }

    async fn purge(&mut self, log_id: LogId<u64>) -> Result<(), StorageError<u64>> {
        {
            let mut cache = self.write();
            let kept = cache.entries.split_off(&(log_id.index + 1));
            cache.entries = kept;
            cache.last_purged = Some(log_id);
        }
        let (done, finished) = oneshot::channel();
        self.send(WriteOp::Purge(log_id.index, encode(&Some(log_id))?, done))?;
        wait(finished).await
    }
}
