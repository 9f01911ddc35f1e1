//! Index stage: decoded, enriched events into one [`PartitionWriter`] per bus partition, and
//! the commit policy (by time and by size).
//!
//! Runs on a blocking thread: decoding, parsing and tantivy work are CPU-bound.

use std::{
    collections::BTreeMap,
    path::{Path, PathBuf},
    time::Instant,
};

use vigil_bus::Message;
use vigil_logstore::{LogSchema, LogStoreError, PartitionWriter, WriterConfig};
use vigil_model::LogEvent;

use crate::{
    decode::{decode, PayloadKind},
    enrich::{enrich, EnrichContext},
    metrics as m, PipelineConfig,
};

/// What one batch did, for the caller's logs and tests.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct BatchStats {
    pub messages: u64,
    pub events: u64,
    pub duplicates: u64,
    pub redelivered: u64,
    pub undecodable: u64,
}

pub struct Indexer {
    root: PathBuf,
    schema: LogSchema,
    config: PipelineConfig,
    writers: BTreeMap<u32, PartitionWriter>,
    last_commit: Instant,
}

impl Indexer {
    pub fn new(root: &Path, config: PipelineConfig) -> Indexer {
        Indexer {
            root: root.to_path_buf(),
            schema: LogSchema::new(),
            config,
            writers: BTreeMap::new(),
            last_commit: Instant::now(),
        }
    }

    /// Decodes, enriches and adds every message; they become durable at the next commit.
    /// Partitions are independent, so each partition's messages are processed on its own
    /// thread: parsing is as CPU-bound as indexing.
    pub fn index_batch(&mut self, messages: Vec<Message>, now_ms: i64) -> Result<BatchStats, LogStoreError> {
        let mut by_partition: BTreeMap<u32, Vec<Message>> = BTreeMap::new();
        for message in messages {
            by_partition.entry(message.partition).or_default().push(message);
        }
        for partition in by_partition.keys() {
            self.writer(*partition)?;
        }
        let ctx = EnrichContext { now_ms, max_line_bytes: self.config.max_line_bytes };
        let mut work: Vec<(&mut PartitionWriter, Vec<Message>)> = self
            .writers
            .iter_mut()
            .filter_map(|(partition, writer)| by_partition.remove(partition).map(|messages| (writer, messages)))
            .collect();
        let results: Vec<Result<BatchStats, LogStoreError>> = match work.len() {
            0 => Vec::new(),
            1 => {
                let (writer, messages) = work.pop().expect("one item");
                vec![index_partition(writer, messages, &ctx)]
            }
            _ => std::thread::scope(|scope| {
                let ctx = &ctx;
                let handles: Vec<_> = work
                    .into_iter()
                    .map(|(writer, messages)| scope.spawn(move || index_partition(writer, messages, ctx)))
                    .collect();
                handles.into_iter().map(|handle| handle.join().expect("indexing a partition does not panic")).collect()
            }),
        };
        let mut stats = BatchStats::default();
        for result in results {
            let partial = result?;
            stats.messages += partial.messages;
            stats.events += partial.events;
            stats.duplicates += partial.duplicates;
            stats.redelivered += partial.redelivered;
            stats.undecodable += partial.undecodable;
        }
        metrics::counter!(m::MESSAGES_TOTAL).increment(stats.messages);
        metrics::counter!(m::DUPLICATES_DROPPED_TOTAL).increment(stats.duplicates);
        metrics::counter!(m::REDELIVERED_SKIPPED_TOTAL).increment(stats.redelivered);
        Ok(stats)
    }

    /// True when the oldest uncommitted event has waited `commit_interval`, or enough wait.
    /// While the pipeline is `catching_up` (the bus handed it a full batch, so more is
    /// waiting), `catch_up_commit_interval` applies instead: every commit writes new small
    /// segments that must be merged later, and lines are already late.
    pub fn should_commit(&self, catching_up: bool) -> bool {
        let pending: u64 = self.writers.values().map(PartitionWriter::pending_docs).sum();
        let interval = if catching_up { self.config.catch_up_commit_interval } else { self.config.commit_interval };
        pending >= self.config.commit_max_events || self.last_commit.elapsed() >= interval
    }

