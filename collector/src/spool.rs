//! The on-disk spool: batches the destination could not take wait here, one file each, and
//! are delivered oldest first once it is back.
//!
//! Crash safety, in this order:
//! 1. the batch is written to `<seq>.tmp` and fsynced;
//! 2. renamed to `<seq>.batch`, and the directory fsynced: from here it survives a crash;
//!    appends run side by side (their fsyncs share the filesystem's journal commits), and one
//!    fsync of the directory covers every rename made before it started (group commit);
//! 3. only then does the caller move the file's checkpoint past it (in memory; on disk at the
//!    next checkpoint write), so a crash between 2 and that write re-reads the lines: sent
//!    twice with the same (stream, offset), which the pipeline recognises;
//! 4. after the destination acknowledged it, `<seq>.batch` is unlinked. A crash before the
//!    unlink sends it again (same identities, recognised again).
//!
//! A `.tmp` found at start is a write that never completed (its lines were not checkpointed):
//! it is removed. A `.batch` that does not decode is renamed `.corrupt`, kept for inspection,
//! logged and counted; never deleted silently.
//!
//! Order: while the spool holds anything, every new batch is appended to it rather than sent
//! directly (see [`crate::delivery`]), so a file's batches reach the destination in order.

use std::{
    collections::VecDeque,
    fs,
    io::{self, Write},
    path::{Path, PathBuf},
    sync::{
        atomic::{AtomicU64, Ordering},
        Mutex, MutexGuard,
    },
};

use serde::{Deserialize, Serialize};
use tokio::sync::Notify;

use crate::batch::Batch;

const FORMAT_VERSION: u32 = 1;
const EXTENSION: &str = "batch";

/// What a spool file says about the batch it holds (its first line, JSON).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Header {
    pub version: u32,
    pub stream: String,
    /// The file the lines came from (for the ledger and for people reading the spool).
    pub source: String,
    pub lines: u64,
    pub file_bytes: u64,
    pub payload_len: u64,
    /// xxh3 of the payload: a damaged file is recognised, never shipped half.
    pub checksum: u64,
}

/// One spooled batch, as read back.
#[derive(Debug, Clone, PartialEq)]
pub struct Spooled {
    pub seq: u64,
    pub header: Header,
    pub batch: Batch,
}

/// A spool file that does not decode, set aside as `path`.
#[derive(Debug, Clone, PartialEq)]
pub struct Corrupt {
    pub path: PathBuf,
    pub reason: String,
    /// Its header, when that much was readable (for the ledger).
    pub header: Option<Header>,
}

#[derive(Debug, thiserror::Error)]
pub enum SpoolError {
    #[error("the spool is full ({held} of {max} bytes held; the batch needs {needed})")]
    Full { held: u64, max: u64, needed: u64 },
    #[error("failed to write to the spool at {path}: {source}")]
    Io { path: PathBuf, source: io::Error },
}

/// A queued entry: its sequence number and size on disk.
#[derive(Debug, Clone, Copy)]
struct Entry {
    seq: u64,
    bytes: u64,
    lines: u64,
}

#[derive(Debug, Default)]
struct Queue {
    /// Durable entries, by `seq`.
    entries: VecDeque<Entry>,
    /// Bytes of the entries and of the appends under way.
    bytes: u64,
    next_seq: u64,
    /// Appends under way (numbered, room reserved, not durable yet).
    appending: usize,
}

/// Group commit of the spool directory's fsync: renames are counted, and an fsync covers
/// every rename counted before it started.
#[derive(Debug, Default)]
struct DirSync {
    renamed: AtomicU64,
    /// The `renamed` count the last completed fsync covers (its lock also makes the fsyncs
    /// take turns, so the ones waiting find theirs done).
    synced: Mutex<u64>,
}

/// Totals of what the spool holds.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Held {
    pub batches: u64,
    pub lines: u64,
    pub bytes: u64,
}

pub struct Spool {
    dir: PathBuf,
    max_bytes: u64,
    queue: Mutex<Queue>,
    dir_sync: DirSync,
    /// Wakes the drainer when something is appended.
    pub appended: Notify,
    /// Wakes writers waiting for room when a batch leaves.
    pub room: Notify,
}

