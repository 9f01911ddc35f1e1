//! Search primitives over a [`LogReader`](crate::LogReader): filtered top-N search,
//! histograms, file context, and the arrivals a live tail needs.

mod context;
mod filter;
mod histogram;
mod top;

pub use context::{context, ContextRequest};
pub use filter::LogFilter;
pub use histogram::{histogram, Histogram, MAX_BUCKETS};
pub use top::{search, SearchHits, SearchRequest, SortOrder, MAX_RESULT_WINDOW};

use std::time::Instant;

use crate::LogStoreError;

/// Fails with [`LogStoreError::Timeout`] once `deadline` has passed: checked between splits, so
/// a query over its budget stops instead of running on.
fn check_deadline(deadline: Instant) -> Result<(), LogStoreError> {
    if Instant::now() >= deadline {
        return Err(LogStoreError::Timeout);
    }
    Ok(())
}
