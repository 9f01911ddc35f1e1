//! Where a file's batch goes. Straight to the destination while the spool is empty; to the
//! spool once delivery has failed for `spool.after`, and for every batch while the spool holds
//! anything, so the batches of a file reach the destination in the order they were read. The
//! drainer ([`Delivery::drain`]) sends the spool's batches oldest first, by itself, as soon as
//! the destination takes them. Every outcome is written in the [`Ledger`].

use std::{
    sync::Arc,
    time::{Duration, Instant},
};

use tokio::sync::watch;

use crate::{
    batch::Batch,
    config::{SpoolConfig, WhenFull},
    ledger::{Count, Ledger},
    metrics as m,
    ship::{retry, retry::RetryPolicy, Shipper, Started},
    spool::{Spool, SpoolError},
};

/// How long a writer waiting for room, or the idle drainer, sleeps before looking again even
/// without a wake-up.
const RECHECK: Duration = Duration::from_secs(1);

/// What became of a batch; in each case its lines are accounted for and the file's
/// checkpoint may move past them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    Delivered,
    Spooled,
    /// The spool was full and `when_full = "drop_newest"`: counted in the ledger.
    Dropped,
}

/// A batch's first attempt, started at `since` (its `spool.after` counts from there).
pub struct Direct {
    pub started: Started,
    since: Instant,
}

pub struct Delivery {
    pub shipper: Shipper,
    pub retry: RetryPolicy,
    pub ledger: Arc<Ledger>,
    /// `None` when the spool is turned off (`max_bytes = 0`).
    pub spool: Option<Arc<Spool>>,
    pub config: SpoolConfig,
}

impl Delivery {
    /// Starts sending `batch` straight to the destination, unless it must go behind batches
    /// in the spool (`None`; [`Delivery::send`] then appends it there). A file's batches
    /// started in turn arrive in turn (see [`Shipper::in_flight`]).
    pub fn start(&self, batch: &Batch) -> Option<Direct> {
        let direct = self.spool.as_ref().is_none_or(|spool| spool.is_empty());
        direct.then(|| Direct { started: self.shipper.start(batch), since: Instant::now() })
    }

    /// Delivers, spools or (by policy) drops `batch`, read from the file at `source`;
    /// `started` is the attempt [`Delivery::start`] made, if any.
    /// Cancelling the future (shutdown) leaves the batch unaccounted: it is read again.
    pub async fn send(&self, batch: &Batch, source: &str, mut started: Option<Direct>) -> Outcome {
        let count = Count::new(batch.lines, batch.file_bytes);
        let Some(spool) = &self.spool else {
            retry::deliver(&self.shipper, batch, &self.retry, started.map(|direct| direct.started.attempt)).await;
            self.delivered(&batch.stream, count);
            return Outcome::Delivered;
        };
        let mut full_warned = false;
        loop {
            if spool.is_empty() {
                let (first, wait) = match started.take() {
                    Some(Direct { started: Started { attempt, .. }, since }) => {
                        (Some(attempt), self.config.after.saturating_sub(since.elapsed()))
                    }
                    None => (None, self.config.after),
                };
                let direct = tokio::time::timeout(wait, retry::deliver(&self.shipper, batch, &self.retry, first));
                if direct.await.is_ok() {
                    self.delivered(&batch.stream, count);
                    return Outcome::Delivered;
                }
            }
            // An attempt still under way is let go: over Kafka its message stays queued in
            // librdkafka, ahead of this file's later batches, and may arrive twice (with the
            // same identities), never after them.
            started = None;
            let was_empty = spool.is_empty();
            match append(spool, batch, source).await {
                Ok(()) => {
                    if was_empty {
                        tracing::warn!(output = self.shipper.kind(), after = ?self.config.after, spool = %spool.dir().display(),
                            "the destination is not taking batches; they go to the spool until it is back");
                    }
                    self.ledger.spooled(&batch.stream, count);
                    self.publish_spool_size();
                    return Outcome::Spooled;
                }
                Err(error) => {
                    let reason = match error {
                        SpoolError::Full { .. } => "spool_full",
                        SpoolError::Io { .. } => {
                            metrics::counter!(m::SPOOL_WRITE_ERRORS_TOTAL).increment(1);
                            "spool_write_failed"
                        }
                    };
                    match self.config.when_full {
                        WhenFull::DropNewest => {
                            tracing::warn!(%error, source, lines = batch.lines,
                                "no room in the spool: dropping the batch (counted in the ledger as {reason})");
                            self.ledger.dropped(&batch.stream, reason, count);
                            return Outcome::Dropped;
                        }
                        WhenFull::Block => {
                            if !full_warned {
                                full_warned = true;
                                tracing::warn!(%error, source, "no room in the spool: reading pauses until there is (the file keeps the lines)");
                            }
                            let room = spool.room.notified();
                            let _ = tokio::time::timeout(RECHECK, room).await;
                        }
                    }
                }
            }
        }
    }

