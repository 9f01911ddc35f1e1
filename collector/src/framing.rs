//! Line framing: turns the bytes of a file, pushed in any chunking, into complete lines with
//! their byte offsets. Pure (no I/O), so every edge case is a table-driven unit test.
//!
//! Invariants: a line is emitted only once its `\n` arrived (a partial last line waits);
//! `offset` is the position of the line's first byte and `end_offset` the position after its
//! newline, so a reader resuming at any emitted `end_offset` starts at a line boundary; memory
//! held for one line never exceeds `max_line_bytes + 1`.
//!
//! A line longer than `max_line_bytes` is cut there and the rest skipped (`truncated`), or,
//! with [`LongLines::Split`], emitted in pieces of at most `max_line_bytes` as its bytes
//! arrive. A piece ends at `max_line_bytes`, or up to 3 bytes before when that would cut a
//! UTF-8 character. Each piece's `end_offset` is a place a reader may resume: where each cut
//! falls depends only on the bytes from the piece's start, so a framer started there (told
//! [`LineFramer::continue_line`]) cuts the rest of the line at the same offsets.

use crate::config::LongLines;

/// A complete line, owned (what multiline events are made of).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Line {
    /// The line without `\n` and without a trailing `\r`; raw bytes, maybe not UTF-8.
    /// (After [`crate::multiline`]: an event's lines joined with `\n`.)
    pub bytes: Vec<u8>,
    /// Byte offset of the line's first byte in the file.
    pub offset: u64,
    /// Byte offset just after the line's newline: where reading resumes after this line.
    pub end_offset: u64,
    /// The line was longer than the limit and was cut there.
    pub truncated: bool,
    /// How many bytes of the line were dropped by the cut.
    pub skipped_bytes: u64,
    /// Whether this is a whole line or a piece of a longer one.
    pub piece: Piece,
}

/// A complete line as the framer hands it over: its bytes are borrowed, from the bytes pushed
/// when the whole line was in them (no copy), else from the framer's buffer. Fields as [`Line`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LineRef<'a> {
    pub bytes: &'a [u8],
    pub offset: u64,
    pub end_offset: u64,
    pub truncated: bool,
    pub skipped_bytes: u64,
    pub piece: Piece,
}

impl LineRef<'_> {
    pub fn to_line(&self) -> Line {
        let LineRef { bytes, offset, end_offset, truncated, skipped_bytes, piece } = *self;
        Line { bytes: bytes.to_vec(), offset, end_offset, truncated, skipped_bytes, piece }
    }
}

impl Line {
    pub fn as_line_ref(&self) -> LineRef<'_> {
        let Line { ref bytes, offset, end_offset, truncated, skipped_bytes, piece } = *self;
        LineRef { bytes, offset, end_offset, truncated, skipped_bytes, piece }
    }
}

/// Where framed lines go, one at a time: a closure (the agent batches each line as it is
/// framed), or a `Vec<Line>` that keeps copies.
pub trait LineSink {
    fn line(&mut self, line: LineRef<'_>);
}

impl LineSink for Vec<Line> {
    fn line(&mut self, line: LineRef<'_>) {
        self.push(line.to_line());
    }
}

impl<F: FnMut(LineRef<'_>)> LineSink for F {
    fn line(&mut self, line: LineRef<'_>) {
        self(line)
    }
}

/// Whether a [`Line`] is whole or one piece of something longer shipped in pieces.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Piece {
    #[default]
    Whole,
    /// The first piece of a line over `max_line_bytes` (`long_lines = "split"`), or of a
    /// multiline event cut at its limits.
    First,
    /// A later piece; the last one ends where the line or event ends.
    Rest,
}

impl Piece {
    /// A piece of something longer (the record's `split`).
    pub fn is_split(self) -> bool {
        self != Piece::Whole
    }
}

/// Frames lines from a byte stream that starts at a line boundary.
#[derive(Debug)]
pub struct LineFramer {
    max_line_bytes: usize,
    long_lines: LongLines,
    /// Bytes of the current, incomplete line (at most `max_line_bytes + 1`, so a trailing
    /// `\r` can still be stripped from a line of exactly `max_line_bytes`). Only a line that
    /// spans two pushes is copied here; one inside a push is handed over from it.
    pending: Vec<u8>,
    /// The current line has more bytes than `pending` holds (truncate mode).
    overflowed: bool,
    /// Earlier bytes of the current line were emitted as pieces (split mode).
    in_pieces: bool,
    /// Offset of the current line's (or piece's) first byte.
    line_start: u64,
    /// Offset after the last byte pushed.
    position: u64,
}

