//! Reading one open file: appended bytes become [`Line`]s, and a file that shrank below the
//! read position, or whose first bytes changed (truncated and written again between two
//! polls), is detected as truncated and read again from its start.
//!
//! Blocking I/O (`pread` on the held handle): callers run [`Tailer::poll`] on a blocking
//! thread. The handle is what is read, never the path, so a renamed or deleted file can still
//! be drained to its end.

use std::{collections::VecDeque, fmt, fs::File, io, os::unix::fs::FileExt, os::unix::fs::MetadataExt};

use crate::{
    config::LongLines,
    fingerprint::{first_bytes, Fingerprint, FINGERPRINT_BYTES},
    framing::{LineFramer, LineRef, LineSink},
};

/// Identity of a file: (device, inode), stable across renames.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct FileId {
    pub dev: u64,
    pub inode: u64,
}

impl FileId {
    pub fn of(metadata: &std::fs::Metadata) -> FileId {
        FileId { dev: metadata.dev(), inode: metadata.ino() }
    }

    /// The stream name of one generation of this file: `<dev>:<inode>:<generation>`.
    pub fn stream(self, generation: u64) -> String {
        format!("{}:{}:{generation}", self.dev, self.inode)
    }
}

impl fmt::Display for FileId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.dev, self.inode)
    }
}

/// What one [`Tailer::poll`] found.
#[derive(Debug)]
pub enum Polled {
    /// Bytes were read (maybe none); the lines they completed went to the sink.
    Read {
        bytes: u64,
        /// The read reached the current end of the file.
        at_end: bool,
    },
    /// The file no longer holds what was read (it is shorter than the read position, or its
    /// first bytes changed): it was truncated. Reading restarts at 0; a partial line that was
    /// pending is forgotten.
    Truncated { size: u64, read_offset: u64 },
}

/// Reads appended bytes of one open file.
#[derive(Debug)]
pub struct Tailer {
    file: File,
    framer: LineFramer,
    /// The file's first bytes as far as known (at most [`FINGERPRINT_BYTES`]): grown as
    /// reading passes them, and compared with the file at every poll.
    head: Vec<u8>,
    /// The start offset may be between two pieces of a long line (split mode): the first
    /// poll looks at the byte before it.
    may_start_mid_line: bool,
    /// Offsets where an unterminated last line was shipped before a restart (its
    /// `partial_line_timeout` passed): the line ends there again. Ascending.
    line_cuts: VecDeque<u64>,
    /// The bytes of the line being framed (read by earlier polls) are valid UTF-8.
    pending_valid_utf8: bool,
    /// Lines handed over that are not valid UTF-8, since [`Tailer::take_invalid_utf8_lines`].
    invalid_utf8_lines: u64,
}

/// Size of one `pread`.
const CHUNK_BYTES: usize = 64 * 1024;

thread_local! {
    /// The buffer `pread` fills, one per thread that polls (the blocking pool's), not one per
    /// file: an agent tailing 1,000 files held 64 MiB in per-file buffers.
    static READ_BUFFER: std::cell::RefCell<Option<Vec<u8>>> = const { std::cell::RefCell::new(None) };
}

impl Tailer {
    /// Tails `file` from `offset` (a line boundary, or with `long_lines = "split"` the end of
    /// a piece); `head` is what the file's first bytes were when the offset was decided (at
    /// least up to `offset`, or a full fingerprint's).
    pub fn new(file: File, offset: u64, max_line_bytes: usize, long_lines: LongLines, head: Vec<u8>) -> Tailer {
        Tailer {
            file,
            framer: LineFramer::new(max_line_bytes, offset).with_long_lines(long_lines),
            head,
            may_start_mid_line: long_lines == LongLines::Split && offset > 0,
            line_cuts: Default::default(),
            pending_valid_utf8: true,
            invalid_utf8_lines: 0,
        }
    }

    /// The same, for a file read again from a checkpoint that recorded `cuts`
    /// (`Checkpoint::line_cuts`).
    pub fn with_line_cuts(mut self, mut cuts: Vec<u64>) -> Tailer {
        cuts.sort_unstable();
        self.line_cuts = cuts.into();
        self
    }

    /// Frames `bytes` (read at the framer's position), ending a line at every cut they reach
    /// as it ended when it was shipped unterminated.
    fn frame(framer: &mut LineFramer, cuts: &mut VecDeque<u64>, mut bytes: &[u8], lines: &mut dyn LineSink) {
        while let Some(&cut) = cuts.front() {
            let position = framer.position();
            if cut < position {
                cuts.pop_front();
                continue;
            }
            let within = (cut - position) as usize;
            if within > bytes.len() {
                break;
            }
            framer.push(&bytes[..within], lines);
            framer.flush_partial(lines);
            bytes = &bytes[within..];
            cuts.pop_front();
        }
        framer.push(bytes, lines);
    }

