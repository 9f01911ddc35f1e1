//! [`RegistryClient`]: one typed method per registry endpoint (see the README's API table).

use std::time::Duration;

use reqwest::Method;
use serde::{Deserialize, Serialize};
use vigil_model::registry::{ClusterStatus, Instance, InstanceSpec, KvEntry, DEFAULT_NAMESPACE};

use crate::{
    transport::{Call, Transport},
    ClientError, Registration, ServiceWatch,
};

/// A client of a registry cluster. Cheap to clone; clones share connections and the knowledge
/// of which node answered last.
#[derive(Clone)]
pub struct RegistryClient {
    pub(crate) transport: Transport,
    namespace: String,
}

/// What discovery answers: the instances and the index to block on for the next change.
#[derive(Debug, Clone, Deserialize)]
pub struct Discovered {
    pub index: u64,
    pub revision: u64,
    /// True when the service's protect threshold was reached: `instances` then holds every
    /// enabled instance, critical ones included, rather than the few passing ones.
    pub protected: bool,
    pub instances: Vec<Instance>,
}

/// Options of [`RegistryClient::instances`].
#[derive(Debug, Clone, Default)]
pub struct InstancesQuery {
    /// Only passing instances (unless the protect threshold is reached).
    pub healthy: bool,
    /// Blocking query: answer once the service changed past this index...
    pub index: Option<u64>,
    /// ...or after this long (the registry's default is 5 minutes).
    pub wait: Option<Duration>,
    /// Let any node answer from its own copy, without asking the leader (may be behind).
    pub stale: bool,
}

/// One service of a namespace with its instance counts.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct ServiceSummary {
    pub service: String,
    pub instances: u64,
    pub passing: u64,
}

/// An instance named in a batch renewal.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct InstanceRef {
    pub service: String,
    pub id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub namespace: Option<String>,
}

/// The answer to a batch renewal: instances the registry no longer knows must register again.
#[derive(Debug, Clone, Deserialize)]
pub struct Renewed {
    pub renewed: u64,
    pub unknown: Vec<InstanceRef>,
}

#[derive(Deserialize)]
struct Written {
    revision: u64,
}

