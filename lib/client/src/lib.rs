//! Typed HTTP clients for Vigil's APIs, for services that register themselves and discover
//! others, and for Vigil's own agent and dashboard.
//!
//! Start with [`RegistryClient`]: it takes every registry node's address, sends each call to
//! one of them and moves on to the next when a node is down or has no leader, so callers do
//! not handle failover. On top of it:
//! - [`Registration`] keeps an instance registered: it renews the lease and registers again if
//!   the instance was removed (expired, or deregistered by someone else);
//! - [`ServiceWatch`] keeps a local copy of a service's instances fresh with blocking queries,
//!   and keeps serving the last copy while the registry cannot be reached.

mod discovery;
mod error;
mod registration;
mod registry;
mod transport;

pub use discovery::{ServiceView, ServiceWatch};
pub use error::ClientError;
pub use registration::{Registration, RegistrationState};
pub use registry::{Discovered, InstanceRef, InstancesQuery, RegistryClient, Renewed, ServiceSummary};
