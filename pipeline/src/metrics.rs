//! Metric names of the pipeline, defined once.

pub const MESSAGES_TOTAL: &str = "vigil_pipeline_messages_total";
pub const EVENTS_INDEXED_TOTAL: &str = "vigil_pipeline_events_indexed_total";
pub const BYTES_INDEXED_TOTAL: &str = "vigil_pipeline_bytes_indexed_total";
/// Events stored with a flag (label `flag`): kept, but not a clean parse.
pub const EVENTS_FLAGGED_TOTAL: &str = "vigil_pipeline_events_flagged_total";
/// Lines dropped because the same line of the same stream was already indexed.
pub const DUPLICATES_DROPPED_TOTAL: &str = "vigil_pipeline_duplicates_dropped_total";
/// Messages delivered again below the partition's position (rebalance, retry), skipped.
pub const REDELIVERED_SKIPPED_TOTAL: &str = "vigil_pipeline_redelivered_messages_skipped_total";
pub const COMMITS_TOTAL: &str = "vigil_pipeline_commits_total";
pub const COMMIT_SECONDS: &str = "vigil_pipeline_commit_seconds";
pub const INGEST_REQUESTS_TOTAL: &str = "vigil_pipeline_ingest_requests_total";
pub const INGEST_BYTES_TOTAL: &str = "vigil_pipeline_ingest_bytes_total";
pub const SPLITS_DELETED_TOTAL: &str = "vigil_pipeline_splits_deleted_total";
/// Remote-write series refused for invalid labels (counted, named in the 400 answer).
pub const REMOTE_WRITE_SERIES_REFUSED_TOTAL: &str = "vigil_pipeline_remote_write_series_refused_total";
/// Metric samples stored in the metric store.
pub const METRIC_SAMPLES_STORED_TOTAL: &str = "vigil_pipeline_metric_samples_stored_total";
/// Metric samples not stored, by `reason` (out_of_order, conflicting, invalid_labels,
/// undecodable, newer_schema); duplicates of stored samples are not counted here.
pub const METRIC_SAMPLES_REFUSED_TOTAL: &str = "vigil_pipeline_metric_samples_refused_total";
