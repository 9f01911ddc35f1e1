//! End-to-end tests of the `vigil` binary: real processes, real broker, real data.

mod agent;
mod api;
mod bad_input;
mod client;
mod crash;
mod helpers;
mod invariants;
mod kafka;
mod linearizability;
mod loghub;
mod metrics;
mod policies;
mod prometheus_peers;
mod registry;
