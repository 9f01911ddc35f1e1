//! `<data_dir>/checkpoints.json`: for each file, the stream its lines are shipped under and
//! the position after the last line the server or broker acknowledged; and the streams of
//! content that is gone from its file (truncated, replaced, released), so that a copy of it
//! found later continues instead of being read again (see [`crate::placement`]).
//!
//! Invariants: an entry advances only after an acknowledgement (the file task's sender sets
//! it; the supervisor only records where a newly found file starts); the file on disk is
//! replaced atomically (temp file, fsync, rename, fsync of the directory), so a crash leaves
//! the old or the new version, never a mix. Stream names are never reused: each new one takes
//! a generation above every earlier one (and above the clock in ms, so a lost data directory
//! does not bring old names back).

use std::{
    collections::BTreeMap,
    fs::File,
    io::{self, Write},
    path::{Path, PathBuf},
    sync::Mutex,
    time::{SystemTime, UNIX_EPOCH},
};

use serde::{Deserialize, Serialize};

use crate::{fingerprint::Fingerprint, tailer::FileId};

/// Name of the checkpoint file inside the data directory.
pub const FILE_NAME: &str = "checkpoints.json";
const FORMAT_VERSION: u32 = 2;
/// Retired streams kept, newest first; older ones are forgotten.
pub const MAX_RETIRED: usize = 1000;
/// How long a retired stream waits for its copy: logrotate makes the copy just before it
/// truncates, so a copy appears within seconds of the truncation being noticed. A short
/// window keeps an unrelated later file that happens to start the same from matching.
pub const RETIRED_FOR_MS: i64 = 10 * 60 * 1000;

/// Where reading of one file resumes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Checkpoint {
    /// The path the file was last seen at (informational: files are matched by identity).
    pub path: PathBuf,
    pub dev: u64,
    pub inode: u64,
    /// The stream the file's lines are shipped under (`<dev>:<inode>:<generation>` of the
    /// file that started it).
    pub stream: String,
    /// Byte offset after the last acknowledged line.
    pub offset: u64,
    /// The file's first bytes when the stream started (grown while it was short).
    pub fingerprint: Option<Fingerprint>,
    /// The last acknowledged line: it must still be there for the position to be trusted.
    pub last_line: Option<LineMark>,
    /// Offsets past `offset` where a multiline event was ended by its flush timeout (or the
    /// agent stopping) rather than by the next event's first line. A restart ends the events
    /// there again: an event already shipped must not come back larger at the same offset,
    /// which the pipeline would drop as already indexed, with the lines added to it since.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub event_cuts: Vec<u64>,
    /// The same for unterminated last lines shipped after `partial_line_timeout`: read again,
    /// the line ends there again rather than coming back longer at the same offset.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub line_cuts: Vec<u64>,
}

/// A line by its offset and first bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LineMark {
    pub offset: u64,
    pub fingerprint: Fingerprint,
}

/// A stream whose file no longer holds its content: a file that starts with `fingerprint`
/// and still has `last_line` continues it at `offset`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Retired {
    pub stream: String,
    pub offset: u64,
    pub fingerprint: Fingerprint,
    pub last_line: Option<LineMark>,
    /// Where it was read from, for messages.
    pub path: PathBuf,
    /// When the truncation was noticed, ms since the epoch.
    pub retired_ms: i64,
}

impl Checkpoint {
    pub fn id(&self) -> FileId {
        FileId { dev: self.dev, inode: self.inode }
    }

    /// The checkpoint's stream as retired content (None without a fingerprint: a copy could
    /// not be recognised).
    pub fn retired(&self) -> Option<Retired> {
        Some(Retired {
            stream: self.stream.clone(),
            offset: self.offset,
            fingerprint: self.fingerprint?,
            last_line: self.last_line,
            path: self.path.clone(),
            retired_ms: now_ms() as i64,
        })
    }
}

/// The on-disk shape (a persisted format, versioned).
#[derive(Debug, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CheckpointFile {
    pub version: u32,
    /// The highest generation a stream name was given.
    #[serde(default)]
    pub last_generation: u64,
    pub files: Vec<Checkpoint>,
    #[serde(default)]
    pub retired: Vec<Retired>,
}

/// Version 1 entries: the stream was `<dev>:<inode>:<generation>`, with no fingerprint.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct CheckpointV1 {
    path: PathBuf,
    dev: u64,
    inode: u64,
    generation: u64,
    offset: u64,
}

