//! node_exporter-shaped samples: per host, CPU counters (8 modes x CPUs), network byte
//! counters, and one request-duration histogram (11 buckets, `_sum`, `_count`). Values move
//! as real counters do (steady growth with jitter); the same seed gives the same samples.

use vigil_model::metrics::{Label, Sample, TimeSeries};

const MODES: [&str; 8] = ["user", "nice", "system", "idle", "iowait", "irq", "softirq", "steal"];
const BUCKETS: [&str; 11] = ["0.005", "0.01", "0.025", "0.05", "0.1", "0.25", "0.5", "1", "2.5", "5", "+Inf"];
const CPUS: usize = 8;
const DEVICES: [&str; 2] = ["eth0", "lo"];

/// The metric families generated.
pub const FAMILIES: [&str; 5] = [
    "node_cpu_seconds_total",
    "node_network_receive_bytes_total",
    "http_request_duration_seconds_bucket",
    "http_request_duration_seconds_sum",
    "http_request_duration_seconds_count",
];

/// Series per host: CPU, network and histogram families.
pub const SERIES_PER_HOST: usize = CPUS * MODES.len() + DEVICES.len() + BUCKETS.len() + 2;

/// The label sets of `hosts` hosts, in a fixed order.
pub fn series(hosts: usize) -> Vec<Vec<Label>> {
    let label = |name: &str, value: &str| Label { name: name.into(), value: value.into() };
    let mut all = Vec::with_capacity(hosts * SERIES_PER_HOST);
    for host in 0..hosts {
        let instance = format!("host-{host}:9100");
        let common = |name: &str| vec![label("__name__", name), label("instance", &instance), label("job", "node")];
        for cpu in 0..CPUS {
            for mode in MODES {
                let mut labels = common("node_cpu_seconds_total");
                labels.extend([label("cpu", &cpu.to_string()), label("mode", mode)]);
                all.push(labels);
            }
        }
        for device in DEVICES {
            let mut labels = common("node_network_receive_bytes_total");
            labels.push(label("device", device));
            all.push(labels);
        }
        for le in BUCKETS {
            let mut labels = common("http_request_duration_seconds_bucket");
            labels.push(label("le", le));
            all.push(labels);
        }
        all.push(common("http_request_duration_seconds_sum"));
        all.push(common("http_request_duration_seconds_count"));
    }
    all
}

/// A counter's value at step `step` of series `index`: growth with a per-series rate and a
/// small pseudo-random jitter (so values compress as real ones, not as constants).
pub fn value(index: usize, step: usize) -> f64 {
    let rate = 1.0 + (index % 97) as f64 / 10.0;
    let jitter = (splitmix(index as u64 * 1_000_003 + step as u64) % 1000) as f64 / 1000.0;
    (rate * step as f64 + jitter * rate).floor()
}

fn splitmix(mut x: u64) -> u64 {
    x = x.wrapping_add(0x9e37_79b9_7f4a_7c15);
    x = (x ^ (x >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    x ^ (x >> 31)
}

/// One scrape of every series at `timestamp`, cut into requests of at most `per_request` series.
pub fn scrape(labels: &[Vec<Label>], step: usize, timestamp: i64, per_request: usize) -> Vec<Vec<TimeSeries>> {
    labels
        .chunks(per_request)
        .enumerate()
        .map(|(chunk, part)| {
            part.iter()
                .enumerate()
                .map(|(i, labels)| TimeSeries {
                    labels: labels.clone(),
                    samples: vec![Sample { value: value(chunk * per_request + i, step), timestamp }],
                })
                .collect()
        })
        .collect()
}
