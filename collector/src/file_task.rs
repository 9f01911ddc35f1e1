//! One tailed file: a reader (tail -> frame -> multiline -> batch) and a sender (ship ->
//! checkpoint) joined by a channel of capacity 1. The sender keeps up to the output's
//! `in_flight` batches waiting for acknowledgement (Kafka; one over HTTP), handed over in
//! order so they arrive in order, and accounts for them in order: the checkpoint (set only by
//! the sender, once a batch is delivered, spooled or dropped by policy) only moves forward
//! within a stream.
//! When the file is truncated its content gets a new stream; the old one is retired once all
//! its batches are acknowledged, so a copy of it (copytruncate) continues where they end.
//!
//! The reader ends when the agent stops (it flushes what it read), or when the supervisor
//! marks the file gone (deleted, or rotated away from the globs) and the held handle was read
//! to its end; the file's checkpoint is then released.
//!
//! With multiline rules, a pending event (lines that may still get more) is in no batch, so
//! the checkpoint never points inside one; it is batched when a line begins the next event,
//! after its `flush_timeout` without a new line, at a truncation, and when the reader ends.

use std::{
    collections::VecDeque,
    fs::File,
    future::Future,
    path::PathBuf,
    pin::Pin,
    sync::{
        atomic::{AtomicBool, AtomicU64, Ordering},
        Arc, Mutex,
    },
    time::{Duration, Instant, SystemTime, UNIX_EPOCH},
};

use tokio::sync::{mpsc, watch, Notify};
use tracing::Instrument;

use crate::{
    batch::{Batch, BatchBuilder, PayloadPool, RecordTemplate},
    checkpoint::{Checkpoint, CheckpointStore},
    config::{AgentConfig, BatchConfig, InputConfig, LongLines},
    delivery::{Delivery, Direct},
    fingerprint::Fingerprint,
    framing::{LineRef, LineSink, Piece},
    ledger::Count,
    metrics as m,
    multiline::{Aggregator, Rules},
    tailer::{FileId, Polled, Tailer},
};

/// A file that has not grown for this long is polled every [`IDLE_POLL_INTERVAL`] at most:
/// an agent tailing hundreds of rotated files that no longer change spent its time polling
/// them (each poll a hop to a blocking thread), which starved the files that do. A scan that
/// sees its size change wakes the task at once.
const IDLE_AFTER: Duration = Duration::from_secs(5);
const IDLE_POLL_INTERVAL: Duration = Duration::from_secs(1);

/// Most bytes read from one file per poll, so one busy file does not hold a thread long.
/// Measured with `vigil bench agent`: 256 KiB ships as fast as 1 MiB, and the agent's
/// resident memory at a steady 10 MB/s fell from a 20 MiB median to 16 MiB.
const READ_BYTES_PER_POLL: usize = 256 << 10;
/// At most one warning per file and this interval for repeated read errors.
const READ_ERROR_WARN_EVERY: Duration = Duration::from_secs(30);

/// What the supervisor and a file task share about one file.
#[derive(Debug)]
pub struct FileHandle {
    pub id: FileId,
    path: Mutex<PathBuf>,
    gone: AtomicBool,
    wake: Notify,
    /// Polls of the file completed: a copy of it waits for one that started after it was seen.
    polls: AtomicU64,
    /// A truncation was noticed and its old stream is not retired yet.
    truncation_pending: AtomicBool,
    /// The size the last scan saw: a change wakes a task that polls its idle file rarely.
    size_seen: AtomicU64,
}

impl FileHandle {
    pub fn new(id: FileId, path: PathBuf) -> FileHandle {
        FileHandle {
            id,
            path: Mutex::new(path),
            gone: AtomicBool::new(false),
            wake: Notify::new(),
            polls: AtomicU64::new(0),
            truncation_pending: AtomicBool::new(false),
            size_seen: AtomicU64::new(u64::MAX),
        }
    }

