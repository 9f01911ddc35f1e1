//! Test harness: an in-test ingest server standing in for `POST /api/v1/logs/ingest`, the agent
//! run as a library task, and polling with a deadline.

use std::{
    collections::HashMap,
    path::{Path, PathBuf},
    sync::{
        atomic::{AtomicBool, AtomicUsize, Ordering},
        Arc, Mutex,
    },
    time::{Duration, Instant},
};

use axum::{body::Bytes, extract::State, http::HeaderMap, http::StatusCode, routing::post, Json, Router};
use prost::Message as _;
use vigil_collector::{
    checkpoint::{self, Checkpoint},
    config::{AgentConfig, HttpOutput, InputConfig},
};
use vigil_model::{content_type::LOG_BATCH_V1, LogBatch, LogRecord};

/// How long a test waits for something the agent should do.
pub const DEADLINE: Duration = Duration::from_secs(20);

/// One record the server accepted, with the request's headers.
#[derive(Debug, Clone)]
pub struct Received {
    pub record: LogRecord,
    pub partition_key: String,
}

#[derive(Default)]
struct ServerState {
    received: Mutex<Vec<Received>>,
    failing: AtomicBool,
    fail_next: AtomicUsize,
    failed: AtomicUsize,
}

/// Stands in for the ingest endpoint: checks the content type, decodes the protobuf batch,
/// records its lines, and answers 503 while told to fail.
pub struct IngestServer {
    pub url: String,
    state: Arc<ServerState>,
}

impl IngestServer {
    pub async fn start() -> IngestServer {
        let state = Arc::new(ServerState::default());
        let app = Router::new().route("/api/v1/logs/ingest", post(ingest)).with_state(state.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind a free port");
        let url = format!("http://{}", listener.local_addr().expect("bound address"));
        tokio::spawn(async move { axum::serve(listener, app).await.expect("test server runs") });
        IngestServer { url, state }
    }

    /// While true, every request is answered 503 and nothing is recorded.
    pub fn set_failing(&self, failing: bool) {
        self.state.failing.store(failing, Ordering::SeqCst);
    }

    /// Answers the next `n` requests with 503.
    pub fn fail_next(&self, n: usize) {
        self.state.fail_next.store(n, Ordering::SeqCst);
    }

    /// Requests answered with 503 so far.
    pub fn failed_requests(&self) -> usize {
        self.state.failed.load(Ordering::SeqCst)
    }

    pub fn received(&self) -> Vec<Received> {
        self.state.received.lock().expect("not poisoned").clone()
    }

    /// The accepted lines of `source` as (offset, line), in arrival order.
    pub fn lines_of(&self, source: &Path) -> Vec<(u64, Vec<u8>)> {
        let source = source.to_string_lossy();
        self.received()
            .into_iter()
            .filter(|r| r.record.source == source)
            .map(|r| (r.record.offset, r.record.line))
            .collect()
    }
}

async fn ingest(
    State(state): State<Arc<ServerState>>,
    headers: HeaderMap,
    body: Bytes,
) -> (StatusCode, Json<serde_json::Value>) {
    let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok()).unwrap_or("").to_string();
    let fail_next = state.fail_next.fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1)).is_ok();
    if state.failing.load(Ordering::SeqCst) || fail_next {
        state.failed.fetch_add(1, Ordering::SeqCst);
        let error = serde_json::json!({"error": {"code": "unavailable", "message": "bus is down"}});
        return (StatusCode::SERVICE_UNAVAILABLE, Json(error));
    }
    if header("content-type") != LOG_BATCH_V1 {
        let error = serde_json::json!({"error": {"code": "unsupported_media_type", "message": "bad content type"}});
        return (StatusCode::UNSUPPORTED_MEDIA_TYPE, Json(error));
    }
    let Ok(batch) = LogBatch::decode(body.as_ref()) else {
        let error = serde_json::json!({"error": {"code": "bad_request", "message": "not a log batch"}});
        return (StatusCode::BAD_REQUEST, Json(error));
    };
    let partition_key = header("x-vigil-partition-key");
    let accepted = batch.records.len();
    let mut received = state.received.lock().expect("not poisoned");
    let offset = received.len();
    received.extend(batch.records.into_iter().map(|record| Received { record, partition_key: partition_key.clone() }));
    (StatusCode::OK, Json(serde_json::json!({"accepted": accepted, "partition": 0, "offset": offset})))
}

/// The agent running as a library task until [`TestAgent::stop`].
pub struct TestAgent {
    stop: tokio::sync::oneshot::Sender<()>,
    task: tokio::task::JoinHandle<anyhow::Result<()>>,
}

impl TestAgent {
    pub fn start(config: AgentConfig) -> TestAgent {
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let task = tokio::spawn(vigil_collector::run(config, None, async move {
            let _ = stopped.await;
        }));
        TestAgent { stop, task }
    }

    /// Ends the agent abruptly, as kill -9 would: no final checkpoint write, no flush.
    pub async fn crash(self) {
        self.task.abort();
        let _ = self.task.await;
    }

    /// Clean shutdown, as on SIGTERM; fails the test if the agent returned an error.
    pub async fn stop(self) {
        let _ = self.stop.send(());
        let result = tokio::time::timeout(DEADLINE, self.task).await.expect("agent stops in time");
        result.expect("agent task does not panic").expect("agent exits cleanly");
    }
}

