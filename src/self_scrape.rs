//! `vigil up` watches itself: every interval it reads its own `/metrics` page (rendered in
//! process, the same text the endpoint serves), parses it like any scrape, and sends it
//! through the bus into its metric store, with `job="vigil"` and `instance` set, plus `up`
//! and `scrape_duration_seconds` as Prometheus adds them.

use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use prost::Message as _;
use vigil_bus::{OutgoingMessage, Producer};
use vigil_exposition::{parse, Format};
use vigil_model::metrics::{Label, MetricBatch, MetricMetadata, Sample, TimeSeries, METRIC_BATCH_SCHEMA_VERSION};

pub const INTERVAL: Duration = Duration::from_secs(15);

/// Scrapes itself every [`INTERVAL`] until `stop` resolves.
pub async fn run(producer: Producer, topic: String, instance: String, stop: impl std::future::Future<Output = ()>) {
    let handle = vigil_common::telemetry::metrics_handle();
    let mut ticker = tokio::time::interval(INTERVAL);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    tokio::pin!(stop);
    loop {
        tokio::select! {
            _ = &mut stop => return,
            _ = ticker.tick() => {}
        }
        let started = Instant::now();
        let now = SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_millis() as i64).unwrap_or(0);
        let page = handle.render();
        let parsed = parse(&page, Format::Text);
        let metadata = parsed
            .metadata
            .iter()
            .map(|(family, m)| MetricMetadata::new(family, m.kind.as_deref(), m.help.as_deref(), m.unit.as_deref()))
            .collect();
        if !parsed.errors.is_empty() {
            tracing::warn!(errors = parsed.errors.len(), first = %parsed.errors[0], "own /metrics page has malformed lines");
        }
        let target = [("job", "vigil"), ("instance", instance.as_str())];
        let mut series: Vec<TimeSeries> = parsed
            .samples
            .into_iter()
            .map(|sample| {
                let mut labels = vec![Label { name: "__name__".into(), value: sample.name }];
                labels.extend(sample.labels.into_iter().map(|(name, value)| Label { name, value }));
                labels.extend(target.iter().map(|(n, v)| Label { name: n.to_string(), value: v.to_string() }));
                TimeSeries {
                    labels,
                    samples: vec![Sample { value: sample.value, timestamp: sample.timestamp_ms.unwrap_or(now) }],
                }
            })
            .collect();
        for (name, value) in [("up", 1.0), ("scrape_duration_seconds", started.elapsed().as_secs_f64())] {
            let mut labels = vec![Label { name: "__name__".into(), value: name.into() }];
            labels.extend(target.iter().map(|(n, v)| Label { name: n.to_string(), value: v.to_string() }));
            series.push(TimeSeries { labels, samples: vec![Sample { value, timestamp: now }] });
        }
        let batch =
            MetricBatch { schema_version: METRIC_BATCH_SCHEMA_VERSION, series, source: "self-scrape".into(), metadata };
        let message =
            OutgoingMessage { key: Some(b"self-scrape".to_vec()), headers: Vec::new(), payload: batch.encode_to_vec() };
        if let Err(error) = producer.send(&topic, vec![message]).await {
            tracing::warn!(%error, "failed to send the self-scrape; the next one will follow");
        }
    }
}
