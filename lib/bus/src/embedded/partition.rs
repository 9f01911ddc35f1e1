//! One partition: the state its writer thread and its readers share (segments, durable end,
//! consumer floors), appends handed to the writer, and deletion of consumed segments.

use std::{
    collections::HashMap,
    path::{Path, PathBuf},
    sync::{Arc, Mutex, MutexGuard, PoisonError},
};

use tokio::sync::{mpsc, oneshot, watch};
use tracing::warn;

use crate::{BusError, OutgoingMessage};

use super::{
    record, segment,
    writer::{AppendRequest, Writer},
};

/// Appends waiting for the writer thread; a full queue makes appenders wait.
const REQUEST_QUEUE: usize = 1024;

/// A partition as the bus and its consumers hold it. Dropping the last handle stops the writer
/// thread once it has answered every queued append.
pub(crate) struct Partition {
    pub(crate) shared: Arc<Shared>,
    requests: mpsc::Sender<AppendRequest>,
    max_message_bytes: usize,
}

/// What the writer thread publishes and readers look at.
pub(crate) struct Shared {
    pub(crate) topic: String,
    pub(crate) index: u32,
    pub(crate) dir: PathBuf,
    state: Mutex<State>,
    /// Bumped after every durable append to the topic, to wake its consumers.
    changed: Arc<watch::Sender<u64>>,
}

struct State {
    /// Base offsets of the segments, ascending; the last one is the active segment.
    segments: Vec<u64>,
    /// Offset after the last fsynced record: readers never go past it.
    durable_end: u64,
    /// Committed offset of every live consumer, by consumer id.
    floors: HashMap<u64, u64>,
}

impl Partition {
    /// Recovers the partition in `dir` (which holds at least one segment) and starts its writer.
    pub(crate) fn open(
        topic: &str,
        index: u32,
        dir: &Path,
        config: &super::EmbeddedConfig,
        changed: Arc<watch::Sender<u64>>,
    ) -> Result<Partition, BusError> {
        let segments = segment::list_segments(dir)?;
        let Some(&active) = segments.last() else {
            return Err(BusError::Corrupt { path: dir.to_path_buf(), reason: "partition has no segment".to_string() });
        };
        let recovered = segment::recover(dir, active)?;
        let file = segment::open_for_append(dir, active)?;
        let shared = Arc::new(Shared {
            topic: topic.to_string(),
            index,
            dir: dir.to_path_buf(),
            state: Mutex::new(State { segments, durable_end: recovered.next_offset, floors: HashMap::new() }),
            changed,
        });
        let (requests, queue) = mpsc::channel(REQUEST_QUEUE);
        Writer::new(shared.clone(), config.segment_bytes, file, active, recovered).spawn(queue)?;
        Ok(Partition { shared, requests, max_message_bytes: config.max_message_bytes })
    }

    /// Hands `messages` to the writer thread and waits until they are fsynced. If the caller
    /// stops waiting, the messages may still be appended.
    pub(crate) async fn append(&self, messages: Vec<OutgoingMessage>) -> Result<u64, BusError> {
        for message in &messages {
            let size = record::encoded_len(message);
            if size > self.max_message_bytes {
                return Err(BusError::Rejected(format!(
                    "message of {size} bytes is larger than the limit of {} bytes",
                    self.max_message_bytes
                )));
            }
        }
        if messages.is_empty() {
            return Ok(self.shared.durable_end());
        }
        let stopped = || BusError::Unavailable(format!("writer of {} has stopped", self.shared.name()));
        let (reply, answer) = oneshot::channel();
        self.requests.send(AppendRequest { messages, reply }).await.map_err(|_| stopped())?;
        answer.await.map_err(|_| stopped())?
    }
}

impl Shared {
    /// `topic/partition`, for messages.
    pub(crate) fn name(&self) -> String {
        format!("{}/{}", self.topic, self.index)
    }

    fn state(&self) -> MutexGuard<'_, State> {
        // The state is a few plain values that every critical section leaves consistent.
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    pub(crate) fn durable_end(&self) -> u64 {
        self.state().durable_end
    }

    /// The segments and the durable end, as one consistent picture.
    pub(crate) fn snapshot(&self) -> (Vec<u64>, u64) {
        let state = self.state();
        (state.segments.clone(), state.durable_end)
    }

    /// Called by the writer after an fsync: the new segments and records become readable.
    pub(crate) fn publish(&self, new_segments: &[u64], durable_end: u64) {
        {
            let mut state = self.state();
            state.segments.extend_from_slice(new_segments);
            state.durable_end = durable_end;
        }
        self.changed.send_modify(|version| *version = version.wrapping_add(1));
    }

    /// Registers a consumer and decides where it starts: at `resume`, or at the earliest offset
    /// on disk. Nothing at or after its start is deleted until it commits past it.
    pub(crate) fn register(&self, consumer: u64, resume: Option<u64>) -> Result<u64, BusError> {
        let mut state = self.state();
        let earliest = state.segments.first().copied().unwrap_or(0);
        let start = match resume {
            None => earliest,
            Some(offset) if offset > state.durable_end => {
                return Err(BusError::Rejected(format!(
                    "resume offset {offset} of {} is past its end offset {}; was the bus directory replaced?",
                    self.name(),
                    state.durable_end
                )));
            }
            Some(offset) if offset < earliest => {
                warn!(partition = %self.name(), offset, earliest, "resume offset is already deleted, starting at the earliest offset");
                earliest
            }
            Some(offset) => offset,
        };
        state.floors.insert(consumer, start);
        Ok(start)
    }

    pub(crate) fn remove_floor(&self, consumer: u64) {
        self.state().floors.remove(&consumer);
    }

    /// Records that `consumer` is done with everything before `next_offset`, then deletes the
    /// segments every live consumer is done with. The active segment is never deleted.
    pub(crate) fn commit(&self, consumer: u64, next_offset: u64) -> Result<(), BusError> {
        let doomed: Vec<u64> = {
            let mut state = self.state();
            if next_offset > state.durable_end {
                return Err(BusError::Rejected(format!(
                    "commit offset {next_offset} of {} is past the end offset {}",
                    self.name(),
                    state.durable_end
                )));
            }
            let floor = state.floors.entry(consumer).or_insert(next_offset);
            *floor = (*floor).max(next_offset);
            let lowest = state.floors.values().copied().min().unwrap_or(next_offset);
            // Segment i holds offsets below segments[i + 1], so it is done once that is <= lowest.
            let done = state.segments.windows(2).take_while(|pair| pair[1] <= lowest).count();
            state.segments.drain(..done).collect()
        };
        for base in &doomed {
            let path = segment::segment_path(&self.dir, *base);
            match std::fs::remove_file(&path) {
                Ok(()) => {}
                Err(err) if err.kind() == std::io::ErrorKind::NotFound => {}
                // Left on disk, the segment comes back as readable history on the next open.
                Err(error) => warn!(path = %path.display(), %error, "failed to delete a consumed segment"),
            }
        }
        Ok(())
    }
}
