//! Naming and listing of split directories: `<root>/partition-<p>/split-<bucket_start_ms>`.

use std::path::{Path, PathBuf};

use crate::LogStoreError;

/// One split on disk.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct SplitDir {
    pub partition: u32,
    /// Start of the arrival bucket, ms since the epoch.
    pub bucket_start_ms: i64,
    pub path: PathBuf,
}

pub(crate) fn partition_dir(root: &Path, partition: u32) -> PathBuf {
    root.join(format!("partition-{partition:04}"))
}

pub(crate) fn split_dir(root: &Path, partition: u32, bucket_start_ms: i64) -> PathBuf {
    partition_dir(root, partition).join(format!("split-{bucket_start_ms:013}"))
}

/// The partitions that have a directory under `root`, ascending.
pub fn list_partitions(root: &Path) -> Result<Vec<u32>, LogStoreError> {
    let mut partitions: Vec<u32> =
        read_dir_names(root)?.iter().filter_map(|name| name.strip_prefix("partition-")?.parse().ok()).collect();
    partitions.sort_unstable();
    Ok(partitions)
}

/// The splits of one partition, oldest bucket first.
pub fn list_splits(root: &Path, partition: u32) -> Result<Vec<SplitDir>, LogStoreError> {
    let dir = partition_dir(root, partition);
    let mut splits: Vec<SplitDir> = read_dir_names(&dir)?
        .iter()
        .filter_map(|name| {
            let bucket_start_ms = name.strip_prefix("split-")?.parse().ok()?;
            Some(SplitDir { partition, bucket_start_ms, path: dir.join(name) })
        })
        .collect();
    splits.sort();
    Ok(splits)
}

fn read_dir_names(dir: &Path) -> Result<Vec<String>, LogStoreError> {
    let entries = match std::fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(error) => return Err(LogStoreError::io(dir, error)),
    };
    let mut names = Vec::new();
    for entry in entries {
        let entry = entry.map_err(|error| LogStoreError::io(dir, error))?;
        if let Some(name) = entry.file_name().to_str() {
            names.push(name.to_string());
        }
    }
    Ok(names)
}
