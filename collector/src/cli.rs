//! The `vigil-agent` command line: quick-start flags that need no config file, `--config` for
//! a TOML file (flags override it), and `vigil-agent check --config FILE`.
//!
//! Flag contract (used in the README, keep it stable):
//! `vigil-agent --server http://HOST:PORT --service NAME --path 'GLOB' --data-dir DIR`.

use std::{collections::HashMap, path::PathBuf, process::ExitCode};

use anyhow::Context as _;
use clap::{error::ErrorKind, Args, CommandFactory, Parser, Subcommand};

use crate::config::{self, AgentConfig, HttpOutput, InputConfig, KafkaOutput, ReadFrom};

/// Tails log files and scrapes Prometheus endpoints, and ships both to Vigil.
#[derive(Debug, Parser)]
#[command(name = "vigil-agent", version, args_conflicts_with_subcommands = true)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Option<Command>,
    #[command(flatten)]
    pub run: RunArgs,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Validates a config file and prints every problem, naming its key (exit 1 on error).
    Check {
        /// The TOML file to check.
        #[arg(long, value_name = "FILE")]
        config: PathBuf,
    },
    /// Prints the completeness ledger: per file, lines and bytes read, delivered, in the
    /// spool, dropped (with the reason) and pending.
    Status {
        /// The agent's data directory [default: the config's data_dir, else /var/lib/vigil-agent].
        #[arg(long, value_name = "DIR")]
        data_dir: Option<PathBuf>,
        /// The agent's config file, to find its data directory.
        #[arg(long, value_name = "FILE", conflicts_with = "data_dir")]
        config: Option<PathBuf>,
        /// Print the ledger as JSON.
        #[arg(long)]
        json: bool,
    },
}

/// Flags of the default command (run the agent).
#[derive(Debug, Default, Args)]
pub struct RunArgs {
    /// Vigil server to ship to over HTTP, e.g. http://vigil:7280.
    #[arg(long, value_name = "URL", value_parser = parse_server, conflicts_with = "brokers")]
    pub server: Option<String>,
    /// Ship to Kafka instead of HTTP: bootstrap brokers host:port[,host:port...].
    #[arg(long, value_name = "HOST:PORT[,..]")]
    pub brokers: Option<String>,
    /// Kafka topic [default: vigil.logs.v1].
    #[arg(long, value_name = "TOPIC")]
    pub topic: Option<String>,
    /// Service the files given with --path belong to.
    #[arg(long, value_name = "NAME", requires = "paths")]
    pub service: Option<String>,
    /// Glob of files to tail (repeatable); replaces the config file's inputs.
    #[arg(long = "path", value_name = "GLOB", requires = "service")]
    pub paths: Vec<String>,
    /// Glob of files to leave alone (repeatable); without '/' it matches the file name.
    #[arg(long = "exclude", value_name = "GLOB", requires = "paths")]
    pub exclude: Vec<String>,
    /// Host name stamped on lines [default: the machine's host name].
    #[arg(long, value_name = "NAME")]
    pub host: Option<String>,
    /// Label added to every line (repeatable).
    #[arg(long = "label", value_name = "KEY=VALUE", value_parser = parse_label)]
    pub labels: Vec<(String, String)>,
    /// Directory for checkpoints [default: /var/lib/vigil-agent].
    #[arg(long, value_name = "DIR")]
    pub data_dir: Option<PathBuf>,
    /// TOML config file; flags override its values.
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Serve /health and /metrics on this address.
    #[arg(long, value_name = "HOST:PORT")]
    pub listen: Option<String>,
    /// Prometheus endpoint to scrape every 15 s (repeatable), e.g. http://127.0.0.1:9100/metrics.
    #[arg(long = "scrape", value_name = "URL")]
    pub scrape: Vec<String>,
    /// Collect this host's metrics (node_exporter's names) every 15 s.
    #[arg(long)]
    pub host_metrics: bool,
    /// Read node_exporter textfile-collector `*.prom` files from this directory.
    #[arg(long, value_name = "DIR")]
    pub textfile_directory: Option<PathBuf>,
    /// Where files without a checkpoint start when the agent starts [default: beginning].
    #[arg(long, value_enum, value_name = "WHERE")]
    pub read_from: Option<ReadFrom>,
}

/// What the command line asks for.
#[derive(Debug)]
pub enum Invocation {
    Run(Box<AgentConfig>),
    Check(PathBuf),
    Status { data_dir: Option<PathBuf>, config: Option<PathBuf>, json: bool },
}

/// Parses the process arguments; bad flags or values print a message and exit with code 2.
pub fn parse_or_exit(env: &HashMap<String, String>) -> Invocation {
    let cli = Cli::parse();
    match cli.command {
        Some(Command::Check { config }) => Invocation::Check(config),
        Some(Command::Status { data_dir, config, json }) => Invocation::Status { data_dir, config, json },
        None => match cli.run.into_config(env) {
            Ok(config) => Invocation::Run(Box::new(config)),
            Err(error) => Cli::command().error(ErrorKind::ValueValidation, format!("{error:#}")).exit(),
        },
    }
}