impl Spool {
    /// Opens (creating) the spool in `dir`, queueing the batches a previous run left.
    pub fn open(dir: &Path, max_bytes: u64) -> io::Result<Spool> {
        fs::create_dir_all(dir)?;
        let mut entries = Vec::new();
        for dirent in fs::read_dir(dir)? {
            let path = dirent?.path();
            let seq = path.file_stem().and_then(|stem| u64::from_str_radix(&stem.to_string_lossy(), 16).ok());
            match (path.extension().and_then(|e| e.to_str()), seq) {
                (Some("tmp"), _) => fs::remove_file(&path)?,
                (Some(EXTENSION), Some(seq)) => {
                    let lines = read_header(&path).map_or(0, |header| header.lines);
                    entries.push(Entry { seq, bytes: fs::metadata(&path)?.len(), lines });
                }
                _ => {}
            }
        }
        entries.sort_by_key(|entry| entry.seq);
        let queue = Queue {
            bytes: entries.iter().map(|e| e.bytes).sum(),
            next_seq: entries.last().map_or(0, |e| e.seq + 1),
            entries: entries.into(),
            appending: 0,
        };
        Ok(Spool {
            dir: dir.to_path_buf(),
            max_bytes,
            queue: Mutex::new(queue),
            dir_sync: DirSync::default(),
            appended: Notify::new(),
            room: Notify::new(),
        })
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Nothing is queued, nor being appended: a batch may go straight to the destination.
    pub fn is_empty(&self) -> bool {
        let queue = self.lock();
        queue.entries.is_empty() && queue.appending == 0
    }

    pub fn held(&self) -> Held {
        let queue = self.lock();
        Held {
            batches: queue.entries.len() as u64,
            lines: queue.entries.iter().map(|e| e.lines).sum(),
            bytes: queue.bytes,
        }
    }

    /// Appends `batch` durably (blocking: writes and fsyncs).
    /// Writes `batch` durably and queues it. Appends run side by side; each returns once
    /// its batch survives a crash. A stream's batches are appended one after the other (a
    /// file settles one batch at a time), so its order in the queue is the order they came.
    pub fn append(&self, batch: &Batch, source: &str) -> Result<(), SpoolError> {
        let header = Header {
            version: FORMAT_VERSION,
            stream: batch.stream.clone(),
            source: source.to_string(),
            lines: batch.lines,
            file_bytes: batch.file_bytes,
            payload_len: batch.payload.len() as u64,
            checksum: xxhash_rust::xxh3::xxh3_64(&batch.payload),
        };
        let mut head = serde_json::to_vec(&header).expect("a header serialises");
        head.push(b'\n');
        let needed = (head.len() + batch.payload.len()) as u64;
        let seq = {
            let mut queue = self.lock();
            if queue.bytes + needed > self.max_bytes {
                return Err(SpoolError::Full { held: queue.bytes, max: self.max_bytes, needed });
            }
            queue.bytes += needed;
            queue.appending += 1;
            queue.next_seq += 1;
            queue.next_seq - 1
        };
        let path = self.path_of(seq);
        let written = write_durably(&path, &[&head, &batch.payload], &self.dir_sync);
        let mut queue = self.lock();
        queue.appending -= 1;
        if let Err(source) = written {
            queue.bytes -= needed;
            drop(queue);
            self.room.notify_waiters();
            return Err(SpoolError::Io { path, source });
        }
        let at = queue.entries.partition_point(|entry| entry.seq < seq);
        queue.entries.insert(at, Entry { seq, bytes: needed, lines: batch.lines });
        drop(queue);
        self.appended.notify_one();
        Ok(())
    }

    /// The oldest batch, read back (blocking). A file that does not decode is set aside as
    /// `.corrupt` and returned as an error naming it; the next call goes on with the next.
    pub fn oldest(&self) -> Option<Result<Spooled, Corrupt>> {
        let entry = *self.lock().entries.front()?;
        let path = self.path_of(entry.seq);
        match read_spooled(&path, entry.seq) {
            Ok(spooled) => Some(Ok(spooled)),
            Err(reason) => {
                let header = read_header(&path);
                let corrupt = path.with_extension("corrupt");
                let _ = fs::rename(&path, &corrupt);
                self.forget(entry.seq);
                Some(Err(Corrupt { path: corrupt, reason, header }))
            }
        }
    }

    /// Removes a delivered batch.
    pub fn remove(&self, seq: u64) -> io::Result<()> {
        match fs::remove_file(self.path_of(seq)) {
            Ok(()) => {}
            Err(error) if error.kind() == io::ErrorKind::NotFound => {}
            Err(error) => return Err(error),
        }
        self.forget(seq);
        Ok(())
    }

    fn forget(&self, seq: u64) {
        let mut queue = self.lock();
        if let Some(index) = queue.entries.iter().position(|e| e.seq == seq) {
            let entry = queue.entries.remove(index).expect("index is in range");
            queue.bytes -= entry.bytes;
        }
        drop(queue);
        self.room.notify_waiters();
    }

    fn path_of(&self, seq: u64) -> PathBuf {
        self.dir.join(format!("{seq:016x}.{EXTENSION}"))
    }

    fn lock(&self) -> MutexGuard<'_, Queue> {
        self.queue.lock().expect("spool lock is never poisoned")
    }
}

