//! Sending one batch until it is acknowledged: exponential backoff for failures, a longer
//! fixed delay for refusals, warnings rate limited so a long outage logs a line every
//! [`WARN_EVERY`] instead of one per attempt.

use std::time::{Duration, Instant};

use super::{Attempt, ShipError, Shipper};
use crate::{batch::Batch, config::OutputConfig, metrics as m};

/// At most one warning per batch and this interval while it keeps failing.
pub const WARN_EVERY: Duration = Duration::from_secs(30);

/// Delays between attempts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryPolicy {
    pub initial: Duration,
    pub max: Duration,
    pub rejected: Duration,
}

impl RetryPolicy {
    pub fn from_config(output: &OutputConfig) -> RetryPolicy {
        RetryPolicy {
            initial: output.retry_initial_delay,
            max: output.retry_max_delay,
            rejected: output.rejected_retry_delay,
        }
    }

    /// Delay after failed attempt number `attempt` (1-based): initial, 2x, 4x ... capped at max.
    pub fn backoff(&self, attempt: u32) -> Duration {
        let factor = 1u32.checked_shl(attempt.saturating_sub(1).min(31)).unwrap_or(u32::MAX);
        self.initial.saturating_mul(factor).min(self.max)
    }
}

/// Sends `batch` until the destination acknowledges it; `first`, when given, is an attempt
/// already under way, awaited before any other is made. Never gives up: cancel the future
/// (shutdown) to stop; the batch then stays unacknowledged and is read again after a restart.
pub async fn deliver(shipper: &Shipper, batch: &Batch, policy: &RetryPolicy, mut first: Option<Attempt>) {
    let output = shipper.kind();
    let mut attempt = 0u32;
    let mut last_warn: Option<Instant> = None;
    loop {
        attempt += 1;
        let sending = first.take().unwrap_or_else(|| shipper.start(batch).attempt);
        let error = match answer(sending, batch, output).await {
            Ok(()) => {
                if attempt > 1 {
                    tracing::info!(stream = %batch.stream, attempts = attempt, "batch delivered after retries");
                }
                return;
            }
            Err(error) => error,
        };
        let (kind, delay) = match &error {
            ShipError::Retryable(_) => ("retryable", policy.backoff(attempt)),
            ShipError::Rejected(_) => ("rejected", policy.rejected),
        };
        metrics::counter!(m::SEND_ERRORS_TOTAL, "output" => output, "kind" => kind).increment(1);
        let should_warn = last_warn.is_none_or(|at| at.elapsed() >= WARN_EVERY);
        match &error {
            ShipError::Rejected(_) => {
                tracing::error!(output, stream = %batch.stream, lines = batch.lines, attempt, retry_in = ?delay, %error,
                    "batch refused; it is kept and sent again (fix the cause: lines are held back until then)");
            }
            ShipError::Retryable(_) if should_warn => {
                last_warn = Some(Instant::now());
                tracing::warn!(output, stream = %batch.stream, lines = batch.lines, attempt, retry_in = ?delay, %error,
                    "failed to send batch; retrying");
            }
            ShipError::Retryable(_) => {
                tracing::debug!(output, stream = %batch.stream, attempt, retry_in = ?delay, %error, "failed to send batch");
            }
        }
        tokio::time::sleep(delay).await;
    }
}

/// Awaits an attempt, warning every [`WARN_EVERY`] while it has no answer: a Kafka batch
/// waits inside librdkafka, without a timeout, while the broker is away (see `ship::kafka`).
async fn answer(mut sending: Attempt, batch: &Batch, output: &str) -> Result<(), ShipError> {
    let started = Instant::now();
    loop {
        match tokio::time::timeout(WARN_EVERY, &mut sending).await {
            Ok(answer) => return answer,
            Err(_) => tracing::warn!(output, stream = %batch.stream, lines = batch.lines, waited = ?started.elapsed(),
                "a batch is still not acknowledged; it stays queued until the destination takes it"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_up_to_the_cap() {
        let policy = RetryPolicy {
            initial: Duration::from_millis(100),
            max: Duration::from_secs(10),
            rejected: Duration::from_secs(60),
        };
        let delays: Vec<u64> = (1..=10).map(|attempt| policy.backoff(attempt).as_millis() as u64).collect();
        assert_eq!(delays, [100, 200, 400, 800, 1600, 3200, 6400, 10_000, 10_000, 10_000]);
        assert_eq!(policy.backoff(1000), Duration::from_secs(10), "no overflow on long outages");
    }
}
