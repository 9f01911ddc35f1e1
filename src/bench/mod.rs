//! Benchmarks run as commands (`vigil bench logs`), never as timed test assertions.

use clap::Subcommand;

#[derive(Debug, Subcommand)]
pub enum BenchCommand {
    /// Log path: end-to-end ingest vs bare tantivy, index size, search latency vs grep, freshness.
    Logs(logs::LogsBenchArgs),
}

pub async fn run(command: BenchCommand) -> anyhow::Result<()> {
    match command {
        BenchCommand::Logs(args) => logs::run(args).await,
    }
}

mod logs;
