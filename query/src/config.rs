//! `[query]` in the config file.

use std::time::Duration;

use serde::Deserialize;

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct QueryConfig {
    /// A search running longer than this answers 503 instead of hanging.
    #[serde(with = "humantime_serde")]
    pub timeout: Duration,
    /// Searches run at once; more wait for a slot (within `timeout`).
    pub max_concurrent_searches: usize,
    /// `limit` when the request gives none.
    pub default_limit: usize,
    /// Largest `limit` accepted.
    pub max_limit: usize,
    /// How often a live tail looks for new lines.
    #[serde(with = "humantime_serde")]
    pub tail_poll_interval: Duration,
}

impl Default for QueryConfig {
    fn default() -> Self {
        QueryConfig {
            timeout: Duration::from_secs(10),
            max_concurrent_searches: 4,
            default_limit: 100,
            max_limit: 1_000,
            tail_poll_interval: Duration::from_millis(500),
        }
    }
}
