//! Torture: a writer appends sequence-numbered lines at a steady rate while the log is rotated
//! over and over (rename + create, and copytruncate, alternately), the agent (the real binary)
//! is killed with SIGKILL and restarted, and the destination refuses everything for a while.
//! Oracle, on the sequence numbers: every line arrives, except lines written inside
//! copytruncate's own window (between the copy's start and the truncation, which the harness
//! records: logrotate itself loses those), and no line arrives under two identities.
//!
//! CI runs a small version. The full one (1,000 rotations at 10 MB/s, 20 kills, 60 s outage):
//! `VIGIL_TORTURE=full cargo test --release -p vigil-collector --test it torture -- --nocapture`

use std::{
    collections::{HashMap, HashSet},
    fs::{File, OpenOptions},
    io::Write,
    path::{Path, PathBuf},
    process::{Child, Command, Stdio},
    sync::{
        atomic::{AtomicBool, AtomicU64, Ordering},
        Arc, Mutex,
    },
    time::{Duration, Instant},
};

use axum::{body::Bytes, extract::State, http::StatusCode, routing::post, Router};
use prost::Message as _;
use vigil_model::LogBatch;

/// How hard the run is.
struct Plan {
    seconds: u64,
    rotations: u64,
    bytes_per_second: u64,
    kills: u64,
    outage: Duration,
}

impl Plan {
    fn from_env() -> Plan {
        match std::env::var("VIGIL_TORTURE").as_deref() {
            Ok("full") => Plan {
                seconds: 120,
                rotations: 1000,
                bytes_per_second: 10 << 20,
                kills: 20,
                outage: Duration::from_secs(60),
            },
            _ => {
                Plan { seconds: 12, rotations: 40, bytes_per_second: 1 << 20, kills: 3, outage: Duration::from_secs(3) }
            }
        }
    }
}

/// What the receiver keeps of each line: its sequence number and identity.
/// What follows the sequence number on every line the writer writes.
const LINE_PAD: &str = "torture line padding to make a line of about one hundred bytes, as logs are";

#[derive(Default)]
struct Received {
    failing: AtomicBool,
    /// seq -> identities (stream, offset) it arrived under.
    lines: Mutex<HashMap<u64, HashSet<(String, u64)>>>,
    unparsed: AtomicU64,
    /// Lines cut short that are the start of a line the writer wrote: a copytruncate copy can
    /// end inside the line being written (the copy races the writer, as with logrotate), and
    /// the agent ships that unterminated end after `partial_line_timeout`.
    torn: AtomicU64,
    /// The first unparsed lines, as (stream, offset, line), for the failure message.
    unparsed_samples: Mutex<Vec<(String, u64, String)>>,
}

async fn ingest(State(state): State<Arc<Received>>, body: Bytes) -> StatusCode {
    if state.failing.load(Ordering::SeqCst) {
        return StatusCode::SERVICE_UNAVAILABLE;
    }
    let Ok(batch) = LogBatch::decode(body.as_ref()) else { return StatusCode::BAD_REQUEST };
    let mut lines = state.lines.lock().expect("not poisoned");
    for record in batch.records {
        match parse_seq(&record.line) {
            Some(seq) => {
                lines.entry(seq).or_default().insert((record.stream, record.offset));
            }
            None if is_torn(&record.line) => {
                state.torn.fetch_add(1, Ordering::SeqCst);
            }
            None => {
                state.unparsed.fetch_add(1, Ordering::SeqCst);
                let mut samples = state.unparsed_samples.lock().expect("not poisoned");
                if samples.len() < 5 {
                    let line = String::from_utf8_lossy(&record.line[..record.line.len().min(200)]).into_owned();
                    samples.push((record.stream.clone(), record.offset, line));
                }
            }
        }
    }
    StatusCode::OK
}

/// The sequence number of a whole line (`seq=N` and the padding), else `None`.
fn parse_seq(line: &[u8]) -> Option<u64> {
    let rest = line.strip_prefix(b"seq=")?;
    let digits = rest.iter().position(|b| !b.is_ascii_digit()).unwrap_or(rest.len());
    let pad = rest[digits..].strip_prefix(b" ")?;
    if digits == 0 || pad != LINE_PAD.as_bytes() {
        return None;
    }
    std::str::from_utf8(&rest[..digits]).ok()?.parse().ok()
}

