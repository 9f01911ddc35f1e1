//! The log index: the only crate that links tantivy.
//!
//! Layout on disk: `<root>/partition-<p>/split-<bucket_start_ms>/` is one tantivy index holding
//! the events of bus partition `p` that *arrived* in one time bucket. Retention deletes whole
//! splits by arrival time, so a backfill of old logs is not deleted on arrival.
//!
//! Start with [`PartitionWriter`] (how events get in, and how the bus offset travels in each
//! commit's payload for exactly-once indexing), then [`LogReader`] and [`search`].

mod error;
mod hit;
mod payload;
mod reader;
mod retention;
mod schema;
pub mod search;
mod split;
mod writer;

pub use error::LogStoreError;
pub use payload::CommitPayload;
pub use reader::LogReader;
pub use retention::delete_expired_splits;
pub use schema::LogSchema;
pub use split::{list_partitions, list_splits, SplitDir};
pub use writer::{index_settings, read_committed_payload, PartitionWriter, WriterConfig};

#[cfg(test)]
mod tests;
