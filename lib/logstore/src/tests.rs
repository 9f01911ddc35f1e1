//! Store-level behaviour: what is committed is searchable, resumable and nothing else.

use std::time::{Duration, Instant};

use vigil_model::{Level, LogEvent};

use crate::{
    search::{self, ContextRequest, LogFilter, SearchRequest, SortOrder},
    LogReader, LogSchema, PartitionWriter, WriterConfig,
};

const HOUR: i64 = 3_600_000;
const NOW: i64 = 1_700_000_000_000;

fn event(offset: u64, message: &str, level: Level) -> LogEvent {
    LogEvent {
        timestamp_ms: NOW + offset as i64,
        ingest_ms: NOW,
        service: "api".into(),
        host: "h1".into(),
        level: Some(level),
        message: message.into(),
        source: "/var/log/api.log".into(),
        offset,
        attributes: [("status".to_string(), "500".to_string())].into(),
        flags: Vec::new(),
    }
}

fn deadline() -> Instant {
    Instant::now() + Duration::from_secs(10)
}

fn search_all(reader: &LogReader, q: &str) -> search::SearchHits {
    reader.invalidate();
    let request = SearchRequest {
        filter: LogFilter { q: q.into(), ..Default::default() },
        limit: 100,
        sort: SortOrder::Asc,
        ..Default::default()
    };
    search::search(reader, &request, deadline()).expect("search runs")
}

#[test]
fn committed_events_are_searchable_and_uncommitted_are_not() {
    let dir = tempfile::tempdir().expect("tempdir");
    let schema = LogSchema::new();
    let mut writer = PartitionWriter::open(dir.path(), 0, schema.clone(), WriterConfig::default()).expect("open");
    writer
        .add(&[event(0, "connection refused by db", Level::Error), event(40, "all good", Level::Info)], 1, NOW)
        .expect("add");
    writer.commit().expect("commit");
    writer.add(&[event(80, "connection refused again", Level::Error)], 2, NOW).expect("add");
    let reader = LogReader::new(dir.path(), schema);
    let found = search_all(&reader, "connection refused");
    assert_eq!(found.total, 1, "the uncommitted event must not be visible yet");
    assert_eq!(found.hits[0].message, "connection refused by db");
    assert_eq!(found.hits[0].level.as_deref(), Some("error"));
    assert_eq!(found.hits[0].attributes["status"], "500");
    // These come from fast columns, not the doc store: check each one made it back.
    let hit = &found.hits[0];
    assert_eq!((hit.service.as_str(), hit.host.as_str()), ("api", "h1"));
    assert_eq!((hit.timestamp.as_str(), hit.offset), ("2023-11-14T22:13:20.000Z", 0));
    assert_eq!(hit.source, "/var/log/api.log");
    writer.commit().expect("commit");
    assert_eq!(search_all(&reader, "connection refused").total, 2);
    assert_eq!(search_all(&reader, "level:error AND attributes.status:500").total, 2);
    assert_eq!(search_all(&reader, "").total, 3);
}

#[test]
fn restart_resumes_at_the_committed_offset_and_drops_uncommitted() {
    let dir = tempfile::tempdir().expect("tempdir");
    let schema = LogSchema::new();
    let mut writer = PartitionWriter::open(dir.path(), 3, schema.clone(), WriterConfig::default()).expect("open");
    assert_eq!(writer.committed_offset(), None);
    writer.add(&[event(0, "one", Level::Info)], 10, NOW).expect("add");
    writer.commit().expect("commit");
    writer.add(&[event(1, "two", Level::Info)], 11, NOW).expect("add");
    drop(writer); // a crash: "two" was never committed
    let writer = PartitionWriter::open(dir.path(), 3, schema.clone(), WriterConfig::default()).expect("reopen");
    assert_eq!(writer.committed_offset(), Some(10));
    assert_eq!(search_all(&LogReader::new(dir.path(), schema), "").total, 1);
}

