//! One record of a segment file: how a message is framed, encoded and decoded.
//!
//! ```text
//! u32 body_len | u32 crc32(body) | body
//! body = u64 offset | i64 timestamp_ms
//!      | u32 key_len (u32::MAX: no key) | key
//!      | u32 header_count | { u32 name_len | name (UTF-8) | u32 value_len | value }*
//!      | payload (the rest of the body)
//! ```
//! All integers are little-endian. Nothing here does I/O.

use crate::{Message, OutgoingMessage};

/// `body_len` and `crc32` in front of every body.
pub(crate) const FRAME_BYTES: usize = 8;
/// The smallest body: offset, timestamp, key length, header count.
pub(crate) const MIN_BODY_BYTES: usize = 24;
/// No record, framing included, is ever larger (bounds what recovery believes a length says).
pub(crate) const MAX_RECORD_BYTES: usize = 1 << 30;
/// `key_len` of a message without a key.
const NO_KEY: u32 = u32::MAX;

/// Why a body could not be decoded.
#[derive(Debug, thiserror::Error)]
pub(crate) enum DecodeError {
    #[error("checksum mismatch")]
    Checksum,
    #[error("malformed record: {0}")]
    Malformed(&'static str),
}

/// Bytes `message` takes on disk, framing included.
pub(crate) fn encoded_len(message: &OutgoingMessage) -> usize {
    let key = message.key.as_ref().map_or(0, Vec::len);
    let headers: usize = message.headers.iter().map(|(name, value)| 8 + name.len() + value.len()).sum();
    FRAME_BYTES + MIN_BODY_BYTES + key + headers + message.payload.len()
}

/// Appends the record of `message` at `offset` to `out`. The caller has checked that
/// [`encoded_len`] is at most [`MAX_RECORD_BYTES`], so every length fits its field.
pub(crate) fn encode(message: &OutgoingMessage, offset: u64, timestamp_ms: i64, out: &mut Vec<u8>) {
    let start = out.len();
    out.extend_from_slice(&[0; FRAME_BYTES]);
    out.extend_from_slice(&offset.to_le_bytes());
    out.extend_from_slice(&timestamp_ms.to_le_bytes());
    match &message.key {
        Some(key) => {
            put_len(out, key.len());
            out.extend_from_slice(key);
        }
        None => out.extend_from_slice(&NO_KEY.to_le_bytes()),
    }
    put_len(out, message.headers.len());
    for (name, value) in &message.headers {
        put_len(out, name.len());
        out.extend_from_slice(name.as_bytes());
        put_len(out, value.len());
        out.extend_from_slice(value);
    }
    out.extend_from_slice(&message.payload);
    let body = &out[start + FRAME_BYTES..];
    let body_len = u32::try_from(body.len()).expect("record size was checked against MAX_RECORD_BYTES");
    let crc = crc32fast::hash(body);
    out[start..start + 4].copy_from_slice(&body_len.to_le_bytes());
    out[start + 4..start + 8].copy_from_slice(&crc.to_le_bytes());
}

fn put_len(out: &mut Vec<u8>, len: usize) {
    let len = u32::try_from(len).expect("record size was checked against MAX_RECORD_BYTES");
    out.extend_from_slice(&len.to_le_bytes());
}

/// Splits a frame into `(body_len, crc)`.
pub(crate) fn parse_frame(frame: [u8; FRAME_BYTES]) -> (usize, u32) {
    let body_len = u32::from_le_bytes([frame[0], frame[1], frame[2], frame[3]]);
    let crc = u32::from_le_bytes([frame[4], frame[5], frame[6], frame[7]]);
    (body_len as usize, crc)
}

/// Whether a frame's `body_len` can belong to a record this bus wrote.
pub(crate) fn plausible_body_len(body_len: usize) -> bool {
    (MIN_BODY_BYTES..=MAX_RECORD_BYTES - FRAME_BYTES).contains(&body_len)
}

/// The offset at the start of a body (at least 8 bytes long).
pub(crate) fn body_offset(body: &[u8]) -> u64 {
    u64::from_le_bytes(body[..8].try_into().expect("slice of 8 bytes"))
}

/// Checks the body against `crc` and decodes it into a message of `partition`.
pub(crate) fn decode(body: &[u8], crc: u32, partition: u32) -> Result<Message, DecodeError> {
    if crc32fast::hash(body) != crc {
        return Err(DecodeError::Checksum);
    }
    let mut cursor = Cursor { rest: body };
    let offset = u64::from_le_bytes(cursor.array()?);
    let timestamp_ms = i64::from_le_bytes(cursor.array()?);
    let key = match u32::from_le_bytes(cursor.array()?) {
        NO_KEY => None,
        len => Some(cursor.bytes(len as usize)?.to_vec()),
    };
    let header_count = u32::from_le_bytes(cursor.array()?) as usize;
    let mut headers = Vec::with_capacity(header_count.min(1024));
    for _ in 0..header_count {
        let name_len = u32::from_le_bytes(cursor.array()?) as usize;
        let name = std::str::from_utf8(cursor.bytes(name_len)?)
            .map_err(|_| DecodeError::Malformed("header name is not utf-8"))?
            .to_string();
        let value_len = u32::from_le_bytes(cursor.array()?) as usize;
        headers.push((name, cursor.bytes(value_len)?.to_vec()));
    }
    Ok(Message { partition, offset, timestamp_ms, key, headers, payload: cursor.rest.to_vec() })
}

struct Cursor<'a> {
    rest: &'a [u8],
}

