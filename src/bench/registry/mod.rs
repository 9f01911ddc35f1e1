//! `vigil bench registry`: a 3-node Vigil registry against a 3-member etcd on the same machine,
//! driven by the same HTTP load generator. Every request goes to the current leader, so both
//! are measured on their consensus path (no forwarding hop).
//!
//! Figures: durable writes/s and p50 / p99 at each concurrency level; registrations/s and
//! heartbeats/s (Vigil only: etcd has no service registry; single calls over HTTP/2 and
//! HTTP/1.1, and batched); linearizable read latency; and
//! failover, SIGKILL of the leader -> the first write that succeeds. Medians over `--runs`.

mod cluster;
mod h2_heartbeats;
mod load;

use std::time::{Duration, Instant};

use cluster::{Cluster, System};
use load::{Measured, Ops};

use crate::bench::report::{percentile, Report};

#[derive(Debug, clap::Args)]
pub struct RegistryBenchArgs {
    /// Concurrent clients of each write level.
    #[arg(long, value_delimiter = ',', default_value = "1,64,1000")]
    pub clients: Vec<usize>,
    /// How long each level runs.
    #[arg(long, default_value = "5s", value_parser = humantime::parse_duration)]
    pub duration: Duration,
    /// Repetitions of every measurement (figures are medians).
    #[arg(long, default_value_t = 3)]
    pub runs: usize,
    /// Leader kills per system for the failover figure.
    #[arg(long, default_value_t = 5)]
    pub failovers: usize,
    /// Nodes of the Vigil cluster (1 shows the cost of replication; the comparison uses 3).
    #[arg(long, default_value_t = 3)]
    pub vigil_nodes: usize,
    /// Measure Vigil alone (no etcd installed).
    #[arg(long)]
    pub skip_etcd: bool,
    /// Scratch directory (default: a temporary directory, deleted afterwards).
    #[arg(long)]
    pub work_dir: Option<std::path::PathBuf>,
    /// Keep the scratch directory (members' data and logs) after the bench.
    #[arg(long)]
    pub keep: bool,
}

/// Renewals per batch call in the batched heartbeat figure.
const BATCH: u64 = 100;

/// What one system measured.
#[derive(Default)]
struct Figures {
    writes: Vec<(usize, Measured)>,
    reads: Measured,
    registrations: Option<Measured>,
    /// Single-call heartbeats over HTTP/2 (many in flight per connection).
    heartbeats: Option<Measured>,
    /// Single-call heartbeats over HTTP/1.1 (64 connections, one in flight each).
    heartbeats_http1: Option<Measured>,
    /// Renewals per second through the batch call (100 per request).
    heartbeats_batched: Option<Measured>,
    failover_ms: Vec<f64>,
}

pub async fn run(args: RegistryBenchArgs) -> anyhow::Result<()> {
    let scratch = tempfile::Builder::new()
        .prefix("vigil-bench-registry-")
        .tempdir_in(args.work_dir.clone().unwrap_or_else(std::env::temp_dir))?;
    let scratch_path = scratch.path().to_path_buf();
    // Deleted when this is dropped, unless kept.
    let _scratch = if args.keep {
        eprintln!("members' data and logs are kept in {}", scratch.keep().display());
        None
    } else {
        Some(scratch)
    };
    let mut report = Report::default();
    let vigil = measure(System::Vigil, &args, &scratch_path).await?;
    add(&mut report, System::Vigil, &vigil);
    if !args.skip_etcd {
        let etcd = measure(System::Etcd, &args, &scratch_path).await?;
        add(&mut report, System::Etcd, &etcd);
        for ((clients, v), (_, e)) in vigil.writes.iter().zip(&etcd.writes) {
            report.add(&format!("writes_ratio_vs_etcd_c{clients}"), v.per_s / e.per_s.max(0.001), "x");
        }
        report.add("read_p50_ratio_vs_etcd", vigil.reads.p50_ms / etcd.reads.p50_ms.max(0.001), "x");
        let (v, e) =
            (percentile(&mut vigil.failover_ms.clone(), 50.0), percentile(&mut etcd.failover_ms.clone(), 50.0));
        report.add("failover_p50_ratio_vs_etcd", v / e.max(0.001), "x");
    }
    report.print();
    Ok(())
}

