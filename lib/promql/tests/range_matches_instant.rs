//! A range query must answer, at every step, exactly what an instant query at that step
//! answers: the range query evaluates the common shapes series-major (`src/range/`), the
//! instant query walks the expression per step (`src/eval.rs`). The data is made to hit the
//! edges: counter resets, gaps longer than the lookback and the ranges, stale markers, NaN,
//! 0 and -0, ties, irregular scrapes, and buckets whose bound is written three ways.

use std::collections::BTreeMap;

use vigil_metricstore::{Head, Labels};
use vigil_promql::{instant_query, range_query, Value, STALE_NAN_BITS};

const MINUTE: i64 = 60_000;

/// The shapes the series-major path takes whole, then shapes it takes in part (the rest
/// per step), then ones that must fail the same way.
const QUERIES: &[&str] = &[
    "c",
    "g",
    "c offset 2m",
    "g offset -1m",
    "rate(c[5m])",
    "rate(c[1m])",
    "increase(c[90s])",
    "delta(g[5m])",
    "irate(c[5m])",
    "idelta(g[3m])",
    "rate(c[5m] offset 3m)",
    "max_over_time(g[1h])",
    "min_over_time(g[10m])",
    "max_over_time(g[20s])",
    "min_over_time(g[40s])",
    "max_over_time(c[7m])",
    "avg_over_time(g[10m])",
    "sum_over_time(g[10m])",
    "count_over_time(c[4m])",
    "last_over_time(g[5m])",
    "present_over_time(c[2m])",
    "stddev_over_time(g[10m])",
    "stdvar_over_time(g[10m])",
    "quantile_over_time(0.3, g[10m])",
    "sum(rate(c[5m]))",
    "sum by (j) (rate(c[5m]))",
    "sum without (i) (rate(c[5m]))",
    "avg by (i) (g)",
    "min by (j) (g)",
    "max by (j) (g)",
    "count by (j) (c)",
    "group by (i) (c)",
    "stddev by (j) (g)",
    "stdvar(g)",
    "quantile by (j) (0.9, rate(c[5m]))",
    "sum(sum by (j) (rate(c[5m])))",
    // Names set aside by rate still group (Prometheus 3's late name dropping).
    "sum by (__name__, j) (rate(c[5m]))",
    "sum by (__name__) (c or rate(g[5m]))",
    "count by (__name__) (rate({__name__=~\"c|g\"}[5m]))",
    "histogram_quantile(0.9, sum by (le) (rate(h_bucket[5m])))",
    "histogram_quantile(0.5, rate(h_bucket[5m]))",
    "histogram_quantile(0.99, sum by (i, le) (increase(h_bucket[10m])))",
    "rate(c[5m]) * 100",
    "100 * (1 - avg by (i) (rate(c[5m])))",
    "g > 0",
    "0 < g",
    "g > bool 0",
    "g == -0",
    "-g",
    "-rate(c[5m])",
    "abs(g)",
    "sqrt(rate(c[5m]))",
    "topk(2, rate(c[5m]))",
    "rate(c[5m]) / on (i, j) rate(c[1m])",
    "sum(rate(c[5m])) / sum(rate(c[1m]))",
    "g + on (i, j) g",
    "clamp_max(g, 5)",
    "scalar(sum(g))",
    "absent(nothing)",
    "time() - g",
    "g and c",
    "rate({__name__=~\"c|c2\"}[5m])",
    "-{__name__=~\"g|g2\"}",
    "{__name__=~\"g|g2\"} * 2",
    "sum(-{__name__=~\"g|g2\"})",
    "sum({__name__=~\"g|g2\"} * 2)",
    "sum(abs({__name__=~\"g|g2\"}))",
    "sum by (__name__) ({__name__=~\"g|g2\"})",
];

#[test]
fn range_queries_answer_what_instant_queries_answer_at_each_step() {
    for seed in [1u64, 42] {
        let head = generated(seed);
        for &(start, end, step) in &[
            (-10 * MINUTE, 130 * MINUTE, 60_000),
            (50 * MINUTE, 80 * MINUTE, 15_000),
            (3 * MINUTE + 7_000, 90 * MINUTE, 37_000),
            (20 * MINUTE, 20 * MINUTE, 1_000),
        ] {
            for query in QUERIES {
                compare(&head, query, start, end, step);
            }
        }
    }
}

