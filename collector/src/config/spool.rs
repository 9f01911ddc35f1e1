//! `[agent.spool]`: the on-disk spool that takes batches while the destination is down.

use std::time::Duration;

use serde::Deserialize;

#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SpoolConfig {
    /// Most bytes the spool may hold on disk; `0` turns it off (reading then waits for the
    /// destination, as the files themselves are the buffer).
    pub max_bytes: u64,
    /// A batch whose delivery has failed for this long goes to the spool, and so does every
    /// batch after it until the spool is empty again (so each file's lines stay in order).
    #[serde(with = "humantime_serde")]
    pub after: Duration,
    /// What happens to a batch when the spool is full (or its disk is): `block` waits for
    /// room (reading pauses; the files keep the lines), `drop_newest` drops the batch and
    /// counts its lines in the ledger as dropped (`spool_full`, or `spool_write_failed` when
    /// the disk refused the write).
    pub when_full: WhenFull,
}

impl Default for SpoolConfig {
    fn default() -> Self {
        SpoolConfig { max_bytes: 1 << 30, after: Duration::from_secs(5), when_full: WhenFull::Block }
    }
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum WhenFull {
    /// Wait for room: nothing is lost while the files keep the lines.
    #[default]
    Block,
    /// Drop the batch and count it: reading never stops.
    DropNewest,
}