    /// Commits every partition with changes; returns `(partition, next_offset)` of each, for
    /// the bus commit that may follow.
    pub fn commit(&mut self) -> Result<Vec<(u32, u64)>, LogStoreError> {
        let started = Instant::now();
        // A commit waits for tantivy to write out its segments: partitions do it in parallel.
        let results: Vec<Result<Option<(u32, u64)>, LogStoreError>> = std::thread::scope(|scope| {
            let handles: Vec<_> = self
                .writers
                .iter_mut()
                .map(|(partition, writer)| {
                    scope.spawn(move || Ok(writer.commit()?.then(|| (*partition, writer.position()))))
                })
                .collect();
            handles.into_iter().map(|handle| handle.join().expect("committing a partition does not panic")).collect()
        });
        let mut committed = Vec::new();
        for result in results {
            committed.extend(result?);
        }
        self.last_commit = Instant::now();
        if !committed.is_empty() {
            metrics::counter!(m::COMMITS_TOTAL).increment(committed.len() as u64);
            metrics::histogram!(m::COMMIT_SECONDS).record(started.elapsed().as_secs_f64());
        }
        Ok(committed)
    }

    /// Commits and waits for merges; the index is clean for the next start.
    pub fn close(self) -> Result<(), LogStoreError> {
        for (_, writer) in self.writers {
            writer.close()?;
        }
        Ok(())
    }

    fn writer(&mut self, partition: u32) -> Result<&mut PartitionWriter, LogStoreError> {
        if !self.writers.contains_key(&partition) {
            let writer_config = WriterConfig {
                bucket_ms: self.config.split_bucket.as_millis() as i64,
                heap_bytes: self.config.indexing_heap_bytes,
                threads: 1,
            };
            let writer = PartitionWriter::open(&self.root, partition, self.schema.clone(), writer_config)?;
            self.writers.insert(partition, writer);
        }
        Ok(self.writers.get_mut(&partition).expect("inserted above"))
    }
}

/// Decodes, enriches and adds the messages of one partition, in offset order.
fn index_partition(
    writer: &mut PartitionWriter,
    messages: Vec<Message>,
    ctx: &EnrichContext,
) -> Result<BatchStats, LogStoreError> {
    let mut stats = BatchStats::default();
    let mut events = Vec::new();
    for message in messages {
        stats.messages += 1;
        if message.offset < writer.position() {
            stats.redelivered += 1;
            continue;
        }
        let decoded = decode(&message);
        if let Some(error) = &decoded.error {
            stats.undecodable += 1;
            tracing::warn!(partition = message.partition, offset = message.offset, %error, "kept an undecodable message as a flagged event");
        }
        events.clear();
        for record in decoded.records {
            if decoded.kind == PayloadKind::Lines {
                let end = record.offset + record.line.len() as u64;
                if !writer.admit(&record.stream, record.offset, end, ctx.now_ms) {
                    stats.duplicates += 1;
                    continue;
                }
            }
            enrich(record, decoded.kind, ctx, &mut events);
        }
        writer.add(&events, message.offset + 1, ctx.now_ms)?;
        stats.events += events.len() as u64;
        record_event_metrics(&events);
    }
    Ok(stats)
}

fn record_event_metrics(events: &[LogEvent]) {
    let bytes: usize = events.iter().map(|event| event.message.len()).sum();
    metrics::counter!(m::EVENTS_INDEXED_TOTAL).increment(events.len() as u64);
    metrics::counter!(m::BYTES_INDEXED_TOTAL).increment(bytes as u64);
    for event in events {
        for flag in &event.flags {
            metrics::counter!(m::EVENTS_FLAGGED_TOTAL, "flag" => flag.as_str()).increment(1);
        }
    }
}