/// tmp -> fsync -> rename -> fsync(dir).
fn write_durably(path: &Path, parts: &[&[u8]], dir_sync: &DirSync) -> io::Result<()> {
    let tmp = path.with_extension("tmp");
    let written = (|| {
        let mut file = fs::File::create(&tmp)?;
        for part in parts {
            file.write_all(part)?;
        }
        file.sync_all()?;
        fs::rename(&tmp, path)?;
        Ok(dir_sync.renamed.fetch_add(1, Ordering::SeqCst) + 1)
    })();
    match written {
        Ok(rename) => sync_dir(path.parent().expect("a spool file has a directory"), dir_sync, rename)
            // Not known to survive a crash: not queued, so not kept either.
            .inspect_err(|_| drop(fs::remove_file(path))),
        Err(error) => {
            let _ = fs::remove_file(&tmp);
            Err(error)
        }
    }
}

/// Fsyncs `dir` for the `mine`-th rename, unless an fsync that started after it already did.
fn sync_dir(dir: &Path, dir_sync: &DirSync, mine: u64) -> io::Result<()> {
    let mut synced = dir_sync.synced.lock().expect("spool sync lock is never poisoned");
    if *synced >= mine {
        return Ok(());
    }
    let covers = dir_sync.renamed.load(Ordering::SeqCst);
    fs::File::open(dir)?.sync_all()?;
    *synced = covers;
    Ok(())
}

/// Only the header line: at start every spooled file is looked at, and payloads can be large.
fn read_header(path: &Path) -> Option<Header> {
    let mut line = Vec::new();
    io::BufRead::read_until(&mut io::BufReader::new(fs::File::open(path).ok()?), b'\n', &mut line).ok()?;
    serde_json::from_slice(line.strip_suffix(b"\n")?).ok()
}

