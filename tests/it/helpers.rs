//! `TestApp`: a `vigil` process on a free port with one method per endpoint.

use std::{path::Path, time::Duration};

use prost::Message as _;
use serde_json::Value;
use vigil_model::{content_type, search::SearchResponse, LogBatch, LogRecord, LOG_BATCH_SCHEMA_VERSION};
use vigil_testkit::{free_port, wait_healthy, Process};

pub const STARTUP: Duration = Duration::from_secs(30);
/// Generous: the machine is shared and debug builds are slow; freshness is measured by the
/// benchmark, not here.
pub const SEARCHABLE: Duration = Duration::from_secs(60);

pub struct TestApp {
    pub base: String,
    pub process: Process,
    pub client: reqwest::Client,
    /// Kept so the data directory lives as long as the app.
    _dir: tempfile::TempDir,
}

impl TestApp {
    /// `vigil up` with its own data directory.
    pub async fn up() -> TestApp {
        TestApp::up_with_env(&[]).await
    }

    /// `vigil up` with `VIGIL__...` overrides in its environment.
    pub async fn up_with_env(envs: &[(String, String)]) -> TestApp {
        let dir = tempfile::tempdir().expect("tempdir");
        let port = free_port();
        let args = vec![
            "up".to_string(),
            "--data-dir".to_string(),
            dir.path().join("data").display().to_string(),
            "--listen".to_string(),
            format!("127.0.0.1:{port}"),
        ];
        TestApp::start(dir, port, args, envs).await
    }

    /// `vigil run --config FILE` with the given config text (`{data_dir}` and `{listen}` are
    /// filled in).
    pub async fn run_with_config(config: &str, roles: &str) -> TestApp {
        let dir = tempfile::tempdir().expect("tempdir");
        let port = free_port();
        let text = config
            .replace("{data_dir}", &dir.path().join("data").display().to_string())
            .replace("{listen}", &format!("127.0.0.1:{port}"));
        let path = dir.path().join("vigil.toml");
        std::fs::write(&path, text).expect("config written");
        let args = vec![
            "run".to_string(),
            "--config".to_string(),
            path.display().to_string(),
            "--roles".to_string(),
            roles.to_string(),
        ];
        TestApp::start(dir, port, args, &[]).await
    }

    async fn start(dir: tempfile::TempDir, port: u16, args: Vec<String>, envs: &[(String, String)]) -> TestApp {
        let process =
            Process::start(Path::new(env!("CARGO_BIN_EXE_vigil")), &args, envs, &dir.path().join("vigil.log"));
        let base = format!("http://127.0.0.1:{port}");
        wait_healthy(&base, STARTUP).await;
        TestApp { base, process, client: reqwest::Client::new(), _dir: dir }
    }

    /// An HTTP client and the base URL, for a task that outlives a borrow of the app.
    pub fn client_of(app: &TestApp) -> (reqwest::Client, String) {
        (app.client.clone(), app.base.clone())
    }

    /// The data directory of `vigil up`.
    pub fn data_dir(&self) -> std::path::PathBuf {
        self._dir.path().join("data")
    }

    pub async fn restart(&mut self) {
        self.process.restart();
        wait_healthy(&self.base, STARTUP).await;
    }

    pub async fn ingest(&self, content_type: &str, body: Vec<u8>) -> reqwest::Response {
        self.client
            .post(format!("{}/api/v1/logs/ingest", self.base))
            .header("content-type", content_type)
            .body(body)
            .send()
            .await
            .expect("ingest request is answered")
    }

    /// Ships `lines` as native batches the way the agent does, tagged with `service`.
    pub async fn ingest_lines(&self, service: &str, source: &str, lines: &[&[u8]]) {
        let lines = with_offsets(lines);
        for chunk in lines.chunks(1000) {
            let batch = batch_of(service, source, chunk);
            let response = self.ingest(content_type::LOG_BATCH_V1, batch.encode_to_vec()).await;
            assert!(response.status().is_success(), "ingest failed: {}", response.text().await.unwrap_or_default());
        }
    }

    pub async fn get(&self, path: &str, params: &[(&str, &str)]) -> (u16, Value) {
        let response =
            self.client.get(format!("{}{path}", self.base)).query(params).send().await.expect("request is answered");
        let status = response.status().as_u16();
        (status, response.json().await.unwrap_or(Value::Null))
    }

