//! Vigil's time-series store: the Prometheus data model (a metric name and labels identify a
//! series; samples are float values at millisecond timestamps).
//!
//! Start with [`Head`]: series live in memory in Gorilla-compressed chunks (`chunk.rs`, over
//! `bits.rs`), found through an inverted label index; [`Matcher`]s select them.

mod bits;
pub mod chunk;
pub mod head;
pub mod labels;
pub mod matcher;

pub use head::{AppendError, Head, SeriesId, SeriesSamples};
pub use labels::{LabelError, Labels};
pub use matcher::{MatchOp, Matcher};
