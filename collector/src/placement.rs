//! Where a file the scan found starts: the one decision that keeps rotation, restarts and
//! inode reuse from losing or repeating lines.
//!
//! - Its own checkpoint (same device and inode) is resumed only if the file still describes
//!   it: at least as long as the position, the same first bytes, and the last acknowledged
//!   line still there. Otherwise the inode now holds other content (the file was deleted and
//!   the inode reused, or truncated while the agent was stopped): the old stream is retired
//!   and the file is read from its start under a new stream.
//! - A file without a usable checkpoint that starts with the same [`FINGERPRINT_BYTES`] as
//!   content already read under another file (live, or retired) and still has that content's
//!   last acknowledged line is a copy of it (copytruncate's copy, or a move across devices):
//!   it continues that stream from its position instead of being read again. The pipeline
//!   indexes a (stream, offset) once, so lines both files hold are stored once.
//! - Anything else is new: read from the start (or, at the first scan with
//!   `read_from = "end"`, from its current end).
//!
//! [`FINGERPRINT_BYTES`]: crate::fingerprint::FINGERPRINT_BYTES

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

/// Where `candidate` starts, recorded in `state` as its checkpoint, with the file's first
/// bytes (for the tailer to keep checking). `from_end`: a new file starts at its end.
pub fn place(
    state: &mut State,
    candidate: &Candidate<'_>,
    from_end: bool,
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
                state.release(candidate.id);
                restarted = Some(reason);
            }
        }
    }
    if let Some((lineage, from)) = continued_lineage(state, candidate, fingerprint)? {
        let checkpoint = Checkpoint {
            path: candidate.path.clone(),
            dev: candidate.id.dev,
            inode: candidate.id.inode,
            stream: lineage.stream,
            offset: lineage.offset,
            fingerprint: Some(fingerprint),
            last_line: lineage.last_line,
        };
        state.set(checkpoint.clone());
        return Ok((checkpoint, head, Placement::Continued { from }));
    }
    let offset = if from_end && restarted.is_none() { candidate.size } else { 0 };
    let checkpoint = Checkpoint {
        path: candidate.path.clone(),
        dev: candidate.id.dev,
        inode: candidate.id.inode,
        stream: state.new_stream(candidate.id),
        offset,
        fingerprint: Some(fingerprint),
        last_line: None,
    };
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

/// The content (of another live file, or retired) `candidate` is a copy of, and where it was
/// read. Only full fingerprints count (a short one could be a common first line); of several
/// matches the furthest read wins.
fn continued_lineage(
    state: &State,
    candidate: &Candidate<'_>,
    fingerprint: Fingerprint,
) -> io::Result<Option<(Retired, PathBuf)>> {
    if !fingerprint.is_full() {
        return Ok(None);
    }
    let live = state.entries.values().filter(|c| c.id() != candidate.id).filter_map(|c| {
        Some(Retired {
            stream: c.stream.clone(),
            offset: c.offset,
            fingerprint: c.fingerprint?,
            last_line: c.last_line,
            path: c.path.clone(),
        })
    });
    let mut best: Option<Retired> = None;
    for lineage in live.chain(state.retired.iter().cloned()) {
        if lineage.fingerprint != fingerprint || best.as_ref().is_some_and(|b| b.offset >= lineage.offset) {
            continue;
        }
        if still_holds(candidate, lineage.offset, None, lineage.last_line)?.is_none() {
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
            let path = self.dir.path().join(name);
            let file = File::open(&path).expect("open");
            let metadata = file.metadata().expect("stat");
            let candidate = Candidate { id: FileId::of(&metadata), path: &path, file: &file, size: metadata.len() };
            let (checkpoint, _, placement) = store.with_state(|s| place(s, &candidate, false)).expect("placed");
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
    fn a_copy_continues_the_stream_it_copies_and_a_look_alike_does_not() {
        let dir = Dir::new();
        let store = CheckpointStore::open(dir.dir.path()).expect("store");
        let text = lines("first");
        dir.write("app.log", &text);
        let (original, _) = dir.place(&store, "app.log");
        acknowledge(&store, &original, 300, 285, "first line 019");

        // copytruncate: the copy holds the same bytes under a new inode.
        std::fs::copy(dir.dir.path().join("app.log"), dir.dir.path().join("app.log.1")).expect("copy");
        let (copy, placement) = dir.place(&store, "app.log.1");
        assert!(matches!(placement, Placement::Continued { .. }), "{placement:?}");
        assert_eq!((copy.stream.as_str(), copy.offset), (original.stream.as_str(), 300));

        // Same first 256 bytes, different lines after: not a copy (reading on would skip lines).
        dir.write("other.log", &format!("{}{}", &text[..260], lines("other")));
        let (other, placement) = dir.place(&store, "other.log");
        assert_eq!((placement, other.offset), (Placement::New, 0));

        // A retired stream (the original was truncated) is found the same way.
        let store = CheckpointStore::open(dir.dir.path()).expect("fresh store");
        let (original, _) = dir.place(&store, "app.log");
        acknowledge(&store, &original, 180, 165, "first line 011");
        store.remove(original.id());
        std::fs::copy(dir.dir.path().join("app.log"), dir.dir.path().join("app.log.2")).expect("copy");
        let (copy, placement) = dir.place(&store, "app.log.2");
        assert!(matches!(placement, Placement::Continued { .. }), "{placement:?}");
        assert_eq!((copy.stream, copy.offset), (original.stream, 180));
    }
}
