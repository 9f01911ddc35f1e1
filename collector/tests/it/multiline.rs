//! What the agent makes of a file's lines: multiline events (a stack trace arrives as one
//! record), long lines shipped in pieces (`long_lines = "split"`), and bytes that are not
//! UTF-8 (shipped as they are, and counted).

use std::time::{Duration, Instant};

use vigil_collector::config::{AgentConfig, LongLines, MultilineConfig, Preset};
use vigil_model::LogRecord;

use crate::helpers::*;

/// A config tailing `glob` whose input groups lines with the Java preset.
fn java_config(server_url: &str, data_dir: &std::path::Path, glob: &str, flush_timeout: Duration) -> AgentConfig {
    let mut config = agent_config(server_url, data_dir, glob);
    config.inputs[0].multiline =
        Some(MultilineConfig { preset: Some(Preset::Java), flush_timeout, ..MultilineConfig::default() });
    config
}

/// The records received for `path`, sorted by offset.
fn records_of(server: &IngestServer, path: &std::path::Path) -> Vec<LogRecord> {
    let source = path.to_string_lossy();
    let mut records: Vec<LogRecord> =
        server.received().into_iter().map(|r| r.record).filter(|r| r.source == source).collect();
    records.sort_by_key(|r| r.offset);
    records
}

/// (offset, text) of each record.
fn view(records: &[LogRecord]) -> Vec<(u64, String)> {
    records.iter().map(|r| (r.offset, String::from_utf8_lossy(&r.line).into_owned())).collect()
}

