//! Times range queries over a node_exporter-like head: ~10k series, one hour of 15 s samples.
//! Run with `cargo run --release -p vigil-promql --example range_speed`; prints the median of
//! five runs per query and step.

use std::time::{Duration, Instant};

use vigil_metricstore::{Head, Labels, Matcher, SelectHints};
use vigil_promql::{range_query, Storage};

const HOUR_MS: i64 = 3_600_000;
const SCRAPE_MS: i64 = 15_000;

fn main() {
    let head = build_head();
    let queries = [
        "node_cpu_seconds_total",
        "rate(node_cpu_seconds_total[5m])",
        "sum by (mode) (rate(node_cpu_seconds_total[5m]))",
        "histogram_quantile(0.9, sum by (le) (rate(http_request_duration_seconds_bucket[5m])))",
        "max_over_time(node_cpu_seconds_total[1h])",
    ];
    // What the store's read alone costs (part of every query below), for comparison.
    for window in [5 * 60_000, HOUR_MS] {
        let cpu = [Matcher::equal("__name__", "node_cpu_seconds_total")];
        let read = median(|| {
            std::hint::black_box(Storage::select(&head, &cpu, -window, HOUR_MS, &SelectHints::default()));
        });
        println!("storage read of node_cpu_seconds_total from -{}m: {read:.1} ms", window / 60_000);
    }
    for step in [15_000, 60_000] {
        for query in queries {
            let took = median(|| {
                std::hint::black_box(range_query(&head, query, 0, HOUR_MS, step).expect("query runs"));
            });
            println!("step {:>3}s  {took:>9.1} ms  {query}", step / 1000);
        }
    }
}

/// The median of five runs of `run`, in ms.
fn median(mut run: impl FnMut()) -> f64 {
    let mut times: Vec<Duration> = (0..5)
        .map(|_| {
            let started = Instant::now();
            run();
            started.elapsed()
        })
        .collect();
    times.sort();
    times[2].as_secs_f64() * 1000.0
}

/// 100 instances × 8 cpus × 8 modes of CPU counters (6400 series) and 100 instances × 3
/// handlers × 12 buckets of a latency histogram (3600 series). Scrapes jitter by up to 50 ms
/// and a few counters reset.
fn build_head() -> Head {
    let head = Head::new();
    let mut rng = 0x9E37_79B9_7F4A_7C15u64;
    let mut next = move || {
        rng ^= rng << 13;
        rng ^= rng >> 7;
        rng ^= rng << 17;
        rng
    };
    let modes = ["idle", "user", "system", "iowait", "irq", "softirq", "steal", "nice"];
    let bounds = ["0.005", "0.01", "0.025", "0.05", "0.1", "0.25", "0.5", "1", "2.5", "5", "10", "+Inf"];
    let mut series: Vec<Labels> = Vec::new();
    for instance in 0..100 {
        let instance = format!("host-{instance}:9100");
        for cpu in 0..8 {
            for mode in modes {
                series.push(
                    Labels::new([
                        ("__name__", "node_cpu_seconds_total"),
                        ("instance", instance.as_str()),
                        ("cpu", &cpu.to_string()),
                        ("mode", mode),
                    ])
                    .expect("valid labels"),
                );
            }
        }
        for handler in ["/api/query", "/api/write", "/health"] {
            for le in bounds {
                series.push(
                    Labels::new([
                        ("__name__", "http_request_duration_seconds_bucket"),
                        ("instance", instance.as_str()),
                        ("handler", handler),
                        ("le", le),
                    ])
                    .expect("valid labels"),
                );
            }
        }
    }
    for labels in &series {
        let (id, _) = head.series_id(labels);
        let mut value = (next() % 1000) as f64;
        let mut time = 0;
        while time <= HOUR_MS {
            let jitter = (next() % 50) as i64;
            value += (next() % 100) as f64 / 10.0;
            if next() % 2000 == 0 {
                value = 0.0;
            }
            head.append(id, time + jitter, value).expect("in-order sample");
            time += SCRAPE_MS;
        }
    }
    head
}
