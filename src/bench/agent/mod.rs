//! `vigil bench agent`: the real `vigil-agent` (release build) against a bare producer, on this
//! machine, the same broker software and the same file, in the same run.
//!
//! - Throughput: the agent ships a pre-written file of real log lines to Kafka; the baseline
//!   ([`baseline`], the ceiling) reads the same file and produces the same messages through
//!   the same producer settings, with as many batches awaiting acknowledgement as the agent
//!   keeps per file. Each runs as its own process pinned to one core (`--cpu`), against a
//!   fresh tansu broker pinned to the other cores ([`broker`]); figures: MiB/s from spawn
//!   until every line is acknowledged, CPU seconds per GB ([`throughput`]). The baseline runs
//!   a second time with more batches in flight (`--wide-in-flight`, `baseline_wide`): what a
//!   producer holding more in memory than the agent allows itself would gain.
//! - Memory: a writer appends real lines at a steady rate while the agent ships them; its
//!   median and largest `VmRSS` and its CPU % once past a warm-up, and the largest `VmRSS`
//!   during the warm-up, apart ([`steady`]).
//!
//! `--runs` repeats everything; the table and the JSON line hold medians (each ratio is the
//! median of the per-run ratios). The first run also reads every topic back ([`verify`]).

mod agent_process;
mod baseline;
mod broker;
mod lines;
mod process;
mod sample;
mod steady;
mod throughput;
mod verify;

use std::{path::PathBuf, sync::Arc, time::Duration};

pub use baseline::{run as run_baseline, BaselineArgs};
use throughput::{Shipped, Shipper};

use crate::bench::report::{median, Report};

/// Topic both shippers produce to, on their own broker.
const TOPIC: &str = "bench.agent";
/// Service and host stamped on every record, by the agent (its config) and the baseline.
const SERVICE: &str = "bench";
const HOST: &str = "bench-host";
const MIB: f64 = 1024.0 * 1024.0;

#[derive(Debug, clap::Args)]
pub struct AgentBenchArgs {
    /// Size of the file shipped for the throughput figures, in MiB.
    #[arg(long, default_value_t = 1024)]
    pub file_mib: u64,
    /// Whole runs (throughput of both, then the steady rate); figures are medians over them.
    #[arg(long, default_value_t = 3)]
    pub runs: usize,
    /// How long the steady writer appends after its warm-up.
    #[arg(long, default_value_t = 30)]
    pub steady_secs: u64,
    /// How long the steady writer appends before the steady figures start: the agent's
    /// producer takes about a second to get its producer id from the broker, and the lines
    /// written meanwhile are shipped in one burst (reported apart, as `steady_warmup_rss_max_mib`).
    #[arg(long, default_value_t = 5)]
    pub steady_warmup_secs: u64,
    /// Rate of the steady writer, in MB/s (10^6 bytes).
    #[arg(long, default_value_t = 10.0)]
    pub steady_mb_per_s: f64,
    /// The vigil-agent binary [default: next to this executable].
    #[arg(long)]
    pub agent_bin: Option<PathBuf>,
    /// The core the agent and the baseline are pinned to; the broker gets the others.
    #[arg(long, default_value_t = 1)]
    pub cpu: usize,
    /// Batches the baseline keeps waiting for acknowledgement at once [default: the agent's
    /// `--agent-in-flight`, so both ship with the same settings].
    #[arg(long)]
    pub baseline_in_flight: Option<usize>,
    /// Batches the second baseline (`baseline_wide`) keeps waiting for acknowledgement at once.
    #[arg(long, default_value_t = 64)]
    pub wide_in_flight: usize,
    /// The agent's `output.kafka.in_flight`: batches of the file it keeps waiting for
    /// acknowledgement at once.
    #[arg(long, default_value_t = 16)]
    pub agent_in_flight: usize,
    /// Extra librdkafka property for both producers, `KEY=VALUE` (repeatable): the agent's
    /// `kafka.properties`, the baseline's producer config.
    #[arg(long = "producer-property", value_name = "KEY=VALUE", value_parser = parse_property)]
    pub producer_properties: Vec<(String, String)>,
    /// Lines per batch, for both (the agent's `batch.max_lines`).
    #[arg(long, default_value_t = 2000)]
    pub max_lines: usize,
    /// Encoded bytes per batch, for both (the agent's `batch.max_bytes`).
    #[arg(long, default_value_t = 1 << 20)]
    pub max_bytes: usize,
    /// Producer compression, for both.
    #[arg(long, default_value = "lz4")]
    pub compression: String,
    /// The shared data directory (default: ../shared/data, or VIGIL_SHARED_DATA).
    #[arg(long)]
    pub data: Option<PathBuf>,
    /// Scratch directory (default: a temporary directory, deleted afterwards).
    #[arg(long)]
    pub work_dir: Option<PathBuf>,
    /// Keep the scratch directory (configs, logs, the file) for inspection.
    #[arg(long)]
    pub keep: bool,
    /// Do not read the topics back in the first run.
    #[arg(long)]
    pub skip_verify: bool,
}

