//! What a query will do with the samples it selects. The store uses it to pick a resolution:
//! a long-range query that only needs, say, each window's maximum can read the downsampled
//! tiers instead of every raw sample.

/// How the selected samples will be used.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SelectHints {
    /// The PromQL function applied to the range vector (`rate`, `max_over_time`, ...), if any.
    pub function: Option<String>,
    /// The window each evaluation reads: a range selector's range, or the lookback of an
    /// instant selector (ms).
    pub range_ms: i64,
    /// Time between evaluations (ms); 0 for an instant query.
    pub step_ms: i64,
}

impl SelectHints {
    /// Hints that let the store pick nothing but raw samples.
    pub fn raw() -> SelectHints {
        SelectHints::default()
    }
}
