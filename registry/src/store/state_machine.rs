//! The state machine: the registry state in memory, persisted as snapshots.
//!
//! Applying an entry only changes memory; durability comes from the Raft log (fsynced before
//! an entry commits) and from snapshots (written to a file with fsync before they replace the
//! previous one). On start the last snapshot is loaded and openraft re-applies the committed
//! entries after it. Every applied change is announced on a watch channel (the registry
//! revision), which is what blocking queries wait on.

use std::{
    io::{Cursor, Write},
    path::{Path, PathBuf},
    sync::{Arc, Mutex, RwLock},
};

use openraft::{
    storage::{RaftStateMachine, Snapshot},
    Entry, EntryPayload, LogId, OptionalSend, RaftSnapshotBuilder, SnapshotMeta, StorageError, StorageIOError,
    StoredMembership,
};
use serde::Deserialize;
use tokio::sync::watch;
use vigil_model::registry::{CommandOutcome, RegistrySnapshot, REGISTRY_SCHEMA_VERSION};

use super::{changes::ChangeLog, state::RegistryState};
use crate::TypeConfig;

/// What the state machine holds between applies.
#[derive(Debug, Default)]
pub struct Applied {
    pub state: RegistryState,
    /// Recent changes, for blocking queries and watches.
    pub changes: ChangeLog,
    pub last_applied: Option<LogId<u64>>,
    pub membership: StoredMembership<u64, openraft::BasicNode>,
}

/// The snapshot file: openraft's metadata and the registry state it covers.
#[derive(Deserialize)]
struct SnapshotFile {
    meta: SnapshotMeta<u64, openraft::BasicNode>,
    data: RegistrySnapshot,
}

/// Bytes of snapshot written between two write-backs (see `save_snapshot`).
const SNAPSHOT_SYNC_BYTES: usize = 4 * 1024 * 1024;

/// A snapshot's metadata and encoded data.
type SnapshotBytes = (SnapshotMeta<u64, openraft::BasicNode>, Vec<u8>);

struct Inner {
    applied: RwLock<Applied>,
    snapshot_path: PathBuf,
    /// The last snapshot built or installed: its metadata and encoded data.
    current: Mutex<Option<SnapshotBytes>>,
    revision: watch::Sender<u64>,
}

/// Cheap to clone: clones share the state (one is the snapshot builder, one serves reads).
#[derive(Clone)]
pub struct StateMachineStore {
    inner: Arc<Inner>,
}

impl StateMachineStore {
    /// Opens the state machine under `dir`, from its last snapshot if there is one.
    pub fn open(dir: &Path) -> anyhow::Result<StateMachineStore> {
        std::fs::create_dir_all(dir)?;
        let snapshot_path = dir.join("snapshot.json");
        let mut applied = Applied::default();
        let mut current = None;
        if snapshot_path.exists() {
            let file: SnapshotFile = serde_json::from_slice(&std::fs::read(&snapshot_path)?)
                .map_err(|error| anyhow::anyhow!("failed to read {}: {error}", snapshot_path.display()))?;
            applied.last_applied = file.meta.last_log_id;
            applied.membership = file.meta.last_membership.clone();
            let data = serde_json::to_vec(&file.data)?;
            applied.state = RegistryState::from_snapshot(file.data);
            applied.changes = ChangeLog::starting_at(applied.state.revision);
            current = Some((file.meta, data));
        }
        let (revision, _) = watch::channel(applied.state.revision);
        Ok(StateMachineStore {
            inner: Arc::new(Inner {
                applied: RwLock::new(applied),
                snapshot_path,
                current: Mutex::new(current),
                revision,
            }),
        })
    }

    /// Reads the applied state.
    pub fn read<T>(&self, f: impl FnOnce(&Applied) -> T) -> T {
        f(&self.inner.applied.read().unwrap_or_else(|poisoned| poisoned.into_inner()))
    }

    /// The registry revision, updated after every applied change.
    pub fn revisions(&self) -> watch::Receiver<u64> {
        self.inner.revision.subscribe()
    }

    fn save_snapshot(
        &self,
        meta: &SnapshotMeta<u64, openraft::BasicNode>,
        data: RegistrySnapshot,
    ) -> std::io::Result<Vec<u8>> {
        let encoded = serde_json::to_vec(&data)?;
        let tmp = self.inner.snapshot_path.with_extension("json.tmp");
        {
            // A `SnapshotFile`, assembled around the encoded state instead of encoding it twice.
            let mut out = std::fs::File::create(&tmp)?;
            out.write_all(b"{\"meta\":")?;
            out.write_all(&serde_json::to_vec(meta)?)?;
            out.write_all(b",\"data\":")?;
            // In slices, each written back before the next: one large write-back at the end
            // would stall the Raft log's fsyncs on the same disk for as long, and a follower
            // that answers appends slower than a heartbeat interval cannot take part in commits.
            for slice in encoded.chunks(SNAPSHOT_SYNC_BYTES) {
                out.write_all(slice)?;
                out.sync_data()?;
            }
            out.write_all(b"}")?;
            out.sync_all()?;
        }
        std::fs::rename(&tmp, &self.inner.snapshot_path)?;
        if let Some(dir) = self.inner.snapshot_path.parent() {
            std::fs::File::open(dir)?.sync_all()?;
        }
        *self.inner.current.lock().unwrap_or_else(|poisoned| poisoned.into_inner()) =
            Some((meta.clone(), encoded.clone()));
        Ok(encoded)
    }
}

