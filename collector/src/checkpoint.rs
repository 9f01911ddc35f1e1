//! `<data_dir>/checkpoints.json`: for each file, the position after the last line the server
//! or broker acknowledged.
//!
//! Invariants: an entry advances only after an acknowledgement (the file task's sender sets
//! it; the supervisor only records where a newly found file starts); the file on disk is replaced atomically (temp file, fsync,
//! rename, fsync of the directory), so a crash leaves the old or the new version, never a mix.

use std::{
    collections::BTreeMap,
    fs::File,
    io::{self, Write},
    path::{Path, PathBuf},
    sync::Mutex,
};

use serde::{Deserialize, Serialize};

use crate::tailer::FileId;

/// Name of the checkpoint file inside the data directory.
pub const FILE_NAME: &str = "checkpoints.json";
const FORMAT_VERSION: u32 = 1;

/// Where reading of one file resumes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Checkpoint {
    /// The path the file was last seen at (informational: files are matched by identity).
    pub path: PathBuf,
    pub dev: u64,
    pub inode: u64,
    /// Truncation count: the `<generation>` of the stream name.
    pub generation: u64,
    /// Byte offset after the last acknowledged line.
    pub offset: u64,
}

impl Checkpoint {
    pub fn id(&self) -> FileId {
        FileId { dev: self.dev, inode: self.inode }
    }
}

/// The on-disk shape (a persisted format, versioned).
#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct CheckpointFile {
    version: u32,
    files: Vec<Checkpoint>,
}

#[derive(Debug, thiserror::Error)]
pub enum CheckpointError {
    #[error("failed to {action} {path}: {source}")]
    Io {
        action: &'static str,
        path: PathBuf,
        #[source]
        source: io::Error,
    },
    #[error("checkpoint file {path} is damaged ({reason}): fix or delete it (files are then read from the start)")]
    Corrupt { path: PathBuf, reason: String },
}

/// Reads a checkpoint file; a missing file means no checkpoints.
pub fn read(path: &Path) -> Result<Vec<Checkpoint>, CheckpointError> {
    let text = match std::fs::read(path) {
        Ok(text) => text,
        Err(error) if error.kind() == io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(source) => return Err(CheckpointError::Io { action: "read", path: path.to_path_buf(), source }),
    };
    let file: CheckpointFile = serde_json::from_slice(&text)
        .map_err(|error| CheckpointError::Corrupt { path: path.to_path_buf(), reason: error.to_string() })?;
    if file.version != FORMAT_VERSION {
        let reason = format!("version {} is not {FORMAT_VERSION}", file.version);
        return Err(CheckpointError::Corrupt { path: path.to_path_buf(), reason });
    }
    Ok(file.files)
}

/// Replaces `path` with a file holding `checkpoints`, atomically and durably.
pub fn write(path: &Path, checkpoints: &[Checkpoint]) -> Result<(), CheckpointError> {
    let io_error = |action, source| CheckpointError::Io { action, path: path.to_path_buf(), source };
    let body = serde_json::to_vec_pretty(&CheckpointFile { version: FORMAT_VERSION, files: checkpoints.to_vec() })
        .expect("checkpoints always serialize");
    let temp = path.with_extension("json.tmp");
    let mut file = File::create(&temp).map_err(|e| io_error("create temp file for", e))?;
    file.write_all(&body).map_err(|e| io_error("write", e))?;
    file.sync_all().map_err(|e| io_error("fsync", e))?;
    drop(file);
    std::fs::rename(&temp, path).map_err(|e| io_error("rename temp file onto", e))?;
    let dir = path.parent().filter(|dir| !dir.as_os_str().is_empty()).unwrap_or(Path::new("."));
    File::open(dir).and_then(|dir| dir.sync_all()).map_err(|e| io_error("fsync the directory of", e))?;
    Ok(())
}

/// The agent's checkpoints in memory, persisted by [`CheckpointStore::persist`].
#[derive(Debug)]
pub struct CheckpointStore {
    path: PathBuf,
    state: Mutex<State>,
    /// Serialises writers of the file (the periodic one and the final one at shutdown).
    write_lock: Mutex<()>,
}

#[derive(Debug, Default)]
struct State {
    entries: BTreeMap<FileId, Checkpoint>,
    dirty: bool,
}

