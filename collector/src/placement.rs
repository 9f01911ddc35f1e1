//! Where a file the scan found starts: the one decision that keeps rotation, restarts and
//! inode reuse from losing or repeating lines.
//!
//! - Its own checkpoint (same device and inode) is resumed only if the file still describes
//!   it: at least as long as the position, the same first bytes, and the last acknowledged
//!   line still there. Otherwise the inode now holds other content (the file was truncated
//!   while the agent was stopped, or deleted and the inode reused): the old stream is retired
//!   and the file is read from its start under a new stream.
//! - A file without a usable checkpoint that holds the content of a recently retired stream
//!   (the same first bytes, and that stream's last acknowledged line in place) is its copy:
//!   logrotate's copytruncate copies a file, then truncates it. It continues that stream from
//!   its position instead of being read again. The pipeline indexes a (stream, offset) once,
//!   so lines both files held are stored once.
//! - A file that holds what a live file holds may be such a copy seen before the truncation
//!   was: it waits ([`Placement::Wait`]) until that file was read again after the copy was
//!   seen (which notices a truncation) and a truncation noticed has retired its stream. A
//!   copy that is not followed by a truncation (`cp`) is then read as a new file: lines twice
//!   rather than a file skipped.
//! - Anything else is new: read from the start (or, at the first scan with
//!   `read_from = "end"`, from its current end).
//!
//! Where files are the same byte for byte, a copy cannot be told from a new file that starts
//! with the same lines; the rules keep that to a file appearing within minutes of a
//! truncation and starting with every byte read from the truncated content.

use std::{fs::File, io, path::PathBuf};

use crate::{
    checkpoint::{Checkpoint, LineMark, Retired, State},
    fingerprint::{first_bytes, Fingerprint, FINGERPRINT_BYTES},
    tailer::FileId,
};

/// How a found file's start was decided.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Placement {
    /// Its checkpoint still describes it.
    Resumed,
    /// It holds content read under another file: that stream goes on from its position.
    Continued { from: PathBuf },
    /// Its checkpoint no longer describes it, for `reason`; it is read from the start.
    Restarted { reason: &'static str },
    /// It holds what the live file `of` holds: decided at a later scan, once that file was
    /// read again (see `agent.rs`).
    Wait { of: FileId },
    /// Never seen before.
    New,
}

impl Placement {
    /// A short name for logs and metric labels.
    pub fn name(&self) -> &'static str {
        match self {
            Placement::Resumed => "resumed",
            Placement::Continued { .. } => "continued",
            Placement::Restarted { .. } => "restarted",
            Placement::Wait { .. } => "wait",
            Placement::New => "new",
        }
    }
}

/// The file being placed, opened.
pub struct Candidate<'a> {
    pub id: FileId,
    pub path: &'a PathBuf,
    pub file: &'a File,
    pub size: u64,
}

impl Candidate<'_> {
    /// A checkpoint of this file.
    fn checkpoint(
        &self,
        stream: String,
        offset: u64,
        fingerprint: Option<Fingerprint>,
        last_line: Option<LineMark>,
    ) -> Checkpoint {
        let (path, dev, inode) = (self.path.clone(), self.id.dev, self.id.inode);
        Checkpoint {
            path,
            dev,
            inode,
            stream,
            offset,
            fingerprint,
            last_line,
            event_cuts: Vec::new(),
            line_cuts: Vec::new(),
        }
    }
}