    pub async fn search(&self, params: &[(&str, &str)]) -> SearchResponse {
        let (status, body) = self.get("/api/v1/logs/search", params).await;
        assert_eq!(status, 200, "search {params:?} failed: {body}");
        serde_json::from_value(body).expect("search answer has the documented shape")
    }

    pub async fn total(&self, params: &[(&str, &str)]) -> u64 {
        self.search(&[params, &[("limit", "0")]].concat()).await.total
    }

    /// Waits until the search's total reaches `expected`, then returns the final total
    /// (re-read once, so a total that overshoots is seen).
    pub async fn wait_total(&self, params: &[(&str, &str)], expected: u64) -> u64 {
        let deadline = std::time::Instant::now() + SEARCHABLE;
        loop {
            let total = self.total(params).await;
            if total >= expected {
                break;
            }
            assert!(
                std::time::Instant::now() < deadline,
                "waited {SEARCHABLE:?} for {expected} hits for {params:?}, have {total}; server log:\n{}",
                tail(&self.process.output(), 40)
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        self.total(params).await
    }
}

/// A `vigil run` config that uses Kafka at `brokers` for the log topic `topic`, with a
/// consumer group of its own.
pub fn kafka_config(brokers: &str, topic: &str) -> String {
    format!(
        "data_dir = \"{{data_dir}}\"\nlisten = \"{{listen}}\"\n[bus]\nlogs_topic = \"{topic}\"\n[bus.kafka]\nbrokers = \"{brokers}\"\ngroup_id = \"{}\"\n",
        vigil_testkit::unique_name("group")
    )
}

/// Pages through `filter` in time order and checks that the lines' `seq<N>` numbers are
/// exactly 0..count, each once.
pub async fn assert_each_seq_once(app: &TestApp, filter: (&str, &str), count: usize) {
    let mut seen = std::collections::BTreeSet::new();
    for page in 0..count.div_ceil(1000) {
        let offset = (page * 1000).to_string();
        let found = app.search(&[filter, ("sort", "asc"), ("limit", "1000"), ("offset", &offset)]).await;
        for hit in found.hits {
            let seq: usize = hit
                .message
                .split("seq")
                .nth(1)
                .and_then(|rest| rest.split(' ').next())
                .and_then(|n| n.parse().ok())
                .unwrap_or_else(|| panic!("no seq number in {:?}", hit.message));
            assert!(seen.insert(seq), "seq{seq} indexed twice");
        }
    }
    assert_eq!(seen, (0..count).collect(), "every line exactly once");
}

fn tail(text: &str, lines: usize) -> String {
    let all: Vec<&str> = text.lines().collect();
    all[all.len().saturating_sub(lines)..].join("\n")
}

/// Each line with its byte offset, as if the lines were consecutive lines of a file.
pub fn with_offsets<'a>(lines: &[&'a [u8]]) -> Vec<(u64, &'a [u8])> {
    let mut offset = 0;
    lines
        .iter()
        .map(|line| {
            let at = offset;
            offset += line.len() as u64 + 1;
            (at, *line)
        })
        .collect()
}

/// A native batch of lines of one file, as the agent ships them.
pub fn batch_of(service: &str, source: &str, lines: &[(u64, &[u8])]) -> LogBatch {
    LogBatch {
        schema_version: LOG_BATCH_SCHEMA_VERSION,
        records: lines
            .iter()
            .map(|(offset, line)| LogRecord {
                line: line.to_vec(),
                service: service.to_string(),
                host: "test-host".to_string(),
                source: source.to_string(),
                offset: *offset,
                read_time_ms: 1_700_000_000_000,
                stream: format!("{source}:1:0"),
                ..Default::default()
            })
            .collect(),
    }
}

/// The non-blank lines of a file, as the agent would ship them.
pub fn lines_of(bytes: &[u8]) -> Vec<&[u8]> {
    bytes
        .split(|b| *b == b'\n')
        .map(|line| line.strip_suffix(b"\r").unwrap_or(line))
        .filter(|line| !line.iter().all(u8::is_ascii_whitespace))
        .collect()
}

/// `grep -c -i` for a word with tantivy's token boundaries (letters and digits).
pub fn grep_count(path: &Path, word: &str) -> u64 {
    let pattern = format!("(^|[^[:alnum:]]){word}([^[:alnum:]]|$)");
    let output =
        std::process::Command::new("grep").args(["-c", "-i", "-E", &pattern]).arg(path).output().expect("grep runs");
    String::from_utf8_lossy(&output.stdout).trim().parse().expect("grep -c prints a number")
}
