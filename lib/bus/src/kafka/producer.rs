//! The Kafka producer: idempotent, `acks=all`, compressed; `send` returns after every message
//! of the call is acknowledged. [`KafkaProducer::enqueue`] hands one message over and returns
//! its acknowledgement, so a caller can keep several in flight.

use std::{future::Future, time::Duration};

use rdkafka::{
    message::{Header, OwnedHeaders},
    producer::{FutureProducer, FutureRecord},
    util::Timeout,
};

use super::KafkaConfig;
use crate::{Appended, BusError, OutgoingMessage};

/// How long a message may wait for delivery (librdkafka retries inside this window).
const DELIVERY_TIMEOUT: Duration = Duration::from_secs(30);

#[derive(Clone)]
pub struct KafkaProducer {
    producer: FutureProducer,
}

impl KafkaProducer {
    pub fn new(config: &KafkaConfig) -> Result<KafkaProducer, BusError> {
        let defaults = [
            ("enable.idempotence", "true".to_string()),
            ("acks", "all".to_string()),
            ("compression.type", config.compression.clone()),
            ("linger.ms", "5".to_string()),
            ("message.timeout.ms", DELIVERY_TIMEOUT.as_millis().to_string()),
            // librdkafka's own 1 MB default refuses a full agent batch before compression;
            // the broker still enforces its limit on the compressed batch.
            ("message.max.bytes", (16 << 20).to_string()),
        ];
        let producer = config
            .client_config(&defaults)
            .create()
            .map_err(|error| BusError::Rejected(format!("invalid kafka producer config: {error}")))?;
        Ok(KafkaProducer { producer })
    }

    /// Sends all messages and waits for every acknowledgement. The answer is the position of
    /// the first message.
    pub async fn send(&self, topic: &str, messages: Vec<OutgoingMessage>) -> Result<Appended, BusError> {
        let mut deliveries = Vec::with_capacity(messages.len());
        for message in &messages {
            let headers: Vec<(&str, &[u8])> =
                message.headers.iter().map(|(key, value)| (key.as_str(), value.as_slice())).collect();
            deliveries.push(self.enqueue(topic, message.key.as_deref(), &headers, &message.payload)?);
        }
        let mut first = None;
        for delivery in deliveries {
            let delivered = delivery.await?;
            first.get_or_insert(delivered);
        }
        first.ok_or_else(|| BusError::Rejected("nothing to send".to_string()))
    }

    /// Queues one message (librdkafka copies it) and returns its acknowledgement. The queueing
    /// itself happens now, so messages queued one after another with the same key reach
    /// their partition in that order (the producer is idempotent). Fails at once when
    /// librdkafka's queue is full.
    pub fn enqueue(
        &self,
        topic: &str,
        key: Option<&[u8]>,
        headers: &[(&str, &[u8])],
        payload: &[u8],
    ) -> Result<impl Future<Output = Result<Appended, BusError>> + Send + 'static, BusError> {
        let mut owned_headers = OwnedHeaders::new_with_capacity(headers.len());
        for (key, value) in headers {
            owned_headers = owned_headers.insert(Header { key, value: Some(*value) });
        }
        let mut record: FutureRecord<'_, [u8], [u8]> = FutureRecord::to(topic).payload(payload).headers(owned_headers);
        if let Some(key) = key {
            record = record.key(key);
        }
        let delivery = self
            .producer
            .send_result(record)
            .map_err(|(error, _)| BusError::Unavailable(format!("failed to queue message: {error}")))?;
        let topic = topic.to_string();
        Ok(async move {
            let delivered = delivery
                .await
                .map_err(|_| BusError::Unavailable("producer dropped before delivery".to_string()))?
                .map_err(|(error, _)| {
                    metrics::counter!(crate::metrics::PRODUCE_ERRORS_TOTAL).increment(1);
                    BusError::Unavailable(format!("failed to deliver to {topic}: {error}"))
                })?;
            Ok(Appended { partition: delivered.partition as u32, offset: delivered.offset as u64 })
        })
    }

    /// Waits until queued messages are delivered or `timeout` passes.
    pub fn flush(&self, timeout: Duration) -> Result<(), BusError> {
        use rdkafka::producer::Producer;
        self.producer.flush(Timeout::After(timeout)).map_err(|error| BusError::Unavailable(error.to_string()))
    }
}
