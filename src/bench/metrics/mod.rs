//! `vigil bench metrics`: the same node_exporter-shaped samples sent by remote write to `vigil
//! up` and to Prometheus (Debian's, `--web.enable-remote-write-receiver`) on this machine, one
//! after the other, backfilled in time order (24 h of 15 s samples by default). Figures per
//! system: ingest samples/s and per CPU-second of the server; bytes per sample in on-disk blocks
//! once both have compacted (each system's own block files, divided by the samples its block
//! metadata counts), and all the store's bytes on disk per sample (log and head included); p50 / p99 of `rate`, `sum by` and
//! `histogram_quantile` queries (instant, and range queries over the last 1 h and 24 h).
//! `--runs` repeats everything on fresh stores; the JSON line holds the median of each figure
//! and of each per-run ratio.

mod generate;
mod systems;

use std::{
    collections::BTreeMap,
    time::{Duration, Instant, SystemTime, UNIX_EPOCH},
};

use futures::StreamExt;
use prost::Message as _;
use systems::{Running, System};
use vigil_model::metrics::WriteRequest;

use crate::bench::report::{median, percentile, Report};

#[derive(Debug, clap::Args)]
pub struct MetricsBenchArgs {
    /// Hosts; each has 79 series (CPU, network, a histogram).
    #[arg(long, default_value_t = 125)]
    pub hosts: usize,
    /// Hours of samples, ending now (backfilled in time order).
    #[arg(long, default_value_t = 24.0)]
    pub hours: f64,
    /// Time between two samples of a series.
    #[arg(long, default_value = "15s", value_parser = humantime::parse_duration)]
    pub interval: Duration,
    /// Series per remote-write request.
    #[arg(long, default_value_t = 2000)]
    pub series_per_request: usize,
    /// Requests in flight.
    #[arg(long, default_value_t = 4)]
    pub senders: usize,
    /// Times each query runs (p50 / p99 over them).
    #[arg(long, default_value_t = 10)]
    pub query_repeats: usize,
    /// Whole runs on fresh stores; figures are medians over them.
    #[arg(long, default_value_t = 3)]
    pub runs: usize,
    /// Longest wait for a system to finish compacting after ingest.
    #[arg(long, default_value = "10m", value_parser = humantime::parse_duration)]
    pub compaction_timeout: Duration,
    /// Measure Vigil alone.
    #[arg(long)]
    pub skip_prometheus: bool,
    /// Scratch directory (default: a temporary directory, deleted afterwards).
    #[arg(long)]
    pub work_dir: Option<std::path::PathBuf>,
    /// Keep each run's stores (and print where) to query or profile them afterwards.
    #[arg(long)]
    pub keep: bool,
}

