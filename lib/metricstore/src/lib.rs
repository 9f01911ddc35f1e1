//! Vigil's time-series store: the Prometheus data model (a metric name and labels identify a
//! series; samples are float values at millisecond timestamps).
//!
//! Start with [`MetricStore`] (`store.rs`): a batch goes to the [`Head`] and to the
//! write-ahead log (`wal.rs`, fsynced before the append returns), and the log is replayed on
//! open. In the head, series live in Gorilla-compressed chunks (`chunk.rs`, over `bits.rs`),
//! found through an inverted label index; [`Matcher`]s select them.

mod bits;
pub mod block;
pub mod chunk;
mod compact;
mod decimal;
mod downsample;
pub mod head;
mod hints;
pub mod labels;
pub mod matcher;
mod merge;
mod postings;
mod select;
mod store;
mod sync;
mod varint;
pub mod wal;

pub use head::{AppendError, Head, HeadOptions, SeriesId, SeriesSamples};
pub use hints::SelectHints;
pub use labels::{LabelError, Labels, DROPPED_NAME};
pub use matcher::{MatchOp, Matcher};
pub use store::{AppendReport, DiskUsage, MaintainReport, Metadata, MetricStore, Recovered, StoreOptions};