/// Where `candidate` starts, recorded in `state` as its checkpoint, with the file's first
/// bytes (for the tailer to keep checking). `from_end`: a new file starts at its end.
/// `may_wait`: a file that looks like a copy of a live one may wait (nothing is recorded).
pub fn place(
    state: &mut State,
    candidate: &Candidate<'_>,
    from_end: bool,
    may_wait: bool,
) -> io::Result<(Checkpoint, Vec<u8>, Placement)> {
    let head = first_bytes(candidate.file, FINGERPRINT_BYTES)?;
    let fingerprint = Fingerprint::of_bytes(&head);
    let mut restarted = None;
    if let Some(own) = state.entries.get(&candidate.id).cloned() {
        match still_holds(candidate, own.offset, own.fingerprint, own.last_line)? {
            None => {
                let checkpoint = Checkpoint { path: candidate.path.clone(), fingerprint: Some(fingerprint), ..own };
                state.set(checkpoint.clone());
                return Ok((checkpoint, head, Placement::Resumed));
            }
            Some(reason) => {
                state.retire(candidate.id);
                state.release(candidate.id);
                restarted = Some(reason);
            }
        }
    }
    let retired: Vec<Retired> = state.recently_retired().cloned().collect();
    if let Some((lineage, from)) = copied_lineage(candidate, fingerprint, retired)? {
        let checkpoint = candidate.checkpoint(lineage.stream, lineage.offset, Some(fingerprint), lineage.last_line);
        state.set(checkpoint.clone());
        return Ok((checkpoint, head, Placement::Continued { from }));
    }
    if may_wait && restarted.is_none() {
        // Only the first bytes are compared: a copy still being written (shorter than the
        // position read in its original, or than its fingerprint, even empty) waits too,
        // rather than being read whole.
        for live in state.entries.values().filter(|c| c.id() != candidate.id) {
            let Some(theirs) = live.fingerprint.filter(|f| f.len > 0) else { continue };
            let same_start = if head.len() >= theirs.len as usize {
                theirs == fingerprint || theirs.matches(candidate.file)?
            } else {
                File::open(&live.path).and_then(|file| first_bytes(&file, head.len())).is_ok_and(|bytes| bytes == head)
            };
            if same_start {
                let of = live.id();
                return Ok((candidate.checkpoint(String::new(), 0, None, None), head, Placement::Wait { of }));
            }
        }
    }
    let offset = if from_end && restarted.is_none() { candidate.size } else { 0 };
    let checkpoint = candidate.checkpoint(state.new_stream(candidate.id), offset, Some(fingerprint), None);
    state.set(checkpoint.clone());
    let placement = restarted.map_or(Placement::New, |reason| Placement::Restarted { reason });
    Ok((checkpoint, head, placement))
}

/// Why the file no longer holds what a position was taken in, or None when it does.
fn still_holds(
    candidate: &Candidate<'_>,
    offset: u64,
    fingerprint: Option<Fingerprint>,
    last_line: Option<LineMark>,
) -> io::Result<Option<&'static str>> {
    if candidate.size < offset {
        return Ok(Some("the file is shorter than its checkpoint (truncated while the agent was stopped)"));
    }
    if let Some(fingerprint) = fingerprint {
        if !fingerprint.matches(candidate.file)? {
            return Ok(Some("the file's first bytes changed (it was replaced, or truncated and written again)"));
        }
    }
    if let Some(mark) = last_line {
        if !mark.fingerprint.matches_at(candidate.file, mark.offset)? {
            return Ok(Some("the last acknowledged line is no longer where it was (the file was rewritten)"));
        }
    }
    Ok(None)
}

/// The lineage of `lineages` that `candidate` is a copy of, and where it was read; of several
/// matches the furthest read wins. A lineage counts when the candidate starts with its
/// fingerprinted bytes and still has its last acknowledged line, and the fingerprint is full
/// or covers everything before the position (a small file: then all that is skipped was
/// compared).
fn copied_lineage(
    candidate: &Candidate<'_>,
    fingerprint: Fingerprint,
    lineages: Vec<Retired>,
) -> io::Result<Option<(Retired, PathBuf)>> {
    let mut best: Option<Retired> = None;
    for lineage in lineages {
        // Continuing skips the content before the lineage's position: the fingerprint must
        // cover all of it (a crash may leave a position behind the content fingerprinted).
        let covered = lineage.fingerprint.is_full()
            || (u64::from(lineage.fingerprint.len) >= lineage.offset && lineage.fingerprint.len > 0);
        if !covered || best.as_ref().is_some_and(|b| b.offset >= lineage.offset) {
            continue;
        }
        let same_start = lineage.fingerprint == fingerprint
            || (!lineage.fingerprint.is_full() && lineage.fingerprint.matches(candidate.file)?);
        if same_start && still_holds(candidate, lineage.offset, None, lineage.last_line)?.is_none() {
            best = Some(lineage);
        }
    }
    Ok(best.map(|lineage| {
        let from = lineage.path.clone();
        (lineage, from)
    }))
}

#[cfg(test)]
mod tests {
    use std::io::Write;

    use super::*;
    use crate::checkpoint::CheckpointStore;

    struct Dir {
        dir: tempfile::TempDir,
    }

    impl Dir {
        fn new() -> Dir {
            Dir { dir: tempfile::tempdir().expect("tempdir") }
        }

        fn write(&self, name: &str, text: &str) -> PathBuf {
            let path = self.dir.path().join(name);
            std::fs::File::create(&path).and_then(|mut f| f.write_all(text.as_bytes())).expect("write");
            path
        }