    /// How many lines handed over since the last call were not valid UTF-8.
    pub fn take_invalid_utf8_lines(&mut self) -> u64 {
        std::mem::take(&mut self.invalid_utf8_lines)
    }

    /// Offset after the last byte read.
    pub fn read_offset(&self) -> u64 {
        self.framer.position()
    }

    /// The fingerprint of the file's first bytes as read.
    pub fn fingerprint(&self) -> Fingerprint {
        Fingerprint::of_bytes(&self.head)
    }

    /// Emits the bytes of an unterminated last line as a line (see
    /// `AgentConfig::partial_line_timeout`) into `out`; nothing when there are none.
    pub fn flush_partial_line(&mut self, out: &mut dyn LineSink) {
        let (known_valid, invalid) = (self.pending_valid_utf8, &mut self.invalid_utf8_lines);
        self.framer.flush_partial(&mut |line: LineRef<'_>| {
            *invalid += u64::from(!known_valid && simdutf8::basic::from_utf8(line.bytes).is_err());
            out.line(line);
        });
        self.pending_valid_utf8 = true;
    }

    /// Reads up to about `max_bytes` new bytes, or reports a truncation.
    pub fn poll(&mut self, max_bytes: usize, out: &mut dyn LineSink) -> io::Result<Polled> {
        let size = self.file.metadata()?.len();
        let read_offset = self.framer.position();
        if size < read_offset || first_bytes(&self.file, self.head.len())? != self.head {
            self.framer.reset(0);
            self.head.clear();
            self.pending_valid_utf8 = true;
            return Ok(Polled::Truncated { size, read_offset });
        }
        if std::mem::take(&mut self.may_start_mid_line) && read_offset > 0 {
            let mut before = [0u8];
            if self.file.read_at(&mut before, read_offset - 1)? == 1 && before[0] != b'\n' {
                // Resumed after a piece of a long line: the rest of it comes as later pieces.
                self.framer.continue_line();
            }
        }
        let mut bytes = 0u64;
        let at_end = READ_BUFFER.with_borrow_mut(|buf| -> io::Result<bool> {
            let buf = buf.get_or_insert_with(|| vec![0; CHUNK_BYTES]);
            loop {
                let position = self.framer.position();
                let read = match self.file.read_at(buf, position) {
                    Ok(read) => read,
                    // The lines framed so far went out (the framer is past them); the next
                    // poll meets the error again.
                    Err(_) if bytes > 0 => return Ok(false),
                    Err(error) => return Err(error),
                };
                let chunk = &buf[..read];
                grow_head(&mut self.head, position, chunk);
                // UTF-8 is checked a chunk at a time (line by line was 5% of the agent's
                // CPU): the lines of a valid chunk are valid when the bytes they carry over
                // from before are, as a line starts after a newline and a valid chunk does not
                // end inside a character. A cut (`line_cuts`) may fall inside a character: the
                // lines of a chunk with one are checked one by one.
                let cut_inside = self.line_cuts.front().is_some_and(|&cut| cut <= position + read as u64);
                let known_valid = self.pending_valid_utf8 && !cut_inside && simdutf8::basic::from_utf8(chunk).is_ok();
                let invalid = &mut self.invalid_utf8_lines;
                Self::frame(&mut self.framer, &mut self.line_cuts, chunk, &mut |line: LineRef<'_>| {
                    *invalid += u64::from(!known_valid && simdutf8::basic::from_utf8(line.bytes).is_err());
                    out.line(line);
                });
                self.pending_valid_utf8 = known_valid || simdutf8::basic::from_utf8(self.framer.pending()).is_ok();
                bytes += read as u64;
                if read < buf.len() {
                    return Ok(true);
                }
                if bytes as usize >= max_bytes {
                    return Ok(false);
                }
            }
        })?;
        Ok(Polled::Read { bytes, at_end })
    }
}

/// Adds the bytes of `read` (from `position`) that extend the known `head`.
fn grow_head(head: &mut Vec<u8>, position: u64, read: &[u8]) {
    let known = head.len() as u64;
    if head.len() >= FINGERPRINT_BYTES || position > known || position + read.len() as u64 <= known {
        return;
    }
    let from = (known - position) as usize;
    let take = (FINGERPRINT_BYTES - head.len()).min(read.len() - from);
    head.extend_from_slice(&read[from..from + take]);
}

