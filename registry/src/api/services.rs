//! Services and instances: register (with a lease), heartbeat, deregister, discover.

use std::{collections::BTreeMap, sync::Arc};

use axum::{
    extract::{Path, Query, State},
    response::Response,
    Json,
};
use serde::Deserialize;
use serde_json::{json, Value};
use vigil_common::http::ApiError;
use vigil_model::{
    registry::{Command, Health, Instance, InstanceSpec, ServiceSpec},
    ErrorCode,
};

use super::{
    params::{check_name, Common},
    watch,
};
use crate::{lease, node::RegistryNode, store::changes::WatchTarget};

type Node = State<Arc<RegistryNode>>;

/// A lease shorter than this could expire between two expiry checks of the leader.
const MIN_TTL: std::time::Duration = std::time::Duration::from_secs(1);

pub async fn register(
    State(node): Node,
    Path((service, id)): Path<(String, String)>,
    Query(common): Query<Common>,
    body: super::params::JsonBody<InstanceSpec>,
) -> Result<Json<Value>, ApiError> {
    let namespace = common.namespace()?;
    check_name("service", &service)?;
    check_name("instance id", &id)?;
    let super::params::JsonBody(spec) = body;
    if spec.address.trim().is_empty() {
        return Err(ApiError::bad_request("address is empty: give the host name or IP callers connect to"));
    }
    if let Some(ttl) = spec.ttl {
        if ttl < MIN_TTL {
            return Err(ApiError::bad_request(format!("ttl {ttl:?} is below the minimum of 1s")));
        }
    }
    if let Some(check) = &spec.check {
        crate::checks::validate(check).map_err(ApiError::bad_request)?;
    }
    let ttl = spec.ttl;
    let key = (namespace.clone(), service.clone(), id.clone());
    let outcome = node.write(Command::Register { namespace, service, id, spec }).await?;
    if let Some(ttl) = ttl {
        // Registering counts as a heartbeat (on the leader; elsewhere the leader starts the
        // clock when it first sees the instance).
        node.leases.renew(key, ttl);
    }
    super::answer(outcome)
}

pub async fn deregister(
    State(node): Node,
    Path((service, id)): Path<(String, String)>,
    Query(common): Query<Common>,
) -> Result<Json<Value>, ApiError> {
    let namespace = common.namespace()?;
    let outcome = node.write(Command::Deregister { namespace, service, id }).await?;
    super::answer(outcome)
}

pub async fn heartbeat(
    State(node): Node,
    Path((service, id)): Path<(String, String)>,
    Query(common): Query<Common>,
    headers: axum::http::HeaderMap,
) -> Result<Json<Value>, ApiError> {
    let namespace = common.namespace()?;
    if node.is_leader() {
        lease::heartbeat(&node, (namespace, service, id)).await?;
        return Ok(Json(json!({"ok": true})));
    }
    // Leases live on the leader: pass the heartbeat on. Boxed: the forwarding future is large,
    // and keeping it out of this handler's future makes every heartbeat cheaper to move.
    let path = format!("/v1/registry/services/{service}/instances/{id}/heartbeat?namespace={namespace}");
    Box::pin(super::forward::to_leader(&node, reqwest::Method::PUT, &path, &headers)).await
}

