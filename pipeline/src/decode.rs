//! Decode stage: one bus message to the records it carries, by its `content-type` header.
//!
//! Nothing is dropped here: a payload that cannot be decoded becomes one record holding its
//! bytes, marked [`PayloadKind::Undecodable`], so the enrich stage stores it flagged.

use prost::Message as _;
use vigil_bus::Message;
use vigil_model::{
    content_type::{self, Encoding},
    LogBatch, LogRecord, LOG_BATCH_SCHEMA_VERSION,
};

/// How the records of a message are to be read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PayloadKind {
    /// Raw lines shipped by the agent (or sent as `text/plain`): parse each as a text line.
    Lines,
    /// One JSON object per record (third-party producers).
    Json,
    /// Bytes that are neither: keep them, flagged.
    Undecodable,
}

#[derive(Debug)]
pub struct Decoded {
    pub kind: PayloadKind,
    pub records: Vec<LogRecord>,
    /// Why the payload was undecodable, for the sampled warning.
    pub error: Option<String>,
}

/// Decodes one bus message. Records of JSON and plain-text payloads get the message's
/// append time as read time and its offset in `offset` (they have no file offset).
pub fn decode(message: &Message) -> Decoded {
    let header = message.header(content_type::HEADER);
    match Encoding::from_content_type(header) {
        Some(Encoding::LogBatchV1) => match LogBatch::decode(message.payload.as_slice()) {
            Ok(batch) => {
                if batch.schema_version > LOG_BATCH_SCHEMA_VERSION {
                    tracing::debug!(
                        version = batch.schema_version,
                        "log batch from a newer agent; reading known fields"
                    );
                }
                Decoded { kind: PayloadKind::Lines, records: batch.records, error: None }
            }
            Err(error) => undecodable(message, format!("invalid log batch: {error}")),
        },
        Some(Encoding::JsonLines) => Decoded {
            kind: PayloadKind::Json,
            records: whole_json_document(message).unwrap_or_else(|| split_lines(message)),
            error: None,
        },
        Some(Encoding::PlainLines) => Decoded { kind: PayloadKind::Lines, records: split_lines(message), error: None },
        None => undecodable(message, format!("unsupported content type {:?}", header.unwrap_or(""))),
    }
}

/// A payload that is one JSON document as a whole (a pretty-printed object, or an array of
/// events, as `application/json` senders write): one record per event. `None` when the
/// payload is not a single document, which is the usual case of one object per line.
fn whole_json_document(message: &Message) -> Option<Vec<LogRecord>> {
    let text = message.payload.trim_ascii_start();
    if !(text.starts_with(b"[") || (text.starts_with(b"{") && text.contains(&b'\n'))) {
        return None;
    }
    let events = match serde_json::from_slice::<serde_json::Value>(&message.payload).ok()? {
        serde_json::Value::Array(events) => events,
        object @ serde_json::Value::Object(_) => vec![object],
        _ => return None,
    };
    Some(
        events
            .iter()
            .enumerate()
            .map(|(index, event)| {
                let line = serde_json::to_vec(event).expect("a parsed JSON value serializes");
                LogRecord { offset: index as u64, ..record_from_message(message, line) }
            })
            .collect(),
    )
}

/// One record per non-blank line; its `offset` is the line's byte position in the payload,
/// so lines of one message stay distinguishable and ordered.
fn split_lines(message: &Message) -> Vec<LogRecord> {
    let mut records = Vec::new();
    let mut position = 0u64;
    for line in message.payload.split(|byte| *byte == b'\n') {
        let start = position;
        position += line.len() as u64 + 1;
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        if line.iter().all(u8::is_ascii_whitespace) {
            continue;
        }
        records.push(LogRecord { offset: start, ..record_from_message(message, line.to_vec()) });
    }
    records
}

fn undecodable(message: &Message, error: String) -> Decoded {
    Decoded {
        kind: PayloadKind::Undecodable,
        records: vec![record_from_message(message, message.payload.clone())],
        error: Some(error),
    }
}

fn record_from_message(message: &Message, line: Vec<u8>) -> LogRecord {
    LogRecord { line, offset: message.offset, read_time_ms: message.timestamp_ms, ..Default::default() }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn message(content_type: Option<&str>, payload: &[u8]) -> Message {
        Message {
            partition: 0,
            offset: 7,
            timestamp_ms: 1,
            key: None,
            headers: content_type
                .map(|ct| vec![("content-type".to_string(), ct.as_bytes().to_vec())])
                .unwrap_or_default(),
            payload: payload.to_vec(),
        }
    }

    #[test]
    fn native_batches_decode_to_their_records() {
        let batch = LogBatch {
            schema_version: 1,
            records: vec![LogRecord { line: b"hello".to_vec(), ..Default::default() }; 3],
        };
        let decoded = decode(&message(Some(content_type::LOG_BATCH_V1), &batch.encode_to_vec()));
        assert_eq!(decoded.kind, PayloadKind::Lines);
        assert_eq!(decoded.records.len(), 3);
    }

    #[test]
    fn json_lines_split_per_line_and_skip_blank_lines() {
        let decoded = decode(&message(None, b"{\"a\":1}\n\n{\"b\":2}\r\n"));
        assert_eq!(decoded.kind, PayloadKind::Json);
        assert_eq!(decoded.records.len(), 2);
        assert_eq!(decoded.records[1].line, b"{\"b\":2}");
    }

    #[test]
    fn a_json_array_or_a_pretty_printed_object_is_one_document() {
        let decoded = decode(&message(Some("application/json"), b"[{\"msg\":\"a\"},\n {\"msg\":\"b\"}]"));
        assert_eq!(decoded.records.len(), 2);
        assert_eq!(decoded.records[1].line, br#"{"msg":"b"}"#);
        let decoded =
            decode(&message(Some("application/json"), b"{\n  \"msg\": \"pretty\",\n  \"level\": \"warn\"\n}\n"));
        assert_eq!(decoded.records.len(), 1);
        assert_eq!(decoded.records[0].line, br#"{"level":"warn","msg":"pretty"}"#);
        let decoded = decode(&message(None, b"{\"a\":1}\n{\"b\":2}\n"));
        assert_eq!(decoded.records.len(), 2, "one object per line stays one record per line");
    }

    #[test]
    fn garbage_is_kept_not_dropped() {
        for (content_type, payload) in
            [(Some(content_type::LOG_BATCH_V1), &b"\xff\xff\xff garbage"[..]), (Some("image/png"), &b"\x89PNG"[..])]
        {
            let decoded = decode(&message(content_type, payload));
            assert_eq!(decoded.kind, PayloadKind::Undecodable);
            assert_eq!(decoded.records[0].line, payload);
            assert!(decoded.error.is_some());
        }
    }
}
