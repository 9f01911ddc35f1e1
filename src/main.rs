//! The `vigil` binary: parses the command line and hands over to the library.

use clap::Parser;

/// mimalloc keeps freed memory for reuse: indexing allocates and frees large buffers every
/// commit, and the system allocator handed them back to the kernel each time (page faults
/// were a sixth of ingest CPU).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[tokio::main]
async fn main() -> std::process::ExitCode {
    let cli = vigil::cli::Cli::parse();
    vigil_common::telemetry::init_tracing("info,tantivy=warn,librdkafka=warn");
    match vigil::cli::dispatch(cli).await {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("error: {error:#}");
            std::process::ExitCode::FAILURE
        }
    }
}
