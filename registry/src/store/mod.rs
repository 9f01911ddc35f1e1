//! Storage of a registry node: the durable Raft log ([`LogStore`]), the state machine with its
//! snapshots ([`StateMachineStore`]), and the replicated state itself ([`RegistryState`]).

pub mod changes;
mod log_store;
pub mod state;
mod state_machine;

pub use log_store::LogStore;
pub use state::RegistryState;
pub use state_machine::{Applied, StateMachineStore};

#[cfg(test)]
mod tests;