fn snapshot_error(error: impl std::error::Error + Send + Sync + 'static) -> StorageError<u64> {
    StorageIOError::write_snapshot(None, &error).into()
}

impl RaftSnapshotBuilder<TypeConfig> for StateMachineStore {
    async fn build_snapshot(&mut self) -> Result<Snapshot<TypeConfig>, StorageError<u64>> {
        let (data, last_applied, membership) =
            self.read(|applied| (applied.state.to_snapshot(), applied.last_applied, applied.membership.clone()));
        let snapshot_id = match last_applied {
            Some(log_id) => format!("{}-{}-{}", log_id.leader_id.term, log_id.index, data.revision),
            None => format!("empty-{}", data.revision),
        };
        let meta = SnapshotMeta { last_log_id: last_applied, last_membership: membership, snapshot_id };
        let store = self.clone();
        let meta_for_write = meta.clone();
        // Encoding and fsync are blocking work.
        let encoded = tokio::task::spawn_blocking(move || store.save_snapshot(&meta_for_write, data))
            .await
            .map_err(|error| snapshot_error(std::io::Error::other(error.to_string())))?
            .map_err(snapshot_error)?;
        Ok(Snapshot { meta, snapshot: Box::new(Cursor::new(encoded)) })
    }
}

impl RaftStateMachine<TypeConfig> for StateMachineStore {
    type SnapshotBuilder = StateMachineStore;

    async fn applied_state(
        &mut self,
    ) -> Result<(Option<LogId<u64>>, StoredMembership<u64, openraft::BasicNode>), StorageError<u64>> {
        Ok(self.read(|applied| (applied.last_applied, applied.membership.clone())))
    }

    async fn apply<I>(&mut self, entries: I) -> Result<Vec<CommandOutcome>, StorageError<u64>>
    where
        I: IntoIterator<Item = Entry<TypeConfig>> + OptionalSend,
        I::IntoIter: OptionalSend,
    {
        let mut outcomes = Vec::new();
        let revision = {
            let mut applied = self.inner.applied.write().unwrap_or_else(|poisoned| poisoned.into_inner());
            for entry in entries {
                applied.last_applied = Some(entry.log_id);
                let outcome = match entry.payload {
                    EntryPayload::Blank => CommandOutcome::Unchanged { revision: applied.state.revision },
                    EntryPayload::Normal(request) => {
                        if request.version > REGISTRY_SCHEMA_VERSION {
                            // A committed entry this node cannot read: stopping is the only
                            // safe move (skipping it would fork this replica's state).
                            let error = std::io::Error::other(format!(
                                "log entry {} has registry schema version {}, this node knows up to {REGISTRY_SCHEMA_VERSION}: upgrade this node",
                                entry.log_id.index, request.version
                            ));
                            return Err(StorageIOError::apply(entry.log_id, &error).into());
                        }
                        let mut events = Vec::new();
                        let outcome = applied.state.apply(&request, &mut events);
                        for event in events {
                            applied.changes.record(event);
                        }
                        outcome
                    }
                    EntryPayload::Membership(membership) => {
                        applied.membership = StoredMembership::new(Some(entry.log_id), membership);
                        CommandOutcome::Unchanged { revision: applied.state.revision }
                    }
                };
                outcomes.push(outcome);
            }
            applied.state.revision
        };
        self.inner.revision.send_if_modified(|current| std::mem::replace(current, revision) != revision);
        Ok(outcomes)
    }

    async fn get_snapshot_builder(&mut self) -> Self::SnapshotBuilder {
        self.clone()
    }

    async fn begin_receiving_snapshot(&mut self) -> Result<Box<Cursor<Vec<u8>>>, StorageError<u64>> {
        Ok(Box::new(Cursor::new(Vec::new())))
    }

    async fn install_snapshot(
        &mut self,
        meta: &SnapshotMeta<u64, openraft::BasicNode>,
        snapshot: Box<Cursor<Vec<u8>>>,
    ) -> Result<(), StorageError<u64>> {
        let data: RegistrySnapshot = serde_json::from_slice(snapshot.get_ref())
            .map_err(|error| StorageError::from(StorageIOError::read_snapshot(Some(meta.signature()), &error)))?;
        let store = self.clone();
        let (meta_for_write, data_for_write) = (meta.clone(), data.clone());
        tokio::task::spawn_blocking(move || store.save_snapshot(&meta_for_write, data_for_write))
            .await
            .map_err(|error| snapshot_error(std::io::Error::other(error.to_string())))?
            .map_err(snapshot_error)?;
        let revision = {
            let mut applied = self.inner.applied.write().unwrap_or_else(|poisoned| poisoned.into_inner());
            applied.state = RegistryState::from_snapshot(data);
            applied.changes = ChangeLog::starting_at(applied.state.revision);
            applied.last_applied = meta.last_log_id;
            applied.membership = meta.last_membership.clone();
            applied.state.revision
        };
        self.inner.revision.send_replace(revision);
        Ok(())
    }

    async fn get_current_snapshot(&mut self) -> Result<Option<Snapshot<TypeConfig>>, StorageError<u64>> {
        let current = self.inner.current.lock().unwrap_or_else(|poisoned| poisoned.into_inner()).clone();
        Ok(current.map(|(meta, data)| Snapshot { meta, snapshot: Box::new(Cursor::new(data)) }))
    }
}
