//! The embedded durable log: Vigil's bus when it runs as one process (`vigil up`).
//!
//! Start with [`EmbeddedBus`] (`bus.rs`): producers append to a partition and get an offset
//! back once the messages are fsynced; [`EmbeddedConsumer`] (`consumer.rs`) reads them back.
//! Each partition has one writer thread (`writer.rs`) that group-commits: every append queued
//! while an fsync runs shares the next one.
//!
//! # On disk
//! ```text
//! <dir>/<topic>/<partition>/<base_offset:020>.log   segments, base = offset of the first record
//! record = u32 body_len | u32 crc32(body) | u64 offset | i64 timestamp_ms
//!        | u32 key_len (u32::MAX: no key) | key | u32 header_count
//!        | { u32 name_len | name | u32 value_len | value }* | payload        (little-endian)
//! ```
//! A topic directory is built under `~creating-<topic>` and renamed into place, so a topic
//! always has all its partitions. A segment rolls when the next record would take it past
//! `segment_bytes`; the closed segment is fsynced before the next one is created.
//!
//! # Invariants
//! - An append is acknowledged only after its records (and any new segment's directory entry)
//!   are fsynced; offsets are dense, start at 0, one per message.
//! - Readers never see past the fsynced end, and read through their own file handles.
//! - Every segment but the last is whole: recovery scans only the last one, and cuts off a
//!   torn tail (partial record, impossible length, bad checksum) before accepting appends.
//! - Deletion removes whole segments below the lowest offset committed by every live consumer,
//!   never the active segment.
//! - One process opens a directory at a time (not enforced: there is no lock file).

mod bus;
mod config;
mod consumer;
mod partition;
mod record;
mod segment;
mod writer;

#[cfg(test)]
mod tests;

pub use bus::EmbeddedBus;
pub use config::EmbeddedConfig;
pub use consumer::EmbeddedConsumer;
