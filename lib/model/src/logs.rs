//! Log records on the wire ([`LogBatch`]) and as the pipeline hands them to storage ([`LogEvent`]).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// The schema version written into every [`LogBatch`]; a reader refuses newer versions.
pub const LOG_BATCH_SCHEMA_VERSION: u32 = 1;

/// What the agent ships: a batch of raw lines from one host, protobuf-encoded
/// (content type [`crate::content_type::LOG_BATCH_V1`]).
#[derive(Clone, PartialEq, prost::Message)]
pub struct LogBatch {
    /// Always [`LOG_BATCH_SCHEMA_VERSION`] when written by this version.
    #[prost(uint32, tag = "1")]
    pub schema_version: u32,
    #[prost(message, repeated, tag = "2")]
    pub records: Vec<LogRecord>,
}

/// One line as the agent read it. The line stays raw bytes: parsing happens in the pipeline,
/// so a parser fix applies to every agent without redeploying them.
#[derive(Clone, PartialEq, prost::Message)]
pub struct LogRecord {
    /// The line's bytes without the trailing newline; may be invalid UTF-8.
    #[prost(bytes = "vec", tag = "1")]
    pub line: Vec<u8>,
    #[prost(string, tag = "2")]
    pub service: String,
    #[prost(string, tag = "3")]
    pub host: String,
    /// The file the line was read from.
    #[prost(string, tag = "4")]
    pub source: String,
    /// Byte offset of the line's first byte in `source`.
    #[prost(uint64, tag = "5")]
    pub offset: u64,
    /// When the agent read the line, ms since the epoch.
    #[prost(int64, tag = "6")]
    pub read_time_ms: i64,
    /// Labels from the agent's configuration.
    #[prost(btree_map = "string, string", tag = "7")]
    pub labels: BTreeMap<String, String>,
    /// True when the agent cut the line at its maximum length.
    #[prost(bool, tag = "8")]
    pub truncated: bool,
    /// Identity of the file generation the line came from (the agent's file identity plus a
    /// truncation count). With `offset` it names the line, so the pipeline can drop a line it
    /// already indexed when an agent resends a batch whose acknowledgement it never saw.
    /// Empty when unknown (third-party producers): then no de-duplication happens.
    #[prost(string, tag = "9")]
    pub stream: String,
    /// True when the record is one piece of something longer that the agent shipped in
    /// pieces, in order, each at the offset of its first byte: a line over the agent's
    /// `max_line_bytes` (with `long_lines = "split"`), or a multiline event cut at its limits.
    /// The pieces' bytes, concatenated (for a cut event: joined with `\n`), are the original.
    #[prost(bool, tag = "10")]
    pub split: bool,
}

/// Severity, normalised from the many spellings logs use.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Level {
    Trace,
    Debug,
    Info,
    Notice,
    Warn,
    Error,
    Fatal,
}

impl Level {
    pub fn as_str(self) -> &'static str {
        match self {
            Level::Trace => "trace",
            Level::Debug => "debug",
            Level::Info => "info",
            Level::Notice => "notice",
            Level::Warn => "warn",
            Level::Error => "error",
            Level::Fatal => "fatal",
        }
    }

    /// Reads a level word in any of its usual spellings (`WARNING`, `err`, `E`, `crit`, ...).
    pub fn parse(word: &str) -> Option<Level> {
        let lower = word.trim().to_ascii_lowercase();
        Some(match lower.as_str() {
            "trace" | "trc" | "finest" | "finer" | "verbose" | "v" | "t" => Level::Trace,
            "debug" | "dbg" | "fine" | "d" => Level::Debug,
            "info" | "information" | "informational" | "inf" | "i" => Level::Info,
            "notice" | "note" => Level::Notice,
            "warn" | "warning" | "wrn" | "w" => Level::Warn,
            "error" | "err" | "e" | "severe" | "failure" => Level::Error,
            "fatal" | "crit" | "critical" | "alert" | "emerg" | "emergency" | "panic" | "f" | "c" => Level::Fatal,
            _ => return None,
        })
    }
}

/// Why a stored event is not a clean parse; kept with the event so nothing is silently altered.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LogFlag {
    /// No timestamp could be read from the line: `timestamp` is the ingest time.
    NoTimestamp,
    /// The line was not valid UTF-8 and was decoded lossily.
    InvalidUtf8,
    /// The line was cut at the maximum line length.
    Truncated,
    /// A JSON payload that did not parse was kept as raw text.
    MalformedJson,
    /// The bus message could not be decoded at all; its bytes are kept as the message.
    Undecodable,
    /// The line was longer than a maximum and was stored as several events, in order, each
    /// carrying this flag: cut by the agent (`LogRecord::split`, one record per piece) or by
    /// the pipeline (longer than its `max_line_bytes`).
    Split,
}

impl LogFlag {
    pub fn as_str(self) -> &'static str {
        match self {
            LogFlag::NoTimestamp => "no_timestamp",
            LogFlag::InvalidUtf8 => "invalid_utf8",
            LogFlag::Truncated => "truncated",
            LogFlag::MalformedJson => "malformed_json",
            LogFlag::Undecodable => "undecodable",
            LogFlag::Split => "split",
        }
    }
}

/// A log event ready to be stored: what the pipeline made of one record.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct LogEvent {
    /// Event time in ms since the epoch (the ingest time when the line had none).
    pub timestamp_ms: i64,
    /// When the pipeline received the event; retention counts from here.
    pub ingest_ms: i64,
    pub service: String,
    pub host: String,
    pub level: Option<Level>,
    pub message: String,
    pub source: String,
    pub offset: u64,
    /// Agent labels and fields extracted from structured lines, as strings.
    pub attributes: BTreeMap<String, String>,
    pub flags: Vec<LogFlag>,
}

#[cfg(test)]
mod tests {
    use prost::Message;

    use super::*;

    #[test]
    fn batch_round_trips_through_protobuf() {
        let batch = LogBatch {
            schema_version: LOG_BATCH_SCHEMA_VERSION,
            records: vec![LogRecord {
                line: b"\xff not utf8".to_vec(),
                service: "api".into(),
                host: "h1".into(),
                source: "/var/log/a.log".into(),
                offset: 42,
                read_time_ms: 1_700_000_000_000,
                labels: [("env".to_string(), "prod".to_string())].into(),
                truncated: false,
                stream: "dev1:ino2:0".into(),
                split: true,
            }],
        };
        let bytes = batch.encode_to_vec();
        assert_eq!(LogBatch::decode(bytes.as_slice()).expect("valid batch"), batch);
    }

    #[test]
    fn level_spellings() {
        assert_eq!(Level::parse("WARNING"), Some(Level::Warn));
        assert_eq!(Level::parse("err"), Some(Level::Error));
        assert_eq!(Level::parse("CRIT"), Some(Level::Fatal));
        assert_eq!(Level::parse("hello"), None);
    }
}
