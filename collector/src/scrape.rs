//! Scraping one Prometheus endpoint: every interval, GET it (OpenMetrics or the text format),
//! parse it, label its series with `job` and `instance` (and the target's labels), add `up`,
//! `scrape_duration_seconds` and `scrape_samples_scraped` as Prometheus does, and ship the
//! result. A series that was in the last scrape and is gone from this one (or the whole
//! target, when a scrape fails) gets a stale marker, so queries stop showing it at once.
//!
//! Results wait in a bounded queue while the output is down and go out in order when it is
//! back; past the bound the oldest are dropped and counted.

use std::{
    collections::{BTreeMap, BTreeSet, VecDeque},
    sync::Arc,
    time::{Instant, SystemTime, UNIX_EPOCH},
};

use tokio::sync::watch;
use vigil_exposition::{parse, Format, Parsed, ParsedSample};
use vigil_model::metrics::{
    Label, MetricBatch, MetricMetadata, Sample, TimeSeries, METRIC_BATCH_SCHEMA_VERSION, STALE_NAN_BITS,
};

use crate::{
    config::ScrapeConfig,
    metrics as m,
    ship::{metrics::MetricShipper, ShipError},
};

/// Scrape results kept while the output is down.
const MAX_QUEUED: usize = 40;
const ACCEPT: &str = "application/openmetrics-text;version=1.0.0,text/plain;version=0.0.4;q=0.5,*/*;q=0.1";

type SeriesLabels = Vec<(String, String)>;

pub async fn run(
    target: ScrapeConfig,
    extra_labels: BTreeMap<String, String>,
    shipper: Arc<MetricShipper>,
    mut stop: watch::Receiver<bool>,
) {
    let client = match reqwest::Client::builder()
        .timeout(target.timeout)
        .user_agent(concat!("vigil-agent/", env!("CARGO_PKG_VERSION")))
        .build()
    {
        Ok(client) => client,
        Err(error) => {
            tracing::error!(url = %target.url, %error, "failed to build the scrape client");
            return;
        }
    };
    let instance = target.instance();
    let own = own_labels(&target.job, &instance, extra_labels.iter().chain(&target.labels));
    let mut previous: BTreeSet<SeriesLabels> = BTreeSet::new();
    let mut outbox = Outbox::default();
    let mut ticker = tokio::time::interval(target.interval);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = stop.wait_for(|stop| *stop) => return,
            _ = ticker.tick() => {}
        }
        let started = Instant::now();
        let now = SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_millis() as i64).unwrap_or(0);
        let scraped = scrape(&client, &target.url).await;
        let duration = started.elapsed().as_secs_f64();
        let mut series = Vec::new();
        let mut metadata = Vec::new();
        let mut current = BTreeSet::new();
        let up = match scraped {
            Ok(parsed) => {
                metadata = parsed
                    .metadata
                    .iter()
                    .map(|(family, m)| {
                        MetricMetadata::new(family, m.kind.as_deref(), m.help.as_deref(), m.unit.as_deref())
                    })
                    .collect();
                let samples = parsed.samples;
                metrics::counter!(m::SCRAPES_TOTAL, "result" => "ok").increment(1);
                let count = samples.len();
                for sample in samples {
                    let labels = target_labels(&sample, &own, target.honor_labels);
                    current.insert(labels.clone());
                    series.push(one(labels, sample.value, sample.timestamp_ms.unwrap_or(now)));
                }
                series.push(one(named("scrape_samples_scraped", &own), count as f64, now));
                1.0
            }
            Err(reason) => {
                metrics::counter!(m::SCRAPES_TOTAL, "result" => "failed").increment(1);
                tracing::warn!(url = %target.url, %reason, "scrape failed");
                0.0
            }
        };
        series.push(one(named("up", &own), up, now));
        series.push(one(named("scrape_duration_seconds", &own), duration, now));
        for gone in previous.difference(&current) {
            series.push(one(gone.clone(), f64::from_bits(STALE_NAN_BITS), now));
        }
        previous = current;
        let batch =
            MetricBatch { schema_version: METRIC_BATCH_SCHEMA_VERSION, series, source: instance.clone(), metadata };
        outbox.push_and_deliver(&shipper, batch, &instance).await;
    }
}

/// Results waiting for the output, oldest first, bounded.
#[derive(Default)]
pub struct Outbox {
    queue: VecDeque<MetricBatch>,
}

impl Outbox {
    /// Queues `batch` (dropping, and counting, the oldest past the bound) and sends the queue
    /// in order, stopping at the first batch the output cannot take now.
    pub async fn push_and_deliver(&mut self, shipper: &MetricShipper, batch: MetricBatch, key: &str) {
        if self.queue.len() >= MAX_QUEUED {
            self.queue.pop_front();
            metrics::counter!(m::SCRAPE_BATCHES_DROPPED_TOTAL).increment(1);
        }
        self.queue.push_back(batch);
        deliver(shipper, &mut self.queue, key).await;
    }
}

