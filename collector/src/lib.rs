//! vigil-collector: the host agent (`vigil-agent`) that tails log files and ships their lines
//! to Vigil, over HTTP to the ingest endpoint or straight to Kafka.
//!
//! Where to start reading: [`agent::run`] wires everything; a line travels
//! [`discover`] (globs -> files by (device, inode)) -> [`placement`] (where a file starts: its
//! checkpoint, a copied file's stream, or its beginning; [`fingerprint`] tells files apart) ->
//! [`tailer`] + [`framing`] (bytes -> lines with offsets) -> [`multiline`] (lines -> events,
//! for inputs that ask) -> [`batch`] (lines of one stream ->
//! protobuf `LogBatch`) -> [`delivery`] (send until acknowledged, or to the on-disk [`spool`]
//! while the destination is down) -> [`checkpoint`] (position after the last acknowledged or
//! spooled line); the [`ledger`] counts every line's outcome. [`file_task`] runs that path for
//! one file; [`config`] and [`cli`] describe the settings.
//!
//! Invariants:
//! - at-least-once: a checkpoint never moves past a line the destination did not acknowledge
//!   and the spool does not hold, and a batch is never dropped unless `spool.when_full = "drop_newest"`
//!   says so (then it is counted in the ledger);
//! - a batch holds lines of one stream (one content of a file: a truncation starts a new one;
//!   stream names are never reused), so one partition key, and a file has at most one batch
//!   in flight, so its lines arrive in order;
//! - every record names its line by (`stream`, `offset`), so a resend is recognisable.
//!
//! This crate never links tantivy, openraft or sqlx (a workspace test checks it).

pub mod agent;
pub mod batch;
pub mod checkpoint;
pub mod cli;
pub mod complaints;
pub mod config;
pub mod delivery;
pub mod discover;
pub mod file_task;
pub mod fingerprint;
pub mod framing;
pub mod host;
pub mod ledger;
pub mod metrics;
pub mod multiline;
pub mod placement;
pub mod scrape;
pub mod ship;
pub mod spool;
pub mod status;
pub mod tailer;

pub use agent::run;
pub use config::AgentConfig;