impl<'a> Cursor<'a> {
    fn bytes(&mut self, len: usize) -> Result<&'a [u8], DecodeError> {
        if self.rest.len() < len {
            return Err(DecodeError::Malformed("field runs past the end of the record"));
        }
        let (head, rest) = self.rest.split_at(len);
        self.rest = rest;
        Ok(head)
    }

    fn array<const N: usize>(&mut self) -> Result<[u8; N], DecodeError> {
        Ok(self.bytes(N)?.try_into().expect("slice of N bytes"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn roundtrip(message: &OutgoingMessage) -> Message {
        let mut buf = Vec::new();
        encode(message, 42, 1_700_000_000_123, &mut buf);
        assert_eq!(buf.len(), encoded_len(message));
        let (body_len, crc) = parse_frame(buf[..FRAME_BYTES].try_into().expect("frame"));
        assert_eq!(body_len, buf.len() - FRAME_BYTES);
        decode(&buf[FRAME_BYTES..], crc, 3).expect("decodes")
    }

    #[test]
    fn roundtrips_every_field() {
        let cases = [
            OutgoingMessage::default(),
            OutgoingMessage { key: Some(Vec::new()), headers: vec![], payload: b"x".to_vec() },
            OutgoingMessage {
                key: Some(b"host-1".to_vec()),
                headers: vec![("b".into(), b"2".to_vec()), ("a".into(), Vec::new()), ("b".into(), b"3".to_vec())],
                payload: vec![0, 255, 7],
            },
        ];
        for message in &cases {
            let decoded = roundtrip(message);
            assert_eq!((decoded.partition, decoded.offset, decoded.timestamp_ms), (3, 42, 1_700_000_000_123));
            assert_eq!(decoded.key, message.key);
            assert_eq!(decoded.headers, message.headers);
            assert_eq!(decoded.payload, message.payload);
        }
    }

    #[test]
    fn flipped_bit_fails_the_checksum() {
        let message = OutgoingMessage { payload: b"hello".to_vec(), ..Default::default() };
        let mut buf = Vec::new();
        encode(&message, 0, 0, &mut buf);
        let last = buf.len() - 1;
        buf[last] ^= 1;
        let (_, crc) = parse_frame(buf[..FRAME_BYTES].try_into().expect("frame"));
        assert!(matches!(decode(&buf[FRAME_BYTES..], crc, 0), Err(DecodeError::Checksum)));
    }
}
