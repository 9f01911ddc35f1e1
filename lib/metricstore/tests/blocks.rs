//! The store across its whole life: head → blocks → merged blocks → downsampled tiers →
//! retention, with a restart in between. Each test checks what a query returns.

use std::collections::BTreeMap;

use vigil_metricstore::{HeadOptions, Labels, Matcher, Metadata, MetricStore, SelectHints, StoreOptions};

const HOUR: i64 = 3_600_000;
const STEP: i64 = 15_000;

fn labels(name: &str, instance: &str) -> Labels {
    Labels::new([("__name__", name), ("instance", instance)]).unwrap()
}

/// `hours` of 15 s samples for 3 counters (one resetting every 5 h) and 3 gauges.
fn load(store: &MetricStore, from_hour: i64, hours: i64) {
    for step in (from_hour * HOUR / STEP)..((from_hour + hours) * HOUR / STEP) {
        let time = step * STEP;
        let mut batch = Vec::new();
        for i in 0..3 {
            let instance = format!("host-{i}");
            let counter = (step % (5 * HOUR / STEP)) as f64 * (i + 1) as f64;
            let gauge = ((step as f64) / 40.0 + i as f64).sin() * 100.0;
            batch.push((labels("requests_total", &instance), time, counter));
            batch.push((labels("temperature", &instance), time, gauge));
        }
        store.append(&batch, &BTreeMap::from([(0, step + 1)])).unwrap();
    }
}

fn raw(store: &MetricStore, name: &str, from: i64, to: i64) -> Vec<(String, Vec<(i64, f64)>)> {
    store
        .select(&[Matcher::equal("__name__", name)], from, to, &SelectHints::raw())
        .into_iter()
        .map(|s| (s.labels.to_string(), s.samples))
        .collect()
}

/// Panics with the first difference (whole sample lists are too long to print).
fn assert_same(a: &[(String, Vec<(i64, f64)>)], b: &[(String, Vec<(i64, f64)>)], what: &str) {
    assert_eq!(a.iter().map(|s| &s.0).collect::<Vec<_>>(), b.iter().map(|s| &s.0).collect::<Vec<_>>(), "{what}");
    for ((name, x), (_, y)) in a.iter().zip(b) {
        let first = x.iter().zip(y.iter()).position(|(p, q)| p != q);
        assert!(
            first.is_none() && x.len() == y.len(),
            "{what}: {name}: {} vs {} samples, first difference at {:?}: {:?} vs {:?}",
            x.len(),
            y.len(),
            first,
            first.map(|i| x[i]),
            first.map(|i| y[i])
        );
    }
}

fn options() -> StoreOptions {
    StoreOptions { raw_retention_ms: 0, ..StoreOptions::default() }
}

#[test]
fn samples_read_the_same_from_the_head_from_blocks_and_after_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let (before, wal_before) = {
        let (store, _) = MetricStore::open_with(dir.path(), options()).unwrap();
        load(&store, 0, 20);
        let before = [raw(&store, "requests_total", 0, 20 * HOUR), raw(&store, "temperature", 0, 20 * HOUR)].concat();
        let wal_before = store.disk_usage().wal_bytes;
        let counter = Metadata { kind: "counter".into(), help: "Requests served.".into(), unit: String::new() };
        store.set_metadata("requests_total", counter);
        let report = store.maintain(false).unwrap();
        assert_eq!(report.head_blocks, 9, "2 h blocks up to 1 h behind the newest sample: {report:?}");
        assert!(report.merged > 0 && report.downsampled > 0, "{report:?}");
        let after = [raw(&store, "requests_total", 0, 20 * HOUR), raw(&store, "temperature", 0, 20 * HOUR)].concat();
        assert_same(&before, &after, "before and after compaction");
        (before, wal_before)
    };
    let (store, recovered) = MetricStore::open_with(dir.path(), options()).unwrap();
    assert!(recovered.corrupt_blocks.is_empty());
    assert_eq!(store.metadata(Some("requests_total"), 10)["requests_total"].kind, "counter", "metadata is kept");
    assert_eq!(recovered.offsets, BTreeMap::from([(0, 20 * HOUR / STEP)]), "the bus position survives the checkpoint");
    let usage = store.disk_usage();
    assert!(usage.wal_bytes < wal_before / 4, "the checkpoint shrank the log: {} → {}", wal_before, usage.wal_bytes);
    let after = [raw(&store, "requests_total", 0, 20 * HOUR), raw(&store, "temperature", 0, 20 * HOUR)].concat();
    assert_same(&before, &after, "after a restart");
    // Appending goes on after the restart, and a sample already in a block is not doubled.
    load(&store, 20, 1);
    assert_eq!(raw(&store, "temperature", 0, 21 * HOUR)[0].1.len() as i64, 21 * HOUR / STEP);
    let bytes_per_sample = usage.raw_block_bytes as f64 / usage.raw_block_samples as f64;
    // Half the series are noisy floats (about 8 bytes each), half steady counters (about 1).
    assert!(bytes_per_sample < 6.0, "compressed blocks: {bytes_per_sample:.2} bytes per sample, raw is 16");
}

