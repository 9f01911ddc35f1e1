//! What each tantivy commit carries: the bus position the commit covers, and the per-stream
//! high-water marks used to drop lines an agent resent.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// Stored as JSON in the tantivy commit payload (`PreparedCommit::set_payload`), so the index
/// and the position it covers can never disagree: a restart resumes at `next_offset`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct CommitPayload {
    /// Payload format version.
    pub version: u32,
    /// The first bus offset of the partition NOT covered by this commit.
    pub next_offset: u64,
    /// Per agent stream (file generation): the end offset of the last line indexed.
    #[serde(default)]
    pub streams: BTreeMap<String, StreamMark>,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct StreamMark {
    /// End (exclusive) byte offset of the last line indexed from the stream.
    pub end: u64,
    /// When the stream last sent a line (ms); marks idle past a day are forgotten.
    pub seen_ms: i64,
}

impl CommitPayload {
    pub const VERSION: u32 = 1;

    pub fn parse(text: &str) -> Option<CommitPayload> {
        serde_json::from_str(text).ok()
    }

    pub fn to_json(&self) -> String {
        serde_json::to_string(self).expect("a payload of plain numbers and strings always serializes")
    }
}
