//! `[agent]` in the agent's config file: what to tail, where to ship it, how to batch.
//!
//! Every field has a default in code except the inputs and the output; [`AgentConfig::validate`]
//! checks what serde cannot and names the offending key (`agent.inputs[0].service: ...`).
//! `agent.example.toml` next to `Cargo.toml` is the commented reference.

use std::{
    collections::{BTreeMap, HashMap},
    path::{Path, PathBuf},
    time::Duration,
};

use serde::Deserialize;

mod reading;
mod scrape;
mod spool;
mod validate;

pub use reading::{LongLines, MultilineConfig, Preset};
pub use scrape::ScrapeConfig;
pub use spool::{SpoolConfig, WhenFull};
pub use validate::{ConfigError, ConfigErrors};

/// The whole agent config file: one `[agent]` table.
#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct AgentFile {
    /// The agent's settings.
    #[serde(default)]
    pub agent: AgentConfig,
}

/// `[agent]`.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct AgentConfig {
    /// Directory for the agent's state (`checkpoints.json`); created when missing.
    pub data_dir: PathBuf,
    /// Host name stamped on every line; empty means the machine's host name.
    pub host: String,
    /// Labels added to every line (an input's own labels win on the same key).
    pub labels: BTreeMap<String, String>,
    /// `host:port` to serve `/health` and `/metrics` on; nothing is served when unset.
    pub listen: Option<String>,
    /// Where to start a file that has no checkpoint and is found by the first scan:
    /// `beginning` or `end`. Files appearing later always start at the beginning, so the
    /// first lines of a rotated file are never skipped.
    pub read_from: ReadFrom,
    /// How often the globs are expanded again to find new, rotated and deleted files.
    #[serde(with = "humantime_serde")]
    pub scan_interval: Duration,
    /// How often a file that was read to its end is checked for new bytes.
    #[serde(with = "humantime_serde")]
    pub poll_interval: Duration,
    /// Longest line shipped whole; see `long_lines` for a longer one.
    pub max_line_bytes: usize,
    /// A line over `max_line_bytes`: `truncate` (cut there, flagged `truncated`, the rest up to
    /// its newline skipped) or `split` (shipped in pieces of at most `max_line_bytes`, each
    /// flagged `split`).
    pub long_lines: LongLines,
    /// A last line without its newline is shipped once the file has not grown for this
    /// long (a file whose writer ended without a final newline); "0s" waits for the newline
    /// forever. Bytes appended to it later become a new line.
    #[serde(with = "humantime_serde")]
    pub partial_line_timeout: Duration,
    /// How often acknowledged positions are written to `checkpoints.json`.
    #[serde(with = "humantime_serde")]
    pub checkpoint_interval: Duration,
    /// How long a shutdown waits for pending batches to be acknowledged.
    #[serde(with = "humantime_serde")]
    pub shutdown_timeout: Duration,
    /// The files to tail (`[[agent.inputs]]`).
    pub inputs: Vec<InputConfig>,
    /// Prometheus endpoints to scrape (`[[agent.scrape]]`). The agent needs inputs, scrape
    /// targets, or both.
    pub scrape: Vec<ScrapeConfig>,
    /// Collect host metrics (CPU, memory, load, network, disks, filesystems, pressure) under
    /// node_exporter's names every this long (`"15s"`); unset: not collected.
    #[serde(default, with = "humantime_serde")]
    pub host_metrics: Option<Duration>,
    /// node_exporter's textfile collector: `*.prom` files of this directory are read with
    /// the host metrics (every 15 s when `host_metrics` is unset).
    pub textfile_directory: Option<PathBuf>,
    /// Where lines go (`[agent.output]`): exactly one of `http` or `kafka`.
    pub output: OutputConfig,
    /// When a batch is sent (`[agent.batch]`).
    pub batch: BatchConfig,
    /// Where batches wait while the destination is down (`[agent.spool]`).
    pub spool: SpoolConfig,
}

impl Default for AgentConfig {
    fn default() -> Self {
        AgentConfig {
            data_dir: PathBuf::from("/var/lib/vigil-agent"),
            host: String::new(),
            labels: BTreeMap::new(),
            listen: None,
            read_from: ReadFrom::Beginning,
            scan_interval: Duration::from_secs(1),
            poll_interval: Duration::from_millis(250),
            max_line_bytes: 1 << 20,
            long_lines: LongLines::Truncate,
            partial_line_timeout: Duration::from_secs(5),
            checkpoint_interval: Duration::from_secs(1),
            shutdown_timeout: Duration::from_secs(5),
            inputs: Vec::new(),
            scrape: Vec::new(),
            host_metrics: None,
            textfile_directory: None,
            output: OutputConfig::default(),
            batch: BatchConfig::default(),
            spool: SpoolConfig::default(),
        }
    }
}

/// Where a file without a checkpoint starts.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum ReadFrom {
    /// Ship the whole file.
    #[default]
    Beginning,
    /// Ship only lines written after the agent found the file.
    End,
}

/// `[[agent.inputs]]`: a set of files of one service.
#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct InputConfig {
    /// Glob patterns of the files to tail (`/var/log/app/*.log`, `**` for any depth).
    pub paths: Vec<String>,
    /// Glob patterns of files to leave alone; a pattern without `/` matches the file name,
    /// one with `/` the whole path.
    pub exclude: Vec<String>,
    /// The service these lines belong to.
    pub service: String,
    /// Labels added to these lines.
    pub labels: BTreeMap<String, String>,
    /// A file without a checkpoint last modified longer ago than this is left alone until it
    /// is written again (old archives next to live logs); unset: every file is read.
    #[serde(with = "humantime_serde")]
    pub ignore_older: Option<Duration>,
    /// Lines shipped together as one event (`[agent.inputs.multiline]`); unset: every line
    /// is its own record.
    pub multiline: Option<MultilineConfig>,
}

