//! The pipeline's stages in order: consume -> decode/enrich/index (blocking thread) -> commit
//! the index -> commit the bus -> retention.

use std::{
    future::Future,
    path::{Path, PathBuf},
    sync::Arc,
    time::{Duration, Instant, SystemTime, UNIX_EPOCH},
};

use anyhow::Context;
use vigil_bus::{BusError, Consumer, ResumeFn};
use vigil_logstore::{delete_expired_splits, read_committed_payload};

use crate::{indexer::Indexer, metrics as m, PipelineConfig};

/// How often expired splits are looked for.
const RETENTION_CHECK_INTERVAL: Duration = Duration::from_secs(60);

/// How a consumer resumes a partition: at the offset the newest index commit covers.
pub fn resume_fn(logs_dir: &Path) -> ResumeFn {
    let root = logs_dir.to_path_buf();
    Arc::new(move |partition| match read_committed_payload(&root, partition) {
        Ok(payload) => payload.map(|payload| payload.next_offset),
        Err(error) => {
            // Resuming from the bus's own position could duplicate or skip: refuse loudly,
            // the consumer then falls back to the group offset and the indexer's position
            // check still skips what the index has.
            tracing::error!(partition, %error, "failed to read the index position");
            None
        }
    })
}

/// Consumes `consumer` into the log store under `logs_dir` until `shutdown` resolves, then
/// commits what it holds.
pub async fn run(
    config: PipelineConfig,
    logs_dir: PathBuf,
    mut consumer: Consumer,
    shutdown: impl Future<Output = ()>,
) -> anyhow::Result<()> {
    std::fs::create_dir_all(&logs_dir).with_context(|| format!("failed to create {}", logs_dir.display()))?;
    let mut indexer = Some(Indexer::new(&logs_dir, config.clone()));
    let mut last_retention = Instant::now() - RETENTION_CHECK_INTERVAL;
    let linger = (config.commit_interval / 4).max(Duration::from_millis(10));
    tokio::pin!(shutdown);
    loop {
        let batch = tokio::select! {
            _ = &mut shutdown => break,
            batch = consumer.recv_batch(config.max_batch_messages, linger) => batch,
        };
        let messages = match batch {
            Ok(messages) => messages,
            Err(BusError::Unavailable(reason)) => {
                tracing::warn!(%reason, "bus unavailable, retrying");
                tokio::time::sleep(Duration::from_millis(500)).await;
                Vec::new()
            }
            Err(error) => return Err(error).context("failed to consume logs"),
        };
        let mut owned = indexer.take().expect("the indexer is returned after each batch");
        let catching_up = messages.len() >= config.max_batch_messages;
        let span = tracing::debug_span!("index_batch", messages = messages.len());
        let (owned, committed) = tokio::task::spawn_blocking(move || {
            let _entered = span.enter();
            let result = (|| {
                if !messages.is_empty() {
                    owned.index_batch(messages, now_ms())?;
                }
                if owned.should_commit(catching_up) {
                    return owned.commit();
                }
                Ok(Vec::new())
            })();
            (owned, result)
        })
        .await
        .context("indexing thread panicked")?;
        indexer = Some(owned);
        for (partition, next_offset) in committed.context("failed to index logs")? {
            if let Err(error) = consumer.commit(partition, next_offset) {
                // The index holds the position; the bus commit only frees space / helps lag metrics.
                tracing::warn!(partition, %error, "failed to commit the bus offset");
            }
        }
        if last_retention.elapsed() >= RETENTION_CHECK_INTERVAL {
            last_retention = Instant::now();
            enforce_retention(&logs_dir, &config).await;
        }
    }
    let owned = indexer.take().expect("the indexer is returned after each batch");
    tokio::task::spawn_blocking(move || owned.close()).await.context("closing thread panicked")??;
    tracing::info!("pipeline stopped");
    Ok(())
}

async fn enforce_retention(logs_dir: &Path, config: &PipelineConfig) {
    let root = logs_dir.to_path_buf();
    let bucket_ms = config.split_bucket.as_millis() as i64;
    let retention_ms = config.retention.as_millis() as i64;
    let result =
        tokio::task::spawn_blocking(move || delete_expired_splits(&root, bucket_ms, retention_ms, now_ms())).await;
    match result {
        Ok(Ok(deleted)) => metrics::counter!(m::SPLITS_DELETED_TOTAL).increment(deleted as u64),
        Ok(Err(error)) => tracing::warn!(%error, "failed to apply retention"),
        Err(error) => tracing::warn!(%error, "retention thread panicked"),
    }
}

pub(crate) fn now_ms() -> i64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_millis() as i64).unwrap_or(0)
}