        fn place(&self, store: &CheckpointStore, name: &str) -> (Checkpoint, Placement) {
            self.place_or_wait(store, name, false)
        }

        fn place_or_wait(&self, store: &CheckpointStore, name: &str, may_wait: bool) -> (Checkpoint, Placement) {
            let path = self.dir.path().join(name);
            let file = File::open(&path).expect("open");
            let metadata = file.metadata().expect("stat");
            let candidate = Candidate { id: FileId::of(&metadata), path: &path, file: &file, size: metadata.len() };
            let (checkpoint, _, placement) =
                store.with_state(|s| place(s, &candidate, false, may_wait)).expect("placed");
            (checkpoint, placement)
        }
    }

    /// 300 bytes of numbered lines: more than a full fingerprint.
    fn lines(prefix: &str) -> String {
        (0..20).map(|n| format!("{prefix} line {n:03}\n")).collect()
    }

    fn acknowledge(store: &CheckpointStore, checkpoint: &Checkpoint, offset: u64, line_at: u64, line: &str) {
        let mark = LineMark { offset: line_at, fingerprint: Fingerprint::of_bytes(line.as_bytes()) };
        store.set(Checkpoint { offset, last_line: Some(mark), ..checkpoint.clone() });
    }

    #[test]
    fn a_file_resumes_only_while_it_still_holds_what_was_read() {
        let dir = Dir::new();
        let store = CheckpointStore::open(dir.dir.path()).expect("store");
        let text = lines("first");
        dir.write("app.log", &text);
        let (checkpoint, placement) = dir.place(&store, "app.log");
        assert_eq!((placement, checkpoint.offset), (Placement::New, 0));
        let last = "first line 019";
        acknowledge(&store, &checkpoint, text.len() as u64, text.len() as u64 - 15, last);
        let (resumed, placement) = dir.place(&store, "app.log");
        assert_eq!(
            (placement, resumed.offset, &resumed.stream),
            (Placement::Resumed, text.len() as u64, &checkpoint.stream)
        );

        // Rewritten in place with the same first bytes and more: the last line moved away.
        let rewritten = format!("{}{}", &text[..280], lines("other"));
        dir.write("app.log", &rewritten);
        let (restarted, placement) = dir.place(&store, "app.log");
        assert!(matches!(placement, Placement::Restarted { .. }), "{placement:?}");
        assert_eq!(restarted.offset, 0);
        assert_ne!(
            restarted.stream, checkpoint.stream,
            "a new stream: the pipeline must not take its lines for resends"
        );
    }

    #[test]
    fn a_shorter_file_or_other_first_bytes_restart_from_the_beginning() {
        let dir = Dir::new();
        let store = CheckpointStore::open(dir.dir.path()).expect("store");
        dir.write("app.log", &lines("first"));
        let (checkpoint, _) = dir.place(&store, "app.log");
        store.set(Checkpoint { offset: 100, ..checkpoint });
        dir.write("app.log", "short\n");
        let (_, placement) = dir.place(&store, "app.log");
        assert_eq!(
            placement,
            Placement::Restarted {
                reason: "the file is shorter than its checkpoint (truncated while the agent was stopped)"
            }
        );

        let (checkpoint, _) = dir.place(&store, "app.log");
        store.set(Checkpoint { offset: 6, ..checkpoint });
        dir.write("app.log", "other\nlonger content\n");
        let (_, placement) = dir.place(&store, "app.log");
        assert!(
            matches!(placement, Placement::Restarted { reason } if reason.contains("first bytes")),
            "{placement:?}"
        );
    }

    #[test]
    fn a_copy_of_a_file_whose_position_was_lost_in_a_crash_continues_its_stream_from_there() {
        // The crash left the position at 0 though the line was shipped: the copy resends it
        // under the stream it was shipped with (recognised downstream), not under a new one.
        let dir = Dir::new();
        let store = CheckpointStore::open(dir.dir.path()).expect("store");
        dir.write("app.log", "the only line\n");
        let (original, _) = dir.place(&store, "app.log");
        std::fs::copy(dir.dir.path().join("app.log"), dir.dir.path().join("app.log.1")).expect("copy");
        store.with_state(|state| state.retire(original.id()));
        let (copy, placement) = dir.place(&store, "app.log.1");
        assert!(matches!(placement, Placement::Continued { .. }), "{placement:?}");
        assert_eq!((copy.stream.as_str(), copy.offset), (original.stream.as_str(), 0));
    }