    /// Sends the spool's batches, oldest first, until `stop`.
    pub async fn drain(self: Arc<Self>, mut stop: watch::Receiver<bool>) {
        let Some(spool) = self.spool.clone() else { return };
        self.publish_spool_size();
        let mut delivered_since_empty = 0u64;
        loop {
            if *stop.borrow() {
                return;
            }
            let reading = spool.clone();
            let next =
                tokio::task::spawn_blocking(move || reading.oldest()).await.expect("reading the spool does not panic");
            match next {
                None => {
                    if delivered_since_empty > 0 {
                        tracing::info!(batches = delivered_since_empty, "spool drained: delivery is direct again");
                        delivered_since_empty = 0;
                    }
                    tokio::select! {
                        _ = spool.appended.notified() => {}
                        _ = tokio::time::sleep(RECHECK) => {}
                        _ = stop.changed() => return,
                    }
                }
                Some(Err(corrupt)) => {
                    tracing::error!(path = %corrupt.path.display(), reason = %corrupt.reason,
                        "a spool file is damaged; it is set aside (kept for inspection) and its lines are counted as dropped (spool_corrupt)");
                    if let Some(header) = corrupt.header {
                        let count = Count::new(header.lines, header.file_bytes);
                        self.ledger.lost_from_spool(&header.stream, "spool_corrupt", count);
                    }
                    self.publish_spool_size();
                }
                Some(Ok(spooled)) => {
                    tokio::select! {
                        _ = retry::deliver(&self.shipper, &spooled.batch, &self.retry, None) => {}
                        _ = stop.changed() => return,
                    }
                    let removing = spool.clone();
                    let seq = spooled.seq;
                    if let Err(error) =
                        tokio::task::spawn_blocking(move || removing.remove(seq)).await.expect("no panic")
                    {
                        // Sent again after a restart, with the same identities: recognised downstream.
                        tracing::warn!(%error, "failed to remove a delivered batch from the spool");
                    }
                    let count = Count::new(spooled.header.lines, spooled.header.file_bytes);
                    metrics::counter!(m::BATCHES_SENT_TOTAL, "output" => self.shipper.kind()).increment(1);
                    self.ledger.delivered_from_spool(&spooled.header.stream, count);
                    delivered_since_empty += 1;
                    self.publish_spool_size();
                }
            }
        }
    }

    fn delivered(&self, stream: &str, count: Count) {
        metrics::counter!(m::BATCHES_SENT_TOTAL, "output" => self.shipper.kind()).increment(1);
        self.ledger.delivered(stream, count);
    }

    fn publish_spool_size(&self) {
        if let Some(spool) = &self.spool {
            let held = spool.held();
            metrics::gauge!(m::SPOOL_BATCHES).set(held.batches as f64);
            metrics::gauge!(m::SPOOL_LINES).set(held.lines as f64);
            metrics::gauge!(m::SPOOL_BYTES).set(held.bytes as f64);
        }
    }
}

async fn append(spool: &Arc<Spool>, batch: &Batch, source: &str) -> Result<(), SpoolError> {
    let (spool, batch, source) = (spool.clone(), batch.clone(), source.to_string());
    tokio::task::spawn_blocking(move || spool.append(&batch, &source))
        .await
        .expect("writing to the spool does not panic")
}
