//! Benchmarks run as commands (`vigil bench logs|registry|metrics|agent`), never as timed test
//! assertions.

use clap::Subcommand;

#[derive(Debug, Subcommand)]
pub enum BenchCommand {
    /// Log path: end-to-end ingest vs bare tantivy, index size, search latency vs grep, freshness.
    Logs(logs::LogsBenchArgs),
    /// Registry: durable writes, registrations, heartbeats, linearizable reads and failover of
    /// a 3-node cluster, vs a 3-member etcd on the same machine.
    Registry(registry::RegistryBenchArgs),
    /// Metrics: remote-write ingest, bytes per sample and PromQL query latency, vs Prometheus
    /// on the same machine.
    Metrics(metrics::MetricsBenchArgs),
    /// Agent: vigil-agent shipping a file to Kafka vs a bare producer with the same settings,
    /// and its memory and CPU at a steady 10 MB/s.
    Agent(agent::AgentBenchArgs),
    /// The bare producer `bench agent` measures the agent against (the bench runs it).
    #[command(hide = true)]
    AgentBaseline(agent::BaselineArgs),
}

pub async fn run(command: BenchCommand) -> anyhow::Result<()> {
    match command {
        BenchCommand::Logs(args) => logs::run(args).await,
        BenchCommand::Registry(args) => registry::run(args).await,
        BenchCommand::Metrics(args) => metrics::run(args).await,
        BenchCommand::Agent(args) => agent::run(args).await,
        BenchCommand::AgentBaseline(args) => agent::run_baseline(args).await,
    }
}

/// A loopback port free right now, for a server the bench starts.
fn free_port() -> anyhow::Result<u16> {
    Ok(std::net::TcpListener::bind("127.0.0.1:0")?.local_addr()?.port())
}

mod agent;
mod logs;
mod metrics;
mod registry;
pub mod report;