pub async fn get_instance(
    State(node): Node,
    Path((service, id)): Path<(String, String)>,
    Query(common): Query<Common>,
) -> Result<Json<Instance>, ApiError> {
    let namespace = common.namespace()?;
    common.read_barrier(&node).await?;
    node.read(|applied| applied.state.instances.get(&(namespace.clone(), service.clone(), id.clone())).cloned())
        .map(Json)
        .ok_or_else(|| {
            ApiError::new(
                ErrorCode::NotFound,
                format!("instance {id} of service {service} is not registered (namespace {namespace})"),
            )
        })
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct InstancesQuery {
    namespace: Option<String>,
    consistency: Option<String>,
    /// `true`: only passing instances.
    healthy: Option<bool>,
    /// Blocking query: answer once the service changed past this index (`X-Vigil-Index`).
    index: Option<u64>,
    /// How long a blocking query may wait (default 5m, at most 10m).
    wait: Option<String>,
}

/// Discovery: the enabled instances of a service.
pub async fn list_instances(
    State(node): Node,
    Path(service): Path<String>,
    Query(query): Query<InstancesQuery>,
) -> Result<Response, ApiError> {
    let common = Common { namespace: query.namespace, consistency: query.consistency };
    let namespace = common.namespace()?;
    check_name("service", &service)?;
    let wait = watch::wait_of(query.wait.as_deref())?;
    common.read_barrier(&node).await?;
    let target = WatchTarget::Service { namespace: namespace.clone(), service: service.clone() };
    let index = watch::block(&node, &target, query.index, wait).await;
    let only_healthy = query.healthy.unwrap_or(false);
    let (revision, instances, protected) = node.read(|applied| {
        let enabled: Vec<&Instance> = applied
            .state
            .instances
            .range((namespace.clone(), service.clone(), String::new())..)
            .take_while(|((ns, s, _), _)| *ns == namespace && *s == service)
            .map(|(_, instance)| instance)
            .filter(|instance| instance.spec.enabled)
            .collect();
        let threshold = applied
            .state
            .services
            .get(&(namespace.clone(), service.clone()))
            .map_or(0.0, |settings| settings.spec.protect_threshold);
        let passing = enabled.iter().filter(|instance| instance.health == Health::Passing).count();
        // Nacos's protection: too few healthy instances left to carry the load, so callers
        // get every instance rather than overload the survivors.
        let protected = only_healthy
            && threshold > 0.0
            && !enabled.is_empty()
            && (passing as f64 / enabled.len() as f64) <= threshold;
        let instances: Vec<Instance> = enabled
            .into_iter()
            .filter(|instance| protected || !only_healthy || instance.health == Health::Passing)
            .cloned()
            .collect();
        (applied.state.revision, instances, protected)
    });
    let body = json!({
        "revision": revision,
        "index": index,
        "namespace": namespace,
        "service": service,
        "protected": protected,
        "instances": instances,
    });
    Ok(watch::with_index(index, Json(body)))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ServicesQuery {
    namespace: Option<String>,
    consistency: Option<String>,
    index: Option<u64>,
    wait: Option<String>,
}

/// Every service of a namespace with its instance counts.
pub async fn list_services(State(node): Node, Query(query): Query<ServicesQuery>) -> Result<Response, ApiError> {
    let common = Common { namespace: query.namespace, consistency: query.consistency };
    let namespace = common.namespace()?;
    let wait = watch::wait_of(query.wait.as_deref())?;
    common.read_barrier(&node).await?;
    let index = watch::block(&node, &WatchTarget::Namespace { namespace: namespace.clone() }, query.index, wait).await;
    let (revision, services) = node.read(|applied| {
        let mut services: BTreeMap<String, (u64, u64)> = BTreeMap::new();
        for ((ns, service, _), instance) in &applied.state.instances {
            if *ns == namespace {
                let counts = services.entry(service.clone()).or_default();
                counts.0 += 1;
                counts.1 += u64::from(instance.health == Health::Passing);
            }
        }
        (applied.state.revision, services)
    });
    let services: Vec<Value> = services
        .into_iter()
        .map(|(name, (instances, passing))| json!({"service": name, "instances": instances, "passing": passing}))
        .collect();
    Ok(watch::with_index(
        index,
        Json(json!({"revision": revision, "index": index, "namespace": namespace, "services": services})),
    ))
}

/// `PUT /v1/registry/services/{service}`: the service's settings (protect threshold, metadata).
pub async fn put_service(
    State(node): Node,
    Path(service): Path<String>,
    Query(common): Query<Common>,
    body: super::params::JsonBody<ServiceSpec>,
) -> Result<Json<Value>, ApiError> {
    let namespace = common.namespace()?;
    check_name("service", &service)?;
    let super::params::JsonBody(spec) = body;
    if !(0.0..=1.0).contains(&spec.protect_threshold) {
        return Err(ApiError::bad_request(format!(
            "protect_threshold {} must be between 0 and 1",
            spec.protect_threshold
        )));
    }
    super::answer(node.write(Command::PutService { namespace, service, spec }).await?)
}

/// `GET /v1/registry/services/{service}`: its settings (defaults when never set).
pub async fn get_service(
    State(node): Node,
    Path(service): Path<String>,
    Query(common): Query<Common>,
) -> Result<Json<Value>, ApiError> {
    let namespace = common.namespace()?;
    check_name("service", &service)?;
    common.read_barrier(&node).await?;
    let settings = node.read(|applied| applied.state.services.get(&(namespace.clone(), service.clone())).cloned());
    Ok(Json(match settings {
        Some(settings) => serde_json::to_value(settings).unwrap_or(Value::Null),
        None => {
            json!({"namespace": namespace, "service": service, "protect_threshold": 0.0, "metadata": {}, "mod_revision": 0})
        }
    }))
}

/// One instance in a batch renewal.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Renewal {
    service: String,
    id: String,
    namespace: Option<String>,
}

/// `PUT /v1/registry/heartbeats`: renews many leases in one call (a sidecar or an agent
/// renewing every instance of its host). Answers which instances are unknown, so the caller
/// can register them again.
pub async fn heartbeats(
    State(node): Node,
    headers: axum::http::HeaderMap,
    body: super::params::JsonBody<Vec<Renewal>>,
) -> Result<Json<Value>, ApiError> {
    let super::params::JsonBody(renewals) = body;
    if !node.is_leader() {
        return super::forward::to_leader_with_body(
            &node,
            "/v1/registry/heartbeats",
            &headers,
            &renewals_json(&renewals),
        )
        .await;
    }
    let mut unknown = Vec::new();
    let mut renewed = 0u64;
    for renewal in renewals {
        let namespace = renewal.namespace.unwrap_or_else(|| vigil_model::registry::DEFAULT_NAMESPACE.to_string());
        match lease::heartbeat(&node, (namespace.clone(), renewal.service.clone(), renewal.id.clone())).await {
            Ok(()) => renewed += 1,
            Err(error) if error.code == ErrorCode::NotFound => {
                unknown.push(json!({"namespace": namespace, "service": renewal.service, "id": renewal.id}))
            }
            Err(error) => return Err(error),
        }
    }
    Ok(Json(json!({"renewed": renewed, "unknown": unknown})))
}

fn renewals_json(renewals: &[Renewal]) -> Value {
    Value::Array(renewals.iter().map(|r| json!({"service": r.service, "id": r.id, "namespace": r.namespace})).collect())
}