/// Named figures of one run (`vigil_ingest_samples_per_s`, ...), with their units.
type Figures = BTreeMap<String, (f64, &'static str)>;

pub async fn run(args: MetricsBenchArgs) -> anyhow::Result<()> {
    let labels = generate::series(args.hosts);
    let interval_ms = args.interval.as_millis() as i64;
    let steps = ((args.hours * 3600.0 * 1000.0) as i64 / interval_ms).max(2) as usize;
    let total = (labels.len() * steps) as f64;
    eprintln!("{} series x {steps} samples = {total} samples, {} runs", labels.len(), args.runs.max(1));
    let mut runs: Vec<Figures> = Vec::new();
    for run in 0..args.runs.max(1) {
        let scratch = tempfile::Builder::new()
            .prefix("vigil-bench-metrics-")
            .tempdir_in(args.work_dir.clone().unwrap_or_else(std::env::temp_dir))?;
        let now = SystemTime::now().duration_since(UNIX_EPOCH)?.as_millis() as i64;
        let end = now - now % interval_ms;
        let start = end - (steps as i64 - 1) * interval_ms;
        let mut figures = Figures::new();
        let mut systems = vec![System::Vigil];
        if !args.skip_prometheus {
            systems.push(System::Prometheus);
        }
        for system in systems {
            eprintln!("run {}: {}", run + 1, system.name());
            let running = Running::start(system, &scratch.path().join(system.name())).await?;
            for (name, value) in measure(&running, &args, &labels, start, steps, end).await? {
                figures.insert(format!("{}_{}", system.name(), name.0), (value, name.1));
            }
        }
        add_ratios(&mut figures);
        if args.keep {
            eprintln!("run {}: stores kept in {}", run + 1, scratch.keep().display());
        }
        for (name, (value, unit)) in &figures {
            eprintln!("  {name} = {value:.3} {unit}");
        }
        runs.push(figures);
    }
    let mut report = Report::default();
    report.add("series", labels.len() as f64, "series");
    report.add("samples", total, "samples");
    report.add("runs", runs.len() as f64, "runs");
    for (name, (_, unit)) in runs[0].clone() {
        report.add(&name, median(runs.iter().filter_map(|r| r.get(&name).map(|v| v.0)).collect()), unit);
    }
    report.print();
    Ok(())
}

/// Vigil ÷ Prometheus for each figure both have (for ingest, above 1 is better; for bytes
/// and latencies, below 1 is better).
fn add_ratios(figures: &mut Figures) {
    let ratios: Vec<(String, f64)> = figures
        .iter()
        .filter_map(|(name, (vigil, _))| {
            let figure = name.strip_prefix("vigil_")?;
            let (prometheus, _) = figures.get(&format!("prometheus_{figure}"))?;
            Some((format!("{figure}_ratio_vs_prometheus"), vigil / prometheus.max(1e-9)))
        })
        .collect();
    for (name, ratio) in ratios {
        figures.insert(name, (ratio, "x"));
    }
}

async fn measure(
    running: &Running,
    args: &MetricsBenchArgs,
    labels: &[Vec<vigil_model::metrics::Label>],
    start: i64,
    steps: usize,
    end: i64,
) -> anyhow::Result<Vec<((String, &'static str), f64)>> {
    let client = reqwest::Client::builder().timeout(Duration::from_secs(120)).build()?;
    let url = format!("{}/api/v1/write", running.base);
    let total = labels.len() * steps;
    let cpu_before = running.cpu_seconds();
    let started = Instant::now();
    let interval_ms = args.interval.as_millis() as i64;
    for step in 0..steps {
        // One scrape's requests in flight together; scrapes in time order, as senders do.
        let requests = generate::scrape(labels, step, start + step as i64 * interval_ms, args.series_per_request);
        let bodies: Vec<Vec<u8>> = requests
            .into_iter()
            .map(|timeseries| {
                snap::raw::Encoder::new()
                    .compress_vec(&WriteRequest { timeseries, ..Default::default() }.encode_to_vec())
                    .expect("snappy compresses any input")
            })
            .collect();
        let results: Vec<anyhow::Result<()>> = futures::stream::iter(bodies)
            .map(|body| send(&client, &url, body))
            .buffer_unordered(args.senders.max(1))
            .collect()
            .await;
        for result in results {
            result?;
        }
    }
    // Vigil acknowledges once the bus holds a batch; count it ingested once it is queryable.
    let deadline = Instant::now() + Duration::from_secs(900);
    loop {
        let stored = stored_samples(&client, &running.base, start, end).await;
        if stored >= total as f64 {
            break;
        }
        anyhow::ensure!(
            Instant::now() < deadline,
            "{}: only {stored} of {total} samples stored",
            running.system.name()
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let elapsed = started.elapsed().as_secs_f64();
    let cpu = (running.cpu_seconds() - cpu_before).max(1e-9);
    eprintln!("{}: {total} samples in {elapsed:.1} s, {cpu:.1} cpu-s", running.system.name());
    let blocks = wait_for_compaction(running, args.compaction_timeout).await;
    // The store's own files: Vigil's metric store (not its bus, which Prometheus has no
    // counterpart of), all of Prometheus's data directory.
    let store_bytes = match running.system {
        System::Vigil => running.disk_bytes("metrics"),
        System::Prometheus => running.disk_bytes(""),
    };
    eprintln!(
        "{}: {} blocks, {} samples in blocks, {} block bytes, {} store bytes on disk",
        running.system.name(),
        blocks.count,
        blocks.samples,
        blocks.bytes,
        store_bytes
    );
    let mut figures = vec![
        (("ingest_samples_per_s".to_string(), "samples/s"), total as f64 / elapsed),
        (("ingest_samples_per_cpu_s".to_string(), "samples/cpu-s"), total as f64 / cpu),
        (("block_bytes_per_sample".to_string(), "bytes"), blocks.bytes as f64 / blocks.samples.max(1) as f64),
        (("blocks_share_of_samples".to_string(), "fraction"), blocks.samples as f64 / total as f64),
        (("store_disk_bytes_per_sample".to_string(), "bytes"), store_bytes as f64 / total as f64),
    ];
    let queries = [
        ("rate", "rate(node_cpu_seconds_total[5m])"),
        ("sum_by", "sum by (instance) (rate(node_network_receive_bytes_total[5m]))"),
        ("histogram_quantile", "histogram_quantile(0.9, sum by (le) (rate(http_request_duration_seconds_bucket[5m])))"),
    ];
    // (name, span before `end`, step): Grafana asks for about 300 points per panel.
    let ranges = [("instant", 0, 0), ("range_1h", 3_600_000, 15_000), ("range_24h", 86_400_000, 300_000)];
    for (name, query) in queries {
        for (range_name, span, step) in ranges {
            let span = span.min(end - start - 300_000);
            let mut times = Vec::new();
            for _ in 0..args.query_repeats.max(1) {
                let t = Instant::now();
                if step == 0 {
                    instant_value(&client, &running.base, query, end).await;
                } else {
                    let range = [
                        ("query", query.to_string()),
                        ("start", format!("{}", (end - span) as f64 / 1000.0)),
                        ("end", format!("{}", end as f64 / 1000.0)),
                        ("step", format!("{}", step / 1000)),
                    ];
                    let response =
                        client.get(format!("{}/api/v1/query_range", running.base)).query(&range).send().await?;
                    anyhow::ensure!(response.status().is_success(), "{query}: {}", response.text().await?);
                    response.bytes().await?;
                }
                times.push(t.elapsed().as_secs_f64() * 1000.0);
            }
            let p50 = percentile(&mut times.clone(), 50.0);
            let p99 = percentile(&mut times, 99.0);
            figures.push(((format!("{range_name}_{name}_p50_ms"), "ms"), p50));
            figures.push(((format!("{range_name}_{name}_p99_ms"), "ms"), p99));
        }
    }
    Ok(figures)
}

/// Samples stored, counted per family (Prometheus 2 refuses a vector of several families once
/// count_over_time dropped their names).
async fn stored_samples(client: &reqwest::Client, base: &str, start: i64, end: i64) -> f64 {
    let span = format!("{}s", (end - start) / 1000 + 60);
    let mut stored = 0.0;
    for family in generate::FAMILIES {
        let query = format!("sum(count_over_time({family}[{span}]))");
        stored += instant_value(client, base, &query, end).await.unwrap_or(0.0);
    }
    stored
}

/// What a system's raw blocks hold.
#[derive(Debug, Default, Clone, Copy, PartialEq)]
struct Blocks {
    count: usize,
    samples: u64,
    bytes: u64,
}

/// Waits until the system's blocks stop changing (both compact in the background: Vigil every
/// few seconds here, Prometheus every minute), then returns them.
async fn wait_for_compaction(running: &Running, timeout: Duration) -> Blocks {
    let quiet_for = match running.system {
        System::Vigil => Duration::from_secs(20),
        System::Prometheus => Duration::from_secs(150),
    };
    let deadline = Instant::now() + timeout;
    let mut last = running.raw_blocks();
    let mut since = Instant::now();
    while Instant::now() < deadline {
        tokio::time::sleep(Duration::from_secs(5)).await;
        let now = running.raw_blocks();
        if now != last {
            (last, since) = (now, Instant::now());
        } else if since.elapsed() >= quiet_for && last.count > 0 {
            break;
        }
    }
    last
}

async fn send(client: &reqwest::Client, url: &str, body: Vec<u8>) -> anyhow::Result<()> {
    let response = client
        .post(url)
        .header("content-type", "application/x-protobuf")
        .header("content-encoding", "snappy")
        .header("x-prometheus-remote-write-version", "0.1.0")
        .body(body)
        .send()
        .await?;
    let status = response.status();
    anyhow::ensure!(status.is_success(), "{url} answered {status}: {}", response.text().await.unwrap_or_default());
    Ok(())
}

/// The first value of an instant query's vector (or scalar) result.
async fn instant_value(client: &reqwest::Client, base: &str, query: &str, at_ms: i64) -> Option<f64> {
    let params = [("query", query.to_string()), ("time", format!("{}", at_ms as f64 / 1000.0))];
    let body: serde_json::Value =
        client.get(format!("{base}/api/v1/query")).query(&params).send().await.ok()?.json().await.ok()?;
    let result = &body["data"]["result"];
    let value = if result.is_array() && result[0].is_object() { &result[0]["value"][1] } else { &result[1] };
    value.as_str()?.parse().ok()
}
