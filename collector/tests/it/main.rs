//! Integration tests of vigil-agent: the agent library against an in-test HTTP server standing
//! in for Vigil's ingest endpoint, on real files in temp directories.

mod bad_input;
mod helpers;
mod http_shipping;
mod lifecycle;
mod model;
mod multiline;
mod reload;
mod spool;
mod torture;
