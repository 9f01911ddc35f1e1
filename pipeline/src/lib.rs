//! The processing pipeline: reads log messages from the bus, decodes them (native protobuf
//! batches, JSON lines or plain text), extracts timestamp, level and fields, and indexes them
//! into the log store with the bus offsets in each commit, so a restart resumes exactly.
//!
//! Start at [`run`] (the stages in order), then [`decode`] and [`enrich`] (one message to
//! events) and [`indexer`] (events to durable commits). [`ingest`] is the HTTP endpoint that
//! appends to the bus when agents talk HTTP instead of Kafka.

pub mod config;
pub mod decode;
pub mod enrich;
pub mod indexer;
pub mod ingest;
mod labels_cache;
mod metrics;
mod metrics_run;
pub mod remote_write;
mod run;

pub use config::PipelineConfig;
pub use metrics_run::{metrics_resume_fn, run_metrics};
pub use run::{resume_fn, run};
