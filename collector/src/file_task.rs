//! One tailed file: a reader (tail -> frame -> batch) and a sender (ship -> checkpoint) joined
//! by a channel of capacity 1, so exactly one batch per file is in flight and one more waits
//! ready behind it. Batches of a file are therefore acknowledged in order, and the checkpoint
//! (set only by the sender, after an acknowledgement) only moves forward within a stream.
//! When the file is truncated its content gets a new stream; the old one is retired once all
//! its batches are acknowledged, so a copy of it (copytruncate) continues where they end.
//!
//! The reader ends when the agent stops (it flushes what it read), or when the supervisor
//! marks the file gone (deleted, or rotated away from the globs) and the held handle was read
//! to its end; the file's checkpoint is then released.

use std::{
    fs::File,
    path::PathBuf,
    sync::{
        atomic::{AtomicBool, Ordering},
        Arc, Mutex,
    },
    time::{Duration, Instant, SystemTime, UNIX_EPOCH},
};

use tokio::sync::{mpsc, watch, Notify};
use tracing::Instrument;

use crate::{
    batch::{Batch, BatchBuilder, RecordTemplate},
    checkpoint::{Checkpoint, CheckpointStore},
    config::BatchConfig,
    delivery::Delivery,
    fingerprint::Fingerprint,
    ledger::Count,
    metrics as m,
    tailer::{FileId, Polled, Tailer},
};

/// Most bytes read from one file per poll, so one busy file does not hold a thread long.
const READ_BYTES_PER_POLL: usize = 1 << 20;
/// At most one warning per file and this interval for repeated read errors.
const READ_ERROR_WARN_EVERY: Duration = Duration::from_secs(30);

/// What the supervisor and a file task share about one file.
#[derive(Debug)]
pub struct FileHandle {
    pub id: FileId,
    path: Mutex<PathBuf>,
    gone: AtomicBool,
    wake: Notify,
}

impl FileHandle {
    pub fn new(id: FileId, path: PathBuf) -> FileHandle {
        FileHandle { id, path: Mutex::new(path), gone: AtomicBool::new(false), wake: Notify::new() }
    }

    /// Where the file was last seen.
    pub fn path(&self) -> PathBuf {
        self.path.lock().expect("path lock is never poisoned").clone()
    }

    pub fn set_path(&self, path: PathBuf) {
        *self.path.lock().expect("path lock is never poisoned") = path;
    }

    /// The globs no longer match this file: drain it to its end, then release it.
    pub fn mark_gone(&self) {
        if !self.gone.swap(true, Ordering::SeqCst) {
            self.wake.notify_one();
        }
    }

    /// The file is matched again before its task finished draining.
    pub fn mark_present(&self) {
        self.gone.store(false, Ordering::SeqCst);
    }

    fn is_gone(&self) -> bool {
        self.gone.load(Ordering::SeqCst)
    }
}

/// Settings and services every file task uses.
pub struct Shared {
    /// Sends, spools or drops batches, and keeps the ledger.
    pub delivery: Arc<Delivery>,
    pub checkpoints: Arc<CheckpointStore>,
    pub batch: BatchConfig,
    pub poll_interval: Duration,
    pub max_line_bytes: usize,
    /// See `AgentConfig::partial_line_timeout`.
    pub partial_line_timeout: Duration,
}

/// Where a file task starts reading: its checkpoint (a line boundary of one stream), and the
/// file's first bytes then.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Start {
    pub checkpoint: Checkpoint,
    pub head: Vec<u8>,
}

/// How a file task ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ended {
    /// The file was gone and read to its end; everything read was acknowledged.
    Drained,
    /// The agent is stopping.
    Stopped,
}

enum Outgoing {
    /// A batch, and the fingerprint of the content its lines were read from.
    Batch(Batch, Fingerprint),
    /// The file was truncated: once the batches before this are acknowledged, the old stream
    /// is retired and the checkpoint moves to offset 0 of `stream`.
    Reset { stream: String },
}

