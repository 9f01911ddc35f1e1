//! Shipping batches: over HTTP to a Vigil server ([`http`]) or to Kafka ([`kafka`]), and
//! the retry loop that sends one batch until it is acknowledged ([`retry`]).
//!
//! Invariant: a batch is never dropped. A failure is retried with backoff; a refusal (a 4xx
//! other than 429) is logged as an error and retried after a longer delay.

pub mod http;
pub mod kafka;
pub mod metrics;
pub mod retry;

use crate::{batch::Batch, config::OutputConfig};

/// Why a send failed; the variant decides the retry delay.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ShipError {
    /// The destination could not take the batch now (unreachable, 5xx, 429, timeout).
    #[error("{0}")]
    Retryable(String),
    /// The destination refused the batch; sending it again as is will likely fail again.
    #[error("{0}")]
    Rejected(String),
}

/// Where batches go.
pub enum Shipper {
    Http(http::HttpShipper),
    Kafka(kafka::KafkaShipper),
}

impl Shipper {
    /// Builds the shipper of a validated output config.
    pub fn from_config(output: &OutputConfig) -> anyhow::Result<Shipper> {
        match (&output.http, &output.kafka) {
            (Some(http), _) => Ok(Shipper::Http(http::HttpShipper::new(http)?)),
            (None, Some(kafka)) => Ok(Shipper::Kafka(kafka::KafkaShipper::new(kafka)?)),
            (None, None) => anyhow::bail!("agent.output: set either http or kafka"),
        }
    }

    /// Sends one batch; `Ok` means the destination acknowledged it durably.
    pub async fn send(&self, batch: &Batch) -> Result<(), ShipError> {
        match self {
            Shipper::Http(shipper) => shipper.send(batch).await,
            Shipper::Kafka(shipper) => shipper.send(batch).await,
        }
    }

    /// `http` or `kafka`, for logs and metric labels.
    pub fn kind(&self) -> &'static str {
        match self {
            Shipper::Http(_) => "http",
            Shipper::Kafka(_) => "kafka",
        }
    }
}
