//! Host metrics under node_exporter's names and labels, so its dashboards and alert rules work
//! unchanged: CPU, memory, load, boot time, network, disks, filesystems and pressure (PSI),
//! read from `/proc` (and `statvfs` for filesystems). Each source is one file with a pure
//! parser of the `/proc` text and its tests.
//!
//! A source that cannot be read (no `/proc/pressure` on an old kernel, a container without
//! `/proc/diskstats`) is skipped and logged once; the others still report.

mod diskstats;
mod filesystem;
mod loadavg;
mod meminfo;
mod netdev;
mod pressure;
mod stat;
mod textfile;

use std::{
    collections::BTreeMap,
    path::Path,
    sync::Arc,
    time::{Duration, SystemTime, UNIX_EPOCH},
};

use tokio::sync::watch;
use vigil_model::metrics::{Label, MetricBatch, Sample, TimeSeries, METRIC_BATCH_SCHEMA_VERSION};

use crate::{scrape::Outbox, ship::metrics::MetricShipper};

/// One host sample: a node_exporter metric name, its labels, its value.
#[derive(Debug, Clone, PartialEq)]
pub struct HostSample {
    pub name: String,
    pub labels: Vec<(String, String)>,
    pub value: f64,
}

impl HostSample {
    pub fn new(name: impl Into<String>, value: f64) -> HostSample {
        HostSample { name: name.into(), labels: Vec::new(), value }
    }

    pub fn with(mut self, name: &str, value: impl Into<String>) -> HostSample {
        self.labels.push((name.to_string(), value.into()));
        self
    }
}

/// The sources under `proc_root` (`/proc`) when given, and the textfile directory when
/// given; sources that fail are named in the errors.
pub fn collect_with_textfiles(proc_root: Option<&Path>, textfiles: Option<&Path>) -> (Vec<HostSample>, Vec<String>) {
    let (mut samples, errors) = proc_root.map(collect).unwrap_or_default();
    if let Some(dir) = textfiles {
        samples.extend(textfile::collect(dir));
    }
    (samples, errors)
}

/// Every source under `proc_root` (`/proc`); sources that fail are named in the errors.
pub fn collect(proc_root: &Path) -> (Vec<HostSample>, Vec<String>) {
    let mut samples = Vec::new();
    let mut errors = Vec::new();
    let mut read = |file: &str, parse: fn(&str) -> Vec<HostSample>| match std::fs::read_to_string(proc_root.join(file))
    {
        Ok(text) => samples.extend(parse(&text)),
        Err(error) => errors.push(format!("{}: {error}", proc_root.join(file).display())),
    };
    read("stat", stat::parse);
    read("meminfo", meminfo::parse);
    read("loadavg", loadavg::parse);
    read("net/dev", netdev::parse);
    read("diskstats", diskstats::parse);
    read("pressure/cpu", |text| pressure::parse("cpu", text));
    read("pressure/io", |text| pressure::parse("io", text));
    read("pressure/memory", |text| pressure::parse("memory", text));
    match std::fs::read_to_string(proc_root.join("mounts")) {
        Ok(mounts) => samples.extend(filesystem::collect(&mounts)),
        Err(error) => errors.push(format!("{}: {error}", proc_root.join("mounts").display())),
    }
    let now = SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_secs_f64()).unwrap_or(0.0);
    samples.push(HostSample::new("node_time_seconds", now));
    (samples, errors)
}

/// Collects every `interval` (the host's figures when `host_metrics`, the textfiles when a
/// directory is given) and ships them with `job="node"` and `instance=<host>`.
pub async fn run(
    interval: Duration,
    host_metrics: bool,
    textfiles: Option<std::path::PathBuf>,
    host: String,
    extra_labels: BTreeMap<String, String>,
    shipper: Arc<MetricShipper>,
    mut stop: watch::Receiver<bool>,
) {
    let mut ticker = tokio::time::interval(interval);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut outbox = Outbox::default();
    let mut reported = std::collections::BTreeSet::new();
    let own = crate::scrape::own_labels("node", &host, extra_labels.iter());
    loop {
        tokio::select! {
            _ = stop.wait_for(|stop| *stop) => return,
            _ = ticker.tick() => {}
        }
        let dir = textfiles.clone();
        let proc_root = host_metrics.then(|| Path::new("/proc"));
        let collected = tokio::task::spawn_blocking(move || collect_with_textfiles(proc_root, dir.as_deref()));
        let (samples, errors) = match collected.await {
            Ok(collected) => collected,
            Err(error) => {
                tracing::warn!(%error, "host metrics collection failed");
                continue;
            }
        };
        for error in errors {
            if reported.insert(error.clone()) {
                tracing::info!(%error, "host metrics source unavailable; the others still report");
            }
        }
        let now = SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_millis() as i64).unwrap_or(0);
        let series = samples
            .into_iter()
            .map(|sample| {
                let mut labels = vec![Label { name: "__name__".into(), value: sample.name }];
                labels.extend(sample.labels.into_iter().map(|(name, value)| Label { name, value }));
                labels.extend(own.iter().map(|(name, value)| Label { name: name.clone(), value: value.clone() }));
                TimeSeries { labels, samples: vec![Sample { value: sample.value, timestamp: now }] }
            })
            .collect();
        let batch = MetricBatch {
            schema_version: METRIC_BATCH_SCHEMA_VERSION,
            series,
            source: host.clone(),
            metadata: Vec::new(),
        };
        outbox.push_and_deliver(&shipper, batch, &host).await;
    }
}

#[cfg(test)]
mod tests;