impl LineFramer {
    /// A framer whose next byte is at `offset`, which must be a line boundary; long lines
    /// are truncated.
    pub fn new(max_line_bytes: usize, offset: u64) -> LineFramer {
        LineFramer {
            max_line_bytes,
            long_lines: LongLines::Truncate,
            pending: Vec::new(),
            overflowed: false,
            in_pieces: false,
            line_start: offset,
            position: offset,
        }
    }

    /// The same framer handling long lines as `long_lines` says.
    pub fn with_long_lines(mut self, long_lines: LongLines) -> LineFramer {
        self.long_lines = long_lines;
        self
    }

    /// The next byte continues a line whose earlier pieces were emitted before (a reader
    /// resuming at a piece's `end_offset`): the rest of it comes as later pieces.
    pub fn continue_line(&mut self) {
        self.in_pieces = true;
    }

    /// Offset after the last byte pushed.
    pub fn position(&self) -> u64 {
        self.position
    }

    /// The bytes held of the line not complete yet.
    pub fn pending(&self) -> &[u8] {
        &self.pending
    }

    /// Forgets any partial line and continues at `offset` (after a truncation).
    pub fn reset(&mut self, offset: u64) {
        *self = LineFramer::new(self.max_line_bytes, offset).with_long_lines(self.long_lines);
    }

    /// Pushes the next bytes of the file; complete lines (and pieces) go to `out`.
    pub fn push(&mut self, mut data: &[u8], out: &mut dyn LineSink) {
        while !data.is_empty() {
            match memchr::memchr(b'\n', data) {
                Some(newline) if self.pending.is_empty() => {
                    self.position += newline as u64 + 1;
                    self.end_line_in_place(&data[..newline], out);
                    data = &data[newline + 1..];
                }
                Some(newline) => {
                    self.append(&data[..newline], out);
                    self.position += newline as u64 + 1;
                    self.end_pending_line(true, out);
                    data = &data[newline + 1..];
                }
                None => {
                    self.append(data, out);
                    self.position += data.len() as u64;
                    return;
                }
            }
        }
    }

    /// Adds bytes of the current line; in split mode, emits a piece each time more than
    /// `max_line_bytes + 1` would be held.
    fn append(&mut self, mut chunk: &[u8], out: &mut dyn LineSink) {
        loop {
            let room = (self.max_line_bytes + 1).saturating_sub(self.pending.len());
            let take = room.min(chunk.len());
            self.pending.extend_from_slice(&chunk[..take]);
            chunk = &chunk[take..];
            if chunk.is_empty() {
                return;
            }
            match self.long_lines {
                LongLines::Truncate => {
                    self.overflowed = true;
                    return;
                }
                LongLines::Split => {
                    let pending = std::mem::take(&mut self.pending);
                    let cut = cut_point(&pending, self.max_line_bytes);
                    self.emit_piece(&pending[..cut], out);
                    self.pending = pending;
                    self.pending.drain(..cut);
                }
            }
        }
    }

    /// Emits `bytes`, the first of the current line's, as a piece.
    fn emit_piece(&mut self, bytes: &[u8], out: &mut dyn LineSink) {
        let piece = if self.in_pieces { Piece::Rest } else { Piece::First };
        let offset = self.line_start;
        self.in_pieces = true;
        self.line_start += bytes.len() as u64;
        out.line(LineRef { bytes, offset, end_offset: self.line_start, truncated: false, skipped_bytes: 0, piece });
    }

    /// Ends the current line where the bytes end, without a newline: for a file whose last
    /// line will not be terminated. Emits nothing when no byte of a line is pending.
    pub fn flush_partial(&mut self, out: &mut dyn LineSink) {
        if self.position != self.line_start {
            self.end_pending_line(false, out);
        }
    }

    /// Ends the line held in `pending` at `position`, which is just after its newline if
    /// `newline`.
    fn end_pending_line(&mut self, newline: bool, out: &mut dyn LineSink) {
        let mut pending = std::mem::take(&mut self.pending);
        let overflowed = self.overflowed;
        self.end_line(&pending, overflowed, newline, out);
        pending.clear();
        self.pending = pending;
    }

    /// Ends a line that `pending` has no byte of, all of whose bytes (`content`, without its
    /// newline) were in one push: cut as if they had passed through `pending`, without copying.
    fn end_line_in_place(&mut self, mut content: &[u8], out: &mut dyn LineSink) {
        let held = self.max_line_bytes + 1;
        if self.long_lines == LongLines::Split {
            while content.len() > held {
                let cut = cut_point(content, self.max_line_bytes);
                self.emit_piece(&content[..cut], out);
                content = &content[cut..];
            }
        }
        let overflowed = content.len() > held;
        self.end_line(&content[..content.len().min(held)], overflowed, true, out);
    }

