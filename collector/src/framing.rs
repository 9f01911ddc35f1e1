//! Line framing: turns the bytes of a file, pushed in any chunking, into complete lines with
//! their byte offsets. Pure (no I/O), so every edge case is a table-driven unit test.
//!
//! Invariants: a line is emitted only once its `\n` arrived (a partial last line waits);
//! `offset` is the position of the line's first byte and `end_offset` the position after its
//! newline, so a reader resuming at any emitted `end_offset` starts at a line boundary; memory
//! held for one line never exceeds `max_line_bytes + 1`.

/// A complete line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Line {
    /// The line without `\n` and without a trailing `\r`; raw bytes, maybe not UTF-8.
    pub bytes: Vec<u8>,
    /// Byte offset of the line's first byte in the file.
    pub offset: u64,
    /// Byte offset just after the line's newline: where reading resumes after this line.
    pub end_offset: u64,
    /// The line was longer than the limit and was cut there.
    pub truncated: bool,
    /// How many bytes of the line were dropped by the cut.
    pub skipped_bytes: u64,
}

/// Frames lines from a byte stream that starts at a line boundary.
#[derive(Debug)]
pub struct LineFramer {
    max_line_bytes: usize,
    /// Bytes of the current, incomplete line (at most `max_line_bytes + 1`, so a trailing
    /// `\r` can still be stripped from a line of exactly `max_line_bytes`).
    pending: Vec<u8>,
    /// The current line has more bytes than `pending` holds.
    overflowed: bool,
    /// Offset of the current line's first byte.
    line_start: u64,
    /// Offset after the last byte pushed.
    position: u64,
}

impl LineFramer {
    /// A framer whose next byte is at `offset`, which must be a line boundary.
    pub fn new(max_line_bytes: usize, offset: u64) -> LineFramer {
        LineFramer { max_line_bytes, pending: Vec::new(), overflowed: false, line_start: offset, position: offset }
    }

    /// Offset after the last byte pushed.
    pub fn position(&self) -> u64 {
        self.position
    }

    /// Forgets any partial line and continues at `offset` (after a truncation).
    pub fn reset(&mut self, offset: u64) {
        *self = LineFramer::new(self.max_line_bytes, offset);
    }

    /// Pushes the next bytes of the file; complete lines are appended to `out`.
    pub fn push(&mut self, mut data: &[u8], out: &mut Vec<Line>) {
        while !data.is_empty() {
            match data.iter().position(|&byte| byte == b'\n') {
                Some(newline) => {
                    self.append(&data[..newline]);
                    self.position += newline as u64 + 1;
                    out.push(self.finish_line());
                    data = &data[newline + 1..];
                }
                None => {
                    self.append(data);
                    self.position += data.len() as u64;
                    return;
                }
            }
        }
    }

    fn append(&mut self, chunk: &[u8]) {
        let room = (self.max_line_bytes + 1).saturating_sub(self.pending.len());
        let take = room.min(chunk.len());
        self.pending.extend_from_slice(&chunk[..take]);
        if take < chunk.len() {
            self.overflowed = true;
        }
    }

    /// Ends the current line where the bytes end, without a newline: for a file whose last
    /// line will not be terminated. `None` when no byte of a line is pending.
    pub fn flush_partial(&mut self) -> Option<Line> {
        if self.position == self.line_start {
            return None;
        }
        // finish_line expects `position` after a newline; account for the missing one.
        self.position += 1;
        let mut line = self.finish_line();
        self.position -= 1;
        line.end_offset = self.position;
        self.line_start = self.position;
        Some(line)
    }

