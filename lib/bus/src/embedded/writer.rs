//! The writer thread of one partition, and its group commit: appends queue up while an fsync
//! runs, and the thread writes everything queued, fsyncs once, publishes, then answers them all.

use std::{
    fs::File,
    io::{self, Write},
    sync::Arc,
    time::{Instant, SystemTime, UNIX_EPOCH},
};

use tokio::sync::{mpsc, oneshot};
use tracing::error;

use crate::{
    metrics::{APPENDED_BYTES_TOTAL, APPENDED_MESSAGES_TOTAL, FSYNC_SECONDS},
    BusError, OutgoingMessage,
};

use super::{
    partition::Shared,
    record,
    segment::{self, Recovered},
};

/// Most appends answered by one fsync.
const MAX_GROUP_REQUESTS: usize = 1024;
/// Encoded bytes buffered before they are written out.
const WRITE_BUFFER_BYTES: usize = 4 * 1024 * 1024;

/// One append waiting for the writer.
pub(crate) struct AppendRequest {
    pub(crate) messages: Vec<OutgoingMessage>,
    /// Receives the offset of the first message once all of them are durable.
    pub(crate) reply: oneshot::Sender<Result<u64, BusError>>,
}

/// A point in the log: the active segment, its size, and the next offset.
#[derive(Debug, Clone, Copy)]
struct Position {
    base: u64,
    size: u64,
    next_offset: u64,
}

/// Owns the active segment of a partition; only its thread writes to the partition.
pub(crate) struct Writer {
    shared: Arc<Shared>,
    segment_bytes: u64,
    file: File,
    /// Where the writes so far end (some may not be fsynced yet).
    at: Position,
    /// Where the last fsync left the log; a failed write rolls back to it.
    durable: Position,
    /// Segments created since the last publish.
    rolled: Vec<u64>,
    buf: Vec<u8>,
    /// Set after a failure the writer cannot undo: every later append fails with it.
    failed: Option<String>,
}

/// A failed group: the error, and whether the writer must stop accepting appends.
struct Failure {
    error: BusError,
    fatal: bool,
}

impl Writer {
    pub(crate) fn new(shared: Arc<Shared>, segment_bytes: u64, file: File, base: u64, recovered: Recovered) -> Writer {
        let at = Position { base, size: recovered.valid_bytes, next_offset: recovered.next_offset };
        Writer { shared, segment_bytes, file, at, durable: at, rolled: Vec::new(), buf: Vec::new(), failed: None }
    }

    /// Runs the writer on its own thread until every sender of `requests` is gone.
    pub(crate) fn spawn(self, requests: mpsc::Receiver<AppendRequest>) -> Result<(), BusError> {
        let name = self.shared.name();
        std::thread::Builder::new()
            .name("bus-writer".to_string())
            .spawn(move || self.run(requests))
            .map(drop)
            .map_err(|err| BusError::Unavailable(format!("failed to start the writer thread of {name}: {err}")))
    }

    fn run(mut self, mut requests: mpsc::Receiver<AppendRequest>) {
        while let Some(first) = requests.blocking_recv() {
            let mut group = vec![first];
            while group.len() < MAX_GROUP_REQUESTS {
                match requests.try_recv() {
                    Ok(request) => group.push(request),
                    Err(_) => break,
                }
            }
            self.commit(group);
        }
    }

    /// Writes and fsyncs a group, then answers every request in it.
    fn commit(&mut self, group: Vec<AppendRequest>) {
        if let Some(reason) = &self.failed {
            for request in group {
                let _ = request.reply.send(Err(BusError::Unavailable(reason.clone())));
            }
            return;
        }
        match self.write_group(&group) {
            Ok(firsts) => {
                let messages = self.at.next_offset - self.durable.next_offset;
                let bytes: u64 = group.iter().flat_map(|r| &r.messages).map(|m| record::encoded_len(m) as u64).sum();
                self.durable = self.at;
                self.shared.publish(&std::mem::take(&mut self.rolled), self.at.next_offset);
                let labels = [("topic", self.shared.topic.clone()), ("partition", self.shared.index.to_string())];
                ::metrics::counter!(APPENDED_MESSAGES_TOTAL, &labels).increment(messages);
                ::metrics::counter!(APPENDED_BYTES_TOTAL, &labels).increment(bytes);
                for (request, first) in group.into_iter().zip(firsts) {
                    // The appender may have stopped waiting; its messages are durable anyway.
                    let _ = request.reply.send(Ok(first));
                }
            }
            Err(failure) => {
                self.roll_back(&failure);
                for request in group {
                    let _ = request.reply.send(Err(duplicate(&failure.error)));
                }
            }
        }
        if self.buf.capacity() > 2 * WRITE_BUFFER_BYTES {
            self.buf = Vec::new();
        }
    }

