//! The ceiling the agent is measured against: a bare producer, run by the bench as its own
//! process (`vigil bench agent-baseline`, hidden) pinned like the agent. It reads the file
//! line by line, cuts the batches the agent cuts (`max_lines`, or `max_bytes` of encoded
//! records), encodes the same `LogRecord` fields with the agent's own batch writer
//! (`vigil_model::log_batch_writer`) and produces one message per batch, keyed by
//! a stream name of the agent's shape, through the producer the agent uses
//! (`vigil_bus::kafka::KafkaProducer`: idempotent, `acks=all`, same compression and
//! librdkafka properties). Nothing else: no checkpoints, ledger, spool, metrics or polling.
//!
//! Once every batch is acknowledged it prints one JSON line (bytes, lines, messages) and waits
//! for stdin to close; the bench reads its CPU time in between. It also exits when stdin
//! closes early (the bench died), so it is never left behind.

use std::{
    collections::BTreeMap,
    fs::File,
    io::{BufRead, BufReader, Read},
    os::unix::fs::MetadataExt,
    path::PathBuf,
};

use anyhow::Context;
use futures::{stream::FuturesUnordered, StreamExt};
use tokio::sync::mpsc;
use vigil_bus::{
    kafka::{KafkaConfig, KafkaProducer},
    OutgoingMessage,
};
use vigil_model::{
    content_type,
    log_batch_writer::{append_record, batch_header, record_size, RecordFields, SharedFields},
};

#[derive(Debug, Clone, clap::Args)]
pub struct BaselineArgs {
    /// The file to ship.
    #[arg(long)]
    pub file: PathBuf,
    /// Bootstrap brokers, `host:port`.
    #[arg(long)]
    pub brokers: String,
    #[arg(long)]
    pub topic: String,
    /// Service and host stamped on every record.
    #[arg(long)]
    pub service: String,
    #[arg(long)]
    pub host: String,
    /// Most lines in one message.
    #[arg(long)]
    pub max_lines: usize,
    /// Most encoded record bytes in one message.
    #[arg(long)]
    pub max_bytes: usize,
    /// Producer compression.
    #[arg(long)]
    pub compression: String,
    /// Messages waiting for their acknowledgement at once (the agent has one per file).
    #[arg(long, default_value_t = 1)]
    pub in_flight: usize,
    /// Extra librdkafka property, `KEY=VALUE` (repeatable), as the agent's `kafka.properties`.
    #[arg(long = "producer-property", value_name = "KEY=VALUE", value_parser = super::parse_property)]
    pub producer_properties: Vec<(String, String)>,
}

/// One encoded batch.
struct Encoded {
    lines: u64,
    file_bytes: u64,
    message: OutgoingMessage,
}

#[derive(Debug, Default, serde::Serialize)]
struct Totals {
    bytes: u64,
    lines: u64,
    messages: u64,
}