    /// Ends the current line; `position` is just after its newline.
    fn finish_line(&mut self) -> Line {
        let content_len = self.position - 1 - self.line_start;
        let mut bytes = std::mem::take(&mut self.pending);
        if !self.overflowed && bytes.last() == Some(&b'\r') {
            bytes.pop();
        }
        let truncated = self.overflowed || bytes.len() > self.max_line_bytes;
        let skipped_bytes = if truncated {
            bytes.truncate(self.max_line_bytes);
            content_len - self.max_line_bytes as u64
        } else {
            0
        };
        let line = Line { bytes, offset: self.line_start, end_offset: self.position, truncated, skipped_bytes };
        self.overflowed = false;
        self.line_start = self.position;
        line
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Frames `chunks` pushed one after the other; returns (text, offset, truncated) per line.
    fn frame(max: usize, start: u64, chunks: &[&[u8]]) -> (Vec<(String, u64, bool)>, LineFramer) {
        let mut framer = LineFramer::new(max, start);
        let mut lines = Vec::new();
        for chunk in chunks {
            framer.push(chunk, &mut lines);
        }
        let view =
            lines.iter().map(|l| (String::from_utf8_lossy(&l.bytes).into_owned(), l.offset, l.truncated)).collect();
        (view, framer)
    }

    fn owned(lines: &[(&str, u64, bool)]) -> Vec<(String, u64, bool)> {
        lines.iter().map(|(text, offset, truncated)| (text.to_string(), *offset, *truncated)).collect()
    }

    /// Chunks pushed in order, and the lines expected as (text, offset, truncated).
    type Case<'a> = (&'a [&'a [u8]], &'a [(&'a str, u64, bool)]);

    #[test]
    fn an_unterminated_last_line_can_be_flushed_and_reading_continues_after_it() {
        let mut framer = LineFramer::new(100, 0);
        let mut lines = Vec::new();
        framer.push(b"a\nlast", &mut lines);
        assert_eq!(lines.len(), 1);
        let partial = framer.flush_partial().expect("pending bytes");
        assert_eq!((partial.bytes.as_slice(), partial.offset, partial.end_offset), (&b"last"[..], 2, 6));
        assert_eq!(framer.flush_partial(), None, "nothing pending any more");
        framer.push(b" more\n", &mut lines);
        assert_eq!((lines[1].bytes.as_slice(), lines[1].offset), (&b" more"[..], 6));
    }

    #[test]
    fn frames_lines_with_offsets() {
        let cases: &[Case] = &[
            (&[b"a\nbb\n"], &[("a", 0, false), ("bb", 2, false)]),
            (&[b"a\r\nbb\r\n"], &[("a", 0, false), ("bb", 3, false)]),
            (&[b"\n\n"], &[("", 0, false), ("", 1, false)]),
            (&[b"partial"], &[]),
            (&[b"par", b"tial", b"\nnext"], &[("partial", 0, false)]),
            (&[b"a\r", b"\n"], &[("a", 0, false)]),
            (&[b"a\rb\n"], &[("a\rb", 0, false)]),
            (&[b"one\ntw", b"o\nthree\n"], &[("one", 0, false), ("two", 4, false), ("three", 8, false)]),
        ];
        for (chunks, expected) in cases {
            let (lines, _) = frame(100, 0, chunks);
            assert_eq!(lines, owned(expected), "chunks {chunks:?}");
        }
    }

    #[test]
    fn every_chunking_gives_the_same_lines() {
        let text = b"first line\r\nsecond\n\nlast one without newline";
        let (whole, _) = frame(100, 0, &[text]);
        for split in 0..text.len() {
            let (lines, framer) = frame(100, 0, &[&text[..split], &text[split..]]);
            assert_eq!(lines, whole, "split at {split}");
            assert_eq!(framer.position(), text.len() as u64);
        }
    }

    #[test]
    fn partial_line_waits_for_its_newline() {
        let mut framer = LineFramer::new(100, 0);
        let mut lines = Vec::new();
        framer.push(b"done\nhalf", &mut lines);
        assert_eq!(lines.len(), 1);
        assert_eq!(lines[0].end_offset, 5, "a resume after the complete line starts at the partial one");
        framer.push(b" of it\n", &mut lines);
        assert_eq!(lines[1].bytes, b"half of it");
        assert_eq!((lines[1].offset, lines[1].end_offset), (5, 16));
    }

    #[test]
    fn long_line_is_cut_and_the_rest_skipped() {
        let (lines, _) = frame(4, 0, &[b"abcdefgh", b"ij\nok\n"]);
        assert_eq!(lines, owned(&[("abcd", 0, true), ("ok", 11, false)]));

        let mut framer = LineFramer::new(4, 0);
        let mut out = Vec::new();
        framer.push(b"abcdefghij\n", &mut out);
        assert_eq!(out[0].skipped_bytes, 6);
        assert_eq!(out[0].end_offset, 11);
    }

    #[test]
    fn limit_is_inclusive_and_ignores_a_trailing_cr() {
        let (lines, _) = frame(4, 0, &[b"abcd\nabcd\r\nabcde\n"]);
        assert_eq!(lines, owned(&[("abcd", 0, false), ("abcd", 5, false), ("abcd", 11, true)]));
    }

    #[test]
    fn invalid_utf8_is_kept_untouched() {
        let mut framer = LineFramer::new(100, 0);
        let mut out = Vec::new();
        framer.push(b"\xff\xfe bytes\n", &mut out);
        assert_eq!(out[0].bytes, b"\xff\xfe bytes");
    }

    #[test]
    fn offsets_continue_from_the_start_offset_and_reset() {
        let (lines, mut framer) = frame(100, 1000, &[b"x\ny\npart"]);
        assert_eq!(lines, owned(&[("x", 1000, false), ("y", 1002, false)]));
        framer.reset(0);
        let mut out = Vec::new();
        framer.push(b"new\n", &mut out);
        assert_eq!((out[0].bytes.as_slice(), out[0].offset), (&b"new"[..], 0), "the partial line is forgotten");
    }
}