fn add(report: &mut Report, system: System, figures: &Figures) {
    let name = system.name();
    for (clients, measured) in &figures.writes {
        report.add(&format!("{name}_writes_per_s_c{clients}"), measured.per_s, "writes/s");
        report.add(&format!("{name}_write_p50_ms_c{clients}"), measured.p50_ms, "ms");
        report.add(&format!("{name}_write_p99_ms_c{clients}"), measured.p99_ms, "ms");
        report.add(&format!("{name}_write_errors_c{clients}"), measured.errors as f64, "errors");
    }
    report.add(&format!("{name}_read_p50_ms"), figures.reads.p50_ms, "ms");
    report.add(&format!("{name}_read_p99_ms"), figures.reads.p99_ms, "ms");
    if let Some(registrations) = figures.registrations {
        report.add(&format!("{name}_registrations_per_s"), registrations.per_s, "registrations/s");
    }
    if let Some(heartbeats) = figures.heartbeats {
        report.add(&format!("{name}_heartbeats_per_s"), heartbeats.per_s, "heartbeats/s");
        report.add(&format!("{name}_heartbeat_p99_ms"), heartbeats.p99_ms, "ms");
    }
    if let Some(heartbeats) = figures.heartbeats_http1 {
        report.add(&format!("{name}_heartbeats_http1_per_s"), heartbeats.per_s, "heartbeats/s");
        report.add(&format!("{name}_heartbeat_http1_p99_ms"), heartbeats.p99_ms, "ms");
    }
    if let Some(batched) = figures.heartbeats_batched {
        report.add(&format!("{name}_heartbeats_batched_per_s"), batched.per_s, "heartbeats/s");
        report.add(&format!("{name}_heartbeat_batch_p99_ms"), batched.p99_ms, "ms");
    }
    let mut failover = figures.failover_ms.clone();
    report.add(&format!("{name}_failover_p50_ms"), percentile(&mut failover, 50.0), "ms");
    report.add(&format!("{name}_failover_p99_ms"), percentile(&mut failover, 99.0), "ms");
}

/// The median run of a measurement, by throughput.
fn median_run(mut runs: Vec<Measured>) -> Measured {
    runs.sort_by(|a, b| a.per_s.total_cmp(&b.per_s));
    runs.get(runs.len() / 2).copied().unwrap_or_default()
}

