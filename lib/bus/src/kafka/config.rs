//! Connection settings shared by the Kafka producer and consumer.

use std::collections::BTreeMap;

use rdkafka::ClientConfig;
use serde::Deserialize;

/// `[bus.kafka]` in the config file.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KafkaConfig {
    /// Comma-separated `host:port` bootstrap brokers.
    pub brokers: String,
    /// Consumer group of the pipeline nodes.
    #[serde(default = "default_group")]
    pub group_id: String,
    /// Static group membership id of this consumer (Kafka's `group.instance.id`): a node
    /// restarted after a crash gets its partitions back at once, instead of after the dead
    /// member's session expired. `vigil` derives one from the host and data directory when
    /// this is not set; it must differ between live nodes.
    #[serde(default)]
    pub instance_id: Option<String>,
    /// Producer compression: `lz4`, `zstd`, `gzip`, `snappy` or `none`.
    #[serde(default = "default_compression")]
    pub compression: String,
    /// Extra librdkafka properties (`security.protocol`, `sasl.*`, ...), passed through as is.
    #[serde(default)]
    pub properties: BTreeMap<String, String>,
}

fn default_group() -> String {
    "vigil-pipeline".to_string()
}

fn default_compression() -> String {
    "lz4".to_string()
}

impl KafkaConfig {
    pub fn new(brokers: impl Into<String>) -> KafkaConfig {
        KafkaConfig {
            brokers: brokers.into(),
            group_id: default_group(),
            instance_id: None,
            compression: default_compression(),
            properties: BTreeMap::new(),
        }
    }

    /// The librdkafka config: `defaults` first, then the user's `properties`, which win.
    pub(crate) fn client_config(&self, defaults: &[(&str, String)]) -> ClientConfig {
        let mut config = ClientConfig::new();
        config.set("bootstrap.servers", &self.brokers);
        for (key, value) in defaults {
            config.set(*key, value);
        }
        for (key, value) in &self.properties {
            config.set(key, value);
        }
        config
    }
}