#[test]
fn long_range_functions_read_the_downsampled_tiers_with_close_results() {
    let dir = tempfile::tempdir().unwrap();
    let (store, _) = MetricStore::open_with(dir.path(), options()).unwrap();
    load(&store, 0, 30);
    store.maintain(true).unwrap();
    let matchers = [Matcher::equal("__name__", "temperature")];
    let hints = |function: &str| SelectHints { function: Some(function.into()), range_ms: 12 * HOUR, step_ms: HOUR };
    let raw_max: Vec<f64> =
        raw(&store, "temperature", 0, 24 * HOUR).iter().map(|(_, s)| max(s.iter().map(|p| p.1))).collect();
    let tier = store.select(&matchers, 0, 24 * HOUR, &hints("max_over_time"));
    assert_eq!(tier.len(), 3);
    for (series, raw_max) in tier.iter().zip(raw_max) {
        assert!(series.samples.len() < 30, "one sample per hour, not every raw one: {}", series.samples.len());
        assert_eq!(max(series.samples.iter().map(|p| p.1)), raw_max, "the tier keeps the exact maximum");
    }
    // The counter stream keeps resets: the total increase matches the raw one.
    let counters = [Matcher::equal("__name__", "requests_total")];
    let raw_increase = increase(&raw(&store, "requests_total", 0, 24 * HOUR)[2].1);
    let tier = store.select(&counters, 0, 24 * HOUR, &hints("rate"));
    assert!(tier[2].samples.len() < 60);
    let tier_increase = increase(&tier[2].samples);
    assert!(
        (tier_increase - raw_increase).abs() <= raw_increase * 0.01,
        "increase over the tier {tier_increase} vs raw {raw_increase}"
    );
    // A short window or a fine step reads raw samples.
    let fine = SelectHints { function: Some("rate".into()), range_ms: 5 * 60_000, step_ms: 60_000 };
    assert_eq!(store.select(&counters, 0, HOUR, &fine)[0].samples.len() as i64, HOUR / STEP + 1);
}

#[test]
fn retention_removes_old_raw_blocks_and_keeps_the_tiers() {
    let dir = tempfile::tempdir().unwrap();
    let options = StoreOptions { raw_retention_ms: 12 * HOUR, ..StoreOptions::default() };
    let (store, _) = MetricStore::open_with(dir.path(), options).unwrap();
    load(&store, 0, 40);
    store.maintain(true).unwrap();
    let early = raw(&store, "temperature", 0, 6 * HOUR);
    assert!(early.is_empty(), "raw samples older than 12 h are gone");
    assert!(!raw(&store, "temperature", 30 * HOUR, 40 * HOUR).is_empty());
    let hints = SelectHints { function: Some("avg_over_time".into()), range_ms: 6 * HOUR, step_ms: HOUR };
    let tier = store.select(&[Matcher::equal("__name__", "temperature")], 0, 6 * HOUR, &hints);
    assert_eq!(tier.len(), 3, "the 5 m tier still answers for the old range");
    assert!(tier[0].samples.iter().all(|(_, v)| (-100.0..=100.0).contains(v)), "averages stay within the values");
}

#[test]
fn late_samples_within_the_window_are_kept_through_compaction_and_restart() {
    let dir = tempfile::tempdir().unwrap();
    let options =
        StoreOptions { head: HeadOptions { out_of_order_window_ms: HOUR, ..HeadOptions::default() }, ..options() };
    {
        let (store, _) = MetricStore::open_with(dir.path(), options).unwrap();
        load(&store, 0, 4);
        let late = [(labels("temperature", "host-0"), 4 * HOUR - 30 * 60_000 + 1, 42.0)];
        let report = store.append(&late, &BTreeMap::new()).unwrap();
        assert_eq!(report.appended, 1);
        let too_late = [(labels("temperature", "host-0"), HOUR + 1, 42.0)];
        assert_eq!(store.append(&too_late, &BTreeMap::new()).unwrap().out_of_order, 1);
        store.maintain(true).unwrap();
    }
    let (store, _) = MetricStore::open_with(dir.path(), options).unwrap();
    let series = store.select(
        &[Matcher::equal("instance", "host-0"), Matcher::equal("__name__", "temperature")],
        0,
        5 * HOUR,
        &SelectHints::raw(),
    );
    let samples = &series[0].samples;
    assert!(samples.contains(&(4 * HOUR - 30 * 60_000 + 1, 42.0)));
    assert_eq!(samples.len() as i64, 4 * HOUR / STEP + 1);
    assert!(samples.windows(2).all(|pair| pair[0].0 < pair[1].0), "in time order");
}

