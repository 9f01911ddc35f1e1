//! A forward-only byte cursor: the one place that indexes into a line, so no scanner can
//! read past the end or split a UTF-8 sequence (every stop is at an ASCII byte).

/// A position in a line's bytes. Every accessor is bounds-checked and returns `None`
/// (or an empty slice) at the end instead of panicking.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Cursor<'a> {
    s: &'a [u8],
    pos: usize,
}

impl<'a> Cursor<'a> {
    pub(crate) fn new(s: &'a [u8]) -> Self {
        Cursor { s, pos: 0 }
    }

    pub(crate) fn at(s: &'a [u8], pos: usize) -> Self {
        Cursor { s, pos: pos.min(s.len()) }
    }

    pub(crate) fn pos(&self) -> usize {
        self.pos
    }

    pub(crate) fn is_end(&self) -> bool {
        self.pos >= self.s.len()
    }

    pub(crate) fn peek(&self) -> Option<u8> {
        self.s.get(self.pos).copied()
    }

    pub(crate) fn peek_at(&self, ahead: usize) -> Option<u8> {
        self.s.get(self.pos.saturating_add(ahead)).copied()
    }

    pub(crate) fn rest(&self) -> &'a [u8] {
        self.s.get(self.pos..).unwrap_or(&[])
    }

    pub(crate) fn advance(&mut self, n: usize) {
        self.pos = self.pos.saturating_add(n).min(self.s.len());
    }

    /// Consumes `b` if it is next.
    pub(crate) fn eat(&mut self, b: u8) -> bool {
        if self.peek() == Some(b) {
            self.pos += 1;
            true
        } else {
            false
        }
    }

    /// Consumes exactly `n` ASCII digits and returns their value.
    pub(crate) fn digits(&mut self, n: usize) -> Option<u32> {
        let bytes = self.s.get(self.pos..self.pos.checked_add(n)?)?;
        let mut v: u32 = 0;
        for &b in bytes {
            if !b.is_ascii_digit() {
                return None;
            }
            v = v.checked_mul(10)?.checked_add(u32::from(b - b'0'))?;
        }
        self.pos += n;
        Some(v)
    }

    /// Consumes between `min` and `max` ASCII digits; returns their value and how many.
    pub(crate) fn digits_between(&mut self, min: usize, max: usize) -> Option<(u64, usize)> {
        let mut v: u64 = 0;
        let mut n = 0;
        while n < max {
            match self.peek_at(n) {
                Some(b) if b.is_ascii_digit() => {
                    v = v.checked_mul(10)?.checked_add(u64::from(b - b'0'))?;
                    n += 1;
                }
                _ => break,
            }
        }
        if n < min {
            return None;
        }
        self.pos += n;
        Some((v, n))
    }

    /// Consumes ASCII spaces and tabs; returns how many.
    pub(crate) fn skip_blanks(&mut self) -> usize {
        let start = self.pos;
        while matches!(self.peek(), Some(b' ' | b'\t')) {
            self.pos += 1;
        }
        self.pos - start
    }

    /// Consumes up to the next ASCII space or tab (or the end) and returns what it passed.
    pub(crate) fn token(&mut self) -> &'a [u8] {
        self.take_until(|b| b == b' ' || b == b'\t')
    }

    /// Consumes bytes while `stop` is false and returns them.
    pub(crate) fn take_until(&mut self, stop: impl Fn(u8) -> bool) -> &'a [u8] {
        let start = self.pos;
        while let Some(b) = self.peek() {
            if stop(b) {
                break;
            }
            self.pos += 1;
        }
        self.s.get(start..self.pos).unwrap_or(&[])
    }

    /// Consumes three ASCII letters and returns them.
    pub(crate) fn letters3(&mut self) -> Option<[u8; 3]> {
        let b = self.s.get(self.pos..self.pos.checked_add(3)?)?;
        if !b.iter().all(u8::is_ascii_alphabetic) {
            return None;
        }
        let out = [b[0], b[1], b[2]];
        self.pos += 3;
        Some(out)
    }
}

/// The `&str` between two byte positions of `line`; empty when they are not char boundaries
/// (never the case for the ASCII delimiters the scanners stop at).
pub(crate) fn sub(line: &str, start: usize, end: usize) -> &str {
    line.get(start..end).unwrap_or("")
}

/// `bytes` as `&str` when it is valid UTF-8 (it always is when cut from a `&str` at ASCII bytes).
pub(crate) fn as_str(bytes: &[u8]) -> &str {
    std::str::from_utf8(bytes).unwrap_or("")
}
