//! The server's config file: one TOML file with a table per role (see config/vigil.toml).

use std::{net::SocketAddr, path::PathBuf};

use serde::Deserialize;
use vigil_bus::kafka::KafkaConfig;
use vigil_pipeline::PipelineConfig;
use vigil_query::QueryConfig;

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct VigilConfig {
    /// Where the bus segments (embedded mode) and the log index live.
    pub data_dir: PathBuf,
    /// HTTP address of the API (ingest, search, /health, /metrics).
    pub listen: SocketAddr,
    pub bus: BusConfig,
    pub pipeline: PipelineConfig,
    pub query: QueryConfig,
}

impl Default for VigilConfig {
    fn default() -> Self {
        VigilConfig {
            data_dir: PathBuf::from("vigil-data"),
            listen: SocketAddr::from(([127, 0, 0, 1], 7280)),
            bus: BusConfig::default(),
            pipeline: PipelineConfig::default(),
            query: QueryConfig::default(),
        }
    }
}

/// `[bus]`: Kafka when `kafka` is set, else the embedded durable log under `data_dir/bus`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct BusConfig {
    /// The topic log messages travel on.
    pub logs_topic: String,
    /// Partitions of each topic of the embedded bus (one index per partition).
    pub partitions: u32,
    /// Segment size of the embedded bus, in bytes.
    pub segment_bytes: u64,
    /// Largest message the embedded bus accepts, in bytes.
    pub max_message_bytes: usize,
    /// Use Apache Kafka instead of the embedded bus.
    pub kafka: Option<KafkaConfig>,
}

impl Default for BusConfig {
    fn default() -> Self {
        let embedded = vigil_bus::embedded::EmbeddedConfig::default();
        BusConfig {
            logs_topic: vigil_bus::LOGS_TOPIC.to_string(),
            partitions: embedded.partitions,
            segment_bytes: embedded.segment_bytes,
            max_message_bytes: 64 << 20,
            kafka: None,
        }
    }
}

impl VigilConfig {
    pub fn logs_dir(&self) -> PathBuf {
        self.data_dir.join("logs")
    }

    pub fn bus_dir(&self) -> PathBuf {
        self.data_dir.join("bus")
    }
}
