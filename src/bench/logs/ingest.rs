//! Ingest throughput: the real pipeline from a pre-filled embedded bus to a durable commit,
//! and a bare tantivy harness indexing the same documents with the same schema.

use std::{path::Path, time::Instant};

use anyhow::Context;
use prost::Message as _;
use tantivy::Index;
use vigil_bus::{
    embedded::{EmbeddedBus, EmbeddedConfig},
    OutgoingMessage, Producer,
};
use vigil_logstore::{index_settings, LogSchema};
use vigil_model::{content_type, LogBatch, LogRecord, LOG_BATCH_SCHEMA_VERSION};
use vigil_pipeline::{
    decode::PayloadKind,
    enrich::{enrich, EnrichContext},
    indexer::Indexer,
    PipelineConfig,
};

use super::corpus::Corpus;

const TOPIC: &str = "bench.logs";
const LINES_PER_MESSAGE: usize = 1_000;
const PARTITIONS: u32 = 2;
/// Bus messages per batch (1,000 lines each), as the pipeline takes them.
const BATCH_MESSAGES: usize = 64;

pub struct Throughput {
    pub mb_per_s: f64,
    pub lines_per_s: f64,
    /// CPU time of the process over wall time while measuring.
    pub cpu_cores: f64,
}

impl Throughput {
    fn of(corpus: &Corpus, elapsed_s: f64, cpu_s: f64) -> Throughput {
        Throughput {
            mb_per_s: corpus.bytes as f64 / 1e6 / elapsed_s,
            lines_per_s: corpus.lines.len() as f64 / elapsed_s,
            cpu_cores: cpu_s / elapsed_s,
        }
    }
}

fn records(corpus: &Corpus) -> impl Iterator<Item = LogRecord> + '_ {
    corpus.lines.iter().enumerate().map(|(i, (service, source, line))| LogRecord {
        line: line.clone(),
        service: service.clone(),
        host: format!("host-{}", i % 50),
        source: source.clone(),
        offset: i as u64 * 512,
        read_time_ms: 1_700_000_000_000,
        ..Default::default()
    })
}

/// Fills the bus (not timed), then times consume -> decode -> parse -> index -> commit.
pub async fn end_to_end(corpus: &Corpus, dir: &Path) -> anyhow::Result<Throughput> {
    let config = EmbeddedConfig { partitions: PARTITIONS, ..EmbeddedConfig::default() };
    let bus = EmbeddedBus::open(&dir.join("bus"), config)?;
    let producer = Producer::Embedded(bus.clone());
    let all: Vec<LogRecord> = records(corpus).collect();
    let mut messages = 0u64;
    for (index, chunk) in all.chunks(LINES_PER_MESSAGE).enumerate() {
        let batch = LogBatch { schema_version: LOG_BATCH_SCHEMA_VERSION, records: chunk.to_vec() };
        let message = OutgoingMessage {
            key: Some(index.to_le_bytes().to_vec()),
            headers: vec![(content_type::HEADER.into(), content_type::LOG_BATCH_V1.as_bytes().to_vec())],
            payload: batch.encode_to_vec(),
        };
        producer.send(TOPIC, vec![message]).await?;
        messages += 1;
    }
    drop(all);
    let logs_dir = dir.join("logs");
    let mut consumer = bus.consumer(TOPIC, vigil_pipeline::resume_fn(&logs_dir))?;
    let handle = tokio::runtime::Handle::current();
    let pipeline_config = PipelineConfig::default();
    let (cpu_start, started) = (cpu_seconds(), Instant::now());
    let elapsed = tokio::task::spawn_blocking(move || -> anyhow::Result<f64> {
        let mut indexer = Indexer::new(&logs_dir, pipeline_config);
        let mut seen = 0u64;
        while seen < messages {
            let batch = handle.block_on(consumer.recv_batch(BATCH_MESSAGES, std::time::Duration::from_millis(100)))?;
            let catching_up = batch.len() >= BATCH_MESSAGES;
            seen += batch.len() as u64;
            indexer.index_batch(batch, now_ms())?;
            if indexer.should_commit(catching_up) {
                indexer.commit()?;
            }
        }
        indexer.commit()?;
        let elapsed = started.elapsed().as_secs_f64();
        indexer.close()?;
        Ok(elapsed)
    })
    .await
    .context("bench pipeline thread panicked")??;
    Ok(Throughput::of(corpus, elapsed, cpu_seconds() - cpu_start))
}

/// The same documents (parsed beforehand, not timed) into one tantivy index with the same
/// schema, settings, memory and threads as the pipeline uses in total.
pub async fn bare_tantivy(corpus: &Corpus, dir: &Path) -> anyhow::Result<Throughput> {
    let schema = LogSchema::new();
    let ctx = EnrichContext { now_ms: now_ms(), max_line_bytes: PipelineConfig::default().max_line_bytes };
    let mut events = Vec::with_capacity(corpus.lines.len());
    for record in records(corpus) {
        enrich(record, PayloadKind::Lines, &ctx, &mut events);
    }
    let documents: Vec<_> = events.iter().map(|event| schema.to_document(event)).collect();
    drop(events);
    std::fs::create_dir_all(dir)?;
    let index = Index::builder().schema(schema.schema.clone()).settings(index_settings()).create_in_dir(dir)?;
    let heap = PipelineConfig::default().indexing_heap_bytes * PARTITIONS as usize;
    let (cpu_start, started) = (cpu_seconds(), Instant::now());
    let elapsed = tokio::task::spawn_blocking(move || -> anyhow::Result<f64> {
        let mut writer = index.writer_with_num_threads(PARTITIONS as usize, heap)?;
        for document in documents {
            writer.add_document(document)?;
        }
        writer.commit()?;
        let elapsed = started.elapsed().as_secs_f64();
        writer.wait_merging_threads()?;
        Ok(elapsed)
    })
    .await
    .context("bench tantivy thread panicked")??;
    Ok(Throughput::of(corpus, elapsed, cpu_seconds() - cpu_start))
}

pub fn dir_bytes(dir: &Path) -> anyhow::Result<u64> {
    let mut total = 0;
    for entry in std::fs::read_dir(dir).with_context(|| format!("failed to read {}", dir.display()))? {
        let entry = entry?;
        let meta = entry.metadata()?;
        total += if meta.is_dir() { dir_bytes(&entry.path())? } else { meta.len() };
    }
    Ok(total)
}

fn now_ms() -> i64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_millis() as i64).unwrap_or(0)
}

/// User + system CPU seconds of this process, from /proc/self/stat.
fn cpu_seconds() -> f64 {
    let Ok(stat) = std::fs::read_to_string("/proc/self/stat") else { return 0.0 };
    let after_name = stat.rsplit(')').next().unwrap_or("");
    let fields: Vec<&str> = after_name.split_whitespace().collect();
    let ticks = |i: usize| fields.get(i).and_then(|v| v.parse::<f64>().ok()).unwrap_or(0.0);
    // Fields 14 and 15 of stat (utime, stime) are at 11 and 12 after the name.
    (ticks(11) + ticks(12)) / 100.0
}
