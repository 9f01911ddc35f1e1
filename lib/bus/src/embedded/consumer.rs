//! Reading a topic: one reader per partition with its own file handles and position, batches
//! taken fairly across partitions, and waiting on the topic's change signal.
//!
//! File reads run on the blocking pool. What they read lands in a buffer inside the consumer
//! before it is handed out, so a `recv_batch` that is cancelled mid-read loses nothing.

use std::{
    collections::VecDeque,
    sync::{
        atomic::{AtomicU64, Ordering},
        Arc, Mutex, MutexGuard,
    },
    time::Duration,
};

use tokio::{sync::watch, time::Instant};

use crate::{BusError, Message, ResumeFn};

use super::{bus::Topic, partition::Shared, segment::SegmentReader};

/// Identifies consumers in the partitions' deletion floors.
static NEXT_CONSUMER_ID: AtomicU64 = AtomicU64::new(0);

/// Reads every partition of one topic. See [`EmbeddedBus::consumer`](super::EmbeddedBus::consumer).
pub struct EmbeddedConsumer {
    topic: Arc<Topic>,
    id: u64,
    changed: watch::Receiver<u64>,
    readers: Arc<Mutex<Readers>>,
    /// Partition the next read starts with, rotating so none is always served last.
    next_start: usize,
}

struct Readers {
    partitions: Vec<PartitionReader>,
    /// Read but not yet handed out.
    pending: VecDeque<Message>,
}

struct PartitionReader {
    shared: Arc<Shared>,
    next_offset: u64,
    segment: Option<SegmentReader>,
}

impl EmbeddedConsumer {
    pub(crate) fn new(topic: Arc<Topic>, resume: ResumeFn) -> Result<EmbeddedConsumer, BusError> {
        let id = NEXT_CONSUMER_ID.fetch_add(1, Ordering::Relaxed);
        let mut partitions = Vec::with_capacity(topic.partitions.len());
        for partition in &topic.partitions {
            let shared = partition.shared.clone();
            match shared.register(id, resume(shared.index)) {
                Ok(next_offset) => partitions.push(PartitionReader { shared, next_offset, segment: None }),
                Err(err) => {
                    topic.partitions.iter().for_each(|partition| partition.shared.remove_floor(id));
                    return Err(err);
                }
            }
        }
        let readers = Arc::new(Mutex::new(Readers { partitions, pending: VecDeque::new() }));
        let changed = topic.changed.subscribe();
        Ok(EmbeddedConsumer { topic, id, changed, readers, next_start: 0 })
    }

    /// Waits until a message is available in any partition (or `linger` passes: an empty
    /// batch), then returns up to `max` messages, in offset order within each partition and
    /// shared fairly between partitions. Only fsynced messages are ever returned.
    pub async fn recv_batch(&mut self, max: usize, linger: Duration) -> Result<Vec<Message>, BusError> {
        if max == 0 {
            return Ok(Vec::new());
        }
        let deadline = Instant::now().checked_add(linger);
        loop {
            // Marks the current version seen first, so an append landing after the check
            // below still wakes the wait.
            self.changed.borrow_and_update();
            if self.may_have_messages() {
                self.fill(max).await?;
                let batch = self.take(max)?;
                if !batch.is_empty() {
                    return Ok(batch);
                }
            }
            let changed = match deadline {
                Some(deadline) => match tokio::time::timeout_at(deadline, self.changed.changed()).await {
                    Ok(changed) => changed,
                    Err(_elapsed) => return Ok(Vec::new()),
                },
                None => self.changed.changed().await,
            };
            changed.map_err(|_| BusError::Unavailable(format!("topic {} was closed", self.topic.name)))?;
        }
    }

    /// Everything before `next_offset` of `partition` is durably processed: segments that every
    /// consumer of the partition is done with are deleted. Nothing else is persisted.
    pub fn commit(&self, partition: u32, next_offset: u64) -> Result<(), BusError> {
        self.topic.partition(partition)?.shared.commit(self.id, next_offset)
    }

    fn may_have_messages(&self) -> bool {
        match self.readers.try_lock() {
            Ok(readers) => {
                !readers.pending.is_empty()
                    || readers.partitions.iter().any(|reader| reader.next_offset < reader.shared.durable_end())
            }
            // A read of a cancelled call is still running (or panicked): let `fill` find out.
            Err(_) => true,
        }
    }

    /// Reads on the blocking pool until `max` messages are pending or nothing more is durable.
    async fn fill(&mut self, max: usize) -> Result<(), BusError> {
        let readers = self.readers.clone();
        let start = self.next_start;
        self.next_start = self.next_start.wrapping_add(1);
        tokio::task::spawn_blocking(move || lock(&readers)?.fill(max, start))
            .await
            .map_err(|err| BusError::Unavailable(format!("reader task failed: {err}")))?
    }

    fn take(&self, max: usize) -> Result<Vec<Message>, BusError> {
        let mut readers = lock(&self.readers)?;
        let count = max.min(readers.pending.len());
        Ok(readers.pending.drain(..count).collect())
    }
}

impl Drop for EmbeddedConsumer {
    fn drop(&mut self) {
        for partition in &self.topic.partitions {
            partition.shared.remove_floor(self.id);
        }
    }
}

fn lock(readers: &Mutex<Readers>) -> Result<MutexGuard<'_, Readers>, BusError> {
    // A panic mid-read leaves positions that may not match the buffer: stop rather than guess.
    readers.lock().map_err(|_| BusError::Unavailable("consumer state was lost to a panic".to_string()))
}

impl Readers {
    /// Round robin from partition `start`, each partition taking an equal share per pass.
    fn fill(&mut self, max: usize, start: usize) -> Result<(), BusError> {
        let count = self.partitions.len();
        loop {
            let room = max.saturating_sub(self.pending.len());
            if room == 0 || count == 0 {
                return Ok(());
            }
            let share = (room / count).max(1);
            let mut progressed = false;
            for step in 0..count {
                let room = max.saturating_sub(self.pending.len());
                if room == 0 {
                    break;
                }
                let reader = &mut self.partitions[(start + step) % count];
                progressed |= reader.read(share.min(room), &mut self.pending)? > 0;
            }
            if !progressed {
                return Ok(());
            }
        }
    }
}

impl PartitionReader {
    /// Reads up to `limit` durable messages into `out`; returns how many.
    fn read(&mut self, limit: usize, out: &mut VecDeque<Message>) -> Result<usize, BusError> {
        let (segments, durable_end) = self.shared.snapshot();
        let mut count = 0;
        while count < limit && self.next_offset < durable_end {
            let holding = segments.partition_point(|&base| base <= self.next_offset);
            let Some(&base) = holding.checked_sub(1).and_then(|index| segments.get(index)) else {
                return Err(BusError::Corrupt {
                    path: self.shared.dir.clone(),
                    reason: format!("offset {} was deleted before this consumer read it", self.next_offset),
                });
            };
            if self.segment.as_ref().map(|segment| segment.base) != Some(base) {
                self.segment = Some(SegmentReader::open(&self.shared.dir, base, self.next_offset)?);
            }
            let segment = self.segment.as_mut().expect("a segment was opened above");
            out.push_back(segment.read(self.next_offset, self.shared.index)?);
            self.next_offset += 1;
            count += 1;
        }
        Ok(count)
    }
}