impl RunArgs {
    /// The config file (if any) with `VIGIL__AGENT__*` overrides and these flags on top,
    /// validated.
    pub fn into_config(self, env: &HashMap<String, String>) -> anyhow::Result<AgentConfig> {
        let mut config = config::load(self.config.as_deref(), env)?;
        if let Some(url) = self.server {
            config.output.kafka = None;
            config.output.http = Some(HttpOutput::new(url));
        }
        if let Some(brokers) = self.brokers {
            config.output.http = None;
            let kafka = config.output.kafka.get_or_insert_with(|| KafkaOutput::new(""));
            kafka.brokers = brokers;
        }
        if let Some(topic) = self.topic {
            let Some(kafka) = config.output.kafka.as_mut() else {
                anyhow::bail!("--topic needs --brokers (or a kafka output in the config file)");
            };
            kafka.topic = topic;
        }
        if !self.paths.is_empty() {
            config.inputs = vec![InputConfig {
                paths: self.paths,
                exclude: self.exclude,
                service: self.service.unwrap_or_default(),
                ..InputConfig::default()
            }];
        }
        if !self.scrape.is_empty() {
            config.scrape = self.scrape.into_iter().map(config::ScrapeConfig::new).collect();
        }
        if let Some(dir) = self.textfile_directory {
            config.textfile_directory = Some(dir);
        }
        if self.host_metrics && config.host_metrics.is_none() {
            config.host_metrics = Some(std::time::Duration::from_secs(15));
        }
        config.labels.extend(self.labels);
        if let Some(host) = self.host {
            config.host = host;
        }
        if let Some(data_dir) = self.data_dir {
            config.data_dir = data_dir;
        }
        if let Some(listen) = self.listen {
            config.listen = Some(listen);
        }
        if let Some(read_from) = self.read_from {
            config.read_from = read_from;
        }
        config.validate()?;
        Ok(config)
    }
}

/// The config as the command line describes it now (its file read again), for SIGHUP.
pub fn reload(env: &HashMap<String, String>) -> anyhow::Result<AgentConfig> {
    let cli = Cli::try_parse().context("the command line")?;
    cli.run.into_config(env)
}

/// `vigil-agent check --config FILE`: prints the problems (or a summary) and gives the exit
/// code: 0 valid, 1 invalid.
pub fn check(path: &std::path::Path, env: &HashMap<String, String>) -> ExitCode {
    let result = config::load(Some(path), env).and_then(|config| {
        config.validate()?;
        Ok(config)
    });
    match result {
        Ok(config) => {
            let output = if config.output.http.is_some() { "http" } else { "kafka" };
            println!("{}: ok ({} inputs, output {output})", path.display(), config.inputs.len());
            ExitCode::SUCCESS
        }
        Err(error) => {
            eprintln!("{}: invalid config", path.display());
            for line in format!("{error:#}").lines() {
                eprintln!("  {line}");
            }
            ExitCode::FAILURE
        }
    }
}

/// `vigil-agent status`: exit 0 with the table, 1 with an error naming the file.
pub fn status(
    data_dir: Option<PathBuf>,
    config: Option<PathBuf>,
    json: bool,
    env: &HashMap<String, String>,
) -> ExitCode {
    let data_dir = match (data_dir, config) {
        (Some(dir), _) => dir,
        (None, config) => match config::load(config.as_deref(), env) {
            Ok(config) => config.data_dir,
            Err(error) => {
                eprintln!("{error:#}");
                return ExitCode::FAILURE;
            }
        },
    };
    match crate::status::print(&data_dir, json) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("{error}");
            ExitCode::FAILURE
        }
    }
}

fn parse_server(value: &str) -> Result<String, String> {
    match value.strip_prefix("http://") {
        Some(rest) if !rest.is_empty() => Ok(value.to_string()),
        _ if value.starts_with("https://") => Err("https is not supported: use http:// (TLS via a local proxy)".into()),
        _ => Err(format!("{value:?} is not an http:// URL such as http://vigil:7280")),
    }
}

fn parse_label(value: &str) -> Result<(String, String), String> {
    match value.split_once('=') {
        Some((key, label)) if !key.is_empty() => Ok((key.to_string(), label.to_string())),
        _ => Err(format!("{value:?} is not key=value")),
    }
}

#[cfg(test)]
mod tests {
    use std::{path::Path, time::Duration};

    use super::*;

    fn config_from(args: &[&str]) -> anyhow::Result<AgentConfig> {
        let cli = Cli::try_parse_from(std::iter::once("vigil-agent").chain(args.iter().copied()))?;
        cli.run.into_config(&HashMap::new())
    }

    fn clap_error(args: &[&str]) -> clap::Error {
        Cli::try_parse_from(std::iter::once("vigil-agent").chain(args.iter().copied())).expect_err("bad flags")
    }

    const QUICK_START: &[&str] =
        &["--server", "http://vigil:7280", "--service", "api", "--path", "/var/log/api/*.log", "--data-dir", "/tmp/a"];

