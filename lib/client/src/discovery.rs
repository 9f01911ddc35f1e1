//! [`ServiceWatch`]: a local copy of a service's instances, kept fresh by blocking queries.
//!
//! A background task asks for the instances with the last index it saw; the registry answers
//! when they change (or after `wait`), so the copy follows each change within one round trip
//! and costs nothing while nothing changes. When the registry cannot be reached, the copy
//! keeps its last instances and says since when it failed: callers go on calling the
//! instances they know rather than none.

use std::{
    sync::Arc,
    time::{Duration, Instant},
};

use tokio::sync::watch;
use vigil_model::registry::Instance;

use crate::{ClientError, InstancesQuery, RegistryClient};

/// How long one blocking query waits for a change before asking again.
const BLOCKING_WAIT: Duration = Duration::from_secs(60);
const FIRST_RETRY: Duration = Duration::from_millis(100);
const MAX_RETRY: Duration = Duration::from_secs(5);

/// The local copy at one moment.
#[derive(Debug, Clone)]
pub struct ServiceView {
    pub service: String,
    pub instances: Vec<Instance>,
    /// The service's protect threshold was reached (see `Discovered::protected`).
    pub protected: bool,
    /// Registry index of this copy (0 until the first answer).
    pub index: u64,
    /// When the registry last answered; None until it has.
    pub refreshed_at: Option<Instant>,
    /// Why the last refresh failed, while the copy is kept as it was.
    pub error: Option<String>,
}

impl ServiceView {
    /// True once the registry has answered at least once.
    pub fn is_loaded(&self) -> bool {
        self.refreshed_at.is_some()
    }
}

/// A service's instances, kept fresh in the background while a handle (or a clone) lives.
#[derive(Clone)]
pub struct ServiceWatch {
    view: watch::Receiver<Arc<ServiceView>>,
}

impl ServiceWatch {
    pub(crate) fn start(client: RegistryClient, service: &str, healthy: bool) -> ServiceWatch {
        let empty = ServiceView {
            service: service.to_string(),
            instances: Vec::new(),
            protected: false,
            index: 0,
            refreshed_at: None,
            error: None,
        };
        let (sender, view) = watch::channel(Arc::new(empty));
        tokio::spawn(follow(client, service.to_string(), healthy, sender));
        ServiceWatch { view }
    }

    /// The copy as it is now (possibly not loaded yet: see [`ServiceView::is_loaded`]).
    pub fn current(&self) -> Arc<ServiceView> {
        self.view.borrow().clone()
    }

    /// Waits for the next change of the copy (new instances, or a refresh failing).
    pub async fn changed(&mut self) -> Arc<ServiceView> {
        // The sender lives as long as any receiver: `changed` cannot fail while `self` exists.
        let _ = self.view.changed().await;
        self.view.borrow_and_update().clone()
    }

    /// Waits until the copy satisfies `condition`, for at most `timeout`.
    pub async fn wait_for(
        &mut self,
        timeout: Duration,
        mut condition: impl FnMut(&ServiceView) -> bool,
    ) -> Option<Arc<ServiceView>> {
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            let view = self.view.borrow_and_update().clone();
            if condition(&view) {
                return Some(view);
            }
            if tokio::time::timeout_at(deadline, self.view.changed()).await.is_err() {
                return None;
            }
        }
    }
}

/// Keeps `sender`'s copy fresh until every [`ServiceWatch`] of it is dropped.
async fn follow(client: RegistryClient, service: String, healthy: bool, sender: watch::Sender<Arc<ServiceView>>) {
    let mut index: Option<u64> = None;
    let mut retry = FIRST_RETRY;
    loop {
        let query = InstancesQuery { healthy, index, wait: Some(BLOCKING_WAIT), stale: false };
        let answer = tokio::select! {
            _ = sender.closed() => return,
            answer = client.instances(&service, &query) => answer,
        };
        match answer {
            Ok(discovered) => {
                retry = FIRST_RETRY;
                let unchanged = index == Some(discovered.index) && sender.borrow().error.is_none();
                // The answered index is adopted even when it went backwards (the registry was
                // rebuilt or restored), so the next query waits for changes past what it holds.
                index = Some(discovered.index);
                if unchanged {
                    continue;
                }
                sender.send_replace(Arc::new(ServiceView {
                    service: service.clone(),
                    instances: discovered.instances,
                    protected: discovered.protected,
                    index: discovered.index,
                    refreshed_at: Some(Instant::now()),
                    error: None,
                }));
            }
            Err(error) => {
                tracing::debug!(%service, %error, "discovery refresh failed; keeping the last instances");
                publish_error(&sender, &error);
                tokio::select! {
                    _ = sender.closed() => return,
                    _ = tokio::time::sleep(retry) => {}
                }
                retry = (retry * 2).min(MAX_RETRY);
            }
        }
    }
}

fn publish_error(sender: &watch::Sender<Arc<ServiceView>>, error: &ClientError) {
    sender.send_modify(|view| {
        let mut updated = (**view).clone();
        updated.error = Some(error.to_string());
        *view = Arc::new(updated);
    });
}