    /// A scan saw the file at `size`; a change wakes its task (see [`IDLE_POLL_INTERVAL`]).
    pub fn saw_size(&self, size: u64) {
        let before = self.size_seen.swap(size, Ordering::SeqCst);
        if before != size && before != u64::MAX {
            self.wake.notify_one();
        }
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

    pub fn polls(&self) -> u64 {
        self.polls.load(Ordering::SeqCst)
    }

    pub fn truncation_pending(&self) -> bool {
        self.truncation_pending.load(Ordering::SeqCst)
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

/// How an input's files are read into records: what becomes of a line over `max_line_bytes`,
/// and the input's multiline rules (compiled once, shared by its files).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Reading {
    pub long_lines: LongLines,
    pub multiline: Option<Arc<Rules>>,
}

impl Reading {
    /// How `input`'s files are read under `config`, which [`AgentConfig::validate`] accepted
    /// (it compiles the same patterns).
    pub fn for_input(config: &AgentConfig, input: &InputConfig) -> Reading {
        let multiline = input.multiline.as_ref().map(|multiline| {
            Arc::new(
                Rules::compile(multiline).expect("AgentConfig::validate, which agent::run calls first, compiled it"),
            )
        });
        Reading { long_lines: config.long_lines, multiline }
    }
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
    let task = Task { handle: &handle, shared: &shared, pool: PayloadPool::default() };
    let (ended, ()) =
        tokio::join!(read_loop(&task, file, start, &template, stop, tx), send_loop(&task, checkpoint, rx));
    if ended == Ended::Drained {
        // Retired, not just dropped: a scan can miss a file renamed while it lists the
        // directory (readdir may skip such an entry), and the file then comes back under its
        // new name; its content must continue this stream at this position, not start a new
        // one (the full torture run shipped such a file twice). A copy is recognised the same way.
        shared.checkpoints.with_state(|state| {
            state.retire(handle.id);
            state.release(handle.id);
        });
        tracing::info!(path = %handle.path().display(), file = %handle.id, "file drained and released");
    }
    (handle.id, ended)
}

/// What the reader and the sender of one file share.
struct Task<'a> {
    handle: &'a FileHandle,
    shared: &'a Shared,
    /// Payload buffers the sender gives back to the reader's batch builder.
    pool: PayloadPool,
}

/// What a poll works on, moved to a blocking thread and back: the tailer, and what its lines
/// become (multiline events, then batches). A poll's lines are framed and encoded on the thread
/// that read them, each straight from the read buffer into the batch.
struct Reader {
    tailer: Tailer,
    builder: BatchBuilder,
    /// Lines not yet in `builder` because their event may go on (multiline inputs only).
    events: Option<Aggregator>,
}

/// Where and when a poll's lines were read.
struct ReadAt {
    source: String,
    read_time_ms: i64,
    now: Instant,
}

impl Reader {
    /// Puts the lines `read` hands over in the batch (through the multiline rules, if any);
    /// `cut`: they are unterminated last lines read on their timeout. Returns what `read`
    /// returned and the batches filled.
    fn take_lines<R>(
        &mut self,
        at: &ReadAt,
        cut: bool,
        read: impl FnOnce(&mut Tailer, &mut dyn LineSink) -> R,
    ) -> (R, Vec<Batch>) {
        let Reader { tailer, builder, events } = self;
        let (mut ready, mut complete, mut counts) = (Vec::new(), Vec::new(), LineCounts::default());
        let result = read(tailer, &mut |line: LineRef<'_>| {
            counts.add(&line);
            if cut {
                builder.mark_line_cut(line.end_offset);
            }
            match events.as_mut() {
                Some(events) => events.push(line.to_line(), at.now, &mut complete),
                None => add(builder, &line, &at.source, at.read_time_ms, at.now, EventEnd::Read, &mut ready),
            }
        });
        for record in &complete {
            add(builder, &record.as_line_ref(), &at.source, at.read_time_ms, at.now, EventEnd::Read, &mut ready);
        }
        counts.publish(tailer.take_invalid_utf8_lines());
        (result, ready)
    }
}