    /// Ends the current line, of which `held` are the bytes kept (all of them unless
    /// `overflowed`), at `position`, which is just after its newline if `newline`.
    fn end_line(&mut self, held: &[u8], overflowed: bool, newline: bool, out: &mut dyn LineSink) {
        let mut bytes = held;
        if !overflowed {
            bytes = bytes.strip_suffix(b"\r").unwrap_or(bytes);
        }
        if self.long_lines == LongLines::Split && bytes.len() > self.max_line_bytes {
            let cut = cut_point(bytes, self.max_line_bytes);
            self.emit_piece(&bytes[..cut], out);
            bytes = &bytes[cut..];
        }
        let content_len = self.position - u64::from(newline) - self.line_start;
        let truncated = overflowed || bytes.len() > self.max_line_bytes;
        let skipped_bytes = if truncated {
            let keep = cut_point(bytes, self.max_line_bytes);
            bytes = &bytes[..keep];
            content_len - keep as u64
        } else {
            0
        };
        let piece = if self.in_pieces { Piece::Rest } else { Piece::Whole };
        let (offset, end_offset) = (self.line_start, self.position);
        out.line(LineRef { bytes, offset, end_offset, truncated, skipped_bytes, piece });
        self.overflowed = false;
        self.in_pieces = false;
        self.line_start = self.position;
    }
}

