//! The `vigil` server: composes the roles (ingest, pipeline, query) into one process.
//!
//! [`cli`] reads the command line, [`config`] the config file, [`serve`] starts the roles on
//! one listener, and [`bench`] holds the benchmarks (`vigil bench logs`).

pub mod bench;
pub mod cli;
pub mod config;
pub mod metrics_config;
mod metrics_maintenance;
mod self_scrape;
pub mod serve;