/// Tails one open file until the agent stops or the file is gone and drained.
pub async fn run(
    handle: Arc<FileHandle>,
    file: File,
    start: Start,
    template: RecordTemplate,
    shared: Arc<Shared>,
    stop: watch::Receiver<bool>,
) -> (FileId, Ended) {
    let (tx, rx) = mpsc::channel(1);
    let checkpoint = start.checkpoint.clone();
    let reader = read_loop(&handle, file, start, &template, &shared, stop, tx);
    let (ended, ()) = tokio::join!(reader, send_loop(&handle, &shared, checkpoint, rx));
    if ended == Ended::Drained {
        shared.checkpoints.remove(handle.id);
        tracing::info!(path = %handle.path().display(), file = %handle.id, "file drained and released");
    }
    (handle.id, ended)
}

async fn read_loop(
    handle: &FileHandle,
    file: File,
    start: Start,
    template: &RecordTemplate,
    shared: &Shared,
    mut stop: watch::Receiver<bool>,
    tx: mpsc::Sender<Outgoing>,
) -> Ended {
    let Start { checkpoint, head } = start;
    let mut tailer = Some(Tailer::new(file, checkpoint.offset, shared.max_line_bytes, head));
    let mut builder = BatchBuilder::new(shared.batch, checkpoint.stream);
    // The fingerprint of the content the builder's lines come from.
    let mut fingerprint = tailer.as_ref().map(Tailer::fingerprint).expect("the tailer is there");
    let mut last_error_warn: Option<Instant> = None;
    let mut last_growth = Instant::now();
    let ended = 'read: loop {
        if *stop.borrow() || stop.has_changed().is_err() {
            break Ended::Stopped;
        }
        let gone_before_poll = handle.is_gone();
        let mut polling = tailer.take().expect("the tailer is put back after every poll");
        let (polled_tailer, polled) = tokio::task::spawn_blocking(move || {
            let polled = polling.poll(READ_BYTES_PER_POLL);
            (polling, polled)
        })
        .await
        .expect("a tailer poll does not panic");
        tailer = Some(polled_tailer);
        let now = Instant::now();
        let mut ready = Vec::new();
        let mut read_failed = false;
        let at_end = match polled {
            Ok(Polled::Read { mut lines, bytes, at_end }) => {
                if bytes > 0 {
                    last_growth = now;
                    fingerprint = tailer.as_ref().map(Tailer::fingerprint).expect("the tailer is there");
                }
                let idle = now.duration_since(last_growth);
                if at_end && !shared.partial_line_timeout.is_zero() && idle >= shared.partial_line_timeout {
                    if let Some(partial) = tailer.as_mut().and_then(Tailer::flush_partial_line) {
                        lines.push(partial);
                    }
                }
                metrics::counter!(m::BYTES_READ_TOTAL).increment(bytes);
                metrics::counter!(m::LINES_READ_TOTAL).increment(lines.len() as u64);
                let source = handle.path().to_string_lossy().into_owned();
                let read_time_ms = unix_ms(SystemTime::now());
                for line in lines {
                    if line.truncated {
                        metrics::counter!(m::LINES_TRUNCATED_TOTAL).increment(1);
                        metrics::counter!(m::LINE_BYTES_SKIPPED_TOTAL).increment(line.skipped_bytes);
                    }
                    ready.extend(builder.push(line, &source, template, read_time_ms, now));
                    if builder.is_full() {
                        ready.extend(builder.take());
                    }
                }
                at_end
            }
            Ok(Polled::Truncated { size, read_offset }) => {
                metrics::counter!(m::FILE_TRUNCATIONS_TOTAL).increment(1);
                let stream = shared.checkpoints.with_state(|state| state.new_stream(handle.id));
                tracing::warn!(path = %handle.path().display(), file = %handle.id, size, read_offset, %stream,
                    "the file no longer holds what was read: truncated; reading it again from the start");
                if let Some(batch) = builder.take() {
                    if tx.send(Outgoing::Batch(batch, fingerprint)).await.is_err() {
                        break 'read Ended::Stopped;
                    }
                }
                if tx.send(Outgoing::Reset { stream: stream.clone() }).await.is_err() {
                    break 'read Ended::Stopped;
                }
                builder = BatchBuilder::new(shared.batch, stream);
                fingerprint = Fingerprint::of_bytes(&[]);
                false
            }
            Err(error) => {
                if last_error_warn.is_none_or(|at| at.elapsed() >= READ_ERROR_WARN_EVERY) {
                    last_error_warn = Some(Instant::now());
                    tracing::warn!(path = %handle.path().display(), %error, "failed to read file; retrying");
                }
                read_failed = true;
                true
            }
        };
        if builder.due_in(now) == Some(Duration::ZERO) {
            ready.extend(builder.take());
        }
        for batch in ready {
            if tx.send(Outgoing::Batch(batch, fingerprint)).await.is_err() {
                break 'read Ended::Stopped;
            }
        }
        if !at_end {
            continue;
        }
        if gone_before_poll && !read_failed {
            break Ended::Drained;
        }
        let wait = builder.due_in(Instant::now()).map_or(shared.poll_interval, |due| due.min(shared.poll_interval));
        tokio::select! {
            _ = tokio::time::sleep(wait) => {}
            _ = handle.wake.notified() => {}
            _ = stop.wait_for(|stopped| *stopped) => {}
        }
    };
    if let Some(batch) = builder.take() {
        let _ = tx.send(Outgoing::Batch(batch, fingerprint)).await;
    }
    ended
}

