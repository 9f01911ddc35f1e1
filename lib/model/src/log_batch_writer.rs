//! Writes a [`LogBatch`]'s protobuf bytes as its lines come, without a [`LogRecord`] per line
//! (the agent's batches, and the bare producer `vigil bench agent` compares it with).
//!
//! The fields every record of one stream shares (service, host, source, labels, stream) are
//! encoded once, by prost, and copied into each record; only the line, its offset, its read
//! time and its flags are encoded per record, here. Protobuf lets a message's fields come in
//! any order, so the bytes decode to the same `LogBatch` a `LogRecord` per line would give.
//! Copying five strings and a map into every record was a fifth of the agent's CPU.
//!
//! [`LogBatch`]: crate::LogBatch

use std::collections::BTreeMap;

use prost::Message;

use crate::{LogRecord, LOG_BATCH_SCHEMA_VERSION};

/// `LogBatch.records` (field 2, length-delimited) and `LogBatch.schema_version` (field 1, varint).
const BATCH_RECORD_KEY: u8 = 2 << 3 | 2;
const BATCH_VERSION_KEY: u8 = 1 << 3;
/// `LogRecord` fields written per record: line (1, length-delimited), offset (5), read time
/// (6), truncated (8) and split (10), the last four varints.
const LINE_KEY: u8 = 1 << 3 | 2;
const OFFSET_KEY: u8 = 5 << 3;
const READ_TIME_KEY: u8 = 6 << 3;
const TRUNCATED_KEY: u8 = 8 << 3;
const SPLIT_KEY: u8 = 10 << 3;

/// What varies from one record to the next.
#[derive(Debug, Clone, Copy)]
pub struct RecordFields<'a> {
    pub line: &'a [u8],
    pub offset: u64,
    pub read_time_ms: i64,
    pub truncated: bool,
    pub split: bool,
}

/// The fields every record of one builder shares, encoded.
#[derive(Debug, Clone, PartialEq)]
pub struct SharedFields {
    bytes: Vec<u8>,
}

impl SharedFields {
    pub fn new(service: &str, host: &str, source: &str, labels: &BTreeMap<String, String>, stream: &str) -> Self {
        let shared = LogRecord {
            service: service.to_string(),
            host: host.to_string(),
            source: source.to_string(),
            labels: labels.clone(),
            stream: stream.to_string(),
            ..LogRecord::default()
        };
        SharedFields { bytes: shared.encode_to_vec() }
    }
}

/// The bytes a batch starts with (its schema version), before any record.
pub fn batch_header(payload: &mut Vec<u8>) {
    payload.push(BATCH_VERSION_KEY);
    put_varint(u64::from(LOG_BATCH_SCHEMA_VERSION), payload);
}

/// How many bytes [`append_record`] adds for this record.
pub fn record_size(shared: &SharedFields, fields: &RecordFields<'_>) -> usize {
    let body = body_len(shared, fields);
    1 + varint_len(body as u64) + body
}

/// Appends one record (as an element of `LogBatch.records`) to `payload`; returns where in
/// `payload` the line's bytes start (they are `fields.line` as is).
pub fn append_record(shared: &SharedFields, fields: &RecordFields<'_>, payload: &mut Vec<u8>) -> usize {
    payload.push(BATCH_RECORD_KEY);
    put_varint(body_len(shared, fields) as u64, payload);
    // Proto3 leaves out fields at their default values, as prost's own encoding does.
    if !fields.line.is_empty() {
        payload.push(LINE_KEY);
        put_varint(fields.line.len() as u64, payload);
    }
    let line_at = payload.len();
    payload.extend_from_slice(fields.line);
    payload.extend_from_slice(&shared.bytes);
    if fields.offset != 0 {
        payload.push(OFFSET_KEY);
        put_varint(fields.offset, payload);
    }
    if fields.read_time_ms != 0 {
        payload.push(READ_TIME_KEY);
        put_varint(fields.read_time_ms as u64, payload);
    }
    for (key, set) in [(TRUNCATED_KEY, fields.truncated), (SPLIT_KEY, fields.split)] {
        if set {
            payload.extend_from_slice(&[key, 1]);
        }
    }
    line_at
}

fn body_len(shared: &SharedFields, fields: &RecordFields<'_>) -> usize {
    let line = if fields.line.is_empty() { 0 } else { 1 + varint_len(fields.line.len() as u64) + fields.line.len() };
    let offset = if fields.offset == 0 { 0 } else { 1 + varint_len(fields.offset) };
    let read_time = if fields.read_time_ms == 0 { 0 } else { 1 + varint_len(fields.read_time_ms as u64) };
    line + shared.bytes.len() + offset + read_time + 2 * usize::from(fields.truncated) + 2 * usize::from(fields.split)
}

/// Protobuf's base-128 varint (an int64 is written as its two's-complement u64).
fn put_varint(mut value: u64, out: &mut Vec<u8>) {
    while value >= 0x80 {
        out.push(value as u8 | 0x80);
        value >>= 7;
    }
    out.push(value as u8);
}

fn varint_len(value: u64) -> usize {
    // 7 bits per byte; 0 still takes one.
    (64 - (value | 1).leading_zeros() as usize).div_ceil(7)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::LogBatch;

    fn fields(line: &[u8], offset: u64, read_time_ms: i64, truncated: bool, split: bool) -> RecordFields<'_> {
        RecordFields { line, offset, read_time_ms, truncated, split }
    }

    #[test]
    fn records_decode_as_the_log_records_they_stand_for() {
        let labels: BTreeMap<String, String> = [("env".into(), "prod".into()), ("zone".into(), "b".into())].into();
        let shared = SharedFields::new("api", "h1", "/var/log/app.log", &labels, "1:2:0");
        let long_line = vec![b'x'; 300];
        let cases = [
            fields(b"hello", 0, 1_700_000_000_000, false, false),
            fields(b"", 7, 0, true, false),
            fields(&long_line, u64::MAX, -1, false, true),
            fields(b"\xff\xfe not utf-8", 1 << 40, 1, true, true),
        ];
        let mut payload = Vec::new();
        batch_header(&mut payload);
        for case in &cases {
            let before = payload.len();
            append_record(&shared, case, &mut payload);
            assert_eq!(payload.len() - before, record_size(&shared, case));
        }
        let decoded = LogBatch::decode(payload.as_slice()).expect("valid protobuf");
        assert_eq!(decoded.schema_version, LOG_BATCH_SCHEMA_VERSION);
        let expected: Vec<LogRecord> = cases
            .iter()
            .map(|case| LogRecord {
                line: case.line.to_vec(),
                service: "api".into(),
                host: "h1".into(),
                source: "/var/log/app.log".into(),
                offset: case.offset,
                read_time_ms: case.read_time_ms,
                labels: labels.clone(),
                truncated: case.truncated,
                stream: "1:2:0".into(),
                split: case.split,
            })
            .collect();
        assert_eq!(decoded.records, expected);
    }

    #[test]
    fn varint_lengths_match_what_is_written() {
        for value in [0, 1, 127, 128, 16_383, 16_384, u64::from(u32::MAX), u64::MAX] {
            let mut out = Vec::new();
            put_varint(value, &mut out);
            assert_eq!(out.len(), varint_len(value), "{value}");
        }
    }
}