fn max(values: impl Iterator<Item = f64>) -> f64 {
    values.fold(f64::MIN, f64::max)
}

/// The increase of a counter over its samples, counting resets as Prometheus does.
fn increase(samples: &[(i64, f64)]) -> f64 {
    samples.windows(2).map(|pair| if pair[1].1 < pair[0].1 { pair[1].1 } else { pair[1].1 - pair[0].1 }).sum()
}

#[test]
fn leftovers_of_a_crash_mid_compaction_are_cleaned_and_a_bad_block_is_set_aside() {
    let dir = tempfile::tempdir().unwrap();
    let before = {
        let (store, _) = MetricStore::open_with(dir.path(), options()).unwrap();
        load(&store, 0, 12);
        store.maintain(true).unwrap();
        raw(&store, "temperature", 0, 12 * HOUR)
    };
    let blocks = dir.path().join("blocks");
    let raw_block = std::fs::read_dir(&blocks)
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| p.file_name().unwrap().to_str().unwrap().starts_with("raw-"))
        .unwrap();
    // A merge's sources still there after its result was renamed into place: a copy.
    let copy = blocks.join("raw-0-1-copy");
    std::fs::create_dir(&copy).unwrap();
    for file in ["chunks", "index", "meta.json"] {
        std::fs::copy(raw_block.join(file), copy.join(file)).unwrap();
    }
    // A block whose write never finished, and one whose index was damaged.
    std::fs::create_dir(blocks.join("raw-5-6-unfinished.tmp")).unwrap();
    let damaged = blocks.join("raw-7-8-damaged");
    std::fs::create_dir(&damaged).unwrap();
    std::fs::copy(raw_block.join("meta.json"), damaged.join("meta.json")).unwrap();
    std::fs::copy(raw_block.join("chunks"), damaged.join("chunks")).unwrap();
    std::fs::write(damaged.join("index"), b"VGIX\x01garbage").unwrap();

    let (store, recovered) = MetricStore::open_with(dir.path(), options()).unwrap();
    assert_eq!(recovered.corrupt_blocks.len(), 1, "{:?}", recovered.corrupt_blocks);
    assert!(recovered.corrupt_blocks[0].contains("raw-7-8-damaged"), "the report names the block");
    assert!(blocks.join("raw-7-8-damaged.corrupt").exists(), "kept for inspection");
    assert!(!blocks.join("raw-5-6-unfinished.tmp").exists());
    assert_same(&before, &raw(&store, "temperature", 0, 12 * HOUR), "overlapping copies read once");
    let report = store.maintain(false).unwrap();
    assert!(report.merged >= 2, "the overlap is merged away: {report:?}");
    assert_same(&before, &raw(&store, "temperature", 0, 12 * HOUR), "after merging the overlap");
}

#[test]
fn a_query_over_many_series_gets_each_whole_and_in_label_order() {
    // Enough series that the store reads them on several threads, from blocks and the head.
    let dir = tempfile::tempdir().unwrap();
    let (store, _) = MetricStore::open_with(dir.path(), options()).unwrap();
    let series: Vec<Labels> = (0..700).map(|i| labels("bytes_total", &format!("host-{i}"))).collect();
    let minute = 60_000;
    let minutes = 5 * 60;
    for step in 0..minutes {
        let batch: Vec<(Labels, i64, f64)> =
            series.iter().enumerate().map(|(i, l)| (l.clone(), step * minute, (i as i64 * step) as f64)).collect();
        store.append(&batch, &BTreeMap::from([(0, step + 1)])).unwrap();
    }
    store.maintain(false).unwrap();
    assert!(store.disk_usage().raw_block_samples > 0, "part of the data is in blocks");
    let read =
        store.select_map(&[Matcher::equal("__name__", "bytes_total")], 0, minutes * minute, &SelectHints::raw(), |s| {
            (s.labels, s.samples)
        });
    let mut expected = series.clone();
    expected.sort();
    assert_eq!(read.iter().map(|(l, _)| l.clone()).collect::<Vec<_>>(), expected, "every series, in label order");
    for (labels, samples) in &read {
        let i: i64 = labels.get("instance").unwrap().trim_start_matches("host-").parse().unwrap();
        let wanted: Vec<(i64, f64)> = (0..minutes).map(|step| (step * minute, (i * step) as f64)).collect();
        assert_eq!(samples, &wanted, "{labels}");
    }
}