#[derive(Debug, Deserialize)]
struct FileV1 {
    files: Vec<CheckpointV1>,
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

/// Reads a checkpoint file (version 1 or 2); a missing file means no checkpoints.
pub fn read(path: &Path) -> Result<CheckpointFile, CheckpointError> {
    let text = match std::fs::read(path) {
        Ok(text) => text,
        Err(error) if error.kind() == io::ErrorKind::NotFound => {
            return Ok(CheckpointFile { version: FORMAT_VERSION, ..CheckpointFile::default() })
        }
        Err(source) => return Err(CheckpointError::Io { action: "read", path: path.to_path_buf(), source }),
    };
    let corrupt = |reason: String| CheckpointError::Corrupt { path: path.to_path_buf(), reason };
    #[derive(Deserialize)]
    struct Version {
        version: u32,
    }
    let version: Version = serde_json::from_slice(&text).map_err(|error| corrupt(error.to_string()))?;
    match version.version {
        FORMAT_VERSION => serde_json::from_slice(&text).map_err(|error| corrupt(error.to_string())),
        1 => {
            let old: FileV1 = serde_json::from_slice(&text).map_err(|error| corrupt(error.to_string()))?;
            let files = old
                .files
                .into_iter()
                .map(|c| Checkpoint {
                    stream: FileId { dev: c.dev, inode: c.inode }.stream(c.generation),
                    path: c.path,
                    dev: c.dev,
                    inode: c.inode,
                    offset: c.offset,
                    fingerprint: None,
                    last_line: None,
                    event_cuts: Vec::new(),
                    line_cuts: Vec::new(),
                })
                .collect();
            Ok(CheckpointFile { version: FORMAT_VERSION, last_generation: 0, files, retired: Vec::new() })
        }
        other => Err(corrupt(format!("version {other} is not {FORMAT_VERSION}"))),
    }
}

/// Replaces `path` with `contents`, atomically and durably.
pub fn write(path: &Path, contents: &CheckpointFile) -> Result<(), CheckpointError> {
    let io_error = |action, source| CheckpointError::Io { action, path: path.to_path_buf(), source };
    let body = serde_json::to_vec_pretty(contents).expect("checkpoints always serialize");
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
pub struct State {
    pub entries: BTreeMap<FileId, Checkpoint>,
    /// Newest first.
    pub retired: Vec<Retired>,
    last_generation: u64,
    dirty: bool,
}

impl State {
    /// A stream name never given before, for a new content of the file `id`.
    pub fn new_stream(&mut self, id: FileId) -> String {
        self.last_generation = (self.last_generation + 1).max(now_ms());
        self.dirty = true;
        id.stream(self.last_generation)
    }

    /// Records a position; callers only pass acknowledged positions (or a fresh start).
    pub fn set(&mut self, checkpoint: Checkpoint) {
        if self.entries.get(&checkpoint.id()) != Some(&checkpoint) {
            self.entries.insert(checkpoint.id(), checkpoint);
            self.dirty = true;
        }
    }

    /// Keeps the stream of file `id`'s checkpoint (acknowledged up to its position), whose
    /// content was truncated away, for a copy to continue.
    pub fn retire(&mut self, id: FileId) {
        let Some(retired) = self.entries.get(&id).and_then(Checkpoint::retired) else { return };
        self.retired.retain(|r| r.stream != retired.stream);
        self.retired.insert(0, retired);
        self.retired.truncate(MAX_RETIRED);
        self.dirty = true;
    }

    /// The retired streams a new file may still continue (recent ones).
    pub fn recently_retired(&self) -> impl Iterator<Item = &Retired> {
        let since = now_ms() as i64 - RETIRED_FOR_MS;
        self.retired.iter().filter(move |r| r.retired_ms >= since)
    }

    /// Removes a file's entry.
    pub fn release(&mut self, id: FileId) -> Option<Checkpoint> {
        let checkpoint = self.entries.remove(&id)?;
        self.dirty = true;
        Some(checkpoint)
    }
}

fn now_ms() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_millis() as u64)
}

