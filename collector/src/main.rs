//! `vigil-agent`: parse the command line, set up telemetry, bind the optional /health and
//! /metrics listener, and run the agent until Ctrl-C or SIGTERM. Everything else is the library.

use std::process::ExitCode;

use anyhow::Context;
use vigil_collector::{cli, AgentConfig};
use vigil_common::{config::env_overrides, shutdown, telemetry};

#[tokio::main]
async fn main() -> ExitCode {
    let env = env_overrides();
    match cli::parse_or_exit(&env) {
        cli::Invocation::Check(path) => cli::check(&path, &env),
        cli::Invocation::Status { data_dir, config, json } => cli::status(data_dir, config, json, &env),
        cli::Invocation::Run(config) => {
            telemetry::init_tracing("info");
            match serve(*config).await {
                Ok(()) => ExitCode::SUCCESS,
                Err(error) => {
                    tracing::error!(error = %format!("{error:#}"), "vigil-agent failed");
                    ExitCode::FAILURE
                }
            }
        }
    }
}

async fn serve(config: AgentConfig) -> anyhow::Result<()> {
    let listener = match &config.listen {
        Some(address) => Some(
            tokio::net::TcpListener::bind(address).await.with_context(|| format!("failed to listen on {address}"))?,
        ),
        None => None,
    };
    vigil_collector::run(config, listener, shutdown::signal()).await
}