    #[test]
    fn quick_start_flags_make_a_complete_config() {
        let config = config_from(QUICK_START).expect("quick start is valid");
        assert_eq!(config.output.http, Some(HttpOutput::new("http://vigil:7280")));
        assert_eq!(config.output.kafka, None);
        assert_eq!(config.data_dir, PathBuf::from("/tmp/a"));
        assert_eq!(config.inputs.len(), 1);
        assert_eq!(config.inputs[0].paths, ["/var/log/api/*.log"]);
        assert_eq!(config.inputs[0].service, "api");
        assert_eq!(config.read_from, ReadFrom::Beginning);
        assert_eq!(config.batch.linger, Duration::from_millis(200));
    }

    #[test]
    fn repeatable_flags_and_kafka() {
        let args = [
            "--brokers",
            "k1:9092,k2:9092",
            "--topic",
            "logs",
            "--service",
            "api",
            "--path",
            "/a/*.log",
            "--path",
            "/b/*.log",
            "--exclude",
            "*.gz",
            "--label",
            "env=prod",
            "--label",
            "dc=eu=1",
            "--host",
            "web-1",
            "--listen",
            "127.0.0.1:9101",
            "--read-from",
            "end",
            "--data-dir",
            "/tmp/a",
        ];
        let config = config_from(&args).expect("valid flags");
        let kafka = config.output.kafka.as_ref().expect("kafka output");
        assert_eq!(
            (kafka.brokers.as_str(), kafka.topic.as_str(), kafka.compression.as_str()),
            ("k1:9092,k2:9092", "logs", "lz4")
        );
        assert_eq!(config.output.http, None);
        assert_eq!(config.inputs[0].paths, ["/a/*.log", "/b/*.log"]);
        assert_eq!(config.inputs[0].exclude, ["*.gz"]);
        assert_eq!(config.labels.get("env").map(String::as_str), Some("prod"));
        assert_eq!(config.labels.get("dc").map(String::as_str), Some("eu=1"));
        assert_eq!((config.host.as_str(), config.listen.as_deref()), ("web-1", Some("127.0.0.1:9101")));
        assert_eq!(config.read_from, ReadFrom::End);
    }

    #[test]
    fn flags_override_the_config_file() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("agent.toml");
        std::fs::write(
            &path,
            "[agent]\ndata_dir = \"/from/file\"\nhost = \"file-host\"\n[[agent.inputs]]\npaths = [\"/f/*.log\"]\n\
             service = \"file-svc\"\n[agent.output]\nkafka = { brokers = \"k:9092\" }\n",
        )
        .expect("write config");
        let path = path.to_str().expect("utf-8 temp path");
        let from_file = config_from(&["--config", path]).expect("file alone is valid");
        assert_eq!((from_file.host.as_str(), from_file.inputs[0].service.as_str()), ("file-host", "file-svc"));
        let merged = config_from(&["--config", path, "--server", "http://s:1", "--host", "flag-host"]).expect("valid");
        assert_eq!(merged.output.http, Some(HttpOutput::new("http://s:1")));
        assert_eq!(merged.output.kafka, None, "--server replaces the file's kafka output");
        assert_eq!((merged.host.as_str(), merged.data_dir.to_str()), ("flag-host", Some("/from/file")));
        assert_eq!(merged.inputs[0].service, "file-svc", "without --path the file's inputs stay");
    }

    #[test]
    fn bad_flags_are_usage_errors() {
        assert_eq!(clap_error(&["--server", "vigil:7280"]).kind(), ErrorKind::ValueValidation);
        assert_eq!(clap_error(&["--read-from", "middle"]).kind(), ErrorKind::InvalidValue);
        assert_eq!(clap_error(&["--label", "novalue"]).kind(), ErrorKind::ValueValidation);
        assert_eq!(clap_error(&["--path", "/x"]).kind(), ErrorKind::MissingRequiredArgument);
        assert_eq!(clap_error(&["--server", "http://a:1", "--brokers", "b:1"]).kind(), ErrorKind::ArgumentConflict);
        assert_eq!(clap_error(&["--bogus"]).kind(), ErrorKind::UnknownArgument);
        assert_eq!(clap_error(&["--server", "vigil:7280"]).exit_code(), 2);
    }

    #[test]
    fn missing_output_or_input_is_reported_by_key() {
        let error = config_from(&["--service", "api", "--path", "/x/*.log"]).expect_err("no output").to_string();
        assert!(error.contains("agent.output"), "{error}");
        let error = config_from(&["--server", "http://a:1"]).expect_err("no input").to_string();
        assert!(error.contains("agent.inputs"), "{error}");
    }

    #[test]
    fn check_subcommand_parses() {
        let cli = Cli::try_parse_from(["vigil-agent", "check", "--config", "/etc/a.toml"]).expect("valid");
        assert!(matches!(cli.command, Some(Command::Check { config }) if config == Path::new("/etc/a.toml")));
    }
}