const TRACE: &str = "\
2024-05-01 12:00:00.100 ERROR [main] OrderService - failed to place order 42
com.example.OrderException: order 42 could not be placed
\tat com.example.OrderService.place(OrderService.java:88)
\tat com.example.Api.handle(Api.java:31)
Caused by: java.lang.IllegalStateException: inventory closed
\tat com.example.Inventory.reserve(Inventory.java:12)
\t... 3 more
";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_java_stack_trace_arrives_as_one_record_at_the_offset_of_its_first_line() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (path, data_dir) = (dir.path().join("app.log"), dir.path().join("data"));
    let glob = format!("{}/*.log", dir.path().display());
    let server = IngestServer::start().await;
    let config = java_config(&server.url, &data_dir, &glob, Duration::from_millis(200));
    let before = "2024-05-01 12:00:00.000 INFO  [main] OrderService - starting\n";
    // Written with CRLF: the record drops each `\r`, the checkpoint's mark must still match.
    let trace = TRACE.replace('\n', "\r\n");
    let after = "2024-05-01 12:00:00.200 INFO  [main] OrderService - order 43 placed\n";
    append(&path, &format!("{before}{trace}"));
    let agent = TestAgent::start(config.clone());
    eventually("the line and the trace arrive", || records_of(&server, &path).len() >= 2).await;
    agent.stop().await;
    // A restart resumes after the trace (its checkpoint still describes the file): nothing is
    // read twice.
    let agent = TestAgent::start(config);
    append(&path, after);
    eventually("the line after the restart arrives", || records_of(&server, &path).len() >= 3).await;
    agent.stop().await;

    let records = records_of(&server, &path);
    let trace_at = before.len() as u64;
    let after_at = trace_at + trace.len() as u64;
    assert_eq!(
        view(&records),
        [
            (0, before.trim_end().to_string()),
            (trace_at, TRACE.trim_end().to_string()),
            (after_at, after.trim_end().to_string()),
        ],
        "the log line, the whole trace as one record (lines joined with \\n), the next line; each once"
    );
    assert!(records.iter().all(|r| !r.split && !r.truncated));
    let size = std::fs::metadata(&path).expect("stat").len();
    assert_eq!(checkpoint_of(&data_dir, &path).expect("checkpoint").offset, size);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_pending_event_waits_for_its_flush_timeout_and_a_crash_meanwhile_loses_none_of_it() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (path, data_dir) = (dir.path().join("app.log"), dir.path().join("data"));
    let glob = format!("{}/*.log", dir.path().display());
    let server = IngestServer::start().await;
    let flush_timeout = Duration::from_millis(1500);
    let config = java_config(&server.url, &data_dir, &glob, flush_timeout);
    let first = "2024-05-01 11:59:59.000 INFO  [main] OrderService - starting\n";
    let (head, rest) = TRACE.split_at(TRACE.find("Caused by").expect("the trace has a cause"));
    append(&path, &format!("{first}{head}"));
    let agent = TestAgent::start(config.clone());

    // The first line is complete once the trace's first line begins the next event; the trace
    // may still grow, so it waits, and the checkpoint stops at its first byte.
    eventually("the first line arrives", || records_of(&server, &path).len() == 1).await;
    let trace_at = first.len() as u64;
    eventually("the checkpoint is at the pending event's start", || {
        checkpoint_of(&data_dir, &path).is_some_and(|c| c.offset == trace_at)
    })
    .await;
    assert_eq!(records_of(&server, &path).len(), 1, "the pending trace is not shipped before its flush timeout");
    agent.crash().await;

    // The rest of the trace is written while the agent is down: after the restart the event is
    // read again from its start and arrives whole, once.
    append(&path, rest);
    let agent = TestAgent::start(config);
    let written = Instant::now();
    eventually("the trace arrives", || records_of(&server, &path).len() == 2).await;
    let waited = written.elapsed();
    agent.stop().await;

    assert_eq!(
        view(&records_of(&server, &path)),
        [(0, first.trim_end().to_string()), (trace_at, TRACE.trim_end().to_string())]
    );
    assert!(
        waited >= flush_timeout,
        "the last event of the file is shipped after its flush timeout, not before ({waited:?})"
    );
    let size = std::fs::metadata(&path).expect("stat").len();
    assert_eq!(checkpoint_of(&data_dir, &path).expect("checkpoint").offset, size);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_event_shipped_on_its_flush_timeout_is_not_shipped_again_larger_after_a_crash() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (path, data_dir) = (dir.path().join("app.log"), dir.path().join("data"));
    let glob = format!("{}/*.log", dir.path().display());
    let server = IngestServer::start().await;
    let mut config = java_config(&server.url, &data_dir, &glob, Duration::from_millis(300));
    // The crash comes before any periodic checkpoint write.
    config.checkpoint_interval = Duration::from_secs(3600);
    let (head, rest) = TRACE.split_at(TRACE.find("Caused by").expect("the trace has a cause"));
    append(&path, head);
    let agent = TestAgent::start(config.clone());
    eventually("the trace's head arrives on its flush timeout", || records_of(&server, &path).len() == 1).await;
    agent.crash().await;

    // The writer goes on with the trace: read again from the start, the head must end where
    // it ended before, or it comes back larger at the same offset and the pipeline, which
    // keeps the first record it saw at an offset, never indexes the rest.
    let after = "2024-05-01 12:00:00.200 INFO  [main] OrderService - order 43 placed\n";
    append(&path, &format!("{rest}{after}"));
    let agent = TestAgent::start(config);
    eventually("the line after the trace arrives", || {
        records_of(&server, &path).iter().any(|r| r.line == after.trim_end().as_bytes())
    })
    .await;
    agent.stop().await;

    let indexed = indexed_as_the_pipeline_would(&server, &path);
    let joined: Vec<&str> = indexed.iter().map(|(_, line)| line.as_str()).collect();
    assert_eq!(
        joined.join("\n"),
        format!("{TRACE}{after}").trim_end(),
        "every line is in what the pipeline indexes: the head, then the rest of the trace, then the next line"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn split_mode_ships_a_long_line_in_pieces_and_resumes_between_them_after_a_restart() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (path, data_dir) = (dir.path().join("app.log"), dir.path().join("data"));
    let glob = format!("{}/*.log", dir.path().display());
    let server = IngestServer::start().await;
    let mut config = agent_config(&server.url, &data_dir, &glob);
    config.max_line_bytes = 1000;
    config.long_lines = LongLines::Split;
    // The unterminated line's bytes must wait for their newline, even across the restart.
    config.partial_line_timeout = Duration::ZERO;
    let long: String = (0..3500).map(|n| char::from(b'a' + (n % 26) as u8)).collect();

    // 3200 bytes of the line: three pieces are complete; the last 200 bytes wait for more.
    append(&path, &long[..3200]);
    let agent = TestAgent::start(config.clone());
    eventually("three pieces arrive", || records_of(&server, &path).len() == 3).await;
    agent.stop().await;
    assert_eq!(checkpoint_of(&data_dir, &path).expect("checkpoint").offset, 3000, "between two pieces");

    // The line's last 500 bytes fit in one piece: it is still known to be one.
    append(&path, &format!("{}\nthe next line\n", &long[3200..]));
    let agent = TestAgent::start(config);
    eventually("the rest of the line and the next line arrive", || records_of(&server, &path).len() == 5).await;
    agent.stop().await;

    let records = records_of(&server, &path);
    let pieces: Vec<(u64, usize, bool)> = records.iter().map(|r| (r.offset, r.line.len(), r.split)).collect();
    assert_eq!(pieces, [(0, 1000, true), (1000, 1000, true), (2000, 1000, true), (3000, 500, true), (3501, 13, false)]);
    let joined: Vec<u8> = records[..4].iter().flat_map(|r| r.line.clone()).collect();
    assert_eq!(joined, long.as_bytes(), "the pieces concatenate to the line");
    assert_eq!(records[4].line, b"the next line");
    assert!(records.iter().all(|r| !r.truncated));
}

/// The agent's count of lines that are not valid UTF-8, from the process's metrics registry.
fn invalid_utf8_lines() -> u64 {
    let text = vigil_common::telemetry::metrics_handle().render();
    text.lines()
        .find_map(|line| line.strip_prefix("vigil_agent_lines_invalid_utf8_total "))
        .and_then(|value| value.trim().parse().ok())
        .unwrap_or(0)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_line_that_is_not_utf8_arrives_byte_for_byte_and_is_counted() {
    let before = invalid_utf8_lines();
    let dir = tempfile::tempdir().expect("tempdir");
    let (path, data_dir) = (dir.path().join("app.log"), dir.path().join("data"));
    let glob = format!("{}/*.log", dir.path().display());
    let server = IngestServer::start().await;
    let bytes: &[u8] = b"plain\nlatin-1 caf\xe9 and a cut \xc3 and \xff\xfe\r\nplain again\n";
    std::fs::write(&path, bytes).expect("write");
    let agent = TestAgent::start(agent_config(&server.url, &data_dir, &glob));
    eventually("three lines arrive", || server.lines_of(&path).len() == 3).await;
    agent.stop().await;

    assert_eq!(sorted_unique(server.lines_of(&path)), expected_lines(bytes, 0), "the bytes as they are");
    assert!(invalid_utf8_lines() > before, "the line that is not UTF-8 is counted");
}