/// A config tailing `glob` to `server_url`, with short intervals so tests run fast.
pub fn agent_config(server_url: &str, data_dir: &Path, glob: &str) -> AgentConfig {
    let mut config = AgentConfig {
        data_dir: data_dir.to_path_buf(),
        host: "test-host".into(),
        labels: [("env".to_string(), "test".to_string())].into(),
        scan_interval: Duration::from_millis(50),
        poll_interval: Duration::from_millis(20),
        checkpoint_interval: Duration::from_millis(50),
        inputs: vec![InputConfig { paths: vec![glob.into()], service: "svc".into(), ..InputConfig::default() }],
        ..AgentConfig::default()
    };
    config.output.http = Some(HttpOutput::new(server_url));
    config.output.retry_initial_delay = Duration::from_millis(20);
    config.output.retry_max_delay = Duration::from_millis(200);
    config.batch.linger = Duration::from_millis(20);
    config
}

/// Polls `check` until it is true; panics naming `what` at the deadline.
pub async fn eventually(what: &str, mut check: impl FnMut() -> bool) {
    let deadline = Instant::now() + DEADLINE;
    while !check() {
        assert!(Instant::now() < deadline, "timed out waiting for: {what}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// The checkpoint stored for the file at `path` (matched by inode), if any.
pub fn checkpoint_of(data_dir: &Path, path: &Path) -> Option<Checkpoint> {
    let inode = std::os::unix::fs::MetadataExt::ino(&std::fs::metadata(path).ok()?);
    checkpoint_of_inode(data_dir, inode)
}

pub fn checkpoint_of_inode(data_dir: &Path, inode: u64) -> Option<Checkpoint> {
    let stored = checkpoint::read(&data_dir.join(checkpoint::FILE_NAME)).expect("checkpoint file is readable");
    stored.files.into_iter().find(|c| c.inode == inode)
}

/// The stream the agent ships `path`'s current content under (from its checkpoint), checked
/// to start with the file's `<dev>:<inode>:`.
pub fn stream_of(data_dir: &Path, path: &Path) -> String {
    let metadata = std::fs::metadata(path).expect("file exists");
    let prefix = format!(
        "{}:{}:",
        std::os::unix::fs::MetadataExt::dev(&metadata),
        std::os::unix::fs::MetadataExt::ino(&metadata)
    );
    let stream = checkpoint_of(data_dir, path).expect("the file has a checkpoint").stream;
    assert!(stream.starts_with(&prefix), "{stream} names the file {prefix}");
    stream
}

/// Appends `text` to `path` (creating it).
pub fn append(path: &Path, text: &str) {
    use std::io::Write;
    let mut file = std::fs::OpenOptions::new().create(true).append(true).open(path).expect("open for append");
    file.write_all(text.as_bytes()).expect("append");
}

/// `count` numbered lines `"<prefix> line <n>\n"` starting at `first`.
pub fn numbered(prefix: &str, first: usize, count: usize) -> String {
    (first..first + count).map(|n| format!("{prefix} line {n}\n")).collect()
}

/// (offset, line) of every complete line of `bytes`, as the agent should ship them.
pub fn expected_lines(bytes: &[u8], base: u64) -> Vec<(u64, Vec<u8>)> {
    let mut lines = Vec::new();
    let mut offset = base;
    let mut rest = bytes;
    while let Some(newline) = rest.iter().position(|&b| b == b'\n') {
        let line = rest[..newline].strip_suffix(b"\r").unwrap_or(&rest[..newline]);
        lines.push((offset, line.to_vec()));
        offset += newline as u64 + 1;
        rest = &rest[newline + 1..];
    }
    lines
}

/// Sorted copy, and asserts no (offset) repeats: every line arrived once.
pub fn sorted_unique(mut lines: Vec<(u64, Vec<u8>)>) -> Vec<(u64, Vec<u8>)> {
    lines.sort();
    let mut counts: HashMap<u64, usize> = HashMap::new();
    for (offset, _) in &lines {
        *counts.entry(*offset).or_default() += 1;
    }
    let duplicates: Vec<_> = counts.into_iter().filter(|(_, n)| *n > 1).collect();
    assert!(duplicates.is_empty(), "lines sent more than once (offset, times): {duplicates:?}");
    lines
}

/// The shared test data directory, or `None` (with a message) when it is missing.
pub fn shared_data(relative: &str) -> Option<PathBuf> {
    let path = Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/../../shared/data")).join(relative);
    if path.exists() {
        Some(path)
    } else {
        eprintln!("skipping: test data {} is missing", path.display());
        None
    }
}

/// The records of `source` the pipeline would index: it keeps the first record it receives at
/// each (stream, offset) and drops later ones as resends. By offset: (offset, line).
pub fn indexed_as_the_pipeline_would(server: &IngestServer, source: &Path) -> Vec<(u64, String)> {
    let source = source.to_string_lossy();
    let mut indexed: std::collections::BTreeMap<(u64, String), String> = std::collections::BTreeMap::new();
    for record in server.received().into_iter().map(|r| r.record).filter(|r| r.source == source) {
        let line = String::from_utf8_lossy(&record.line).into_owned();
        indexed.entry((record.offset, record.stream)).or_insert(line);
    }
    indexed.into_iter().map(|((offset, _), line)| (offset, line)).collect()
}
