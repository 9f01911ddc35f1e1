//! Shipping metric samples: over HTTP as Prometheus remote write (`<url>/api/v1/write`, which
//! any remote-write receiver takes), or to Kafka's metrics topic as a `MetricBatch`.

use prost::Message as _;
use reqwest::StatusCode;
use vigil_bus::{BusError, OutgoingMessage, Producer};
use vigil_model::metrics::{MetricBatch, WriteRequest};

use super::ShipError;
use crate::config::OutputConfig;

pub enum MetricShipper {
    Http { client: reqwest::Client, endpoint: String },
    Kafka { producer: Producer, topic: String },
}

impl MetricShipper {
    pub fn from_config(output: &OutputConfig) -> anyhow::Result<MetricShipper> {
        match (&output.http, &output.kafka) {
            (Some(http), _) => {
                let client = reqwest::Client::builder()
                    .timeout(http.timeout)
                    .user_agent(concat!("vigil-agent/", env!("CARGO_PKG_VERSION")))
                    .build()
                    .map_err(|error| anyhow::anyhow!("agent.output.http: failed to build the http client: {error}"))?;
                Ok(MetricShipper::Http { client, endpoint: format!("{}/api/v1/write", http.url.trim_end_matches('/')) })
            }
            (None, Some(kafka)) => Ok(MetricShipper::Kafka {
                producer: super::kafka::producer(kafka)?,
                topic: vigil_bus::METRICS_TOPIC.into(),
            }),
            (None, None) => anyhow::bail!("agent.output: set either http or kafka"),
        }
    }

    /// Sends one batch; `key` keeps one target's samples on one partition (in order).
    pub async fn send(&self, batch: &MetricBatch, key: &str) -> Result<(), ShipError> {
        match self {
            MetricShipper::Http { client, endpoint } => {
                let request = WriteRequest { timeseries: batch.series.clone(), metadata: batch.metadata.clone() };
                let body = snap::raw::Encoder::new()
                    .compress_vec(&request.encode_to_vec())
                    .map_err(|error| ShipError::Rejected(format!("failed to compress the samples: {error}")))?;
                let response = client
                    .post(endpoint.as_str())
                    .header("content-type", "application/x-protobuf")
                    .header("content-encoding", "snappy")
                    .header("x-prometheus-remote-write-version", "0.1.0")
                    .body(body)
                    .send()
                    .await
                    .map_err(|error| ShipError::Retryable(format!("failed to reach {endpoint}: {error}")))?;
                let status = response.status();
                if status.is_success() {
                    return Ok(());
                }
                let text = response.text().await.unwrap_or_default();
                let message = format!("{endpoint} answered {status}: {}", &text[..text.len().min(512)]);
                if status == StatusCode::TOO_MANY_REQUESTS || status.is_server_error() {
                    Err(ShipError::Retryable(message))
                } else {
                    Err(ShipError::Rejected(message))
                }
            }
            MetricShipper::Kafka { producer, topic } => {
                let message = OutgoingMessage {
                    key: Some(key.as_bytes().to_vec()),
                    headers: Vec::new(),
                    payload: batch.encode_to_vec(),
                };
                match producer.send(topic, vec![message]).await {
                    Ok(_) => Ok(()),
                    Err(BusError::Rejected(reason)) => {
                        Err(ShipError::Rejected(format!("kafka refused the samples: {reason}")))
                    }
                    Err(error) => Err(ShipError::Retryable(error.to_string())),
                }
            }
        }
    }
}