/// A line cut short: the start of one the writer writes (`seq=`, digits, a space and the
/// padding, each possibly cut).
fn is_torn(line: &[u8]) -> bool {
    let prefix = &b"seq="[..line.len().min(4)];
    let Some(rest) = line.strip_prefix(prefix) else { return false };
    if line.len() <= 4 {
        return true;
    }
    let digits = rest.iter().position(|b| !b.is_ascii_digit()).unwrap_or(rest.len());
    match rest[digits..].split_first() {
        None => true,
        Some((b' ', pad)) => digits > 0 && LINE_PAD.as_bytes().starts_with(pad),
        Some(_) => false,
    }
}

/// The writer's current file and the next sequence number.
struct Writer {
    file: Mutex<File>,
    next_seq: AtomicU64,
}

fn open_append(path: &Path) -> File {
    OpenOptions::new().create(true).append(true).open(path).expect("open for append")
}

/// Starts the agent, its log appended to `agent.log` next to its config.
fn start_agent(config: &Path) -> Child {
    let log = OpenOptions::new().create(true).append(true).open(config.with_file_name("agent.log")).expect("log");
    Command::new(env!("CARGO_BIN_EXE_vigil-agent"))
        .args(["--config", &config.display().to_string()])
        .stdout(log)
        .stderr(Stdio::null())
        .spawn()
        .expect("start vigil-agent")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rotations_kills_and_an_outage_lose_only_what_copytruncate_itself_loses() {
    let plan = Plan::from_env();
    let dir = tempfile::tempdir().expect("tempdir");
    let (logs, data_dir, config) = (dir.path().join("logs"), dir.path().join("data"), dir.path().join("agent.toml"));
    std::fs::create_dir(&logs).expect("mkdir");
    let state = Arc::new(Received::default());
    let app = Router::new().route("/api/v1/logs/ingest", post(ingest)).with_state(state.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let url = format!("http://{}", listener.local_addr().expect("addr"));
    tokio::spawn(async move { axum::serve(listener, app).await.expect("serve") });
    std::fs::write(
        &config,
        format!(
            r#"[agent]
data_dir = "{}"
scan_interval = "100ms"
poll_interval = "20ms"
checkpoint_interval = "200ms"
[[agent.inputs]]
paths = ["{}/app.log*"]
service = "torture"
[agent.output]
http = {{ url = "{url}" }}
retry_initial_delay = "50ms"
retry_max_delay = "500ms"
[agent.spool]
after = "1s"
"#,
            data_dir.display(),
            logs.display()
        ),
    )
    .expect("config");

    let app_log = logs.join("app.log");
    let writer = Arc::new(Writer { file: Mutex::new(open_append(&app_log)), next_seq: AtomicU64::new(0) });
    let stop = Arc::new(AtomicBool::new(false));
    let writing = {
        let (writer, stop, rate) = (writer.clone(), stop.clone(), plan.bytes_per_second);
        std::thread::spawn(move || write_steadily(&writer, &stop, rate))
    };
    let mut agent = start_agent(&config);
    let started = Instant::now();
    let run = Duration::from_secs(plan.seconds);
    let (rotate_every, kill_every) = (run / plan.rotations as u32, run / (plan.kills as u32 + 1));
    let outage_from = (run.saturating_sub(plan.outage)) / 2;
    let mut windows: Vec<(u64, u64)> = Vec::new();
    let (mut rotations, mut kills, mut outage_done) = (0u64, 0u64, false);
    // Every rotation on its schedule (a rotation that ran late does not delay the next), so
    // the run makes all of them even when copying takes a while.
    while rotations < plan.rotations {
        tokio::time::sleep_until((started + rotate_every * (rotations as u32 + 1)).into()).await;
        let rotated = logs.join(format!("app.log.{rotations}"));
        if rotations % 2 == 0 {
            rotate_by_rename(&writer, &app_log, &rotated);
        } else {
            windows.push(copytruncate(&writer, &app_log, &rotated));
        }
        rotations += 1;
        let elapsed = started.elapsed();
        if kills < plan.kills && elapsed >= kill_every * (kills as u32 + 1) {
            agent.kill().expect("SIGKILL");
            agent.wait().expect("reap");
            agent = start_agent(&config);
            kills += 1;
        }
        let failing = !outage_done && elapsed >= outage_from && elapsed < outage_from + plan.outage;
        if state.failing.swap(failing, Ordering::SeqCst) && !failing {
            outage_done = true;
        }
    }
    state.failing.store(false, Ordering::SeqCst);
    stop.store(true, Ordering::SeqCst);
    writing.join().expect("writer");
    let written = writer.next_seq.load(Ordering::SeqCst);
    // Marked once: the full run writes millions of lines, and the check below holds the lock
    // the ingest server needs (a slow check stalled the agent's deliveries).
    let mut window_seq = vec![false; written as usize];
    for (from, to) in &windows {
        for seq in *from..(*to).min(written) {
            window_seq[seq as usize] = true;
        }
    }
    let in_window = |seq: u64| window_seq.get(seq as usize).copied().unwrap_or(false);
    let must_arrive = window_seq.iter().filter(|in_window| !**in_window).count();

    let deadline = Instant::now() + Duration::from_secs(60 + plan.seconds * 2);
    loop {
        let arrived = {
            let lines = state.lines.lock().expect("not poisoned");
            // Counted only once enough lines arrived to possibly be all of them.
            if lines.len() < must_arrive {
                0
            } else {
                lines.keys().filter(|seq| !in_window(**seq)).count()
            }
        };
        if arrived == must_arrive || Instant::now() > deadline {
            break;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    // SAFETY: kill(2) on the child we spawned.
    unsafe { libc::kill(agent.id() as i32, libc::SIGTERM) };
    agent.wait().expect("reap");

    let lines = state.lines.lock().expect("not poisoned");
    let missing: Vec<u64> = (0..written).filter(|seq| !lines.contains_key(seq)).collect();
    let lost_outside: Vec<u64> = missing.iter().copied().filter(|seq| !in_window(*seq)).collect();
    let twice: Vec<u64> = lines.iter().filter(|(_, at)| at.len() > 1).map(|(seq, _)| *seq).collect();
    let window_lines: u64 = windows.iter().map(|(from, to)| to - from).sum();
    eprintln!(
        "torture: {written} lines written, {rotations} rotations, {kills} kills, outage {:?}; {} arrived, {} lost inside copytruncate windows (of {window_lines} written in them), {} lost outside, {} under two identities, {} unparsed, {} torn (copies that end inside a line)",
        plan.outage,
        lines.len(),
        missing.len() - lost_outside.len(),
        lost_outside.len(),
        twice.len(),
        state.unparsed.load(Ordering::SeqCst),
        state.torn.load(Ordering::SeqCst),
    );
    assert!(lost_outside.is_empty(), "lines lost outside copytruncate windows: {:?}", first(&lost_outside));
    let example: Vec<_> = first(&twice).into_iter().take(3).map(|seq| (seq, lines[&seq].clone())).collect();
    if let Some((_, identities)) = example.first() {
        // The agent's log lines about the files involved, to tell what it decided.
        let log = std::fs::read_to_string(config.with_file_name("agent.log")).unwrap_or_default();
        let files: Vec<String> = identities
            .iter()
            .map(|(stream, _)| stream.rsplit_once(':').map_or(stream.clone(), |(f, _)| f.to_string()))
            .collect();
        let about: Vec<&str> = log.lines().filter(|line| files.iter().any(|f| line.contains(f.as_str()))).collect();
        eprintln!("agent log about {files:?}:\n{}", about.join("\n"));
    }
    assert!(twice.is_empty(), "lines arrived under two identities: {:?}, e.g. {example:?}", first(&twice));
    let samples = state.unparsed_samples.lock().expect("not poisoned").clone();
    if let Some((stream, _, _)) = samples.first() {
        let log = std::fs::read_to_string(config.with_file_name("agent.log")).unwrap_or_default();
        let file = stream.rsplit_once(':').map_or(stream.as_str(), |(file, _)| file);
        let about: Vec<&str> = log.lines().filter(|line| line.contains(file)).collect();
        eprintln!("agent log about {file}:\n{}", about.join("\n"));
    }
    assert_eq!(state.unparsed.load(Ordering::SeqCst), 0, "every line arrived whole; first ones not: {samples:?}");
    let torn = state.torn.load(Ordering::SeqCst);
    assert!(torn <= windows.len() as u64, "{torn} lines cut short, more than the {} copies made", windows.len());
    assert!(kills == plan.kills && outage_done, "the run killed {kills} times and had its outage");
    assert_eq!(rotations, plan.rotations, "every rotation was made");
}

fn first(seqs: &[u64]) -> Vec<u64> {
    let mut seqs = seqs.to_vec();
    seqs.sort_unstable();
    seqs.truncate(20);
    seqs
}

/// Appends `seq=<n>` lines of about 100 bytes at `rate` bytes/s until `stop`.
fn write_steadily(writer: &Writer, stop: &AtomicBool, rate: u64) {
    const CHUNK_LINES: u64 = 64;
    let started = Instant::now();
    let mut bytes = 0u64;
    let mut chunk = Vec::with_capacity(8 << 10);
    while !stop.load(Ordering::SeqCst) {
        chunk.clear();
        let mut file = writer.file.lock().expect("not poisoned");
        // The sequence numbers are taken under the file's lock, so the rotator's window
        // bounds (read under the same lock) separate lines cleanly.
        for _ in 0..CHUNK_LINES {
            let seq = writer.next_seq.fetch_add(1, Ordering::SeqCst);
            let _ = writeln!(chunk, "seq={seq} {LINE_PAD}");
        }
        file.write_all(&chunk).expect("append");
        drop(file);
        bytes += chunk.len() as u64;
        let due = Duration::from_secs_f64(bytes as f64 / rate as f64);
        if let Some(ahead) = due.checked_sub(started.elapsed()) {
            std::thread::sleep(ahead);
        }
    }
}

/// Rename + create: the writer moves to a new file at once, as after a reopen signal.
fn rotate_by_rename(writer: &Writer, app_log: &Path, rotated: &PathBuf) {
    let mut file = writer.file.lock().expect("not poisoned");
    std::fs::rename(app_log, rotated).expect("rename");
    *file = open_append(app_log);
}

/// logrotate's copytruncate: copy while the writer goes on, then truncate. Lines written
/// from the copy's start to the truncation may be lost: that window, as sequence numbers.
fn copytruncate(writer: &Writer, app_log: &Path, rotated: &PathBuf) -> (u64, u64) {
    let from = {
        let _file = writer.file.lock().expect("not poisoned");
        writer.next_seq.load(Ordering::SeqCst)
    };
    std::fs::copy(app_log, rotated).expect("copy");
    let file = writer.file.lock().expect("not poisoned");
    file.set_len(0).expect("truncate");
    (from, writer.next_seq.load(Ordering::SeqCst))
}

#[test]
fn whole_lines_parse_and_cut_ones_are_torn() {
    let whole = format!("seq=6962123 {LINE_PAD}");
    assert_eq!(parse_seq(whole.as_bytes()), Some(6_962_123));
    for cut in [4, 8, 12, 20, whole.len() - 1] {
        assert_eq!(parse_seq(&whole.as_bytes()[..cut]), None, "a line cut at {cut} is not taken for a sequence number");
    }
    for cut in [1, 4, 8, 11, 12, 20, whole.len() - 1] {
        assert!(is_torn(&whole.as_bytes()[..cut]), "cut at {cut}");
    }
    assert!(!is_torn(b"garbage"));
    assert!(!is_torn(b"seq=12 other text"));
    assert!(!is_torn(&whole.as_bytes()[4..]), "a line that starts in the middle is not a torn end");
}
