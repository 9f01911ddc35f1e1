//! Raft over HTTP: [`client`] sends RPCs to peers, [`server`] receives them.

pub mod client;
pub mod server;
