//! The transport between agents and the pipeline: Apache Kafka through rdkafka, or the
//! embedded durable log ([`embedded`]) when Vigil runs as one process.
//!
//! Both sides see the same shapes: a [`Producer`] appends [`OutgoingMessage`]s and returns only
//! once they are durable (Kafka: acknowledged by all in-sync replicas; embedded: fsynced), and a
//! [`Consumer`] yields [`Message`]s per partition starting at offsets the caller chooses, because
//! the pipeline keeps its own offsets in its index commits (exactly-once indexing).

pub mod embedded;
mod error;
#[cfg(feature = "kafka")]
pub mod kafka;
mod metrics;

use std::{sync::Arc, time::Duration};

pub use error::BusError;

/// The topic log batches travel on.
pub const LOGS_TOPIC: &str = "vigil.logs.v1";
/// The topic metric samples travel on (`MetricBatch`, protobuf).
pub const METRICS_TOPIC: &str = "vigil.metrics.v1";

/// A message to append.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct OutgoingMessage {
    /// Chooses the partition (same key, same partition, so one file's lines stay in order).
    pub key: Option<Vec<u8>>,
    pub headers: Vec<(String, Vec<u8>)>,
    pub payload: Vec<u8>,
}

/// A message read from a partition.
#[derive(Debug, Clone, PartialEq)]
pub struct Message {
    pub partition: u32,
    pub offset: u64,
    /// When the message was appended, ms since the epoch.
    pub timestamp_ms: i64,
    pub key: Option<Vec<u8>>,
    pub headers: Vec<(String, Vec<u8>)>,
    pub payload: Vec<u8>,
}

impl Message {
    /// The value of the first header named `name` (case-insensitive), if it is UTF-8.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(key, _)| key.eq_ignore_ascii_case(name))
            .and_then(|(_, value)| std::str::from_utf8(value).ok())
    }
}

/// Where a consumer resumes a partition: the pipeline answers from its index commits.
/// `None` means "no stored position": Kafka then uses the group's committed offset, or the
/// earliest offset; the embedded bus starts at the beginning.
pub type ResumeFn = Arc<dyn Fn(u32) -> Option<u64> + Send + Sync>;

/// Where an append landed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Appended {
    pub partition: u32,
    /// Offset of the first message appended.
    pub offset: u64,
}

/// Appends messages to a topic; every call returns only once the messages are durable.
#[derive(Clone)]
pub enum Producer {
    Embedded(embedded::EmbeddedBus),
    #[cfg(feature = "kafka")]
    Kafka(kafka::KafkaProducer),
}

impl Producer {
    /// Appends `messages` (all with the key of the first one, so they share a partition) and
    /// waits until they are durable.
    pub async fn send(&self, topic: &str, messages: Vec<OutgoingMessage>) -> Result<Appended, BusError> {
        match self {
            Producer::Embedded(bus) => {
                let key = messages.first().and_then(|m| m.key.as_deref());
                let partition = bus.partition_for(topic, key)?;
                let offset = bus.append(topic, partition, messages).await?;
                Ok(Appended { partition, offset })
            }
            #[cfg(feature = "kafka")]
            Producer::Kafka(producer) => producer.send(topic, messages).await,
        }
    }
}

/// Reads a topic's partitions from the offsets a [`ResumeFn`] gives.
pub enum Consumer {
    Embedded(embedded::EmbeddedConsumer),
    #[cfg(feature = "kafka")]
    Kafka(kafka::KafkaConsumer),
}

impl Consumer {
    /// Waits for at least one message (or `linger` to pass), then returns up to `max` messages,
    /// in offset order within each partition. An empty answer means nothing arrived in time.
    pub async fn recv_batch(&mut self, max: usize, linger: Duration) -> Result<Vec<Message>, BusError> {
        match self {
            Consumer::Embedded(consumer) => consumer.recv_batch(max, linger).await,
            #[cfg(feature = "kafka")]
            Consumer::Kafka(consumer) => consumer.recv_batch(max, linger).await,
        }
    }

    /// Tells the bus everything before `next_offset` of `partition` is durably processed:
    /// Kafka commits it for the group, the embedded bus may delete segments before it.
    pub fn commit(&self, partition: u32, next_offset: u64) -> Result<(), BusError> {
        match self {
            Consumer::Embedded(consumer) => consumer.commit(partition, next_offset),
            #[cfg(feature = "kafka")]
            Consumer::Kafka(consumer) => consumer.commit(partition, next_offset),
        }
    }
}