fn read_spooled(path: &Path, seq: u64) -> Result<Spooled, String> {
    let contents = fs::read(path).map_err(|error| format!("unreadable: {error}"))?;
    let newline = contents.iter().position(|&b| b == b'\n').ok_or("no header line")?;
    let header: Header =
        serde_json::from_slice(&contents[..newline]).map_err(|error| format!("bad header: {error}"))?;
    if header.version != FORMAT_VERSION {
        return Err(format!("format version {} is not {FORMAT_VERSION}", header.version));
    }
    let payload = contents[newline + 1..].to_vec();
    if payload.len() as u64 != header.payload_len || xxhash_rust::xxh3::xxh3_64(&payload) != header.checksum {
        return Err("the payload does not match its length or checksum".into());
    }
    let batch = Batch {
        stream: header.stream.clone(),
        end_offset: 0,
        last_line: None,
        lines: header.lines,
        file_bytes: header.file_bytes,
        payload,
        // Its cuts were on disk before it was spooled; the checkpoint is past it.
        event_cuts: Vec::new(),
        line_cuts: Vec::new(),
    };
    Ok(Spooled { seq, header, batch })
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;

    fn batch(stream: &str, payload: &[u8]) -> Batch {
        Batch {
            stream: stream.into(),
            end_offset: 99,
            last_line: None,
            lines: 3,
            file_bytes: 30,
            payload: payload.to_vec(),
            event_cuts: Vec::new(),
            line_cuts: Vec::new(),
        }
    }

    #[test]
    fn batches_come_back_in_order_across_a_reopen_and_leave_nothing_when_removed() {
        let dir = tempfile::tempdir().expect("tempdir");
        let spool = Spool::open(dir.path(), 1 << 20).expect("open");
        spool.append(&batch("s", b"one"), "/a.log").expect("append");
        spool.append(&batch("t", b"two"), "/b.log").expect("append");
        drop(spool);

        let spool = Spool::open(dir.path(), 1 << 20).expect("reopen");
        assert_eq!(spool.held().batches, 2);
        assert_eq!(spool.held().lines, 6);
        let first = spool.oldest().expect("something").expect("decodes");
        assert_eq!((first.batch.payload.as_slice(), first.header.source.as_str()), (&b"one"[..], "/a.log"));
        spool.remove(first.seq).expect("remove");
        let second = spool.oldest().expect("something").expect("decodes");
        assert_eq!((second.batch.stream.as_str(), second.batch.payload.as_slice()), ("t", &b"two"[..]));
        spool.remove(second.seq).expect("remove");
        assert!(spool.oldest().is_none());
        assert_eq!(fs::read_dir(dir.path()).expect("list").count(), 0, "no file left behind");
        spool.append(&batch("s", b"three"), "/a.log").expect("append after emptying");
        assert!(spool.oldest().expect("something").expect("decodes").seq > second.seq, "sequence numbers only grow");
    }

    #[test]
    fn appends_side_by_side_keep_each_streams_order_and_all_survive_a_reopen() {
        let dir = tempfile::tempdir().expect("tempdir");
        let spool = Spool::open(dir.path(), 1 << 20).expect("open");
        std::thread::scope(|scope| {
            for stream in ["a", "b", "c", "d"] {
                let spool = &spool;
                scope.spawn(move || {
                    for n in 0..25 {
                        spool.append(&batch(stream, format!("{stream}{n}").as_bytes()), "/x.log").expect("append");
                    }
                });
            }
        });
        assert!(!spool.is_empty());
        drop(spool);
        let spool = Spool::open(dir.path(), 1 << 20).expect("reopen");
        assert_eq!(spool.held().batches, 100);
        let mut seen: BTreeMap<String, Vec<u32>> = BTreeMap::new();
        while let Some(spooled) = spool.oldest() {
            let spooled = spooled.expect("decodes");
            let payload = String::from_utf8(spooled.batch.payload.clone()).expect("utf-8");
            seen.entry(spooled.batch.stream.clone()).or_default().push(payload[1..].parse().expect("a number"));
            spool.remove(spooled.seq).expect("remove");
        }
        let in_order: Vec<u32> = (0..25).collect();
        assert!(seen.values().all(|numbers| *numbers == in_order), "{seen:?}");
        assert_eq!(seen.len(), 4);
        assert!(spool.is_empty());
    }

    #[test]
    fn a_full_spool_refuses_and_names_the_sizes() {
        let dir = tempfile::tempdir().expect("tempdir");
        let spool = Spool::open(dir.path(), 300).expect("open");
        spool.append(&batch("s", &[7; 100]), "/a.log").expect("fits");
        let error = spool.append(&batch("s", &[7; 100]), "/a.log").expect_err("full");
        assert!(matches!(error, SpoolError::Full { max: 300, .. }), "{error}");
        assert_eq!(spool.held().batches, 1);
    }

    #[test]
    fn a_damaged_file_is_set_aside_and_the_next_one_is_delivered() {
        let dir = tempfile::tempdir().expect("tempdir");
        let spool = Spool::open(dir.path(), 1 << 20).expect("open");
        spool.append(&batch("s", b"first"), "/a.log").expect("append");
        spool.append(&batch("s", b"second"), "/a.log").expect("append");
        let path = spool.path_of(0);
        let mut contents = fs::read(&path).expect("read");
        *contents.last_mut().expect("payload") ^= 1;
        fs::write(&path, contents).expect("damage");
        fs::write(dir.path().join("0000000000000009.tmp"), b"half").expect("leftover");

        let spool = Spool::open(dir.path(), 1 << 20).expect("reopen");
        assert!(!dir.path().join("0000000000000009.tmp").exists(), "an unfinished write is removed");
        let corrupt = spool.oldest().expect("something").expect_err("damaged");
        assert!(corrupt.path.exists() && corrupt.reason.contains("checksum"), "{corrupt:?}");
        assert_eq!(corrupt.header.map(|h| h.lines), Some(3), "its lines can still be counted");
        let next = spool.oldest().expect("something").expect("decodes");
        assert_eq!(next.batch.payload, b"second");
    }
}