#[cfg(test)]
mod tests {
    use std::io::Write;

    use super::*;

    use crate::framing::Line;

    /// Polls once; returns what the poll said and the lines it handed over.
    fn poll_lines(tailer: &mut Tailer, max_bytes: usize) -> (Polled, Vec<Line>) {
        let mut lines = Vec::new();
        let polled = tailer.poll(max_bytes, &mut lines).expect("poll");
        (polled, lines)
    }

    fn read_all(tailer: &mut Tailer) -> Vec<(Vec<u8>, u64)> {
        match poll_lines(tailer, 1 << 20) {
            (Polled::Read { .. }, lines) => lines.into_iter().map(|l| (l.bytes, l.offset)).collect(),
            (other, _) => panic!("expected lines, got {other:?}"),
        }
    }

    #[test]
    fn reads_appended_lines_then_detects_truncation() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("app.log");
        let mut writer = File::create(&path).expect("create");
        writer.write_all(b"one\ntwo\npar").expect("write");
        let mut tailer = Tailer::new(File::open(&path).expect("open"), 0, 1024, LongLines::Truncate, Vec::new());
        assert_eq!(read_all(&mut tailer), vec![(b"one".to_vec(), 0), (b"two".to_vec(), 4)]);
        writer.write_all(b"tial\n").expect("write");
        assert_eq!(read_all(&mut tailer), vec![(b"partial".to_vec(), 8)]);
        assert_eq!(read_all(&mut tailer), vec![], "nothing new");

