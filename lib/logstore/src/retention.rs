//! Retention: whole splits go once their arrival bucket is older than the retention period.

use std::path::Path;

use crate::{list_partitions, list_splits, LogStoreError};

/// Deletes the splits whose arrival bucket ended more than `retention_ms` before `now_ms`.
/// The newest split of each partition is kept whatever its age: its commit payload holds the
/// partition's resume offset. Returns how many splits were deleted.
pub fn delete_expired_splits(
    root: &Path,
    bucket_ms: i64,
    retention_ms: i64,
    now_ms: i64,
) -> Result<usize, LogStoreError> {
    let mut deleted = 0;
    for partition in list_partitions(root)? {
        let splits = list_splits(root, partition)?;
        let Some((_newest, older)) = splits.split_last() else {
            continue;
        };
        for split in older {
            if split.bucket_start_ms + bucket_ms + retention_ms <= now_ms {
                std::fs::remove_dir_all(&split.path).map_err(|error| LogStoreError::io(&split.path, error))?;
                tracing::info!(partition, path = %split.path.display(), "deleted expired split");
                deleted += 1;
            }
        }
    }
    Ok(deleted)
}