impl CheckpointStore {
    /// Loads `<data_dir>/checkpoints.json` (empty when missing).
    pub fn open(data_dir: &Path) -> Result<CheckpointStore, CheckpointError> {
        let path = data_dir.join(FILE_NAME);
        let file = read(&path)?;
        let state = State {
            entries: file.files.into_iter().map(|checkpoint| (checkpoint.id(), checkpoint)).collect(),
            retired: file.retired,
            last_generation: file.last_generation,
            dirty: false,
        };
        Ok(CheckpointStore { path, state: Mutex::new(state), write_lock: Mutex::new(()) })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    pub fn get(&self, id: FileId) -> Option<Checkpoint> {
        self.lock().entries.get(&id).cloned()
    }

    /// Records a position; callers only pass acknowledged positions (or a fresh start).
    pub fn set(&self, checkpoint: Checkpoint) {
        self.lock().set(checkpoint);
    }

    /// Forgets a file that was drained and released.
    pub fn remove(&self, id: FileId) {
        self.lock().release(id);
    }

    /// Releases the entries for which `keep` is false; returns them.
    pub fn retain(&self, keep: impl Fn(FileId) -> bool) -> Vec<Checkpoint> {
        let mut state = self.lock();
        let removed: Vec<FileId> = state.entries.keys().copied().filter(|id| !keep(*id)).collect();
        removed.into_iter().filter_map(|id| state.release(id)).collect()
    }

    /// Runs `change` with the state locked (for decisions that read and write it at once).
    pub fn with_state<T>(&self, change: impl FnOnce(&mut State) -> T) -> T {
        change(&mut self.lock())
    }

    /// Writes the file if anything changed since the last write (blocking: fsyncs).
    /// Returns whether it wrote.
    pub fn persist(&self) -> Result<bool, CheckpointError> {
        let _writer = self.write_lock.lock().expect("checkpoint write lock is never poisoned");
        let snapshot = {
            let mut state = self.lock();
            if !state.dirty {
                return Ok(false);
            }
            state.dirty = false;
            CheckpointFile {
                version: FORMAT_VERSION,
                last_generation: state.last_generation,
                files: state.entries.values().cloned().collect(),
                retired: state.retired.clone(),
            }
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
        Checkpoint {
            path: format!("/var/log/{inode}.log").into(),
            dev: 2049,
            inode,
            stream: format!("2049:{inode}:1"),
            offset,
            fingerprint: Some(Fingerprint::of_bytes(&[b'a'; 300])),
            last_line: None,
            event_cuts: Vec::new(),
            line_cuts: Vec::new(),
        }
    }

    fn file(files: Vec<Checkpoint>) -> CheckpointFile {
        CheckpointFile { version: FORMAT_VERSION, last_generation: 5, files, retired: Vec::new() }
    }

    #[test]
    fn write_then_read_round_trips_and_leaves_no_temp_file() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join(FILE_NAME);
        let checkpoints = vec![checkpoint(7, 100), checkpoint(8, 0)];
        write(&path, &file(checkpoints.clone())).expect("write");
        assert_eq!(read(&path).expect("read").files, checkpoints);
        write(&path, &file(checkpoints[..1].to_vec())).expect("overwrite");
        assert_eq!(read(&path).expect("read").files, checkpoints[..1]);
        let names: Vec<_> =
            std::fs::read_dir(dir.path()).expect("list").map(|e| e.expect("entry").file_name()).collect();
        assert_eq!(names, vec![FILE_NAME], "the temp file was renamed away");
    }

    #[test]
    fn missing_file_is_empty_and_damaged_file_is_an_error_naming_it() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join(FILE_NAME);
        assert_eq!(read(&path).expect("missing is fine").files, vec![]);
        std::fs::write(&path, b"{\"version\":2,\"files\":[").expect("write");
        let error = read(&path).expect_err("damaged").to_string();
        assert!(error.contains("checkpoints.json"), "{error}");
    }

    #[test]
    fn a_version_1_file_keeps_its_positions_and_stream_names() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join(FILE_NAME);
        let v1 = r#"{"version":1,"files":[{"path":"/a.log","dev":3,"inode":9,"generation":2,"offset":40}]}"#;
        std::fs::write(&path, v1).expect("write");
        let files = read(&path).expect("version 1 is read").files;
        assert_eq!((files[0].stream.as_str(), files[0].offset, files[0].fingerprint), ("3:9:2", 40, None));
    }

    #[test]
    fn store_persists_only_when_changed_and_reopens_with_retired_streams() {
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
        store.with_state(|state| state.retire(FileId { dev: 2049, inode: 9 }));
        store.remove(FileId { dev: 2049, inode: 9 });
        let stream = store.with_state(|state| state.new_stream(FileId { dev: 1, inode: 2 }));
        assert!(store.persist().expect("persist"));

        let reopened = CheckpointStore::open(dir.path()).expect("reopen");
        assert_eq!(reopened.get(FileId { dev: 2049, inode: 7 }), Some(checkpoint(7, 20)));
        assert_eq!(reopened.get(FileId { dev: 2049, inode: 9 }), None);
        reopened.with_state(|state| {
            assert_eq!(
                state.retired.iter().map(|r| (r.stream.as_str(), r.offset)).collect::<Vec<_>>(),
                [("2049:9:1", 5)]
            );
            let next = state.new_stream(FileId { dev: 1, inode: 2 });
            assert!(next > stream && next.len() == stream.len(), "stream names are never reused: {stream} then {next}");
        });
    }
}