async fn measure(system: System, args: &RegistryBenchArgs, scratch: &std::path::Path) -> anyhow::Result<Figures> {
    let dir = scratch.join(system.name());
    let mut cluster = match system {
        System::Vigil => Cluster::vigil(&dir, args.vigil_nodes.max(1))?,
        System::Etcd => Cluster::etcd(&dir)?,
    };
    let leader = cluster.wait_for_leader(None, Duration::from_secs(30)).await?;
    let address = cluster.addresses()[leader].clone();
    eprintln!("{}: {} members up, leader {address}", system.name(), cluster.addresses().len());
    let mut figures = Figures::default();
    let connections = args.clients.iter().copied().max().unwrap_or(1);
    let ops = Ops::new(system, connections)?;

    for &clients in &args.clients {
        let mut runs = Vec::new();
        for run in 0..args.runs.max(1) {
            let (ops, address) = (ops.clone(), address.clone());
            let measured = load::run(clients, args.duration, move |worker, n| {
                let (ops, address) = (ops.clone(), address.clone());
                async move {
                    ops.put(
                        &address,
                        &format!("bench/{run}/{worker}/{n}"),
                        "value-of-64-bytes-0123456789abcdef0123456789abcdef0123",
                    )
                    .await
                }
            })
            .await;
            eprintln!(
                "{}: {clients} clients, run {run}: {:.0} writes/s, p99 {:.1} ms",
                system.name(),
                measured.per_s,
                measured.p99_ms
            );
            runs.push(measured);
        }
        figures.writes.push((clients, median_run(runs)));
    }

    ops.put(&address, "bench/read", "x").await.map_err(anyhow::Error::msg)?;
    let (read_ops, read_address) = (ops.clone(), address.clone());
    figures.reads = load::run(1, args.duration.min(Duration::from_secs(3)), move |_, _| {
        let (ops, address) = (read_ops.clone(), read_address.clone());
        async move { ops.get(&address, "bench/read").await }
    })
    .await;

    if system == System::Vigil {
        let mut registrations = Vec::new();
        for run in 0..args.runs.max(1) {
            let (ops, address) = (ops.clone(), address.clone());
            registrations.push(
                load::run(64, args.duration, move |worker, n| {
                    let (ops, address) = (ops.clone(), address.clone());
                    async move { ops.register(&address, &format!("r{run}-{worker}-{n}")).await }
                })
                .await,
            );
        }
        figures.registrations = Some(median_run(registrations));
        // Heartbeats renew leases on the leader without a Raft write: 1,000 registered
        // instances, renewed round-robin.
        for id in 0..1000 {
            ops.register(&address, &format!("hb-{id}")).await.map_err(anyhow::Error::msg)?;
        }
        let mut heartbeats = Vec::new();
        for _ in 0..args.runs.max(1) {
            heartbeats.push(h2_heartbeats::run(&address, 1000, args.duration).await?);
        }
        figures.heartbeats = Some(median_run(heartbeats));
        let mut heartbeats = Vec::new();
        for _ in 0..args.runs.max(1) {
            let (ops, address) = (ops.clone(), address.clone());
            heartbeats.push(
                load::run(64, args.duration, move |worker, n| {
                    let (ops, address) = (ops.clone(), address.clone());
                    async move { ops.heartbeat(&address, &format!("hb-{}", (worker as u64 * 7919 + n) % 1000)).await }
                })
                .await,
            );
        }
        figures.heartbeats_http1 = Some(median_run(heartbeats));
        let mut batched = Vec::new();
        for _ in 0..args.runs.max(1) {
            let (ops, address) = (ops.clone(), address.clone());
            let mut measured = load::run(16, args.duration, move |worker, n| {
                let (ops, address) = (ops.clone(), address.clone());
                let start = (worker as u64 * 7919 + n * 100) % 1000;
                let ids: Vec<String> = (0..BATCH).map(|i| format!("hb-{}", (start + i) % 1000)).collect();
                async move { ops.heartbeat_batch(&address, &ids).await }
            })
            .await;
            measured.per_s *= BATCH as f64;
            batched.push(measured);
        }
        figures.heartbeats_batched = Some(median_run(batched));
    }

    for round in 0..args.failovers {
        figures.failover_ms.push(failover(&mut cluster, &ops, round).await?);
    }
    eprintln!(
        "{}: failover {:?} ms",
        system.name(),
        figures.failover_ms.iter().map(|ms| ms.round()).collect::<Vec<_>>()
    );
    Ok(figures)
}

/// Once every member has caught up, kills the leader; returns the time until a write to a
/// survivor succeeds, then restarts the killed member.
async fn failover(cluster: &mut Cluster, ops: &Ops, round: usize) -> anyhow::Result<f64> {
    let leader = cluster.wait_for_leader(None, Duration::from_secs(30)).await?;
    cluster.wait_caught_up(Duration::from_secs(120)).await?;
    // All members share one disk here: write back what the previous round left dirty (the
    // restarted member's snapshot) so its flush does not stall this round's fsyncs.
    let _ = tokio::process::Command::new("sync").status().await;
    let survivors: Vec<String> =
        cluster.addresses().into_iter().enumerate().filter(|(i, _)| *i != leader).map(|(_, a)| a).collect();
    cluster.kill(leader);
    let killed_at = Instant::now();
    let mut attempt = 0u64;
    loop {
        let address = &survivors[(attempt % 2) as usize];
        let key = format!("failover/{round}/{attempt}");
        if let Ok(Ok(())) = tokio::time::timeout(Duration::from_millis(500), ops.put(address, &key, "x")).await {
            break;
        }
        attempt += 1;
        anyhow::ensure!(
            killed_at.elapsed() < Duration::from_secs(30),
            "no write succeeded within 30 s of the leader kill; the members' logs end with:\n{}",
            cluster.log_tails(30)
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let elapsed = killed_at.elapsed().as_secs_f64() * 1000.0;
    cluster.restart(leader)?;
    // Let the restarted member rejoin before the next kill.
    tokio::time::sleep(Duration::from_secs(2)).await;
    cluster.wait_for_leader(None, Duration::from_secs(30)).await?;
    Ok(elapsed)
}