    /// Encodes the group into the log, rolling segments as needed, and fsyncs. Returns the first
    /// offset of every request.
    fn write_group(&mut self, group: &[AppendRequest]) -> Result<Vec<u64>, Failure> {
        let timestamp_ms = SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_millis() as i64);
        self.buf.clear();
        let mut firsts = Vec::with_capacity(group.len());
        for request in group {
            firsts.push(self.at.next_offset);
            for message in &request.messages {
                let pending = self.at.size + self.buf.len() as u64;
                if pending > 0 && pending + record::encoded_len(message) as u64 > self.segment_bytes {
                    self.roll()?;
                } else if self.buf.len() >= WRITE_BUFFER_BYTES {
                    self.flush()?;
                }
                record::encode(message, self.at.next_offset, timestamp_ms, &mut self.buf);
                self.at.next_offset += 1;
            }
        }
        self.flush()?;
        self.sync()?;
        Ok(firsts)
    }

    /// Makes the active segment durable, closes it, and starts a new one at the next offset.
    /// The closed segment is fsynced first, so every segment but the last is always whole.
    fn roll(&mut self) -> Result<(), Failure> {
        self.flush()?;
        self.sync()?;
        let base = self.at.next_offset;
        // A file left half-created would block the next roll, so a failure here stops the writer.
        self.file = segment::create_segment(&self.shared.dir, base).map_err(|error| Failure { error, fatal: true })?;
        self.at = Position { base, size: 0, next_offset: base };
        self.rolled.push(base);
        Ok(())
    }

    fn flush(&mut self) -> Result<(), Failure> {
        if self.buf.is_empty() {
            return Ok(());
        }
        self.file.write_all(&self.buf).map_err(|err| self.io_failure(err, false))?;
        self.at.size += self.buf.len() as u64;
        self.buf.clear();
        Ok(())
    }

    /// An fsync that fails may have dropped the data it was flushing, so the writer stops.
    fn sync(&mut self) -> Result<(), Failure> {
        let started = Instant::now();
        self.file.sync_data().map_err(|err| self.io_failure(err, true))?;
        ::metrics::histogram!(FSYNC_SECONDS).record(started.elapsed().as_secs_f64());
        Ok(())
    }

    fn io_failure(&self, err: io::Error, fatal: bool) -> Failure {
        Failure { error: BusError::io(segment::segment_path(&self.shared.dir, self.at.base), err), fatal }
    }

    /// Puts the log back where the last fsync left it, or stops the writer if it cannot.
    fn roll_back(&mut self, failure: &Failure) {
        let reason = if failure.fatal {
            Some(format!("{}; reopen the bus to recover", failure.error))
        } else if self.at.base != self.durable.base {
            // A segment was closed and fsynced mid-group: the rest of it can no longer be undone.
            Some(format!("{} after a segment roll; reopen the bus to recover", failure.error))
        } else {
            match self.file.set_len(self.durable.size) {
                Ok(()) => None,
                Err(err) => Some(format!("failed to roll back {}: {err}", self.shared.name())),
            }
        };
        self.buf.clear();
        self.at = self.durable;
        if let Some(reason) = reason {
            error!(partition = %self.shared.name(), %reason, "embedded bus writer stopped");
            self.failed = Some(reason);
        }
    }
}

/// A copy of `error` for each appender of a failed group.
fn duplicate(error: &BusError) -> BusError {
    match error {
        BusError::Unavailable(reason) => BusError::Unavailable(reason.clone()),
        BusError::Corrupt { path, reason } => BusError::Corrupt { path: path.clone(), reason: reason.clone() },
        BusError::Rejected(reason) => BusError::Rejected(reason.clone()),
        BusError::Io { path, source } => BusError::io(path.clone(), io::Error::new(source.kind(), source.to_string())),
    }
}
