//! One file per endpoint.

pub mod context;
pub mod histogram;
pub mod search;
pub mod tail;

use std::time::{Duration, Instant};

use vigil_common::ApiError;

use crate::{error::timeout_error, AppState};

/// Runs blocking store work under the concurrency limit and the time budget. The deadline is
/// also handed to the work, which stops between splits once it passes.
pub(crate) async fn run_blocking<T: Send + 'static>(
    state: &AppState,
    work: impl FnOnce(Instant) -> Result<T, ApiError> + Send + 'static,
) -> Result<T, ApiError> {
    let budget: Duration = state.config.timeout;
    let deadline = Instant::now() + budget;
    let permit = tokio::time::timeout(budget, state.permits.clone().acquire_owned())
        .await
        .map_err(|_| timeout_error())?
        .map_err(|_| ApiError::unavailable("query service is shutting down"))?;
    let remaining = deadline.saturating_duration_since(Instant::now());
    let task = tokio::task::spawn_blocking(move || {
        let _permit = permit;
        // A search whose budget is spent while it waited for a thread does not start.
        if Instant::now() >= deadline {
            return Err(timeout_error());
        }
        work(deadline)
    });
    match tokio::time::timeout(remaining, task).await {
        Err(_) => Err(timeout_error()),
        Ok(Err(join_error)) => Err(ApiError::internal(format!("search task failed: {join_error}"))),
        Ok(Ok(result)) => result,
    }
}