/// What every measurement shares.
pub struct Setup {
    agent_bin: PathBuf,
    /// This executable, which runs the baseline.
    vigil_exe: PathBuf,
    tansu: PathBuf,
    /// `taskset` lists.
    shipper_cpus: String,
    broker_cpus: Option<String>,
    max_lines: usize,
    max_bytes: usize,
    agent_in_flight: usize,
    compression: String,
    producer_properties: Vec<(String, String)>,
}

struct RunFigures {
    agent: Shipped,
    baseline: Shipped,
    /// The baseline with `--wide-in-flight` batches in flight.
    wide: Shipped,
    steady: steady::Steady,
}

/// Runs the bench; on Ctrl-C or SIGTERM the child processes are killed and the scratch
/// directory removed before returning.
pub async fn run(args: AgentBenchArgs) -> anyhow::Result<()> {
    tokio::select! {
        result = measure_all(args) => result,
        () = vigil_common::shutdown::signal() => anyhow::bail!("interrupted"),
    }
}

async fn measure_all(args: AgentBenchArgs) -> anyhow::Result<()> {
    let setup = setup(&args)?;
    let data = args
        .data
        .clone()
        .or_else(|| std::env::var_os("VIGIL_SHARED_DATA").map(PathBuf::from))
        .unwrap_or_else(|| PathBuf::from("../shared/data"));
    let source = Arc::new(lines::load(&data.join("logs"))?);
    let scratch = tempfile::Builder::new()
        .prefix("vigil-bench-agent-")
        .tempdir_in(args.work_dir.clone().unwrap_or_else(std::env::temp_dir))?;
    let file = lines::write_file(&source, &scratch.path().join("shipped.log"), args.file_mib << 20)?;
    eprintln!(
        "file: {} lines, {:.0} MiB from {}; agent {}, pinned to cpu {}, broker on {}",
        file.lines,
        file.bytes as f64 / MIB,
        data.display(),
        setup.agent_bin.display(),
        setup.shipper_cpus,
        setup.broker_cpus.as_deref().unwrap_or("any cpu")
    );
    let mut runs = Vec::new();
    for run in 0..args.runs.max(1) {
        let dir = scratch.path().join(format!("run-{}", run + 1));
        let verify = run == 0 && !args.skip_verify;
        let agent = ship(&setup, Shipper::Agent, &file, &dir, run, verify).await?;
        let same = Shipper::Baseline { in_flight: baseline_in_flight(&args), wide: false };
        let baseline = ship(&setup, same, &file, &dir, run, verify).await?;
        let wide = Shipper::Baseline { in_flight: args.wide_in_flight.max(1), wide: true };
        let wide = ship(&setup, wide, &file, &dir, run, verify).await?;
        let rate = args.steady_mb_per_s * 1e6;
        let times = steady::Times {
            warmup: Duration::from_secs(args.steady_warmup_secs),
            measured: Duration::from_secs(args.steady_secs.max(1)),
        };
        let steady = steady::measure(&setup, source.clone(), &dir.join("steady"), rate, times).await?;
        eprintln!(
            "run {}: steady {:.1} MB/s: agent rss median {:.1} MiB, max {:.1} MiB (warm-up max {:.1} MiB), cpu {:.1}%",
            run + 1,
            steady.written_bytes_per_s / 1e6,
            steady.rss_median_bytes / MIB,
            steady.rss_max_bytes / MIB,
            steady.warmup_rss_max_bytes / MIB,
            steady.cpu_percent
        );
        runs.push(RunFigures { agent, baseline, wide, steady });
        if !args.keep {
            std::fs::remove_dir_all(&dir).ok();
        }
    }
    report(&args, &file, &runs).print();
    if args.keep {
        eprintln!("kept {}", scratch.keep().display());
    }
    Ok(())
}

fn setup(args: &AgentBenchArgs) -> anyhow::Result<Setup> {
    let cpus = std::thread::available_parallelism().map_or(1, |n| n.get());
    anyhow::ensure!(args.cpu < cpus, "--cpu {}: this machine has cpus 0 to {}", args.cpu, cpus - 1);
    let others: Vec<String> = (0..cpus).filter(|cpu| *cpu != args.cpu).map(|cpu| cpu.to_string()).collect();
    Ok(Setup {
        agent_bin: agent_process::find_binary(args.agent_bin.clone())?,
        vigil_exe: std::env::current_exe()?,
        tansu: broker::find_tansu()?,
        shipper_cpus: args.cpu.to_string(),
        broker_cpus: (!others.is_empty()).then(|| others.join(",")),
        max_lines: args.max_lines.max(1),
        agent_in_flight: args.agent_in_flight.max(1),
        max_bytes: args.max_bytes.max(1),
        compression: args.compression.clone(),
        producer_properties: args.producer_properties.clone(),
    })
}

fn baseline_in_flight(args: &AgentBenchArgs) -> usize {
    args.baseline_in_flight.unwrap_or(args.agent_in_flight).max(1)
}