    #[test]
    fn a_copy_continues_the_stream_it_copies_once_that_is_truncated_and_a_look_alike_does_not() {
        let dir = Dir::new();
        let store = CheckpointStore::open(dir.dir.path()).expect("store");
        let text = lines("first");
        dir.write("app.log", &text);
        let (original, _) = dir.place(&store, "app.log");
        acknowledge(&store, &original, 300, 285, "first line 019");

        // copytruncate copies first: the copy waits while the original still holds the content.
        std::fs::copy(dir.dir.path().join("app.log"), dir.dir.path().join("app.log.1")).expect("copy");
        let waits_for = Placement::Wait { of: original.id() };
        assert_eq!(dir.place_or_wait(&store, "app.log.1", true).1, waits_for);
        // Then it truncates: the stream is retired and the copy continues it.
        store.with_state(|state| state.retire(original.id()));
        let (copy, placement) = dir.place(&store, "app.log.1");
        assert!(matches!(placement, Placement::Continued { .. }), "{placement:?}");
        assert_eq!((copy.stream.as_str(), copy.offset), (original.stream.as_str(), 300));

        // Same first 256 bytes, different lines after: not a copy (reading on would skip lines).
        dir.write("other.log", &format!("{}{}", &text[..260], lines("other")));
        let (other, placement) = dir.place(&store, "other.log");
        assert_eq!((placement, other.offset), (Placement::New, 0));

        // A copy of a live file that is never truncated (`cp`) is read whole once it stops waiting.
        std::fs::copy(dir.dir.path().join("other.log"), dir.dir.path().join("other-copy.log")).expect("copy");
        let placement = dir.place_or_wait(&store, "other-copy.log", true).1;
        assert!(matches!(placement, Placement::Wait { .. }), "{placement:?}");
        let (copy, placement) = dir.place(&store, "other-copy.log");
        assert_eq!((placement, copy.offset), (Placement::New, 0));
    }

    #[test]
    fn a_copy_still_being_written_waits_instead_of_being_read_whole() {
        let dir = Dir::new();
        let store = CheckpointStore::open(dir.dir.path()).expect("store");
        let text = lines("first");
        dir.write("app.log", &text);
        let (original, _) = dir.place(&store, "app.log");
        acknowledge(&store, &original, 300, 285, "first line 019");
        // Just created by the copy, nothing in it yet: it waits too.
        dir.write("app.log.2", "");
        assert_eq!(dir.place_or_wait(&store, "app.log.2", true).1, Placement::Wait { of: original.id() });
        dir.write("app.log.3", &text[..100]);
        assert_eq!(dir.place_or_wait(&store, "app.log.3", true).1, Placement::Wait { of: original.id() });
        // Half copied: shorter than the position read in the original.
        dir.write("app.log.1", &text[..270]);
        assert_eq!(dir.place_or_wait(&store, "app.log.1", true).1, Placement::Wait { of: original.id() });
    }

    #[test]
    fn a_small_file_copy_continues_when_everything_read_was_fingerprinted() {
        let dir = Dir::new();
        let store = CheckpointStore::open(dir.dir.path()).expect("store");
        let text = "a small log line number one\na small log line number two\n";
        dir.write("app.log", text);
        let (original, _) = dir.place(&store, "app.log");
        acknowledge(&store, &original, text.len() as u64, 28, "a small log line number two");
        store.with_state(|state| state.retire(original.id()));
        std::fs::copy(dir.dir.path().join("app.log"), dir.dir.path().join("app.log.1")).expect("copy");
        let (copy, placement) = dir.place(&store, "app.log.1");
        assert!(matches!(placement, Placement::Continued { .. }), "{placement:?}");
        assert_eq!((copy.stream, copy.offset), (original.stream.clone(), text.len() as u64));

        // When the fingerprint does not cover all that continuing would skip (the file grew
        // after it was taken), a file that begins the same is new.
        dir.write("b.log", text);
        let (b, _) = dir.place(&store, "b.log");
        let first_line = Some(Fingerprint::of_bytes(&text.as_bytes()[..28]));
        acknowledge(
            &store,
            &Checkpoint { fingerprint: first_line, ..b.clone() },
            56,
            28,
            "a small log line number two",
        );
        store.with_state(|state| state.retire(b.id()));
        dir.write("b-copy.log", text);
        let (_, placement) = dir.place(&store, "b-copy.log");
        assert!(!matches!(&placement, Placement::Continued { from } if from.ends_with("b.log")), "{placement:?}");
    }
}