impl RegistryClient {
    /// A client of the registry nodes at `endpoints` (`host:port` or `http://host:port`).
    pub fn new<I, S>(endpoints: I) -> Result<RegistryClient, ClientError>
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        Ok(RegistryClient { transport: Transport::new(endpoints)?, namespace: DEFAULT_NAMESPACE.to_string() })
    }

    /// Sends `Authorization: Bearer <token>` (writes need a token when auth is on).
    pub fn with_token(mut self, token: impl AsRef<str>) -> RegistryClient {
        self.transport.token = Some(token.as_ref().trim().into());
        self
    }

    /// The namespace of service calls (default `default`).
    pub fn with_namespace(mut self, namespace: impl Into<String>) -> RegistryClient {
        self.namespace = namespace.into();
        self
    }

    /// How long a call keeps trying other nodes before it gives up (default 15 s).
    pub fn with_failover_timeout(mut self, timeout: Duration) -> RegistryClient {
        self.transport.failover_timeout = timeout;
        self
    }

    pub fn namespace(&self) -> &str {
        &self.namespace
    }

    /// Registers (or updates) an instance; answers the revision of the change.
    pub async fn register(&self, service: &str, id: &str, spec: &InstanceSpec) -> Result<u64, ClientError> {
        let call = self.instance_call(Method::PUT, service, id, None).json(spec);
        self.written(call).await
    }

    /// Renews the instance's lease. `is_not_found()` on the error: register again.
    pub async fn heartbeat(&self, service: &str, id: &str) -> Result<(), ClientError> {
        let call = self.instance_call(Method::PUT, service, id, Some("heartbeat"));
        self.transport.send(&call).await.map(|_| ())
    }

    /// Renews many leases in one call (an agent renewing every instance of its host).
    pub async fn renew(&self, instances: &[InstanceRef]) -> Result<Renewed, ClientError> {
        let instances: Vec<InstanceRef> = instances
            .iter()
            .map(|i| InstanceRef {
                namespace: i.namespace.clone().or_else(|| Some(self.namespace.clone())),
                ..i.clone()
            })
            .collect();
        let call = Call::new(Method::PUT, &["v1", "registry", "heartbeats"]).json(&instances);
        let name = call.name();
        self.transport.send(&call).await?.json(&name)
    }

    pub async fn deregister(&self, service: &str, id: &str) -> Result<u64, ClientError> {
        self.written(self.instance_call(Method::DELETE, service, id, None)).await
    }

    /// One instance as registered (any health).
    pub async fn instance(&self, service: &str, id: &str) -> Result<Option<Instance>, ClientError> {
        let call = self.instance_call(Method::GET, service, id, None);
        let name = call.name();
        match self.transport.send(&call).await {
            Ok(answer) => answer.json(&name).map(Some),
            Err(error) if error.is_not_found() => Ok(None),
            Err(error) => Err(error),
        }
    }

    /// Discovery: the enabled instances of `service`, or a blocking query for their next change.
    pub async fn instances(&self, service: &str, query: &InstancesQuery) -> Result<Discovered, ClientError> {
        let mut call = Call::new(Method::GET, &["v1", "registry", "services", service, "instances"])
            .query("namespace", &self.namespace);
        if query.healthy {
            call = call.query("healthy", "true");
        }
        if query.stale {
            call = call.query("consistency", "stale");
        }
        if let Some(index) = query.index {
            let wait = query.wait.unwrap_or(Duration::from_secs(300));
            call = call.query("index", index).query("wait", format!("{}ms", wait.as_millis()));
            // The registry holds the answer for up to `wait`: do not time out before it does.
            call.timeout = Some(wait + self.transport.request_timeout);
        }
        let name = call.name();
        self.transport.send(&call).await?.json(&name)
    }

    /// Every service of the namespace with its instance counts.
    pub async fn services(&self) -> Result<Vec<ServiceSummary>, ClientError> {
        #[derive(Deserialize)]
        struct Services {
            services: Vec<ServiceSummary>,
        }
        let call = Call::new(Method::GET, &["v1", "registry", "services"]).query("namespace", &self.namespace);
        let name = call.name();
        Ok(self.transport.send(&call).await?.json::<Services>(&name)?.services)
    }

    /// The value of `key`, or None when it does not exist.
    pub async fn kv_get(&self, key: &str) -> Result<Option<KvEntry>, ClientError> {
        #[derive(Deserialize)]
        struct Entry {
            entry: KvEntry,
        }
        let call = Call::new(Method::GET, &kv_path(key));
        let name = call.name();
        match self.transport.send(&call).await {
            Ok(answer) => Ok(Some(answer.json::<Entry>(&name)?.entry)),
            Err(error) if error.is_not_found() => Ok(None),
            Err(error) => Err(error),
        }
    }

    /// Every key starting with `prefix`, sorted.
    pub async fn kv_list(&self, prefix: &str) -> Result<Vec<KvEntry>, ClientError> {
        #[derive(Deserialize)]
        struct Entries {
            entries: Vec<KvEntry>,
        }
        let call = Call::new(Method::GET, &kv_path(prefix)).query("prefix", "true");
        let name = call.name();
        Ok(self.transport.send(&call).await?.json::<Entries>(&name)?.entries)
    }

    /// Sets `key`; answers the revision of the change.
    pub async fn kv_put(&self, key: &str, value: &str) -> Result<u64, ClientError> {
        self.written(Call::new(Method::PUT, &kv_path(key)).text(value)).await
    }

    /// Sets `key` only if it is at revision `cas` (0: only if absent). A lost race answers an
    /// error with `is_conflict()`.
    pub async fn kv_put_cas(&self, key: &str, value: &str, cas: u64) -> Result<u64, ClientError> {
        let mut call = Call::new(Method::PUT, &kv_path(key)).text(value).query("cas", cas);
        // Sent twice, a compare-and-set that won would report a conflict with itself.
        call.idempotent = false;
        self.written(call).await
    }

    pub async fn kv_delete(&self, key: &str) -> Result<u64, ClientError> {
        self.written(Call::new(Method::DELETE, &kv_path(key))).await
    }

    /// The answering node's view of the cluster: role, term, leader, indexes, members.
    pub async fn cluster_status(&self) -> Result<ClusterStatus, ClientError> {
        let call = Call::new(Method::GET, &["v1", "cluster", "status"]);
        let name = call.name();
        self.transport.send(&call).await?.json(&name)
    }

    /// Registers the instance and keeps it registered until [`Registration::deregister`]
    /// (see [`Registration`]). Fails, registering nothing, when the first registration is refused.
    pub async fn register_and_keep(
        &self,
        service: &str,
        id: &str,
        spec: InstanceSpec,
    ) -> Result<Registration, ClientError> {
        Registration::start(self.clone(), service, id, spec).await
    }

    /// A local copy of `service`'s instances (only passing ones when `healthy`), kept fresh
    /// in the background (see [`ServiceWatch`]).
    pub fn watch_service(&self, service: &str, healthy: bool) -> ServiceWatch {
        ServiceWatch::start(self.clone(), service, healthy)
    }

    fn instance_call(&self, method: Method, service: &str, id: &str, action: Option<&str>) -> Call {
        let mut path = vec!["v1", "registry", "services", service, "instances", id];
        path.extend(action);
        Call::new(method, &path).query("namespace", &self.namespace)
    }

    async fn written(&self, call: Call) -> Result<u64, ClientError> {
        let name = call.name();
        Ok(self.transport.send(&call).await?.json::<Written>(&name)?.revision)
    }
}

/// `/v1/kv/{key}` with each `/`-separated part of the key escaped on its own.
fn kv_path(key: &str) -> Vec<&str> {
    let mut path = vec!["v1", "kv"];
    path.extend(key.split('/'));
    path
}

impl std::fmt::Debug for RegistryClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RegistryClient").field("namespace", &self.namespace).finish_non_exhaustive()
    }
}