/// Sends the queued results in order, stopping at the first one the output cannot take now.
async fn deliver(shipper: &MetricShipper, queue: &mut VecDeque<MetricBatch>, key: &str) {
    while let Some(batch) = queue.front() {
        match shipper.send(batch, key).await {
            Ok(()) => {
                let samples: usize = batch.series.iter().map(|s| s.samples.len()).sum();
                metrics::counter!(m::SCRAPE_SAMPLES_SENT_TOTAL).increment(samples as u64);
                queue.pop_front();
            }
            Err(ShipError::Retryable(reason)) => {
                tracing::warn!(%reason, queued = queue.len(), "scraped samples not delivered yet; retrying at the next scrape");
                return;
            }
            Err(ShipError::Rejected(reason)) => {
                tracing::error!(%reason, "scraped samples refused by the output");
                metrics::counter!(m::SCRAPE_BATCHES_DROPPED_TOTAL).increment(1);
                queue.pop_front();
            }
        }
    }
}

async fn scrape(client: &reqwest::Client, url: &str) -> Result<Parsed, String> {
    let response = client.get(url).header("accept", ACCEPT).send().await.map_err(|error| error.to_string())?;
    let status = response.status();
    if !status.is_success() {
        return Err(format!("answered {status}"));
    }
    let format = Format::from_content_type(response.headers().get("content-type").and_then(|v| v.to_str().ok()));
    let text = response.text().await.map_err(|error| format!("failed to read the page: {error}"))?;
    let parsed = parse(&text, format);
    if !parsed.errors.is_empty() {
        metrics::counter!(m::SCRAPE_BAD_LINES_TOTAL).increment(parsed.errors.len() as u64);
        for error in parsed.errors.iter().take(5) {
            tracing::warn!(%url, line = error.line, message = %error.message, "malformed exposition line skipped");
        }
    }
    Ok(parsed)
}

/// The series' labels: the scraped ones, with the target's set on top (a clash keeps the
/// scraped label with `honor_labels`, else renames it `exported_<name>`).
fn target_labels(sample: &ParsedSample, own: &[(String, String)], honor_labels: bool) -> SeriesLabels {
    let mut labels: SeriesLabels = vec![("__name__".into(), sample.name.clone())];
    labels.extend(sample.labels.iter().cloned());
    for (name, value) in own {
        match labels.iter().position(|(n, _)| n == name) {
            Some(_) if honor_labels => {}
            Some(at) => {
                labels[at].0 = format!("exported_{name}");
                labels.push((name.clone(), value.clone()));
            }
            None => labels.push((name.clone(), value.clone())),
        }
    }
    labels.sort();
    labels
}

/// `job` and `instance`, then `extra` labels (a later one replaces an earlier of the same name).
pub(crate) fn own_labels<'a>(
    job: &str,
    instance: &str,
    extra: impl Iterator<Item = (&'a String, &'a String)>,
) -> Vec<(String, String)> {
    let mut own: Vec<(String, String)> = vec![("job".into(), job.into()), ("instance".into(), instance.into())];
    for (name, value) in extra {
        own.retain(|(n, _)| n != name);
        own.push((name.clone(), value.clone()));
    }
    own
}

fn named(name: &str, own: &[(String, String)]) -> SeriesLabels {
    let mut labels: SeriesLabels = vec![("__name__".into(), name.into())];
    labels.extend(own.iter().cloned());
    labels.sort();
    labels
}

fn one(labels: SeriesLabels, value: f64, timestamp: i64) -> TimeSeries {
    TimeSeries {
        labels: labels.into_iter().map(|(name, value)| Label { name, value }).collect(),
        samples: vec![Sample { value, timestamp }],
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample(labels: &[(&str, &str)]) -> ParsedSample {
        ParsedSample {
            name: "m".into(),
            labels: labels.iter().map(|(n, v)| (n.to_string(), v.to_string())).collect(),
            value: 1.0,
            timestamp_ms: None,
        }
    }

    #[test]
    fn target_labels_win_unless_honored() {
        let own = vec![("job".to_string(), "node".to_string()), ("instance".to_string(), "h:9100".to_string())];
        let clash = sample(&[("job", "inner")]);
        let renamed = target_labels(&clash, &own, false);
        assert!(renamed.contains(&("exported_job".into(), "inner".into())));
        assert!(renamed.contains(&("job".into(), "node".into())));
        let honored = target_labels(&clash, &own, true);
        assert!(honored.contains(&("job".into(), "inner".into())));
        assert!(honored.contains(&("instance".into(), "h:9100".into())));
        assert!(!honored.iter().any(|(n, _)| n == "exported_job"));
    }
}
