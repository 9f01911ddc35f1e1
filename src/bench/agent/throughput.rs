//! Throughput: one shipper (the agent, or the bare producer) sends the pre-written file to a
//! fresh broker. Timed from the shipper's spawn until every line is acknowledged: for the
//! agent, when `/metrics` (polled every 20 ms) counts the file's bytes acknowledged; for the
//! baseline, when it prints its totals. The shipper's CPU time is read from /proc at that
//! moment, before it is stopped.

use std::{
    path::Path,
    process::Stdio,
    time::{Duration, Instant},
};

use anyhow::Context;
use tokio::io::{AsyncBufReadExt, BufReader};

use super::{
    agent_process::Agent,
    broker::Broker,
    lines::LogFile,
    process::{self, Running},
    sample, verify, Setup, HOST, SERVICE, TOPIC,
};

/// A shipper that makes no progress for this long has failed.
const STALL_TIMEOUT: Duration = Duration::from_secs(60);
const POLL: Duration = Duration::from_millis(20);
/// Longest the baseline may take (it reports only at the end).
const BASELINE_TIMEOUT: Duration = Duration::from_secs(1800);

#[derive(Debug, Clone, Copy)]
pub enum Shipper {
    Agent,
    /// The bare producer, keeping this many batches waiting for acknowledgement at once;
    /// `wide` when that is more than the agent may keep (see `--wide-in-flight`).
    Baseline {
        in_flight: usize,
        wide: bool,
    },
}

impl Shipper {
    pub fn name(self) -> &'static str {
        match self {
            Shipper::Agent => "agent",
            Shipper::Baseline { wide: false, .. } => "baseline",
            Shipper::Baseline { wide: true, .. } => "baseline_wide",
        }
    }
}

pub struct Shipped {
    pub seconds: f64,
    pub cpu_seconds: f64,
    /// CPU seconds of the broker over the same time.
    pub broker_cpu_seconds: f64,
    pub peak_rss_bytes: u64,
    /// What reading the topic back found (when asked to verify).
    pub verified: Option<verify::Counted>,
}

pub async fn measure(
    setup: &Setup,
    shipper: Shipper,
    file: &LogFile,
    dir: &Path,
    verify_topic: bool,
) -> anyhow::Result<Shipped> {
    let broker = Broker::start(&setup.tansu, &dir.join("broker"), setup.broker_cpus.as_deref()).await?;
    broker.create_topic(TOPIC, 1).await?;
    let broker_cpu_before = broker.cpu_seconds();
    let started = Instant::now();
    let (process, seconds) = match shipper {
        Shipper::Agent => {
            let agent = Agent::start(setup, dir, &file.path, &broker.address, &setup.shipper_cpus)?;
            wait_agent(agent, file.bytes, started).await?
        }
        Shipper::Baseline { in_flight, .. } => {
            run_baseline(setup, in_flight, dir, file, &broker.address, started).await?
        }
    };
    let cpu_seconds = process.cpu_seconds();
    let broker_cpu_seconds = broker.cpu_seconds() - broker_cpu_before;
    let peak_rss_bytes = sample::peak_rss_bytes(process.pid).unwrap_or(0);
    process.stop().await;
    let verified = if verify_topic {
        let counted = verify::read_back(&broker.address, TOPIC, file.lines).await?;
        anyhow::ensure!(
            counted.lines >= file.lines && counted.bytes >= file.bytes,
            "{}: the topic holds {} lines ({} bytes) of the file's {} ({} bytes)",
            shipper.name(),
            counted.lines,
            counted.bytes,
            file.lines,
            file.bytes
        );
        Some(counted)
    } else {
        None
    };
    broker.stop().await;
    Ok(Shipped { seconds, cpu_seconds, broker_cpu_seconds, peak_rss_bytes, verified })
}

/// Polls the agent's `/metrics` until the whole file is acknowledged.
async fn wait_agent(mut agent: Agent, file_bytes: u64, started: Instant) -> anyhow::Result<(Running, f64)> {
    let (mut last, mut last_change) = (0, Instant::now());
    loop {
        let acknowledged = agent.acknowledged_bytes().await.unwrap_or(0);
        if acknowledged >= file_bytes {
            return Ok((agent.process, started.elapsed().as_secs_f64()));
        }
        agent.process.ensure_running()?;
        if acknowledged != last {
            (last, last_change) = (acknowledged, Instant::now());
        }
        anyhow::ensure!(
            last_change.elapsed() < STALL_TIMEOUT,
            "vigil-agent acknowledged {acknowledged} of {file_bytes} bytes and made no progress for {STALL_TIMEOUT:?}; \
             its log: {}",
            agent.process.log.display()
        );
        tokio::time::sleep(POLL).await;
    }
}

/// Runs `vigil bench agent-baseline` pinned to the shipper's core until it reports.
async fn run_baseline(
    setup: &Setup,
    in_flight: usize,
    dir: &Path,
    file: &LogFile,
    brokers: &str,
    started: Instant,
) -> anyhow::Result<(Running, f64)> {
    std::fs::create_dir_all(dir)?;
    let mut command = process::command(&setup.vigil_exe, Some(&setup.shipper_cpus));
    command.args(["bench", "agent-baseline", "--brokers", brokers, "--topic", TOPIC, "--service", SERVICE]);
    command.args(["--host", HOST, "--compression", &setup.compression]);
    command.args(["--max-lines", &setup.max_lines.to_string(), "--max-bytes", &setup.max_bytes.to_string()]);
    command.args(["--in-flight", &in_flight.to_string()]);
    for (key, value) in &setup.producer_properties {
        command.args(["--producer-property", &format!("{key}={value}")]);
    }
    command.arg("--file").arg(&file.path).stdin(Stdio::piped());
    let mut process = Running::start("baseline", command, &dir.join("baseline.log"), true)?;
    let stdout = process.child.stdout.take().context("the baseline's stdout is piped")?;
    let mut lines = BufReader::new(stdout).lines();
    let report = tokio::time::timeout(BASELINE_TIMEOUT, lines.next_line())
        .await
        .with_context(|| format!("the baseline did not finish within {BASELINE_TIMEOUT:?}"))??;
    let seconds = started.elapsed().as_secs_f64();
    let Some(report) = report else {
        process.ensure_running()?;
        anyhow::bail!("the baseline closed its output without reporting:\n{}", process.log_tail());
    };
    let totals: serde_json::Value = serde_json::from_str(&report).context("the baseline's report is JSON")?;
    anyhow::ensure!(
        totals["bytes"].as_u64() == Some(file.bytes),
        "the baseline shipped {} of {} bytes",
        totals["bytes"],
        file.bytes
    );
    Ok((process, seconds))
}
