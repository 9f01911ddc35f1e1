//! The command line: `vigil up`, `vigil run`, `vigil registry`, `vigil bench logs|registry`.

use std::{net::SocketAddr, path::PathBuf};

use anyhow::Context;
use clap::{Parser, Subcommand};

use crate::{config::VigilConfig, serve::Roles};

#[derive(Debug, Parser)]
#[command(name = "vigil", version, about = "Logs, metrics, registry and alerting in one system")]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Runs the whole platform in one process with embedded defaults (no external services).
    Up(UpArgs),
    /// Runs chosen roles with a config file (the distributed shape: Kafka in between).
    Run(RunArgs),
    /// Runs one registry node (the `registry` role) from flags, no config file needed.
    Registry(RegistryArgs),
    /// Benchmarks; each ends with one JSON line holding every figure.
    #[command(subcommand)]
    Bench(crate::bench::BenchCommand),
}

#[derive(Debug, clap::Args)]
pub struct UpArgs {
    /// Where data lives (created if missing).
    #[arg(long, default_value = "vigil-data")]
    pub data_dir: PathBuf,
    /// HTTP address to listen on.
    #[arg(long, default_value = "127.0.0.1:7280")]
    pub listen: SocketAddr,
    /// Optional config file; the flags above override it.
    #[arg(long)]
    pub config: Option<PathBuf>,
}

#[derive(Debug, clap::Args)]
pub struct RunArgs {
    /// The config file (see config/vigil.toml); VIGIL__SECTION__KEY variables override it.
    #[arg(long)]
    pub config: Option<PathBuf>,
    /// Comma-separated roles: ingest, pipeline, query, registry.
    #[arg(long, default_value = "ingest,pipeline,query", value_parser = Roles::parse)]
    pub roles: Roles,
}

#[derive(Debug, clap::Args)]
pub struct RegistryArgs {
    /// This node's id, unique in the cluster.
    #[arg(long)]
    pub node_id: u64,
    /// HTTP address to listen on (the API and the Raft RPCs).
    #[arg(long, default_value = "127.0.0.1:7301")]
    pub listen: SocketAddr,
    /// Where the node keeps its log, snapshots and admin token.
    #[arg(long)]
    pub data_dir: PathBuf,
    /// Every voting member of a new cluster, `id=host:port`, comma-separated (this node
    /// included); absent: a single-node cluster.
    #[arg(long, value_delimiter = ',')]
    pub peers: Vec<String>,
    /// Shared by the nodes to authenticate calls to each other (needed with auth and peers).
    #[arg(long, env = "VIGIL_CLUSTER_SECRET", default_value = "")]
    pub cluster_secret: String,
    /// Wait to be added to an existing cluster instead of bootstrapping one.
    #[arg(long)]
    pub join: bool,
    /// Optional config file for everything else; the flags above override it.
    #[arg(long)]
    pub config: Option<PathBuf>,
}

pub async fn dispatch(cli: Cli) -> anyhow::Result<()> {
    match cli.command {
        Command::Up(args) => {
            let mut config = load_config(args.config.as_deref())?;
            config.data_dir = args.data_dir;
            config.listen = args.listen;
            run_roles(config, Roles::all()).await
        }
        Command::Run(args) => run_roles(load_config(args.config.as_deref())?, args.roles).await,
        Command::Registry(args) => {
            let mut config = load_config(args.config.as_deref())?;
            config.data_dir = args.data_dir;
            config.listen = args.listen;
            config.registry.node_id = args.node_id;
            if !args.peers.is_empty() {
                config.registry.peers = args.peers;
            }
            if !args.cluster_secret.is_empty() {
                config.registry.cluster_secret = args.cluster_secret;
            }
            config.registry.join |= args.join;
            let roles = Roles { ingest: false, pipeline: false, query: false, registry: true };
            run_roles(config, roles).await
        }
        Command::Bench(command) => crate::bench::run(command).await,
    }
}

fn load_config(path: Option<&std::path::Path>) -> anyhow::Result<VigilConfig> {
    vigil_common::config::load(path, &vigil_common::config::env_overrides())
}

async fn run_roles(config: VigilConfig, roles: Roles) -> anyhow::Result<()> {
    let listener = tokio::net::TcpListener::bind(config.listen)
        .await
        .with_context(|| format!("failed to listen on {}: is another vigil running there?", config.listen))?;
    let address = listener.local_addr().context("failed to read the listening address")?;
    print_banner(&config, address, &roles);
    crate::serve::run(config, roles, listener, vigil_common::shutdown::signal()).await
}

fn print_banner(config: &VigilConfig, address: SocketAddr, roles: &Roles) {
    println!(
        "vigil {} listening on http://{address} (roles: {roles}, data in {})",
        env!("CARGO_PKG_VERSION"),
        config.data_dir.display()
    );
    if roles.ingest {
        println!(
            "ship logs:  vigil-agent --server http://{address} --service NAME --path '/var/log/*.log' --data-dir ./vigil-agent-data"
        );
    }
    if roles.query {
        println!("search:     curl 'http://{address}/api/v1/logs/search?q=error&limit=10'");
    }
    if roles.registry {
        println!("discover:   curl 'http://{address}/v1/registry/services'");
        if config.registry.auth {
            let token = config.data_dir.join(vigil_registry::auth::ADMIN_TOKEN_FILE);
            println!(
                "register:   curl -X PUT -H \"Authorization: Bearer $(cat {})\" -d '{{\"address\":\"10.0.0.1\",\"port\":8080,\"ttl\":\"10s\"}}' http://{address}/v1/registry/services/NAME/instances/ID",
                token.display()
            );
            if config.registry.peers.is_empty() {
                println!("            (the registry admin token is in {} once the node is up)", token.display());
            } else {
                println!(
                    "            (the admin token is written to the data directory of the cluster's first leader)"
                );
            }
        }
    }
}