async fn read_loop(
    task: &Task<'_>,
    file: File,
    start: Start,
    template: &RecordTemplate,
    mut stop: watch::Receiver<bool>,
    tx: mpsc::Sender<Outgoing>,
) -> Ended {
    let Task { handle, shared, pool } = task;
    let Start { checkpoint, head } = start;
    let reading = &template.reading;
    let tailer = Tailer::new(file, checkpoint.offset, shared.max_line_bytes, reading.long_lines, head);
    let event_cuts = checkpoint.event_cuts.clone();
    let mut reader = Reader {
        tailer: tailer.with_line_cuts(checkpoint.line_cuts.clone()),
        builder: BatchBuilder::new(shared.batch, checkpoint.stream, template).with_pool(pool.clone()),
        events: reading.multiline.clone().map(|rules| Aggregator::new(rules).with_cuts(event_cuts)),
    };
    // The fingerprint of the content the builder's lines come from.
    let mut fingerprint = reader.tailer.fingerprint();
    let mut last_error_warn: Option<Instant> = None;
    let mut last_growth = Instant::now();
    let ended = 'read: loop {
        if *stop.borrow() || stop.has_changed().is_err() {
            break Ended::Stopped;
        }
        let gone_before_poll = handle.is_gone();
        let at = ReadAt {
            source: handle.path().to_string_lossy().into_owned(),
            read_time_ms: unix_ms(SystemTime::now()),
            now: Instant::now(),
        };
        let (polled_reader, polled, mut ready, at) = tokio::task::spawn_blocking(move || {
            let (polled, ready) =
                reader.take_lines(&at, false, |tailer, lines| tailer.poll(READ_BYTES_PER_POLL, lines));
            (reader, polled, ready, at)
        })
        .await
        .expect("a poll does not panic");
        reader = polled_reader;
        if matches!(polled, Ok(Polled::Truncated { .. })) {
            handle.truncation_pending.store(true, Ordering::SeqCst);
        }
        handle.polls.fetch_add(1, Ordering::SeqCst);
        let now = Instant::now();
        let mut read_failed = false;
        let at_end = match polled {
            Ok(Polled::Read { bytes, at_end }) => {
                if bytes > 0 {
                    last_growth = now;
                    fingerprint = reader.tailer.fingerprint();
                }
                let idle = now.duration_since(last_growth);
                if at_end && !shared.partial_line_timeout.is_zero() && idle >= shared.partial_line_timeout {
                    let ((), flushed) = reader.take_lines(&at, true, |tailer, lines| tailer.flush_partial_line(lines));
                    ready.extend(flushed);
                }
                metrics::counter!(m::BYTES_READ_TOTAL).increment(bytes);
                at_end
            }
            Ok(Polled::Truncated { size, read_offset }) => {
                metrics::counter!(m::FILE_TRUNCATIONS_TOTAL).increment(1);
                let stream = shared.checkpoints.with_state(|state| state.new_stream(handle.id));
                tracing::warn!(path = %handle.path().display(), file = %handle.id, size, read_offset, %stream,
                    "the file no longer holds what was read: truncated; reading it again from the start");
                // A pending event is the old content's: it goes in that stream's last batch.
                if let Some(event) = reader.events.as_mut().and_then(Aggregator::flush) {
                    let record = event.as_line_ref();
                    add(&mut reader.builder, &record, &at.source, at.read_time_ms, now, EventEnd::Read, &mut ready);
                }
                ready.extend(reader.builder.take());
                for batch in ready.drain(..) {
                    if tx.send(Outgoing::Batch(batch, fingerprint)).await.is_err() {
                        break 'read Ended::Stopped;
                    }
                }
                if tx.send(Outgoing::Reset { stream: stream.clone() }).await.is_err() {
                    break 'read Ended::Stopped;
                }
                reader.builder = BatchBuilder::new(shared.batch, stream, template).with_pool(pool.clone());
                reader.events = reading.multiline.clone().map(Aggregator::new);
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
        let due = |events: &&mut Aggregator| events.due_in(now) == Some(Duration::ZERO);
        if let Some(event) = reader.events.as_mut().filter(due).and_then(Aggregator::flush) {
            let record = event.as_line_ref();
            add(&mut reader.builder, &record, &at.source, at.read_time_ms, now, EventEnd::Cut, &mut ready);
        }
        if reader.builder.due_in(now) == Some(Duration::ZERO) {
            ready.extend(reader.builder.take());
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
        let now = Instant::now();
        let due = [reader.builder.due_in(now), reader.events.as_ref().and_then(|events| events.due_in(now))];
        let interval = if now.duration_since(last_growth) >= IDLE_AFTER {
            shared.poll_interval.max(IDLE_POLL_INTERVAL)
        } else {
            shared.poll_interval
        };
        let wait = due.into_iter().flatten().fold(interval, Duration::min);
        tokio::select! {
            _ = tokio::time::sleep(wait) => {}
            _ = handle.wake.notified() => {}
            _ = stop.wait_for(|stopped| *stopped) => {}
        }
    };
    let mut last = Vec::new();
    if let Some(event) = reader.events.as_mut().and_then(Aggregator::flush) {
        let source = handle.path().to_string_lossy().into_owned();
        let now = Instant::now();
        let record = event.as_line_ref();
        add(&mut reader.builder, &record, &source, unix_ms(SystemTime::now()), now, EventEnd::Cut, &mut last);
    }
    last.extend(reader.builder.take());
    for batch in last {
        if tx.send(Outgoing::Batch(batch, fingerprint)).await.is_err() {
            break;
        }
    }
    ended
}

/// What the agent's metrics count of lines as they are read (before multiline).
#[derive(Debug, Default)]
struct LineCounts {
    lines: u64,
    truncated: u64,
    skipped_bytes: u64,
    split: u64,
}

impl LineCounts {
    fn add(&mut self, line: &LineRef<'_>) {
        self.lines += 1;
        if line.truncated {
            self.truncated += 1;
            self.skipped_bytes += line.skipped_bytes;
        }
        self.split += u64::from(line.piece == Piece::First);
    }

    fn publish(&self, invalid_utf8: u64) {
        // Even by 0: the counter is on /metrics from the first poll on.
        metrics::counter!(m::LINES_READ_TOTAL).increment(self.lines);
        for (name, count) in [
            (m::LINES_TRUNCATED_TOTAL, self.truncated),
            (m::LINE_BYTES_SKIPPED_TOTAL, self.skipped_bytes),
            (m::LINES_SPLIT_TOTAL, self.split),
            (m::LINES_INVALID_UTF8_TOTAL, invalid_utf8),
        ] {
            if count > 0 {
                metrics::counter!(name).increment(count);
            }
        }
    }
}

/// How a record ended, for [`add`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum EventEnd {
    /// By the line after it, or it is a plain line: reading the file again ends it there again.
    Read,
    /// A multiline event ended by its flush timeout or the agent stopping: a restart must be
    /// told (`Checkpoint::event_cuts`).
    Cut,
}

/// Adds a record (a line, an event or a piece) to the batch; batches it fills go to `ready`.
fn add(
    builder: &mut BatchBuilder,
    record: &LineRef<'_>,
    source: &str,
    read_time_ms: i64,
    now: Instant,
    ended: EventEnd,
    ready: &mut Vec<Batch>,
) {
    ready.extend(builder.push(record, source, read_time_ms, now));
    if ended == EventEnd::Cut {
        builder.mark_event_cut();
    }
    if builder.is_full() {
        ready.extend(builder.take());
    }
}

/// A batch handed to the destination and not yet accounted for.
struct InFlight {
    batch: Batch,
    /// The fingerprint of the content its lines were read from.
    fingerprint: Fingerprint,
    source: String,
    /// Its attempt under way, if it went straight to the destination.
    direct: Option<Direct>,
}

/// Ships batches in order, with up to the output's `in_flight` of them waiting for
/// acknowledgement at once; as each is accounted for (in order), the checkpoint moves to its
/// end (starting from `current`, the file's checkpoint when the task started).
async fn send_loop(task: &Task<'_>, mut current: Checkpoint, mut rx: mpsc::Receiver<Outgoing>) {
    let Task { handle, shared, pool } = task;
    let window = shared.delivery.shipper.in_flight().max(1);
    let mut waiting: VecDeque<InFlight> = VecDeque::new();
    // The oldest batch, being delivered, spooled or dropped.
    let mut settling: Option<Pin<Box<dyn Future<Output = InFlight> + Send + '_>>> = None;
    // A truncation's new stream, applied once every batch before it is accounted for.
    let mut reset: Option<String> = None;
    // A batch could not be handed over: nothing after it may be until it is accounted for.
    let mut hold = false;
    let mut closed = false;
    loop {
        if settling.is_none() {
            settling = waiting.pop_front().map(|flight| Box::pin(settle(shared, flight)) as Pin<Box<_>>);
        }
        if settling.is_none() {
            hold = false;
            if let Some(stream) = reset.take() {
                apply_reset(handle, shared, &mut current, stream).await;
            }
            if closed {
                return;
            }
        }
        let room = waiting.len() + usize::from(settling.is_some()) < window && !hold && reset.is_none();
        tokio::select! {
            outgoing = rx.recv(), if room && !closed => match outgoing {
                None => closed = true,
                Some(Outgoing::Reset { stream }) => reset = Some(stream),
                Some(Outgoing::Batch(batch, fingerprint)) => {
                    current.path = handle.path();
                    let source = current.path.to_string_lossy().into_owned();
                    before_shipping(handle, shared, &mut current, &batch, fingerprint).await;
                    let direct = shared.delivery.start(&batch);
                    hold = direct.as_ref().is_some_and(|direct| !direct.started.queued);
                    waiting.push_back(InFlight { batch, fingerprint, source, direct });
                }
            },
            flight = async { settling.as_mut().expect("guarded").await }, if settling.is_some() => {
                settling = None;
                let InFlight { batch, fingerprint, .. } = flight;
                current.path = handle.path();
                current.stream = batch.stream;
                current.offset = batch.end_offset;
                current.event_cuts.retain(|cut| *cut > batch.end_offset);
                current.line_cuts.retain(|cut| *cut > batch.end_offset);
                current.last_line = batch.last_line;
                // Batches after this one may have put a longer fingerprint on disk already.
                if current.fingerprint.is_none_or(|known| known.len < fingerprint.len) {
                    current.fingerprint = Some(fingerprint);
                }
                shared.checkpoints.set(current.clone());
                pool.put(batch.payload);
            }
        }
    }
}

/// Writes down, before `batch` ships, what a restart must know about it: the read lines in
/// the ledger, and on disk the stream's first bytes and where events and lines were cut.
async fn before_shipping(
    handle: &FileHandle,
    shared: &Shared,
    current: &mut Checkpoint,
    batch: &Batch,
    fingerprint: Fingerprint,
) {
    let source = current.path.to_string_lossy();
    shared.delivery.ledger.read(&batch.stream, &source, Count::new(batch.lines, batch.file_bytes));
    if current.fingerprint.is_none_or(|on_disk| on_disk.len < fingerprint.len) {
        // The stream's first bytes go on disk before its lines ship: after a crash that lost
        // the position, a copy of this content (copytruncate) must still be recognised as
        // this stream, not shipped again under a new one. Needed only until the fingerprint
        // is full, so a few times per stream at most.
        current.fingerprint = Some(fingerprint);
        current.stream.clone_from(&batch.stream);
        shared.checkpoints.set(current.clone());
        persist_now(shared, handle).await;
    }
    if !batch.event_cuts.is_empty() || !batch.line_cuts.is_empty() {
        // Where events and lines were cut goes on disk before they ship (see `event_cuts`
        // and `line_cuts`).
        current.event_cuts.extend_from_slice(&batch.event_cuts);
        current.line_cuts.extend_from_slice(&batch.line_cuts);
        shared.checkpoints.set(current.clone());
        persist_now(shared, handle).await;
    }
}

/// Delivers, spools or (by policy) drops the oldest batch: its lines are accounted for
/// either way.
async fn settle(shared: &Shared, mut flight: InFlight) -> InFlight {
    let span = tracing::debug_span!("batch", stream = %flight.batch.stream, lines = flight.batch.lines);
    shared.delivery.send(&flight.batch, &flight.source, flight.direct.take()).instrument(span).await;
    flight
}

/// Every batch of the old content is accounted for: its stream is retired at its final
/// position, for a copy (copytruncate) to continue, and the file goes on as `stream`. Until
/// now a copy waits.
async fn apply_reset(handle: &FileHandle, shared: &Shared, current: &mut Checkpoint, stream: String) {
    *current = Checkpoint {
        stream,
        offset: 0,
        fingerprint: None,
        last_line: None,
        event_cuts: Vec::new(),
        line_cuts: Vec::new(),
        ..current.clone()
    };
    shared.checkpoints.with_state(|state| {
        state.retire(handle.id);
        state.set(current.clone());
    });
    handle.truncation_pending.store(false, Ordering::SeqCst);
    // The new stream is on disk before any of its batches ships (see the scan).
    persist_now(shared, handle).await;
}

/// Writes the checkpoints now (for the orderings above); a failure is logged: a crash before
/// the next write may then ship lines twice, never lose them.
async fn persist_now(shared: &Shared, handle: &FileHandle) {
    let store = shared.checkpoints.clone();
    match tokio::task::spawn_blocking(move || store.persist()).await {
        Ok(Ok(_)) => {}
        Ok(Err(error)) => tracing::error!(%error, path = %handle.path().display(),
            "failed to write the checkpoints; a crash now may ship this file's lines twice"),
        Err(error) => tracing::error!(%error, "checkpoint writer panicked"),
    }
}

fn unix_ms(time: SystemTime) -> i64 {
    time.duration_since(UNIX_EPOCH).map_or(0, |since| since.as_millis() as i64)
}
