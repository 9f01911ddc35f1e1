//! The answers of the log query API (`/api/v1/logs/...`), a contract other parts rely on.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// One log event as the search API returns it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LogHit {
    /// Event time, RFC 3339 with milliseconds, UTC.
    pub timestamp: String,
    pub service: String,
    pub host: String,
    pub level: Option<String>,
    pub message: String,
    pub source: String,
    pub offset: u64,
    pub attributes: BTreeMap<String, String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub flags: Vec<String>,
    /// The message with matches wrapped in `<mark>`, HTML-escaped first; only when asked for.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub highlight: Option<String>,
}

/// `GET /api/v1/logs/search`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SearchResponse {
    pub total: u64,
    pub hits: Vec<LogHit>,
    pub took_ms: u64,
}

/// One bucket of `GET /api/v1/logs/histogram`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct HistogramBucket {
    /// Bucket start, ms since the epoch.
    pub start_ms: i64,
    pub count: u64,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct HistogramResponse {
    pub interval_ms: i64,
    pub total: u64,
    pub buckets: Vec<HistogramBucket>,
    pub took_ms: u64,
}

/// `GET /api/v1/logs/context`: the lines around one line of a source file, in file order.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ContextResponse {
    pub before: Vec<LogHit>,
    pub line: Option<LogHit>,
    pub after: Vec<LogHit>,
}

/// `POST /api/v1/logs/ingest`: what was appended to the bus.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct IngestResponse {
    /// Records accepted (for JSON lines: lines; for a batch: its records).
    pub accepted: u64,
    pub partition: u32,
    pub offset: u64,
}
