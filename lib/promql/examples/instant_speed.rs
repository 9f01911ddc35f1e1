//! Times instant queries against a metric store on disk, such as one kept by
//! `vigil bench metrics --keep` (its `vigil/data/metrics` directory; work on a copy, as opening
//! replays and rewrites the log). Prints the median and p10 of many runs per query, so small
//! changes to the read path can be compared without an HTTP server in the way.
//!
//! `cargo run --release -p vigil-promql --example instant_speed -- DIR TIME_S [QUERY...]`

use std::time::Instant;

use vigil_metricstore::MetricStore;

const RUNS: usize = 2000;

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [dir, time, queries @ ..] = args.as_slice() else {
        eprintln!("usage: instant_speed DIR TIME_S [QUERY...]");
        std::process::exit(2);
    };
    let time_ms = (time.parse::<f64>().expect("TIME_S is seconds since the epoch") * 1000.0) as i64;
    let (store, _) = MetricStore::open(std::path::Path::new(dir)).expect("the store opens");
    let defaults = [
        "sum by (instance) (rate(node_network_receive_bytes_total[5m]))".to_string(),
        "rate(node_cpu_seconds_total[5m])".to_string(),
        "histogram_quantile(0.9, sum by (le) (rate(http_request_duration_seconds_bucket[5m])))".to_string(),
    ];
    for query in if queries.is_empty() { &defaults[..] } else { queries } {
        let mut times: Vec<f64> = (0..RUNS)
            .map(|_| {
                let started = Instant::now();
                std::hint::black_box(vigil_promql::instant_query(&store, query, time_ms).expect("query runs"));
                started.elapsed().as_secs_f64() * 1000.0
            })
            .collect();
        times.sort_by(f64::total_cmp);
        println!("p50 {:.3} ms  p10 {:.3} ms  {query}", times[RUNS / 2], times[RUNS / 10]);
    }
}