#[test]
fn splits_roll_by_arrival_bucket_and_the_offset_survives_the_roll() {
    let dir = tempfile::tempdir().expect("tempdir");
    let schema = LogSchema::new();
    let mut writer = PartitionWriter::open(dir.path(), 0, schema.clone(), WriterConfig::default()).expect("open");
    writer.add(&[event(0, "first hour", Level::Info)], 1, NOW).expect("add");
    writer.add(&[event(1, "second hour", Level::Info)], 2, NOW + HOUR).expect("add");
    writer.commit().expect("commit");
    assert_eq!(crate::list_splits(dir.path(), 0).expect("list").len(), 2);
    assert_eq!(search_all(&LogReader::new(dir.path(), schema.clone()), "hour").total, 2);
    let deleted = crate::delete_expired_splits(dir.path(), HOUR, HOUR, NOW + 3 * HOUR).expect("retention");
    assert_eq!(deleted, 1, "the old split goes, the newest always stays");
    let reopened = PartitionWriter::open(dir.path(), 0, schema.clone(), WriterConfig::default()).expect("reopen");
    assert_eq!(reopened.committed_offset(), Some(2));
    assert_eq!(search_all(&LogReader::new(dir.path(), schema), "hour").total, 1);
}

#[test]
fn resent_stream_lines_are_admitted_once() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut writer = PartitionWriter::open(dir.path(), 0, LogSchema::new(), WriterConfig::default()).expect("open");
    assert!(writer.admit("s1", 0, 10, NOW));
    assert!(writer.admit("s1", 10, 20, NOW));
    assert!(!writer.admit("s1", 10, 20, NOW), "a resent line is a duplicate");
    assert!(writer.admit("s2", 0, 10, NOW), "another stream has its own marks");
    writer.add(&[event(0, "x", Level::Info)], 1, NOW).expect("add");
    writer.commit().expect("commit");
    drop(writer);
    let mut reopened = PartitionWriter::open(dir.path(), 0, LogSchema::new(), WriterConfig::default()).expect("reopen");
    assert!(!reopened.admit("s1", 0, 10, NOW), "marks survive a restart through the commit payload");
}

#[test]
fn context_returns_neighbours_in_file_order_and_histogram_counts() {
    let dir = tempfile::tempdir().expect("tempdir");
    let schema = LogSchema::new();
    let mut writer = PartitionWriter::open(dir.path(), 0, schema.clone(), WriterConfig::default()).expect("open");
    let events: Vec<LogEvent> = (0..10).map(|i| event(i * 100, &format!("line {i}"), Level::Info)).collect();
    writer.add(&events, 1, NOW).expect("add");
    writer.commit().expect("commit");
    let reader = LogReader::new(dir.path(), schema);
    let request = ContextRequest { source: "/var/log/api.log".into(), host: None, offset: 500, before: 2, after: 3 };
    let context = search::context(&reader, &request).expect("context");
    let messages = |hits: &[vigil_model::search::LogHit]| hits.iter().map(|h| h.message.clone()).collect::<Vec<_>>();
    assert_eq!(messages(&context.before), ["line 3", "line 4"]);
    assert_eq!(context.line.expect("the line itself").message, "line 5");
    assert_eq!(messages(&context.after), ["line 6", "line 7", "line 8"]);

    let histogram = search::histogram(&reader, &LogFilter::default(), Some(300), deadline()).expect("histogram");
    assert_eq!(histogram.total, 10);
    assert_eq!(histogram.buckets.iter().map(|b| b.1).sum::<u64>(), 10);
}

#[test]
fn result_window_and_highlight() {
    let dir = tempfile::tempdir().expect("tempdir");
    let schema = LogSchema::new();
    let mut writer = PartitionWriter::open(dir.path(), 0, schema.clone(), WriterConfig::default()).expect("open");
    writer.add(&[event(0, "<script>alert(1)</script> error here", Level::Error)], 1, NOW).expect("add");
    writer.commit().expect("commit");
    let reader = LogReader::new(dir.path(), schema);
    let too_deep = SearchRequest { limit: 100, offset: 9_950, ..Default::default() };
    assert!(matches!(search::search(&reader, &too_deep, deadline()), Err(crate::LogStoreError::OverLimit(_))));
    let request = SearchRequest {
        filter: LogFilter { q: "error".into(), ..Default::default() },
        limit: 10,
        highlight: true,
        ..Default::default()
    };
    let found = search::search(&reader, &request, deadline()).expect("search");
    let highlight = found.hits[0].highlight.clone().expect("highlight asked for");
    assert!(highlight.contains("&lt;script&gt;"), "{highlight}");
    assert!(highlight.contains("<mark>error</mark>"), "{highlight}");
}