pub async fn run(args: BaselineArgs) -> anyhow::Result<()> {
    std::thread::spawn(|| {
        let _ = std::io::stdin().read_to_end(&mut Vec::new());
        std::process::exit(0);
    });
    let metadata = std::fs::metadata(&args.file).with_context(|| format!("failed to open {}", args.file.display()))?;
    // The agent's stream name: device, inode and a generation (milliseconds since the epoch).
    let stream = format!("{}:{}:{}", metadata.dev(), metadata.ino(), now_ms());
    let mut config = KafkaConfig::new(args.brokers.clone());
    config.compression = args.compression.clone();
    config.properties = args.producer_properties.iter().cloned().collect();
    // The agent's producer default (collector/src/ship/kafka.rs): same settings on both sides.
    config.properties.entry("linger.ms".to_string()).or_insert_with(|| "0".to_string());
    let producer = KafkaProducer::new(&config).context("failed to create the producer")?;
    // As the agent: the next batch is encoded while one is in flight.
    let (tx, mut rx) = mpsc::channel(1);
    let reader = {
        let args = args.clone();
        std::thread::spawn(move || read_batches(&args, &stream, &tx))
    };
    let in_flight = args.in_flight.max(1);
    let mut pending = FuturesUnordered::new();
    let mut totals = Totals::default();
    let add = |totals: &mut Totals, done: anyhow::Result<(u64, u64)>| -> anyhow::Result<()> {
        let (lines, bytes) = done?;
        totals.lines += lines;
        totals.bytes += bytes;
        totals.messages += 1;
        Ok(())
    };
    loop {
        if pending.len() >= in_flight {
            let done = pending.next().await.expect("pending is not empty");
            add(&mut totals, done)?;
            continue;
        }
        tokio::select! {
            Some(done) = pending.next(), if !pending.is_empty() => add(&mut totals, done)?,
            batch = rx.recv() => match batch {
                Some(Encoded { lines, file_bytes, message }) => {
                    let (producer, topic) = (producer.clone(), args.topic.clone());
                    pending.push(async move {
                        producer.send(&topic, vec![message]).await.context("failed to deliver a batch")?;
                        Ok((lines, file_bytes))
                    });
                }
                None => break,
            },
        }
    }
    while let Some(done) = pending.next().await {
        add(&mut totals, done)?;
    }
    reader.join().map_err(|_| anyhow::anyhow!("the baseline reader panicked"))??;
    println!("{}", serde_json::to_string(&totals)?);
    // The stdin thread ends the process once the bench has read the CPU time.
    std::future::pending::<()>().await;
    Ok(())
}

/// Reads the file, cuts and encodes batches the way the agent's `BatchBuilder` does.
fn read_batches(args: &BaselineArgs, stream: &str, tx: &mpsc::Sender<Encoded>) -> anyhow::Result<()> {
    let source = args.file.to_string_lossy().into_owned();
    let shared = SharedFields::new(&args.service, &args.host, &source, &BTreeMap::new(), stream);
    let mut reader = BufReader::with_capacity(1 << 20, File::open(&args.file)?);
    let mut batch = Batch::default();
    let mut line = Vec::new();
    let mut offset = 0u64;
    let send = |batch: &mut Batch| -> anyhow::Result<()> {
        let encoded = batch.take(stream);
        tx.blocking_send(encoded).map_err(|_| anyhow::anyhow!("the sender stopped"))
    };
    loop {
        line.clear();
        let read = reader.read_until(b'\n', &mut line)? as u64;
        if read == 0 {
            break;
        }
        if line.last() == Some(&b'\n') {
            line.pop();
            if line.last() == Some(&b'\r') {
                line.pop();
            }
        }
        let fields = RecordFields { line: &line, offset, read_time_ms: now_ms(), truncated: false, split: false };
        offset += read;
        let size = record_size(&shared, &fields);
        if batch.lines > 0 && batch.payload.len() + size > args.max_bytes {
            send(&mut batch)?;
        }
        if batch.payload.is_empty() {
            batch_header(&mut batch.payload);
        }
        append_record(&shared, &fields, &mut batch.payload);
        batch.lines += 1;
        batch.file_bytes += read;
        if batch.lines >= args.max_lines as u64 || batch.payload.len() >= args.max_bytes {
            send(&mut batch)?;
        }
    }
    if batch.lines > 0 {
        send(&mut batch)?;
    }
    Ok(())
}

#[derive(Default)]
struct Batch {
    payload: Vec<u8>,
    lines: u64,
    file_bytes: u64,
}

impl Batch {
    fn take(&mut self, stream: &str) -> Encoded {
        Encoded {
            lines: std::mem::take(&mut self.lines),
            file_bytes: std::mem::take(&mut self.file_bytes),
            message: OutgoingMessage {
                key: Some(stream.as_bytes().to_vec()),
                headers: vec![(content_type::HEADER.to_string(), content_type::LOG_BATCH_V1.as_bytes().to_vec())],
                payload: std::mem::take(&mut self.payload),
            },
        }
    }
}

fn now_ms() -> i64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_millis() as i64)
}
