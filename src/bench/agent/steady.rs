//! The agent at a steady rate: a writer thread appends real lines to a file at a fixed rate
//! (in chunks of whole lines every 10 ms) while the agent ships them; the agent's `VmRSS` is
//! sampled every 100 ms from /proc and its CPU time read when the warm-up ends and when the
//! writer stops.
//!
//! The warm-up is the writer's first seconds: the agent's producer waits about a second for its
//! producer id before its first batch can go, and the lines written meanwhile then ship in
//! one burst, with up to `in_flight` batches (and librdkafka's copies of them) in memory. That
//! is a catch-up, not the steady rate; its largest `VmRSS` is reported apart.

use std::{
    io::Write,
    path::Path,
    sync::Arc,
    time::{Duration, Instant},
};

use anyhow::Context;

use super::{agent_process::Agent, broker::Broker, lines, sample, Setup, TOPIC};

const SAMPLE_EVERY: Duration = Duration::from_millis(100);
const WRITE_EVERY: Duration = Duration::from_millis(10);
/// Longest wait after the writer stopped for the agent to acknowledge the rest.
const CATCH_UP_TIMEOUT: Duration = Duration::from_secs(60);

/// How long the writer appends: `warmup`, then `measured`.
#[derive(Debug, Clone, Copy)]
pub struct Times {
    pub warmup: Duration,
    pub measured: Duration,
}

pub struct Steady {
    /// After the warm-up.
    pub rss_median_bytes: f64,
    pub rss_max_bytes: f64,
    pub warmup_rss_max_bytes: f64,
    /// Agent CPU time over wall time while the writer ran past its warm-up, in percent of one core.
    pub cpu_percent: f64,
    pub written_bytes_per_s: f64,
    /// From the writer's stop until the agent acknowledged everything written.
    pub catch_up_seconds: f64,
}

pub async fn measure(
    setup: &Setup,
    source: Arc<Vec<Vec<u8>>>,
    dir: &Path,
    bytes_per_s: f64,
    times: Times,
) -> anyhow::Result<Steady> {
    let broker = Broker::start(&setup.tansu, &dir.join("broker"), setup.broker_cpus.as_deref()).await?;
    broker.create_topic(TOPIC, 1).await?;
    let path = dir.join("steady.log");
    std::fs::File::create(&path).with_context(|| format!("failed to create {}", path.display()))?;
    let mut agent = Agent::start(setup, dir, &path, &broker.address, &setup.shipper_cpus)?;
    agent.wait_ready().await?;
    let pid = agent.process.pid;
    let writing = times.warmup + times.measured;
    let writer = std::thread::spawn(move || write_steadily(&path, &source, bytes_per_s, writing));
    let warmup_ends = Instant::now() + times.warmup;
    let (mut warmup_rss, mut rss) = (Vec::new(), Vec::new());
    let mut measured_from: Option<(f64, Instant)> = None;
    let mut tick = tokio::time::interval(SAMPLE_EVERY);
    while !writer.is_finished() {
        tick.tick().await;
        agent.process.ensure_running()?;
        if measured_from.is_none() && Instant::now() >= warmup_ends {
            measured_from = Some((agent.process.cpu_seconds(), Instant::now()));
        }
        let samples = if measured_from.is_some() { &mut rss } else { &mut warmup_rss };
        samples.extend(sample::rss_bytes(pid).map(|bytes| bytes as f64));
    }
    let (cpu_before, started) = measured_from.unwrap_or_else(|| (agent.process.cpu_seconds(), Instant::now()));
    let (elapsed, cpu) = (started.elapsed().as_secs_f64(), agent.process.cpu_seconds() - cpu_before);
    let (written, writing) = writer.join().map_err(|_| anyhow::anyhow!("the steady writer panicked"))??;
    let stopped = Instant::now();
    while agent.acknowledged_bytes().await.unwrap_or(0) < written {
        agent.process.ensure_running()?;
        anyhow::ensure!(
            stopped.elapsed() < CATCH_UP_TIMEOUT,
            "vigil-agent did not acknowledge the {written} bytes written at a steady rate within {CATCH_UP_TIMEOUT:?} \
             of the writer's stop; its log: {}",
            agent.process.log.display()
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let catch_up_seconds = stopped.elapsed().as_secs_f64();
    agent.process.stop().await;
    broker.stop().await;
    let max = |samples: &[f64]| samples.iter().copied().fold(0.0, f64::max);
    Ok(Steady {
        rss_max_bytes: max(&rss),
        warmup_rss_max_bytes: max(&warmup_rss),
        rss_median_bytes: crate::bench::report::median(rss),
        cpu_percent: 100.0 * cpu / elapsed.max(f64::EPSILON),
        written_bytes_per_s: written as f64 / writing.as_secs_f64(),
        catch_up_seconds,
    })
}

/// Appends whole lines to `path` at `bytes_per_s` for `duration`; returns the bytes written
/// and how long writing took.
fn write_steadily(
    path: &Path,
    source: &[Vec<u8>],
    bytes_per_s: f64,
    duration: Duration,
) -> anyhow::Result<(u64, Duration)> {
    let mut file = std::fs::OpenOptions::new().append(true).open(path)?;
    let started = Instant::now();
    let (mut written, mut next, mut chunk) = (0u64, 0usize, Vec::new());
    while started.elapsed() < duration {
        let due = (bytes_per_s * started.elapsed().as_secs_f64()) as u64;
        if due > written {
            chunk.clear();
            lines::fill(source, &mut next, &mut chunk, (due - written) as usize);
            file.write_all(&chunk)?;
            written += chunk.len() as u64;
        }
        std::thread::sleep(WRITE_EVERY);
    }
    Ok((written, started.elapsed()))
}
