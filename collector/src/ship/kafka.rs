//! Shipping to Kafka: one message per batch, keyed by the stream so a file stays in one
//! partition, with the `content-type` header naming the encoding. The producer is idempotent
//! with `acks=all`; an attempt resolves once the broker acknowledged.
//!
//! Several batches of a file may be in flight at once ([`KafkaShipper::in_flight`]): they are
//! queued in order, and the idempotent producer delivers a partition's messages in the order
//! they were queued, retrying inside librdkafka. That holds only while no message gives up
//! (`message.timeout.ms`): one that timed out in flight lets the ones behind it through, and
//! sent again it would arrive after them, where the indexer takes its lines for resends. So
//! log batches never time out in librdkafka; a batch that waits too long goes to the spool
//! (`spool.after`) while its copy stays queued, and arrives twice at worst, never out of order.

use vigil_bus::{kafka::KafkaConfig, kafka::KafkaProducer, BusError, Producer};
use vigil_model::content_type;

use super::{ShipError, Started};
use crate::{batch::Batch, config::KafkaOutput};

/// librdkafka's `message.timeout.ms` for log batches: 0 is never (see the module docs).
const NEVER: &str = "0";
/// Most KiB librdkafka holds for log batches (its default is 1 GiB). Past it a batch waits
/// and is tried again, so an outage with many busy files does not swell the agent.
const QUEUE_KIB: &str = "65536";

pub struct KafkaShipper {
    producer: KafkaProducer,
    topic: String,
    in_flight: usize,
}

/// The producer of a Kafka output, for metric samples (log batches use [`KafkaShipper`]).
pub fn producer(output: &KafkaOutput) -> anyhow::Result<Producer> {
    Ok(Producer::Kafka(kafka_producer(output, &[])?))
}

fn kafka_producer(output: &KafkaOutput, defaults: &[(&str, &str)]) -> anyhow::Result<KafkaProducer> {
    let mut config = KafkaConfig::new(output.brokers.clone());
    config.compression = output.compression.clone();
    config.properties = output.properties.clone();
    // An agent batch is already whole when it is sent: waiting for more (librdkafka's
    // linger) only adds its delay to every batch. Measured with `vigil bench agent`:
    // 35 MiB/s with linger.ms=5, 137 MiB/s with 0.
    let defaults = [("linger.ms", "0")].iter().chain(defaults);
    for (key, value) in defaults {
        config.properties.entry(key.to_string()).or_insert_with(|| value.to_string());
    }
    KafkaProducer::new(&config)
        .map_err(|error| anyhow::anyhow!("agent.output.kafka: failed to create the producer: {error}"))
}

impl KafkaShipper {
    pub fn new(output: &KafkaOutput) -> anyhow::Result<KafkaShipper> {
        // A timeout set by hand gives up the ordering guarantee that several batches in
        // flight rely on (see the module docs): then one at a time.
        let producer =
            kafka_producer(output, &[("message.timeout.ms", NEVER), ("queue.buffering.max.kbytes", QUEUE_KIB)])?;
        let never_times_out = output.properties.get("message.timeout.ms").is_none_or(|value| value.trim() == NEVER);
        let in_flight = if never_times_out { output.in_flight } else { 1 };
        Ok(KafkaShipper { producer, topic: output.topic.clone(), in_flight })
    }

    /// Batches of one file that may wait for acknowledgement at once.
    pub fn in_flight(&self) -> usize {
        self.in_flight
    }

    /// Queues `batch` now (so batches started in turn arrive in turn) and returns its
    /// acknowledgement; `queued` is false when librdkafka's queue had no room (the attempt
    /// then fails at once, and nothing started after it may be queued before it is retried).
    pub fn start(&self, batch: &Batch) -> Started {
        let headers = [(content_type::HEADER, content_type::LOG_BATCH_V1.as_bytes())];
        match self.producer.enqueue(&self.topic, Some(batch.stream.as_bytes()), &headers, &batch.payload) {
            Ok(acknowledged) => {
                let topic = self.topic.clone();
                let attempt = Box::pin(async move {
                    let appended = acknowledged.await.map_err(ship_error)?;
                    tracing::debug!(%topic, partition = appended.partition, offset = appended.offset, "batch acknowledged");
                    Ok(())
                });
                Started { attempt, queued: true }
            }
            Err(error) => Started { attempt: Box::pin(std::future::ready(Err(ship_error(error)))), queued: false },
        }
    }
}

fn ship_error(error: BusError) -> ShipError {
    match error {
        BusError::Rejected(reason) => ShipError::Rejected(format!("kafka refused the batch: {reason}")),
        error => ShipError::Retryable(error.to_string()),
    }
}
