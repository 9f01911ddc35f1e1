//! Reading the topic back: every message decoded as a `LogBatch`, its records counted, to
//! check that what the shipper counted as acknowledged is on the broker.

use std::{
    sync::Arc,
    time::{Duration, Instant},
};

use anyhow::Context;
use prost::Message as _;
use vigil_bus::kafka::{KafkaConfig, KafkaConsumer};
use vigil_model::LogBatch;

/// Reading stops once nothing arrived for this long.
const IDLE: Duration = Duration::from_secs(10);

#[derive(Debug, Clone, Copy, Default)]
pub struct Counted {
    pub messages: u64,
    pub lines: u64,
    /// Line bytes plus one newline each.
    pub bytes: u64,
}

/// Reads `topic` from the start until `expected_lines` were seen (or nothing more comes).
pub async fn read_back(brokers: &str, topic: &str, expected_lines: u64) -> anyhow::Result<Counted> {
    let mut config = KafkaConfig::new(brokers);
    config.group_id = format!("vigil-bench-verify-{}", std::process::id());
    let mut consumer =
        KafkaConsumer::new(&config, topic, Arc::new(|_| Some(0))).context("failed to create the consumer")?;
    let mut counted = Counted::default();
    let mut last_message = Instant::now();
    while counted.lines < expected_lines && last_message.elapsed() < IDLE {
        let messages = consumer.recv_batch(256, Duration::from_millis(500)).await?;
        if !messages.is_empty() {
            last_message = Instant::now();
        }
        for message in messages {
            let batch = LogBatch::decode(message.payload.as_slice()).context("a message is not a LogBatch")?;
            counted.messages += 1;
            counted.lines += batch.records.len() as u64;
            counted.bytes += batch.records.iter().map(|r| r.line.len() as u64 + 1).sum::<u64>();
        }
    }
    Ok(counted)
}