/// `[agent.output]`.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct OutputConfig {
    /// Ship to a Vigil server's HTTP ingest endpoint.
    pub http: Option<HttpOutput>,
    /// Ship to Kafka directly.
    pub kafka: Option<KafkaOutput>,
    /// First delay before a failed batch is sent again; it doubles up to `retry_max_delay`.
    #[serde(with = "humantime_serde")]
    pub retry_initial_delay: Duration,
    /// Longest delay between two attempts to send a batch the server could not take.
    #[serde(with = "humantime_serde")]
    pub retry_max_delay: Duration,
    /// Delay before a batch the server refused (a 4xx other than 429) is sent again.
    #[serde(with = "humantime_serde")]
    pub rejected_retry_delay: Duration,
}

impl Default for OutputConfig {
    fn default() -> Self {
        OutputConfig {
            http: None,
            kafka: None,
            retry_initial_delay: Duration::from_millis(100),
            retry_max_delay: Duration::from_secs(10),
            rejected_retry_delay: Duration::from_secs(60),
        }
    }
}

/// `[agent.output] http = { url = "..." }`.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct HttpOutput {
    /// Base URL of the Vigil server (`http://vigil:7280`); batches go to
    /// `<url>/api/v1/logs/ingest`. Plain `http` only: put TLS in a local proxy.
    pub url: String,
    /// How long one request may take before it counts as failed and is retried.
    #[serde(default = "default_http_timeout", with = "humantime_serde")]
    pub timeout: Duration,
}

fn default_http_timeout() -> Duration {
    Duration::from_secs(30)
}

impl HttpOutput {
    pub fn new(url: impl Into<String>) -> HttpOutput {
        HttpOutput { url: url.into(), timeout: default_http_timeout() }
    }
}

/// `[agent.output] kafka = { brokers = "...", topic = "...", compression = "lz4" }`.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct KafkaOutput {
    /// Comma-separated `host:port` bootstrap brokers.
    pub brokers: String,
    /// Topic the batches are produced to.
    #[serde(default = "default_topic")]
    pub topic: String,
    /// Producer compression: `lz4`, `zstd`, `gzip`, `snappy` or `none`.
    #[serde(default = "default_compression")]
    pub compression: String,
    /// Extra librdkafka properties (`security.protocol`, `sasl.*`, ...), passed through as is.
    #[serde(default)]
    pub properties: BTreeMap<String, String>,
    /// Batches of one file that may wait for the broker's acknowledgement at once; they
    /// still arrive in order. 1 to 16. (One at a time when `message.timeout.ms` is set in
    /// `properties`: see `ship::kafka`.)
    #[serde(default = "default_in_flight")]
    pub in_flight: usize,
}

/// Most batches per file in flight that `in_flight` accepts.
pub const MAX_IN_FLIGHT: usize = 16;

fn default_in_flight() -> usize {
    16
}

fn default_topic() -> String {
    vigil_bus::LOGS_TOPIC.to_string()
}

fn default_compression() -> String {
    "lz4".to_string()
}

impl KafkaOutput {
    pub fn new(brokers: impl Into<String>) -> KafkaOutput {
        KafkaOutput {
            brokers: brokers.into(),
            topic: default_topic(),
            compression: default_compression(),
            properties: BTreeMap::new(),
            in_flight: default_in_flight(),
        }
    }
}

/// `[agent.batch]`: a batch is sent when it holds `max_lines` lines or `max_bytes` bytes, or
/// when its oldest line has waited `linger`.
#[derive(Debug, Clone, Copy, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct BatchConfig {
    /// Most lines in one batch.
    pub max_lines: usize,
    /// Most encoded bytes in one batch (a single longer line still goes alone).
    pub max_bytes: usize,
    /// Longest time a line waits for its batch to fill.
    #[serde(with = "humantime_serde")]
    pub linger: Duration,
}

impl Default for BatchConfig {
    fn default() -> Self {
        BatchConfig { max_lines: 2000, max_bytes: 1 << 20, linger: Duration::from_millis(200) }
    }
}

impl AgentConfig {
    /// The host name to stamp on lines: the configured one, else the machine's.
    pub fn host_name(&self) -> String {
        if self.host.is_empty() {
            machine_hostname()
        } else {
            self.host.clone()
        }
    }
}

/// Reads the agent config file (if any) with `VIGIL__AGENT__*` overrides from `env`.
/// Does not validate: callers that run the agent call [`AgentConfig::validate`].
pub fn load(path: Option<&Path>, env: &HashMap<String, String>) -> anyhow::Result<AgentConfig> {
    if let Some(text) = path.and_then(|path| std::fs::read_to_string(path).ok()) {
        // The file alone first: toml's error then shows the line, column and key of a mistake.
        if let Err(error) = toml::from_str::<AgentFile>(&text) {
            let path = path.expect("text was read from a path").display();
            anyhow::bail!("invalid config {path}: {}", error.to_string().trim_end());
        }
    }
    let file: AgentFile = vigil_common::config::load(path, env)?;
    Ok(file.agent)
}

/// The machine's host name: `/proc/sys/kernel/hostname`, else `$HOSTNAME`, else `localhost`.
pub fn machine_hostname() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .ok()
        .map(|name| name.trim().to_string())
        .filter(|name| !name.is_empty())
        .or_else(|| std::env::var("HOSTNAME").ok().filter(|name| !name.is_empty()))
        .unwrap_or_else(|| "localhost".to_string())
}
