//! A model-based test of how the agent follows files: random sequences of what happens to log
//! files (appends, rename rotation, copytruncate, truncation, deletion, agent stops, starts and
//! crashes, with some of it happening while the agent is stopped) applied to real files under a
//! running agent. The reference model is the list of lines written; after each step the lines
//! shipped must be exactly those written so far: none missing, none under two identities.
//!
//! Operations that would destroy lines the agent could not have read yet (a truncation while
//! it is stopped with new lines pending) are skipped: losing those is not the agent's doing.

use std::{
    collections::{HashMap, HashSet},
    path::PathBuf,
    time::Duration,
};

use proptest::prelude::*;

use crate::helpers::*;

#[derive(Debug, Clone)]
enum Op {
    /// Appends this many lines to `app.log` (creating it).
    Append(usize),
    /// Renames `app.log` to the next `app.log.N`.
    Rename,
    /// Copies `app.log` to the next `app.log.N` and truncates it (logrotate's copytruncate).
    CopyTruncate,
    /// Truncates `app.log` in place.
    Truncate,
    /// Deletes every file (a new `app.log` may then get a freed inode).
    DeleteAll,
    /// Stops the agent, or starts it when stopped.
    StopOrStart,
    /// Ends the running agent abruptly, as kill -9 would, and starts it again.
    Crash,
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        4 => (1usize..12).prop_map(Op::Append),
        1 => Just(Op::Rename),
        1 => Just(Op::CopyTruncate),
        1 => Just(Op::Truncate),
        1 => Just(Op::DeleteAll),
        2 => Just(Op::StopOrStart),
        1 => Just(Op::Crash),
    ]
}

struct Model {
    dir: tempfile::TempDir,
    data_dir: PathBuf,
    server: IngestServer,
    agent: Option<TestAgent>,
    written: Vec<String>,
    /// Lines written since the last time everything written had arrived.
    unsettled: bool,
    rotations: usize,
}

impl Model {
    fn app_log(&self) -> PathBuf {
        self.dir.path().join("app.log")
    }

    fn start_agent(&mut self) {
        let glob = format!("{}/app.log*", self.dir.path().display());
        let mut config = agent_config(&self.server.url, &self.data_dir, &glob);
        config.partial_line_timeout = Duration::ZERO;
        self.agent = Some(TestAgent::start(config));
    }

    /// Waits until every line written has arrived (the agent must be running).
    async fn settle(&mut self) {
        let expected = self.written.len();
        let server = &self.server;
        eventually(&format!("all {expected} lines written arrive"), || distinct_lines(server) >= expected).await;
        self.unsettled = false;
    }

    async fn apply(&mut self, op: &Op) {
        let path = self.app_log();
        let running = self.agent.is_some();
        let destructive = matches!(op, Op::CopyTruncate | Op::Truncate | Op::DeleteAll);
        if destructive && self.unsettled {
            if !running {
                return;
            }
            self.settle().await;
        }
        match op {
            Op::Append(count) => {
                let first = self.written.len();
                let lines: Vec<String> =
                    (first..first + count).map(|n| format!("line {n:06} of the model test")).collect();
                append(&path, &lines.iter().map(|line| format!("{line}\n")).collect::<String>());
                self.written.extend(lines);
                self.unsettled = true;
            }
            Op::Rename if path.exists() => {
                self.rotations += 1;
                std::fs::rename(&path, self.dir.path().join(format!("app.log.{}", self.rotations))).expect("rename");
            }
            Op::CopyTruncate if path.exists() => {
                self.rotations += 1;
                std::fs::copy(&path, self.dir.path().join(format!("app.log.{}", self.rotations))).expect("copy");
                std::fs::OpenOptions::new().write(true).open(&path).expect("open").set_len(0).expect("truncate");
            }
            Op::Truncate if path.exists() => {
                std::fs::OpenOptions::new().write(true).open(&path).expect("open").set_len(0).expect("truncate");
            }
            Op::DeleteAll => {
                for entry in std::fs::read_dir(self.dir.path()).expect("list") {
                    let entry = entry.expect("entry");
                    if entry.file_name().to_string_lossy().starts_with("app.log") {
                        std::fs::remove_file(entry.path()).expect("delete");
                    }
                }
            }
            Op::StopOrStart => match self.agent.take() {
                Some(agent) => agent.stop().await,
                None => self.start_agent(),
            },
            Op::Crash => {
                if let Some(agent) = self.agent.take() {
                    agent.crash().await;
                    self.start_agent();
                }
            }
            Op::Rename | Op::CopyTruncate | Op::Truncate => {}
        }
        if self.agent.is_some() {
            self.settle().await;
        }
    }
}

/// Distinct line contents received (a line counted once however often it came).
fn distinct_lines(server: &IngestServer) -> usize {
    let mut seen = std::collections::HashSet::new();
    server.received().into_iter().filter(|r| seen.insert(r.record.line.clone())).count()
}

async fn run(ops: Vec<Op>) {
    let dir = tempfile::tempdir().expect("tempdir");
    let data_dir = dir.path().join("agent-data");
    let server = IngestServer::start().await;
    let mut model = Model { dir, data_dir, server, agent: None, written: Vec::new(), unsettled: false, rotations: 0 };
    model.start_agent();
    for op in &ops {
        model.apply(op).await;
    }
    if model.agent.is_none() {
        model.start_agent();
    }
    model.settle().await;
    model.agent.take().expect("running").stop().await;

    // A line sent again after a crash is fine as long as it carries the (stream, offset) it was
    // first sent with: that is how the pipeline recognises it and indexes it once.
    let mut times: HashMap<Vec<u8>, HashSet<(String, u64)>> = HashMap::new();
    for received in model.server.received() {
        times.entry(received.record.line).or_default().insert((received.record.stream, received.record.offset));
    }
    let twice: Vec<String> = times
        .iter()
        .filter(|(_, at)| at.len() > 1)
        .map(|(line, at)| format!("{} (at {at:?})", String::from_utf8_lossy(line)))
        .collect();
    assert!(twice.is_empty(), "lines shipped more than once after {ops:?}: {twice:?}");
    let missing: Vec<&String> = model.written.iter().filter(|line| !times.contains_key(line.as_bytes())).collect();
    assert!(missing.is_empty(), "lines never shipped after {ops:?}: {missing:?}");
    assert_eq!(times.len(), model.written.len(), "only lines written were shipped");
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn every_line_arrives_once_whatever_happens_to_the_files(ops in proptest::collection::vec(op(), 1..14)) {
        let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().expect("runtime");
        runtime.block_on(run(ops));
    }
}
