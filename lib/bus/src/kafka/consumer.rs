//! The Kafka consumer: a group member that seeks every newly assigned partition to the offset
//! the pipeline's index commits hold (exactly-once indexing), falling back to the group's
//! committed offset, then the earliest.

use std::time::Duration;

use futures_util::FutureExt;
use rdkafka::{
    consumer::{BaseConsumer, CommitMode, Consumer as _, ConsumerContext, StreamConsumer},
    message::{Headers, Message as _},
    types::RDKafkaRespErr,
    ClientContext, Offset, TopicPartitionList,
};

use super::KafkaConfig;
use crate::{BusError, Message, ResumeFn};

/// Applies stored offsets at assignment time.
struct ResumeContext {
    resume: ResumeFn,
}

impl ClientContext for ResumeContext {}

impl ConsumerContext for ResumeContext {
    fn rebalance(&self, consumer: &BaseConsumer<Self>, err: RDKafkaRespErr, partitions: &mut TopicPartitionList) {
        match err {
            RDKafkaRespErr::RD_KAFKA_RESP_ERR__ASSIGN_PARTITIONS => {
                let mut assignment = TopicPartitionList::new();
                for element in partitions.elements() {
                    let offset = match (self.resume)(element.partition() as u32) {
                        Some(next) => Offset::Offset(next as i64),
                        None => Offset::Stored,
                    };
                    if let Err(error) = assignment.add_partition_offset(element.topic(), element.partition(), offset) {
                        tracing::error!(%error, "failed to build the partition assignment");
                    }
                }
                tracing::info!(partitions = assignment.count(), "partitions assigned");
                if let Err(error) = consumer.assign(&assignment) {
                    tracing::error!(%error, "failed to assign partitions");
                }
            }
            RDKafkaRespErr::RD_KAFKA_RESP_ERR__REVOKE_PARTITIONS => {
                tracing::info!(partitions = partitions.count(), "partitions revoked");
                if let Err(error) = consumer.unassign() {
                    tracing::error!(%error, "failed to unassign partitions");
                }
            }
            other => tracing::error!(error = ?other, "rebalance failed"),
        }
    }
}

pub struct KafkaConsumer {
    consumer: StreamConsumer<ResumeContext>,
    topic: String,
}

impl KafkaConsumer {
    pub fn new(config: &KafkaConfig, topic: &str, resume: ResumeFn) -> Result<KafkaConsumer, BusError> {
        // A short session timeout: a crashed pipeline node's partitions move within seconds.
        let defaults = [
            ("group.id", config.group_id.clone()),
            ("enable.auto.commit", "false".to_string()),
            ("auto.offset.reset", "earliest".to_string()),
            ("partition.assignment.strategy", "range".to_string()),
            ("session.timeout.ms", "10000".to_string()),
            ("heartbeat.interval.ms", "2000".to_string()),
        ];
        let mut client = config.client_config(&defaults);
        if let Some(instance_id) = &config.instance_id {
            client.set("group.instance.id", instance_id);
        }
        let consumer: StreamConsumer<ResumeContext> = client
            .create_with_context(ResumeContext { resume })
            .map_err(|error| BusError::Rejected(format!("invalid kafka consumer config: {error}")))?;
        consumer
            .subscribe(&[topic])
            .map_err(|error| BusError::Unavailable(format!("failed to subscribe to {topic}: {error}")))?;
        Ok(KafkaConsumer { consumer, topic: topic.to_string() })
    }

    pub async fn recv_batch(&mut self, max: usize, linger: Duration) -> Result<Vec<Message>, BusError> {
        let mut batch = Vec::new();
        let first = match tokio::time::timeout(linger, self.consumer.recv()).await {
            Err(_) => return Ok(batch),
            Ok(result) => result.map_err(|error| BusError::Unavailable(format!("failed to consume: {error}")))?,
        };
        batch.push(detach(&first));
        drop(first);
        while batch.len() < max {
            match self.consumer.recv().now_or_never() {
                Some(Ok(message)) => batch.push(detach(&message)),
                Some(Err(error)) => return Err(BusError::Unavailable(format!("failed to consume: {error}"))),
                None => break,
            }
        }
        Ok(batch)
    }

    pub fn commit(&self, partition: u32, next_offset: u64) -> Result<(), BusError> {
        let mut offsets = TopicPartitionList::new();
        offsets
            .add_partition_offset(&self.topic, partition as i32, Offset::Offset(next_offset as i64))
            .map_err(|error| BusError::Rejected(error.to_string()))?;
        self.consumer
            .commit(&offsets, CommitMode::Async)
            .map_err(|error| BusError::Unavailable(format!("failed to commit offsets: {error}")))
    }
}

fn detach(message: &rdkafka::message::BorrowedMessage<'_>) -> Message {
    let headers = message
        .headers()
        .map(|headers| {
            headers.iter().map(|header| (header.key.to_string(), header.value.unwrap_or_default().to_vec())).collect()
        })
        .unwrap_or_default();
    Message {
        partition: message.partition() as u32,
        offset: message.offset() as u64,
        timestamp_ms: message.timestamp().to_millis().unwrap_or(0),
        key: message.key().map(<[u8]>::to_vec),
        headers,
        payload: message.payload().unwrap_or_default().to_vec(),
    }
}
