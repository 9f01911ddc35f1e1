//! The metric store's background upkeep: every interval, cut blocks from memory, merge them,
//! downsample and apply retention (on a blocking thread: it reads and writes whole blocks),
//! and publish the store's sizes as metrics.

use std::{future::Future, sync::Arc, time::Duration};

use vigil_metricstore::MetricStore;

pub async fn run(store: Arc<MetricStore>, interval: Duration, stop: impl Future<Output = ()>) {
    tokio::pin!(stop);
    let mut ticks = tokio::time::interval(interval);
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = &mut stop => return,
            _ = ticks.tick() => {}
        }
        let worker = store.clone();
        match tokio::task::spawn_blocking(move || worker.maintain(false)).await {
            Ok(Ok(report)) => {
                if report != Default::default() {
                    tracing::info!(
                        head_blocks = report.head_blocks,
                        merged = report.merged,
                        downsampled = report.downsampled,
                        expired = report.expired,
                        "metric store maintenance"
                    );
                }
                metrics::counter!("vigil_metricstore_blocks_written_total", "kind" => "head")
                    .increment(report.head_blocks as u64);
                metrics::counter!("vigil_metricstore_blocks_merged_total").increment(report.merged as u64);
                metrics::counter!("vigil_metricstore_blocks_written_total", "kind" => "downsampled")
                    .increment(report.downsampled as u64);
                metrics::counter!("vigil_metricstore_blocks_expired_total").increment(report.expired as u64);
            }
            // Nothing is lost: the samples stay in memory and in the log; the next round tries
            // again.
            Ok(Err(error)) => {
                metrics::counter!("vigil_metricstore_maintenance_failures_total").increment(1);
                tracing::error!(%error, "metric store maintenance failed; will retry");
            }
            Err(error) => tracing::error!(%error, "metric store maintenance panicked"),
        }
        let usage = store.disk_usage();
        metrics::gauge!("vigil_metricstore_head_series").set(store.series_count() as f64);
        metrics::gauge!("vigil_metricstore_blocks").set(usage.blocks as f64);
        metrics::gauge!("vigil_metricstore_wal_bytes").set(usage.wal_bytes as f64);
        metrics::gauge!("vigil_metricstore_block_bytes", "resolution" => "raw").set(usage.raw_block_bytes as f64);
        metrics::gauge!("vigil_metricstore_block_bytes", "resolution" => "downsampled")
            .set(usage.downsampled_block_bytes as f64);
    }
}