        writer.set_len(0).expect("truncate");
        let mut writer = std::fs::OpenOptions::new().append(true).open(&path).expect("reopen");
        writer.write_all(b"new\n").expect("write");
        match poll_lines(&mut tailer, 1 << 20).0 {
            Polled::Truncated { size, read_offset } => assert_eq!((size, read_offset), (4, 16)),
            other => panic!("expected a truncation, got {other:?}"),
        }
        assert_eq!(read_all(&mut tailer), vec![(b"new".to_vec(), 0)]);
        assert_eq!(tailer.fingerprint(), Fingerprint::of_bytes(b"new\n"));
    }

    #[test]
    fn a_line_shipped_unterminated_before_a_restart_ends_where_it_ended_then() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("app.log");
        // "par" was shipped as a line on its timeout; "tial" came after. A cut inside the
        // first line (2) was already passed and changes nothing.
        std::fs::write(&path, b"one\npartial\nnext\n").expect("write");
        let tailer = Tailer::new(File::open(&path).expect("open"), 4, 1024, LongLines::Truncate, b"one\n".to_vec());
        let mut tailer = tailer.with_line_cuts(vec![7, 2]);
        assert_eq!(read_all(&mut tailer), vec![(b"par".to_vec(), 4), (b"tial".to_vec(), 7), (b"next".to_vec(), 12)]);
    }

    #[test]
    fn a_file_truncated_and_refilled_past_the_read_position_is_noticed_by_its_first_bytes() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("app.log");
        std::fs::write(&path, b"one\ntwo\n").expect("write");
        let mut tailer = Tailer::new(File::open(&path).expect("open"), 0, 1024, LongLines::Truncate, Vec::new());
        assert_eq!(read_all(&mut tailer).len(), 2);
        std::fs::write(&path, b"eleven\ntwelve\nthirteen\n").expect("rewrite, longer than before");
        assert!(matches!(poll_lines(&mut tailer, 1 << 20).0, Polled::Truncated { read_offset: 8, .. }));
        assert_eq!(read_all(&mut tailer).len(), 3);
    }

    #[test]
    fn resumes_at_an_offset_and_stops_at_max_bytes() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("big.log");
        let line = "x".repeat(99) + "\n";
        std::fs::write(&path, line.repeat(2000)).expect("write");
        let head = line.as_bytes().repeat(3)[..FINGERPRINT_BYTES].to_vec();
        let mut tailer = Tailer::new(File::open(&path).expect("open"), 100 * 1000, 1024, LongLines::Truncate, head);
        let (Polled::Read { at_end, .. }, lines) = poll_lines(&mut tailer, CHUNK_BYTES) else {
            panic!("not truncated")
        };
        assert!(!at_end, "a poll stops after max_bytes");
        assert_eq!(lines[0].offset, 100_000);
        let mut count = lines.len();
        while let (Polled::Read { at_end, .. }, lines) = poll_lines(&mut tailer, CHUNK_BYTES) {
            count += lines.len();
            if at_end {
                break;
            }
        }
        assert_eq!(count, 1000);
        assert_eq!(tailer.read_offset(), 200_000);
    }

    #[test]
    fn split_mode_resumes_between_two_pieces_of_a_line() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("long.log");
        std::fs::write(&path, b"0123456789\nnext\n").expect("write");
        let head = std::fs::read(&path).expect("read");
        let mut tailer = Tailer::new(File::open(&path).expect("open"), 4, 4, LongLines::Split, head);
        let (Polled::Read { .. }, lines) = poll_lines(&mut tailer, 1 << 20) else { panic!("not truncated") };
        let view: Vec<_> = lines.iter().map(|l| (l.bytes.as_slice(), l.offset, l.piece)).collect();
        use crate::framing::Piece::{Rest, Whole};
        assert_eq!(view, [(&b"4567"[..], 4, Rest), (b"89", 8, Rest), (b"next", 11, Whole)]);
    }

    /// Polls `tailer` until it reaches the end; returns the lines and how many it counted as
    /// not valid UTF-8.
    fn read_to_end(tailer: &mut Tailer, max_bytes: usize) -> (Vec<Line>, u64) {
        let mut lines = Vec::new();
        while let Polled::Read { at_end: false, .. } = tailer.poll(max_bytes, &mut lines).expect("poll") {}
        (lines, tailer.take_invalid_utf8_lines())
    }

    fn invalid(lines: &[Line]) -> u64 {
        lines.iter().filter(|l| std::str::from_utf8(&l.bytes).is_err()).count() as u64
    }

    #[test]
    fn lines_that_are_not_utf8_are_counted_exactly() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("text.log");
        // A 2-byte character straddles the first 64 KiB chunk's end; invalid lines come later,
        // one of them spanning two chunks, among valid ones.
        let mut text = "a".repeat(CHUNK_BYTES - 10) + "\n" + &"b".repeat(8) + "é" + "bb\n";
        assert_eq!(text.as_bytes()[CHUNK_BYTES], 0xA9, "the chunk ends inside 'é'");
        text.push_str(&"plain line\n".repeat(10_000));
        let mut bytes = text.into_bytes();
        bytes.extend_from_slice(b"bad \xff byte\n");
        bytes.extend_from_slice("ünïcode line\n".repeat(10_000).as_bytes());
        let spanning = CHUNK_BYTES * 4 - bytes.len() % CHUNK_BYTES - 3;
        bytes.extend_from_slice("x".repeat(spanning).as_bytes());
        bytes.extend_from_slice(b"\xfe across a chunk's end\nlast\n");
        std::fs::write(&path, &bytes).expect("write");
        for max_bytes in [CHUNK_BYTES, 1 << 20] {
            let mut tailer = Tailer::new(File::open(&path).expect("open"), 0, 1 << 20, LongLines::Truncate, Vec::new());
            let (lines, counted) = read_to_end(&mut tailer, max_bytes);
            assert_eq!(lines.len(), 20_005);
            assert_eq!((counted, invalid(&lines)), (2, 2), "polls of {max_bytes} bytes");
        }
    }

    #[test]
    fn lines_ended_at_a_recorded_cut_are_checked_one_by_one() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("cut.log");
        // The line was shipped unterminated after the first byte of 'é' (a restart reads it
        // again with that cut): both lines it becomes are invalid on their own.
        std::fs::write(&path, "xé\n".as_bytes()).expect("write");
        let tailer = Tailer::new(File::open(&path).expect("open"), 0, 1024, LongLines::Truncate, Vec::new());
        let mut tailer = tailer.with_line_cuts(vec![2]);
        let (lines, counted) = read_to_end(&mut tailer, CHUNK_BYTES);
        assert_eq!(lines.iter().map(|l| l.bytes.clone()).collect::<Vec<_>>(), [b"x\xc3".to_vec(), b"\xa9".to_vec()]);
        assert_eq!(counted, 2);
    }

    #[test]
    fn a_flushed_partial_line_is_checked_when_its_bytes_were_not() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("partial.log");
        // The writer stopped inside a character: the unterminated line is not valid UTF-8.
        std::fs::write(&path, b"ok\nstopped in \xc3").expect("write");
        let mut tailer = Tailer::new(File::open(&path).expect("open"), 0, 1024, LongLines::Truncate, Vec::new());
        let (mut lines, _) = read_to_end(&mut tailer, CHUNK_BYTES);
        tailer.flush_partial_line(&mut lines);
        assert_eq!(lines.len(), 2);
        assert_eq!(tailer.take_invalid_utf8_lines(), 1);
    }
}
