//! Shipping batches: over HTTP to a Vigil server ([`http`]) or to Kafka ([`kafka`]), and
//! the retry loop that sends one batch until it is acknowledged ([`retry`]).
//!
//! Invariant: a batch is never dropped. A failure is retried with backoff; a refusal (a 4xx
//! other than 429) is logged as an error and retried after a longer delay.

pub mod http;
pub mod kafka;
pub mod metrics;
pub mod retry;

use std::{future::Future, pin::Pin};

use crate::{batch::Batch, config::OutputConfig};

/// One attempt to send a batch, already under way: resolves with the destination's answer.
pub type Attempt = Pin<Box<dyn Future<Output = Result<(), ShipError>> + Send>>;

/// An attempt just made. `queued` is false when the batch could not even be handed over
/// (Kafka: librdkafka's queue is full): batches started after it could then overtake it.
pub struct Started {
    pub attempt: Attempt,
    pub queued: bool,
}

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

    /// Starts sending one batch; the attempt resolves `Ok` once the destination acknowledged
    /// it durably. Batches of a stream started in turn arrive in turn, for up to
    /// [`Shipper::in_flight`] of them at once.
    pub fn start(&self, batch: &Batch) -> Started {
        match self {
            Shipper::Http(shipper) => Started { attempt: shipper.start(batch), queued: true },
            Shipper::Kafka(shipper) => shipper.start(batch),
        }
    }

    /// How many batches of one file may wait for acknowledgement at once. One over HTTP: the
    /// server may take two requests in either order.
    pub fn in_flight(&self) -> usize {
        match self {
            Shipper::Http(_) => 1,
            Shipper::Kafka(shipper) => shipper.in_flight(),
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
