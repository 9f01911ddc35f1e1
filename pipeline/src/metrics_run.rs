//! The metrics stage: consume the metrics topic → decode the batches → store them (the store's
//! log is fsynced with the bus offsets they cover) → commit the bus. A restart resumes at the
//! offsets the store's log recorded, so no acknowledged sample is lost or stored twice.

use std::{collections::BTreeMap, future::Future, sync::Arc, time::Duration};

use anyhow::Context;
use prost::Message as _;
use vigil_bus::{BusError, Consumer, Message, ResumeFn};
use vigil_metricstore::{Labels, Metadata, MetricStore};
use vigil_model::{
    metrics::{MetricBatch, MetricMetadata, METRIC_BATCH_SCHEMA_VERSION},
    metrics_wire::{BatchView, SeriesView},
};

use crate::{labels_cache::LabelsCache, metrics as m};

const MAX_BATCH_MESSAGES: usize = 256;
const LINGER: Duration = Duration::from_millis(20);

/// How the metrics consumer resumes a partition: where the store's log left it.
pub fn metrics_resume_fn(store: Arc<MetricStore>) -> ResumeFn {
    Arc::new(move |partition| store.offsets().get(&(partition as i32)).map(|offset| *offset as u64))
}

/// Consumes `consumer` into `store` until `shutdown` resolves.
pub async fn run_metrics(
    store: Arc<MetricStore>,
    mut consumer: Consumer,
    shutdown: impl Future<Output = ()>,
) -> anyhow::Result<()> {
    tokio::pin!(shutdown);
    let mut cache = LabelsCache::default();
    loop {
        let batch = tokio::select! {
            _ = &mut shutdown => break,
            batch = consumer.recv_batch(MAX_BATCH_MESSAGES, LINGER) => batch,
        };
        let messages = match batch {
            Ok(messages) => messages,
            Err(BusError::Unavailable(reason)) => {
                tracing::warn!(%reason, "bus unavailable, retrying");
                tokio::time::sleep(Duration::from_millis(500)).await;
                continue;
            }
            Err(error) => return Err(error).context("failed to consume metrics"),
        };
        if messages.is_empty() {
            continue;
        }
        let stored_up_to = store.offsets();
        let (samples, offsets, metadata) = decode(messages, &stored_up_to, &mut cache);
        for family in metadata {
            let kind = family.kind_name().to_string();
            store.set_metadata(&family.metric_family_name, Metadata { kind, help: family.help, unit: family.unit });
        }
        let writer = store.clone();
        let report = tokio::task::spawn_blocking(move || writer.append(&samples, &offsets).map(|r| (r, offsets)))
            .await
            .context("metric store thread panicked")?
            .context("failed to store metric samples")?;
        let (report, offsets) = report;
        metrics::counter!(m::METRIC_SAMPLES_STORED_TOTAL).increment(report.appended);
        metrics::counter!(m::METRIC_SAMPLES_REFUSED_TOTAL, "reason" => "out_of_order").increment(report.out_of_order);
        metrics::counter!(m::METRIC_SAMPLES_REFUSED_TOTAL, "reason" => "conflicting").increment(report.conflicting);
        for (partition, next_offset) in offsets {
            if let Err(error) = consumer.commit(partition as u32, next_offset as u64) {
                // The store's log holds the position; the bus commit only frees space.
                tracing::warn!(partition, %error, "failed to commit the bus offset");
            }
        }
    }
    tracing::info!("metrics stage stopped");
    Ok(())
}

/// Samples to store, the next bus offset per partition they cover, and family metadata.
type Decoded = (Vec<(Labels, i64, f64)>, BTreeMap<i32, i64>, Vec<MetricMetadata>);

/// The samples of `messages` not already stored, and the next offset per partition.
fn decode(messages: Vec<Message>, stored_up_to: &BTreeMap<i32, i64>, cache: &mut LabelsCache) -> Decoded {
    let mut decoded = Decoded::default();
    for message in messages {
        let partition = message.partition as i32;
        decoded.1.insert(partition, message.offset as i64 + 1);
        if stored_up_to.get(&partition).is_some_and(|next| (message.offset as i64) < *next) {
            continue; // delivered again after a restart: already stored
        }
        // Read in place; a batch the reader does not take goes through prost, which also
        // says what is wrong with it.
        if !decode_in_place(&message, cache, &mut decoded) {
            decode_with_prost(&message, &mut decoded);
        }
    }
    decoded
}

/// The fast path: false (having added nothing) when the batch must go through prost.
fn decode_in_place(message: &Message, cache: &mut LabelsCache, decoded: &mut Decoded) -> bool {
    let Some(batch) = BatchView::parse(&message.payload) else { return false };
    let Some(series) = batch.series.iter().map(|bytes| SeriesView::parse(bytes)).collect::<Option<Vec<_>>>() else {
        return false;
    };
    let Some(metadata) =
        batch.metadata.iter().map(|bytes| MetricMetadata::decode(*bytes).ok()).collect::<Option<Vec<_>>>()
    else {
        return false;
    };
    if batch.schema_version > METRIC_BATCH_SCHEMA_VERSION {
        let count: usize = series.iter().map(|s| s.samples.len()).sum();
        newer_schema(message, batch.schema_version, count);
        return true;
    }
    let mut labelled = Vec::with_capacity(series.len());
    for one in &series {
        match cache.get(one.label_bytes) {
            None => return false,
            Some(labels) => labelled.push(labels),
        }
    }
    decoded.2.extend(metadata);
    for (one, labels) in series.iter().zip(labelled) {
        match labels {
            Ok(labels) => decoded.0.extend(one.samples.iter().map(|(time, value)| (labels.clone(), *time, *value))),
            Err(error) => invalid_labels(&error, one.samples.len()),
        }
    }
    true
}

fn decode_with_prost(message: &Message, decoded: &mut Decoded) {
    let partition = message.partition;
    let batch = match MetricBatch::decode(message.payload.as_slice()) {
        Ok(batch) => batch,
        Err(error) => {
            tracing::warn!(partition, offset = message.offset, %error, "undecodable metric batch skipped");
            metrics::counter!(m::METRIC_SAMPLES_REFUSED_TOTAL, "reason" => "undecodable").increment(1);
            return;
        }
    };
    if batch.schema_version > METRIC_BATCH_SCHEMA_VERSION {
        let count: usize = batch.series.iter().map(|s| s.samples.len()).sum();
        newer_schema(message, batch.schema_version, count);
        return;
    }
    decoded.2.extend(batch.metadata);
    for series in batch.series {
        match Labels::new(series.labels.iter().map(|l| (l.name.as_str(), l.value.as_str()))) {
            Ok(labels) => decoded.0.extend(series.samples.iter().map(|s| (labels.clone(), s.timestamp, s.value))),
            Err(error) => invalid_labels(&error, series.samples.len()),
        }
    }
}

fn newer_schema(message: &Message, version: u32, samples: usize) {
    tracing::warn!(
        partition = message.partition,
        offset = message.offset,
        version,
        "metric batch of a newer schema skipped: upgrade this node"
    );
    metrics::counter!(m::METRIC_SAMPLES_REFUSED_TOTAL, "reason" => "newer_schema").increment(samples as u64);
}

fn invalid_labels(error: &vigil_metricstore::LabelError, samples: usize) {
    tracing::debug!(%error, "series with invalid labels skipped");
    metrics::counter!(m::METRIC_SAMPLES_REFUSED_TOTAL, "reason" => "invalid_labels").increment(samples as u64);
}
