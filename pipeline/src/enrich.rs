//! Enrich stage: a decoded record to the [`LogEvent`]s stored for it.
//!
//! The timestamp and level come from the line (see `vigil-logparse`); a line without a
//! timestamp gets the time the agent read it and the flag `no_timestamp`. Labels and
//! extracted fields become attributes. A line over the maximum length is stored as several
//! events in order, each flagged `split`, so nothing is cut away; so is a record the agent
//! shipped as a piece of a longer line (`LogRecord::split`).

use std::collections::BTreeMap;

use vigil_logparse::{parse_json_object, parse_line, ParseContext, Parsed};
use vigil_model::{LogEvent, LogFlag, LogRecord};

use crate::decode::PayloadKind;

/// JSON keys that name the service, host and source when a third-party producer sends them.
const SERVICE_KEYS: [&str; 6] =
    ["service", "service.name", "service_name", "resource.service.name", "app", "application"];
const HOST_KEYS: [&str; 5] = ["host", "hostname", "host.name", "host.hostname", "resource.host.name"];
const SOURCE_KEYS: [&str; 6] = ["source", "file", "log.file.path", "filename", "path", "source_type"];

pub struct EnrichContext {
    pub now_ms: i64,
    pub max_line_bytes: usize,
}

/// Appends the events of `record` to `out`.
pub fn enrich(record: LogRecord, kind: PayloadKind, ctx: &EnrichContext, out: &mut Vec<LogEvent>) {
    let mut flags = Vec::new();
    if record.truncated {
        flags.push(LogFlag::Truncated);
    }
    if record.split {
        flags.push(LogFlag::Split);
    }
    let text = match String::from_utf8(record.line) {
        Ok(text) => text,
        Err(error) => {
            flags.push(LogFlag::InvalidUtf8);
            String::from_utf8_lossy(error.as_bytes()).into_owned()
        }
    };
    let parse_ctx = ParseContext { now_ms: ctx.now_ms };
    let parsed = match kind {
        PayloadKind::Lines => parse_line(&text, &parse_ctx),
        PayloadKind::Json => parse_json_object(&text, &parse_ctx).unwrap_or_else(|_| {
            flags.push(LogFlag::MalformedJson);
            Parsed::default()
        }),
        PayloadKind::Undecodable => {
            flags.push(LogFlag::Undecodable);
            Parsed::default()
        }
    };
    let read_time_ms = if record.read_time_ms > 0 { record.read_time_ms } else { ctx.now_ms };
    let timestamp_ms = parsed.timestamp_ms.unwrap_or_else(|| {
        flags.push(LogFlag::NoTimestamp);
        read_time_ms
    });
    let mut attributes: BTreeMap<String, String> = record.labels;
    let mut service = record.service;
    let mut host = record.host;
    let mut source = record.source;
    for (key, value) in parsed.fields {
        let slot = if SERVICE_KEYS.contains(&key.as_str()) {
            Some(&mut service)
        } else if HOST_KEYS.contains(&key.as_str()) {
            Some(&mut host)
        } else if SOURCE_KEYS.contains(&key.as_str()) {
            Some(&mut source)
        } else {
            None
        };
        match slot {
            Some(slot) if slot.is_empty() => *slot = value,
            _ => {
                attributes.insert(key, value);
            }
        }
    }
    let message = parsed.message.unwrap_or(text);
    let base = LogEvent {
        timestamp_ms,
        ingest_ms: ctx.now_ms,
        service,
        host,
        level: parsed.level,
        message: String::new(),
        source,
        offset: record.offset,
        attributes,
        flags,
    };
    if message.len() <= ctx.max_line_bytes {
        out.push(LogEvent { message, ..base });
        return;
    }
    // Each piece keeps the offset of its first byte, so context queries keep file order.
    let mut start = 0;
    for piece in split_at_char_boundaries(&message, ctx.max_line_bytes) {
        let mut event = base.clone();
        event.offset = base.offset + start as u64;
        if !event.flags.contains(&LogFlag::Split) {
            event.flags.push(LogFlag::Split);
        }
        start += piece.len();
        event.message = piece.to_string();
        out.push(event);
    }
}

fn split_at_char_boundaries(text: &str, max_bytes: usize) -> Vec<&str> {
    let mut pieces = Vec::new();
    let mut rest = text;
    while !rest.is_empty() {
        let mut end = rest.len().min(max_bytes.max(4));
        while !rest.is_char_boundary(end) {
            end -= 1;
        }
        let (piece, tail) = rest.split_at(end);
        pieces.push(piece);
        rest = tail;
    }
    pieces
}

