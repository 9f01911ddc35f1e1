//! [`Registration`]: keeps one instance registered for as long as its service runs.
//!
//! It renews the lease three times per TTL, so one lost heartbeat never lets it lapse, and
//! registers again when a heartbeat answers that the instance is unknown (it expired and was
//! removed, or someone deregistered it). Failures are retried until the lease would lapse
//! and beyond; the state says how it is going.

use std::time::Duration;

use tokio::{sync::watch, task::JoinHandle};
use vigil_model::registry::InstanceSpec;

use crate::{ClientError, RegistryClient};

/// Renewals per TTL.
const RENEWALS_PER_TTL: u32 = 3;
/// Retry pace after a failed renewal.
const RETRY_AFTER_FAILURE: Duration = Duration::from_millis(250);

/// How the registration is going.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RegistrationState {
    /// Successful renewals so far.
    pub renewals: u64,
    /// Registrations so far (1 after the start; more when the instance had to be registered again).
    pub registrations: u64,
    /// The last failure, cleared by the next success.
    pub last_error: Option<String>,
}

/// An instance kept registered in the background; see the module docs. Dropping it stops the
/// renewals (the lease then lapses); [`Registration::deregister`] removes the instance at once.
pub struct Registration {
    client: RegistryClient,
    service: String,
    id: String,
    task: JoinHandle<()>,
    state: watch::Receiver<RegistrationState>,
}

impl Registration {
    pub(crate) async fn start(
        client: RegistryClient,
        service: &str,
        id: &str,
        spec: InstanceSpec,
    ) -> Result<Registration, ClientError> {
        client.register(service, id, &spec).await?;
        let (sender, state) = watch::channel(RegistrationState { registrations: 1, ..Default::default() });
        let task = tokio::spawn(keep(client.clone(), service.to_string(), id.to_string(), spec, sender));
        Ok(Registration { client, service: service.to_string(), id: id.to_string(), task, state })
    }

    pub fn state(&self) -> RegistrationState {
        self.state.borrow().clone()
    }

    /// Stops the renewals and removes the instance from the registry.
    pub async fn deregister(self) -> Result<(), ClientError> {
        self.task.abort();
        self.client.deregister(&self.service, &self.id).await.map(|_| ())
    }
}

impl Drop for Registration {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn keep(
    client: RegistryClient,
    service: String,
    id: String,
    spec: InstanceSpec,
    state: watch::Sender<RegistrationState>,
) {
    // Without a TTL the instance lives until deregistered: nothing to renew.
    let Some(ttl) = spec.ttl else { return };
    let interval = (ttl / RENEWALS_PER_TTL).max(Duration::from_millis(100));
    let mut pause = interval;
    loop {
        tokio::time::sleep(pause).await;
        let outcome = match client.heartbeat(&service, &id).await {
            Err(error) if error.is_not_found() => {
                tracing::info!(%service, %id, "instance unknown to the registry; registering it again");
                client.register(&service, &id, &spec).await.map(|_| true)
            }
            other => other.map(|()| false),
        };
        match outcome {
            Ok(registered_again) => {
                pause = interval;
                state.send_modify(|state| {
                    state.renewals += u64::from(!registered_again);
                    state.registrations += u64::from(registered_again);
                    state.last_error = None;
                });
            }
            Err(error) => {
                tracing::warn!(%service, %id, %error, "failed to renew the registration; retrying");
                pause = RETRY_AFTER_FAILURE.min(interval);
                state.send_modify(|state| state.last_error = Some(error.to_string()));
            }
        }
    }
}