/// The range query's answer against instant queries at each step, value bits and all.
fn compare(head: &Head, query: &str, start: i64, end: i64, step: i64) {
    let context = format!("{query} from {start} to {end} step {step}");
    let mut expected: BTreeMap<Labels, Vec<(i64, u64)>> = BTreeMap::new();
    let mut failed = None;
    let mut time = start;
    while time <= end {
        match instant_query(head, query, time) {
            Ok(Value::Vector(samples)) => {
                for sample in samples {
                    expected.entry(sample.labels).or_default().push((time, sample.value.to_bits()));
                }
            }
            Ok(Value::Scalar(value)) => expected.entry(Labels::default()).or_default().push((time, value.to_bits())),
            Ok(other) => panic!("{context}: unexpected {other:?}"),
            Err(error) => {
                failed = Some(error);
                break;
            }
        }
        time += step;
    }
    let answer = range_query(head, query, start, end, step);
    match (failed, answer) {
        (Some(expected), Err(got)) => assert_eq!(got, expected, "{context}: a different error"),
        (Some(expected), Ok(got)) => panic!("{context}: expected {expected}, got {} series", got.len()),
        (None, Err(got)) => panic!("{context}: every step answers, the range query fails: {got}"),
        (None, Ok(series)) => {
            let got: BTreeMap<Labels, Vec<(i64, u64)>> = series
                .into_iter()
                .map(|s| (s.labels, s.points.into_iter().map(|(t, v)| (t, v.to_bits())).collect()))
                .collect();
            assert_eq!(got.keys().collect::<Vec<_>>(), expected.keys().collect::<Vec<_>>(), "{context}: series");
            for (labels, points) in &expected {
                let got = &got[labels];
                if got != points {
                    let first = got.iter().zip(points).find(|(g, e)| g != e);
                    let show = |(t, bits): &(i64, u64)| (*t, f64::from_bits(*bits));
                    panic!(
                        "{context}: {labels}: {} points, expected {}; first difference (got, expected): {:?}",
                        got.len(),
                        points.len(),
                        first.map(|(g, e)| (show(g), show(e)))
                    );
                }
            }
        }
    }
}

/// Two hours of counters, gauges and histogram buckets with every irregularity above.
fn generated(seed: u64) -> Head {
    let mut random = Random(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1);
    let head = Head::new();
    let add = |labels: &[(&str, &str)], counter: bool, random: &mut Random| {
        let labels = Labels::new(labels.iter().copied()).expect("valid labels");
        let (id, _) = head.series_id(&labels);
        let interval = [10_000, 15_000, 15_000, 30_000, 60_000][random.below(5) as usize];
        // Some series are scraped on the query's grid, so windows and lookbacks end exactly on
        // samples; the others jitter.
        let jitter = random.below(2) == 0;
        let mut time = if jitter { random.below(interval as u64) as i64 } else { 0 };
        let mut value = if counter { random.below(50) as f64 } else { 0.0 };
        while time < 120 * MINUTE {
            let roll = random.below(100);
            if roll < 2 {
                // A gap longer than the lookback (and than some ranges).
                time += (6 + random.below(15) as i64) * MINUTE;
                if jitter {
                    time += random.below(1_000) as i64;
                }
                continue;
            }
            let sample = if roll < 5 {
                f64::from_bits(STALE_NAN_BITS)
            } else if counter {
                if roll < 8 {
                    value = random.below(3) as f64;
                } else {
                    value += random.below(40) as f64 / 4.0;
                }
                value
            } else {
                match roll {
                    5 | 6 => f64::NAN,
                    // A NaN with other bits: which NaN comes out shows which sample was taken.
                    7 => -f64::NAN,
                    8..=10 => 0.0,
                    11..=13 => -0.0,
                    // Few distinct values, so windows hold ties.
                    _ => random.below(9) as f64 - 4.0,
                }
            };
            head.append(id, time, sample).expect("in-order sample");
            time += if jitter { interval - 2_000 + random.below(4_000) as i64 } else { interval };
        }
    };
    for i in ["a", "b", "c"] {
        for j in ["x", "y", "z"] {
            add(&[("__name__", "c"), ("i", i), ("j", j)], true, &mut random);
            add(&[("__name__", "g"), ("i", i), ("j", j)], false, &mut random);
        }
        // Same labels but the name: clash once a function or operator drops the name.
        add(&[("__name__", "c2"), ("i", i), ("j", "x")], true, &mut random);
        add(&[("__name__", "g2"), ("i", i), ("j", "x")], false, &mut random);
        for le in ["0.1", "1e-1", "0.10", "0.5", "1", "5", "+Inf"] {
            add(&[("__name__", "h_bucket"), ("i", i), ("le", le)], true, &mut random);
        }
    }
    head
}

/// xorshift64: a fixed, dependency-free sequence per seed.
struct Random(u64);

impl Random {
    fn below(&mut self, bound: u64) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0 % bound
    }
}