impl CheckpointStore {
    /// Loads `<data_dir>/checkpoints.json` (empty when missing).
    pub fn open(data_dir: &Path) -> Result<CheckpointStore, CheckpointError> {
        let path = data_dir.join(FILE_NAME);
        let entries = read(&path)?.into_iter().map(|checkpoint| (checkpoint.id(), checkpoint)).collect();
        Ok(CheckpointStore { path, state: Mutex::new(State { entries, dirty: false }), write_lock: Mutex::new(()) })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    pub fn get(&self, id: FileId) -> Option<Checkpoint> {
        self.lock().entries.get(&id).cloned()
    }

    /// Records a position; callers only pass acknowledged positions (or a fresh start).
    pub fn set(&self, checkpoint: Checkpoint) {
        let mut state = self.lock();
        if state.entries.get(&checkpoint.id()) != Some(&checkpoint) {
            state.entries.insert(checkpoint.id(), checkpoint);
            state.dirty = true;
        }
    }

    /// Forgets a file that was drained and released.
    pub fn remove(&self, id: FileId) {
        let mut state = self.lock();
        if state.entries.remove(&id).is_some() {
            state.dirty = true;
        }
    }

    /// Keeps only entries for which `keep` is true; returns the removed ones.
    pub fn retain(&self, keep: impl Fn(FileId) -> bool) -> Vec<Checkpoint> {
        let mut state = self.lock();
        let removed: Vec<FileId> = state.entries.keys().copied().filter(|id| !keep(*id)).collect();
        let removed: Vec<Checkpoint> = removed.into_iter().filter_map(|id| state.entries.remove(&id)).collect();
        state.dirty |= !removed.is_empty();
        removed
    }

    /// Writes the file if anything changed since the last write (blocking: fsyncs).
    /// Returns whether it wrote.
    pub fn persist(&self) -> Result<bool, CheckpointError> {
        let _writer = self.write_lock.lock().expect("checkpoint write lock is never poisoned");
        let snapshot: Vec<Checkpoint> = {
            let mut state = self.lock();
            if !state.dirty {
                return Ok(false);
            }
            state.dirty = false;
            state.entries.values().cloned().collect()
        };
        write(&self.path, &snapshot).inspect_err(|_| self.lock().dirty = true)?;
        Ok(true)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().expect("checkpoint state lock is never poisoned")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn checkpoint(inode: u64, offset: u64) -> Checkpoint {
        Checkpoint { path: format!("/var/log/{inode}.log").into(), dev: 2049, inode, generation: 1, offset }
    }

    #[test]
    fn write_then_read_round_trips_and_leaves_no_temp_file() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join(FILE_NAME);
        let checkpoints = vec![checkpoint(7, 100), checkpoint(8, 0)];
        write(&path, &checkpoints).expect("write");
        assert_eq!(read(&path).expect("read"), checkpoints);
        write(&path, &checkpoints[..1]).expect("overwrite");
        assert_eq!(read(&path).expect("read"), checkpoints[..1]);
        let names: Vec<_> =
            std::fs::read_dir(dir.path()).expect("list").map(|e| e.expect("entry").file_name()).collect();
        assert_eq!(names, vec![FILE_NAME], "the temp file was renamed away");
    }

    #[test]
    fn missing_file_is_empty_and_damaged_file_is_an_error_naming_it() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join(FILE_NAME);
        assert_eq!(read(&path).expect("missing is fine"), vec![]);
        std::fs::write(&path, b"{\"version\":1,\"files\":[").expect("write");
        let error = read(&path).expect_err("damaged").to_string();
        assert!(error.contains("checkpoints.json"), "{error}");
    }

    #[test]
    fn store_persists_only_when_changed_and_reopens() {
        let dir = tempfile::tempdir().expect("tempdir");
        let store = CheckpointStore::open(dir.path()).expect("open");
        assert!(!store.persist().expect("persist"), "nothing to write yet");
        store.set(checkpoint(7, 10));
        store.set(checkpoint(9, 5));
        assert!(store.persist().expect("persist"));
        assert!(!store.persist().expect("persist"), "unchanged");
        store.set(checkpoint(7, 10));
        assert!(!store.persist().expect("persist"), "same value is not a change");
        store.set(checkpoint(7, 20));
        store.remove(FileId { dev: 2049, inode: 9 });
        assert!(store.persist().expect("persist"));

        let reopened = CheckpointStore::open(dir.path()).expect("reopen");
        assert_eq!(reopened.get(FileId { dev: 2049, inode: 7 }), Some(checkpoint(7, 20)));
        assert_eq!(reopened.get(FileId { dev: 2049, inode: 9 }), None);
    }
}