#[cfg(test)]
mod tests {
    use vigil_model::Level;

    use super::*;

    const NOW: i64 = 1_700_000_000_000;

    fn run(line: &[u8], kind: PayloadKind, max_line_bytes: usize) -> Vec<LogEvent> {
        let record = LogRecord {
            line: line.to_vec(),
            service: "api".into(),
            host: "h1".into(),
            source: "/var/log/api.log".into(),
            offset: 100,
            read_time_ms: NOW - 5,
            labels: [("env".to_string(), "prod".to_string())].into(),
            ..Default::default()
        };
        let mut out = Vec::new();
        enrich(record, kind, &EnrichContext { now_ms: NOW, max_line_bytes }, &mut out);
        out
    }

    #[test]
    fn text_line_gets_timestamp_level_and_labels() {
        let events = run(b"2015-10-18 18:01:47,978 ERROR [main] boom", PayloadKind::Lines, 1024);
        assert_eq!(events.len(), 1);
        assert_eq!(events[0].level, Some(Level::Error));
        assert_eq!(events[0].timestamp_ms, 1_445_191_307_978);
        assert_eq!(events[0].message, "2015-10-18 18:01:47,978 ERROR [main] boom");
        assert_eq!(events[0].attributes["env"], "prod");
        assert!(events[0].flags.is_empty());
    }

    #[test]
    fn line_without_timestamp_uses_read_time_and_is_flagged() {
        let events = run(b"\tat com.example.Foo.bar(Foo.java:10)", PayloadKind::Lines, 1024);
        assert_eq!(events[0].timestamp_ms, NOW - 5);
        assert_eq!(events[0].flags, [LogFlag::NoTimestamp]);
    }

    #[test]
    fn invalid_utf8_is_kept_lossily_and_flagged() {
        let events = run(b"bad \xff byte", PayloadKind::Lines, 1024);
        assert_eq!(events[0].message, "bad \u{fffd} byte");
        assert!(events[0].flags.contains(&LogFlag::InvalidUtf8));
    }

    #[test]
    fn malformed_json_is_kept_raw_and_flagged() {
        let events = run(b"{\"unterminated\": ", PayloadKind::Json, 1024);
        assert_eq!(events[0].message, "{\"unterminated\": ");
        assert!(events[0].flags.contains(&LogFlag::MalformedJson));
    }

    #[test]
    fn json_fields_fill_service_host_and_attributes() {
        let events = run(
            br#"{"time":"2024-01-02T03:04:05Z","level":"warn","msg":"slow","host.name":"db1","status":503}"#,
            PayloadKind::Json,
            1024,
        );
        assert_eq!(events[0].message, "slow");
        assert_eq!(events[0].level, Some(Level::Warn));
        assert_eq!(events[0].host, "h1", "the agent's host wins over the payload's");
        assert_eq!(events[0].attributes["host.name"], "db1");
        assert_eq!(events[0].attributes["status"], "503");
    }

    #[test]
    fn a_piece_the_agent_split_is_flagged_split_once() {
        let record = LogRecord { line: b"x".repeat(500), offset: 100, split: true, ..Default::default() };
        let mut out = Vec::new();
        enrich(record.clone(), PayloadKind::Lines, &EnrichContext { now_ms: NOW, max_line_bytes: 1024 }, &mut out);
        assert_eq!(out.len(), 1);
        assert!(out[0].flags.contains(&LogFlag::Split), "{:?}", out[0].flags);

        out.clear();
        enrich(record, PayloadKind::Lines, &EnrichContext { now_ms: NOW, max_line_bytes: 300 }, &mut out);
        assert_eq!(out.len(), 2, "split again by the pipeline");
        assert!(out.iter().all(|e| e.flags.iter().filter(|f| **f == LogFlag::Split).count() == 1));

        let whole = run(b"short", PayloadKind::Lines, 1024);
        assert!(!whole[0].flags.contains(&LogFlag::Split));
    }

    #[test]
    fn long_lines_are_split_in_order_without_loss() {
        let line = "é".repeat(1000); // 2000 bytes
        let events = run(line.as_bytes(), PayloadKind::Lines, 300);
        let joined: String = events.iter().map(|e| e.message.as_str()).collect();
        assert_eq!(joined, line);
        assert!(events.iter().all(|e| e.flags.contains(&LogFlag::Split) && e.message.len() <= 300));
        assert!(events.windows(2).all(|w| w[0].offset < w[1].offset));
    }
}
