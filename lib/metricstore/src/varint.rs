//! Byte-aligned variable-length integers for the block index (LEB128, and zig-zag for signed
//! values), with a cursor that reports truncation instead of panicking.

pub fn put_uvarint(out: &mut Vec<u8>, mut value: u64) {
    while value >= 0x80 {
        out.push((value as u8) | 0x80);
        value >>= 7;
    }
    out.push(value as u8);
}

pub fn put_varint(out: &mut Vec<u8>, value: i64) {
    put_uvarint(out, ((value << 1) ^ (value >> 63)) as u64);
}

pub fn put_bytes(out: &mut Vec<u8>, bytes: &[u8]) {
    put_uvarint(out, bytes.len() as u64);
    out.extend_from_slice(bytes);
}

/// Reads from a byte slice; every read returns None past the end or on a malformed value.
pub struct Cursor<'a> {
    bytes: &'a [u8],
    position: usize,
}

impl<'a> Cursor<'a> {
    pub fn new(bytes: &'a [u8]) -> Cursor<'a> {
        Cursor { bytes, position: 0 }
    }

    pub fn position(&self) -> usize {
        self.position
    }

    pub fn skip(&mut self, bytes: usize) {
        self.position = self.position.saturating_add(bytes);
    }

    pub fn is_empty(&self) -> bool {
        self.position >= self.bytes.len()
    }

    pub fn uvarint(&mut self) -> Option<u64> {
        vigil_model::metrics_wire::read_uvarint(self.bytes, &mut self.position)
    }

    pub fn varint(&mut self) -> Option<i64> {
        let raw = self.uvarint()?;
        Some((raw >> 1) as i64 ^ -((raw & 1) as i64))
    }

    pub fn bytes(&mut self) -> Option<&'a [u8]> {
        let length = usize::try_from(self.uvarint()?).ok()?;
        let end = self.position.checked_add(length).filter(|end| *end <= self.bytes.len())?;
        let bytes = &self.bytes[self.position..end];
        self.position = end;
        Some(bytes)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_round_trip_and_truncation_is_none() {
        let mut out = Vec::new();
        for value in [0u64, 1, 127, 128, 300, u64::MAX] {
            put_uvarint(&mut out, value);
        }
        for value in [0i64, -1, 1, i64::MIN, i64::MAX] {
            put_varint(&mut out, value);
        }
        put_bytes(&mut out, b"abc");
        let mut cursor = Cursor::new(&out);
        for value in [0u64, 1, 127, 128, 300, u64::MAX] {
            assert_eq!(cursor.uvarint(), Some(value));
        }
        for value in [0i64, -1, 1, i64::MIN, i64::MAX] {
            assert_eq!(cursor.varint(), Some(value));
        }
        assert_eq!(cursor.bytes(), Some(&b"abc"[..]));
        assert!(cursor.is_empty());
        assert_eq!(cursor.uvarint(), None);
        assert_eq!(Cursor::new(&[0x80]).uvarint(), None);
        assert_eq!(Cursor::new(&[5, b'a']).bytes(), None);
    }
}
