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
    /// `[metrics]`: the metric store's blocks, retention and downsampling.
    pub metrics: crate::metrics_config::MetricsConfig,
    /// `[registry]`: this node's id, its peers, Raft timings.
    pub registry: vigil_registry::RegistryConfig,
}

impl Default for VigilConfig {
    fn default() -> Self {
        VigilConfig {
            data_dir: PathBuf::from("vigil-data"),
            listen: SocketAddr::from(([127, 0, 0, 1], 7280)),
            bus: BusConfig::default(),
            pipeline: PipelineConfig::default(),
            query: QueryConfig::default(),
            metrics: crate::metrics_config::MetricsConfig::default(),
            registry: vigil_registry::RegistryConfig::default(),
        }
    }
}

/// `[bus]`: Kafka when `kafka` is set, else the embedded durable log under `data_dir/bus`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct BusConfig {
    /// The topic log messages travel on.
    pub logs_topic: String,
    /// The topic metric samples travel on.
    pub metrics_topic: String,
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
            metrics_topic: vigil_bus::METRICS_TOPIC.to_string(),
            partitions: embedded.partitions,
            segment_bytes: embedded.segment_bytes,
            max_message_bytes: 64 << 20,
            kafka: None,
        }
    }
}

impl VigilConfig {
    pub fn metrics_dir(&self) -> PathBuf {
        self.data_dir.join("metrics")
    }

    pub fn logs_dir(&self) -> PathBuf {
        self.data_dir.join("logs")
    }

    pub fn bus_dir(&self) -> PathBuf {
        self.data_dir.join("bus")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_reference_config_loads_and_matches_the_defaults() {
        let path = std::path::Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/config/vigil.toml"));
        let loaded: VigilConfig =
            vigil_common::config::load(Some(path), &Default::default()).expect("reference config is valid");
        let defaults = VigilConfig::default();
        assert_eq!(loaded.listen, defaults.listen);
        assert_eq!(loaded.pipeline.commit_interval, defaults.pipeline.commit_interval);
        assert_eq!(loaded.pipeline.retention, defaults.pipeline.retention);
        assert_eq!(loaded.bus.partitions, defaults.bus.partitions);
        assert_eq!(loaded.query.max_limit, defaults.query.max_limit);
        assert_eq!(loaded.metrics.retention, defaults.metrics.retention);
        assert_eq!(loaded.metrics.out_of_order_window, defaults.metrics.out_of_order_window);
    }

    #[test]
    fn kafka_can_be_chosen_from_the_environment_alone() {
        let env = [
            ("VIGIL__BUS__KAFKA__BROKERS".to_string(), "kafka:9092".to_string()),
            ("VIGIL__LISTEN".to_string(), "0.0.0.0:7280".to_string()),
        ]
        .into();
        let config: VigilConfig = vigil_common::config::load(None, &env).expect("valid overrides");
        assert_eq!(config.bus.kafka.expect("kafka chosen").brokers, "kafka:9092");
        assert_eq!(config.listen.port(), 7280);
    }

    #[test]
    fn a_typo_is_an_error_naming_the_key() {
        let env = [("VIGIL__PIPELINE__COMIT_INTERVAL".to_string(), "2s".to_string())].into();
        let error = vigil_common::config::load::<VigilConfig>(None, &env).expect_err("typo").to_string();
        assert!(error.contains("comit_interval"), "{error}");
    }
}
