//! `[pipeline]` in the config file.

use std::time::Duration;

use serde::Deserialize;

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct PipelineConfig {
    /// Longest time between index commits: bounds how long a line takes to become searchable.
    #[serde(with = "humantime_serde")]
    pub commit_interval: Duration,
    /// Longest time between commits while the pipeline is catching up on a backlog (fewer,
    /// larger segments: less merging, more throughput).
    #[serde(with = "humantime_serde")]
    pub catch_up_commit_interval: Duration,
    /// Commit earlier once this many events wait.
    pub commit_max_events: u64,
    /// Width of a split's arrival bucket.
    #[serde(with = "humantime_serde")]
    pub split_bucket: Duration,
    /// Splits whose arrival bucket ended longer ago than this are deleted.
    #[serde(with = "humantime_serde")]
    pub retention: Duration,
    /// tantivy memory budget per partition, in bytes.
    pub indexing_heap_bytes: usize,
    /// Longest line stored as one event; longer lines become several events flagged `split`.
    pub max_line_bytes: usize,
    /// Most bus messages taken per batch.
    pub max_batch_messages: usize,
}

impl Default for PipelineConfig {
    fn default() -> Self {
        PipelineConfig {
            commit_interval: Duration::from_secs(1),
            catch_up_commit_interval: Duration::from_secs(5),
            commit_max_events: 500_000,
            split_bucket: Duration::from_secs(3600),
            retention: Duration::from_secs(7 * 24 * 3600),
            indexing_heap_bytes: 128 << 20,
            max_line_bytes: 256 * 1024,
            max_batch_messages: 512,
        }
    }
}
