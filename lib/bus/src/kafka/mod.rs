//! Apache Kafka through rdkafka (the bundled librdkafka: Debian's 2.0.2 fails the ApiVersion
//! handshake with some brokers). The producer is idempotent with `acks=all`; the consumer joins
//! a group but starts each assigned partition where the pipeline's index says, not where the
//! group's committed offset says.

mod config;
mod consumer;
mod producer;

pub use config::KafkaConfig;
pub use consumer::KafkaConsumer;
pub use producer::KafkaProducer;