/// Ships batches in order; after each acknowledgement, the checkpoint moves to the batch's
/// end (starting from `current`, the file's checkpoint when the task started).
async fn send_loop(handle: &FileHandle, shared: &Shared, mut current: Checkpoint, mut rx: mpsc::Receiver<Outgoing>) {
    while let Some(outgoing) = rx.recv().await {
        current.path = handle.path();
        match outgoing {
            Outgoing::Batch(batch, fingerprint) => {
                let source = current.path.to_string_lossy().into_owned();
                shared.delivery.ledger.read(&batch.stream, &source, Count::new(batch.lines, batch.file_bytes));
                let span = tracing::debug_span!("batch", stream = %batch.stream, lines = batch.lines);
                // Delivered, spooled or dropped by policy: the lines are accounted for either way.
                shared.delivery.send(&batch, &source).instrument(span).await;
                current.stream = batch.stream;
                current.offset = batch.end_offset;
                current.last_line = batch.last_line;
                current.fingerprint = Some(fingerprint);
                shared.checkpoints.set(current.clone());
            }
            Outgoing::Reset { stream } => {
                // Every batch of the old content is acknowledged: its stream is retired at its
                // final position, for a copy (copytruncate) to continue. Until now a copy waits.
                current = Checkpoint { stream, offset: 0, fingerprint: None, last_line: None, ..current };
                shared.checkpoints.with_state(|state| {
                    state.retire(handle.id);
                    state.set(current.clone());
                });
                // The new stream is on disk before any of its batches ships (see the scan).
                let store = shared.checkpoints.clone();
                match tokio::task::spawn_blocking(move || store.persist()).await {
                    Ok(Ok(_)) => {}
                    Ok(Err(error)) => tracing::error!(%error, path = %handle.path().display(),
                        "failed to record the truncated file's new stream; a crash now may ship its lines twice"),
                    Err(error) => tracing::error!(%error, "checkpoint writer panicked"),
                }
            }
        }
    }
}

fn unix_ms(time: SystemTime) -> i64 {
    time.duration_since(UNIX_EPOCH).map_or(0, |since| since.as_millis() as i64)
}