/// `KEY=VALUE` of a librdkafka property.
fn parse_property(text: &str) -> Result<(String, String), String> {
    let (key, value) = text.split_once('=').ok_or_else(|| format!("expected KEY=VALUE, got {text}"))?;
    Ok((key.trim().to_string(), value.trim().to_string()))
}

/// Measures one shipper in `run` (counted from 0) and logs its figures.
async fn ship(
    setup: &Setup,
    shipper: Shipper,
    file: &lines::LogFile,
    run_dir: &std::path::Path,
    run: usize,
    verify: bool,
) -> anyhow::Result<Shipped> {
    let shipped = throughput::measure(setup, shipper, file, &run_dir.join(shipper.name()), verify).await?;
    log_shipped(run, shipper, &shipped, file.bytes);
    Ok(shipped)
}

fn log_shipped(run: usize, shipper: Shipper, shipped: &Shipped, file_bytes: u64) {
    let verified = shipped.verified.map(|c| format!(", topic read back: {} messages, {} lines", c.messages, c.lines));
    eprintln!(
        "run {}: {} {:.1} MiB/s, {:.2} cpu-s/GB, {:.2} cores (broker {:.2}), peak rss {:.1} MiB{}",
        run + 1,
        shipper.name(),
        file_bytes as f64 / MIB / shipped.seconds,
        shipped.cpu_seconds / (file_bytes as f64 / 1e9),
        shipped.cpu_seconds / shipped.seconds,
        shipped.broker_cpu_seconds / shipped.seconds,
        shipped.peak_rss_bytes as f64 / MIB,
        verified.unwrap_or_default()
    );
}

fn report(args: &AgentBenchArgs, file: &lines::LogFile, runs: &[RunFigures]) -> Report {
    let gb = file.bytes as f64 / 1e9;
    let of = |f: &dyn Fn(&RunFigures) -> f64| median(runs.iter().map(f).collect());
    let mib_per_s = |s: &Shipped| file.bytes as f64 / MIB / s.seconds;
    let mut report = Report::default();
    report.add("file_bytes", file.bytes as f64, "B");
    report.add("file_lines", file.lines as f64, "lines");
    report.add("runs", runs.len() as f64, "runs");
    report.add("agent_in_flight", args.agent_in_flight.max(1) as f64, "batches");
    report.add("baseline_in_flight", baseline_in_flight(args) as f64, "batches");
    report.add("baseline_wide_in_flight", args.wide_in_flight.max(1) as f64, "batches");
    type Pick = fn(&RunFigures) -> &Shipped;
    let shippers: [(&str, Pick); 3] =
        [("agent", |r| &r.agent), ("baseline", |r| &r.baseline), ("baseline_wide", |r| &r.wide)];
    for (name, pick) in shippers {
        report.add(&format!("{name}_mib_per_s"), of(&|r| mib_per_s(pick(r))), "MiB/s");
    }
    report.add("agent_vs_baseline_throughput", of(&|r| mib_per_s(&r.agent) / mib_per_s(&r.baseline)), "x");
    report.add("agent_vs_baseline_wide_throughput", of(&|r| mib_per_s(&r.agent) / mib_per_s(&r.wide)), "x");
    for (name, pick) in shippers {
        report.add(&format!("{name}_cpu_s_per_gb"), of(&|r| pick(r).cpu_seconds / gb), "cpu-s/GB");
    }
    report.add("agent_vs_baseline_cpu_per_gb", of(&|r| r.agent.cpu_seconds / r.baseline.cpu_seconds), "x");
    report.add("agent_vs_baseline_wide_cpu_per_gb", of(&|r| r.agent.cpu_seconds / r.wide.cpu_seconds), "x");
    for (name, pick) in shippers {
        report.add(&format!("{name}_cpu_cores"), of(&|r| pick(r).cpu_seconds / pick(r).seconds), "cores");
        report.add(&format!("{name}_broker_cpu_cores"), of(&|r| pick(r).broker_cpu_seconds / pick(r).seconds), "cores");
        report.add(&format!("{name}_peak_rss_mib"), of(&|r| pick(r).peak_rss_bytes as f64 / MIB), "MiB");
    }
    if let Some(first) = runs.first() {
        for (name, pick) in shippers {
            if let Some(counted) = pick(first).verified {
                report.add(&format!("{name}_verified_lines"), counted.lines as f64, "lines");
                report.add(&format!("{name}_verified_messages"), counted.messages as f64, "messages");
            }
        }
    }
    report.add("steady_written_mb_per_s", of(&|r| r.steady.written_bytes_per_s / 1e6), "MB/s");
    report.add("steady_rss_median_mib", of(&|r| r.steady.rss_median_bytes / MIB), "MiB");
    report.add("steady_rss_max_mib", of(&|r| r.steady.rss_max_bytes / MIB), "MiB");
    report.add("steady_warmup_rss_max_mib", of(&|r| r.steady.warmup_rss_max_bytes / MIB), "MiB");
    report.add("steady_cpu_percent", of(&|r| r.steady.cpu_percent), "%");
    report.add("steady_catch_up_s", of(&|r| r.steady.catch_up_seconds), "s");
    report
}