/// Where to cut `bytes` (longer than `max`) so that at most `max` bytes come first: at `max`,
/// or up to 3 bytes earlier when `max` falls inside a UTF-8 character, so the pieces of a
/// valid UTF-8 line stay valid (bytes that are not UTF-8 are cut at `max`).
fn cut_point(bytes: &[u8], max: usize) -> usize {
    let continues_a_character = |byte: u8| byte & 0b1100_0000 == 0b1000_0000;
    (max.saturating_sub(3)..=max).rev().find(|&at| at > 0 && !continues_a_character(bytes[at])).unwrap_or(max)
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
        framer.flush_partial(&mut lines);
        let partial = &lines[1];
        assert_eq!((partial.bytes.as_slice(), partial.offset, partial.end_offset), (&b"last"[..], 2, 6));
        framer.flush_partial(&mut lines);
        assert_eq!(lines.len(), 2, "nothing pending any more");
        framer.push(b" more\n", &mut lines);
        assert_eq!((lines[2].bytes.as_slice(), lines[2].offset), (&b" more"[..], 6));
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

    /// Frames `data` pushed in pieces cut at `cuts`, then flushes the partial last line.
    fn frame_all(max: usize, long_lines: LongLines, data: &[u8], cuts: &[usize]) -> Vec<Line> {
        let mut framer = LineFramer::new(max, 0).with_long_lines(long_lines);
        let mut lines = Vec::new();
        let mut from = 0;
        for &cut in cuts.iter().chain([&data.len()]) {
            let cut = cut.clamp(from, data.len());
            framer.push(&data[from..cut], &mut lines);
            from = cut;
        }
        framer.flush_partial(&mut lines);
        assert_eq!(framer.position(), data.len() as u64);
        lines
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig {
            failure_persistence: None,
            ..proptest::prelude::ProptestConfig::default()
        })]
        /// A line wholly inside one push is handed over from it; one spanning pushes is
        /// gathered first: both must cut and flag every line alike, whatever the chunking.
        #[test]
        fn lines_do_not_depend_on_how_the_bytes_were_pushed(
            data in proptest::collection::vec(proptest::sample::select(b"ab\r\n\xc3\xa9\xff".to_vec()), 0..200),
            mut cuts in proptest::collection::vec(0usize..200, 0..8),
            max in 1usize..12,
            split in proptest::bool::ANY,
        ) {
            let long_lines = if split { LongLines::Split } else { LongLines::Truncate };
            cuts.sort_unstable();
            let whole = frame_all(max, long_lines, &data, &[]);
            let every_byte: Vec<usize> = (1..data.len()).collect();
            proptest::prop_assert_eq!(&frame_all(max, long_lines, &data, &every_byte), &whole);
            proptest::prop_assert_eq!(&frame_all(max, long_lines, &data, &cuts), &whole);
            let mut at = 0;
            for line in &whole {
                proptest::prop_assert_eq!(line.offset, at, "lines follow each other");
                proptest::prop_assert!(line.bytes.len() <= max);
                at = line.end_offset;
            }
            proptest::prop_assert_eq!(at, data.len() as u64);
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

    /// Frames `chunks` in split mode; returns (text, offset, end_offset, piece) per line.
    fn split(max: usize, chunks: &[&[u8]]) -> Vec<(String, u64, u64, Piece)> {
        let mut framer = LineFramer::new(max, 0).with_long_lines(LongLines::Split);
        let mut lines = Vec::new();
        for chunk in chunks {
            framer.push(chunk, &mut lines);
        }
        assert!(framer.pending.len() <= max + 1, "memory bound");
        lines
            .into_iter()
            .inspect(|l| assert!(!l.truncated && l.bytes.len() <= max, "{l:?}"))
            .map(|l| (String::from_utf8_lossy(&l.bytes).into_owned(), l.offset, l.end_offset, l.piece))
            .collect()
    }

    #[test]
    fn split_mode_ships_a_long_line_in_pieces_at_their_own_offsets() {
        use Piece::*;
        /// Chunks pushed in order, and the lines expected as (text, offset, end_offset, piece).
        type SplitCase<'a> = (&'a [&'a [u8]], &'a [(&'a str, u64, u64, Piece)]);
        let cases: &[SplitCase] = &[
            (&[b"abcdefgh\nok\n"], &[("abcd", 0, 4, First), ("efgh", 4, 9, Rest), ("ok", 9, 12, Whole)]),
            (&[b"abcde\n"], &[("abcd", 0, 4, First), ("e", 4, 6, Rest)]),
            (&[b"abcd\r\n"], &[("abcd", 0, 6, Whole)]),
            (&[b"abcde\r\n"], &[("abcd", 0, 4, First), ("e", 4, 7, Rest)]),
            (&[b"abcd\rX\n"], &[("abcd", 0, 4, First), ("\rX", 4, 7, Rest)]),
            (&[b"ab", b"cdefghij", b"k\n"], &[("abcd", 0, 4, First), ("efgh", 4, 8, Rest), ("ijk", 8, 12, Rest)]),
            // A cut never splits a UTF-8 character: "abc" + "é" is 5 bytes.
            (&[b"abc\xc3\xa9\n"], &[("abc", 0, 3, First), ("é", 3, 6, Rest)]),
        ];
        for (chunks, expected) in cases {
            let owned: Vec<_> = expected.iter().map(|(t, o, e, p)| (t.to_string(), *o, *e, *p)).collect();
            assert_eq!(split(4, chunks), owned, "chunks {chunks:?}");
        }
    }

    #[test]
    fn split_pieces_do_not_depend_on_chunking_and_concatenate_to_the_line() {
        let line: Vec<u8> = "0123456789é€😀".repeat(20).into_bytes();
        let mut text = line.clone();
        text.extend_from_slice(b"\nnext\n");
        let whole = split(7, &[&text]);
        let joined: Vec<u8> =
            whole.iter().filter(|l| l.3 != Piece::Whole).flat_map(|l| l.0.as_bytes().to_vec()).collect();
        assert_eq!(joined, line, "no byte lost or repeated, every piece valid UTF-8");
        assert!(whole.windows(2).all(|w| w[0].2 == w[1].1), "each piece starts where the one before ends");
        assert_eq!(whole.last().map(|l| (l.0.as_str(), l.3)), Some(("next", Piece::Whole)));
        for at in 0..text.len() {
            assert_eq!(split(7, &[&text[..at], &text[at..]]), whole, "split at {at}");
        }
    }

    #[test]
    fn a_reader_resuming_between_pieces_gets_the_same_pieces() {
        let text = b"0123456789abcdefghij\nnext\n";
        let all = split(6, &[text]);
        for resume in all.iter().filter(|l| l.3 == Piece::First || l.3 == Piece::Rest).map(|l| l.2) {
            if text[resume as usize - 1] == b'\n' {
                continue;
            }
            let mut framer = LineFramer::new(6, resume).with_long_lines(LongLines::Split);
            framer.continue_line();
            let mut lines = Vec::new();
            framer.push(&text[resume as usize..], &mut lines);
            let view: Vec<_> = lines
                .into_iter()
                .map(|l| (String::from_utf8_lossy(&l.bytes).into_owned(), l.offset, l.end_offset, l.piece))
                .collect();
            let expected: Vec<_> = all.iter().filter(|l| l.1 >= resume).cloned().collect();
            assert_eq!(view, expected, "resumed at {resume}");
        }
    }

    #[test]
    fn split_mode_flushes_a_long_partial_line_as_its_last_piece() {
        let mut framer = LineFramer::new(4, 0).with_long_lines(LongLines::Split);
        let mut lines = Vec::new();
        framer.push(b"abcdefg", &mut lines);
        assert_eq!(lines.len(), 1);
        framer.flush_partial(&mut lines);
        assert_eq!((lines[1].bytes.as_slice(), lines[1].offset, lines[1].end_offset), (&b"efg"[..], 4, 7));
        assert_eq!(lines[1].piece, Piece::Rest);
    }

    #[test]
    fn truncation_keeps_whole_utf8_characters() {
        let mut framer = LineFramer::new(4, 0);
        let mut out = Vec::new();
        framer.push("abcé and more\n".as_bytes(), &mut out);
        assert_eq!((out[0].bytes.as_slice(), out[0].truncated), ("abc".as_bytes(), true));
        assert_eq!(out[0].skipped_bytes, "é and more".len() as u64);
    }
}
