//! Policies (`/v1/policies/{kind}/{name}`, kind: circuit-breaker, rate-limit,
//! load-balancing) and alert rule groups (`/v1/alert-rules/{group}`; `POST /v1/alert-rules`
//! takes a whole Prometheus rule file, YAML or JSON). Versioned like KV: `?cas=` on writes,
//! blocking reads with `?index=&wait=` on lists.

use std::sync::Arc;

use axum::{
    body::Bytes,
    extract::{Path, Query, State},
    http::HeaderMap,
    response::Response,
    Json,
};
use serde::Deserialize;
use serde_json::{json, Value};
use vigil_common::http::ApiError;
use vigil_model::{
    policy::{Document, DocumentKind, RuleFile},
    registry::Command,
    ErrorCode,
};

use super::{
    params::{check_document_name, Common},
    watch,
};
use crate::{node::RegistryNode, store::changes::WatchTarget};

type Node = State<Arc<RegistryNode>>;

fn policy_kind(kind: &str) -> Result<DocumentKind, ApiError> {
    DocumentKind::parse(kind).filter(|kind| DocumentKind::POLICIES.contains(kind)).ok_or_else(|| {
        ApiError::new(
            ErrorCode::NotFound,
            format!("no policy kind {kind:?}: the kinds are circuit-breaker, rate-limit and load-balancing"),
        )
    })
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WriteQuery {
    namespace: Option<String>,
    cas: Option<u64>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ListQuery {
    namespace: Option<String>,
    consistency: Option<String>,
    /// Only the policies of this service.
    service: Option<String>,
    index: Option<u64>,
    wait: Option<String>,
}

pub async fn put_policy(
    State(node): Node,
    Path((kind, name)): Path<(String, String)>,
    Query(query): Query<WriteQuery>,
    body: Bytes,
) -> Result<Json<Value>, ApiError> {
    let kind = policy_kind(&kind)?;
    put(&node, kind, name, query, &body).await
}

pub async fn put_rule_group(
    State(node): Node,
    Path(name): Path<String>,
    Query(query): Query<WriteQuery>,
    body: Bytes,
) -> Result<Json<Value>, ApiError> {
    put(&node, DocumentKind::AlertRules, name, query, &body).await
}

async fn put(
    node: &RegistryNode,
    kind: DocumentKind,
    name: String,
    query: WriteQuery,
    body: &[u8],
) -> Result<Json<Value>, ApiError> {
    let namespace = Common { namespace: query.namespace, consistency: None }.namespace()?;
    check_document_name(&name)?;
    let document = Document::from_json(kind, body)
        .map_err(|error| ApiError::bad_request(format!("invalid {} document {name:?}: {error}", kind.as_str())))?;
    if let Document::AlertRules(group) = &document {
        if group.name != name {
            return Err(ApiError::bad_request(format!(
                "the group is named {:?} in the body but {name:?} in the path: use the same name",
                group.name
            )));
        }
    }
    super::answer(node.write(Command::PutDocument { namespace, name, document, cas: query.cas }).await?)
}

pub async fn get_policy(
    State(node): Node,
    Path((kind, name)): Path<(String, String)>,
    Query(common): Query<Common>,
) -> Result<Json<Value>, ApiError> {
    get(&node, policy_kind(&kind)?, name, common).await
}

pub async fn get_rule_group(
    State(node): Node,
    Path(name): Path<String>,
    Query(common): Query<Common>,
) -> Result<Json<Value>, ApiError> {
    get(&node, DocumentKind::AlertRules, name, common).await
}

async fn get(node: &RegistryNode, kind: DocumentKind, name: String, common: Common) -> Result<Json<Value>, ApiError> {
    let namespace = common.namespace()?;
    common.read_barrier(node).await?;
    let stored = node.read(|applied| applied.state.documents.get(&(kind, namespace.clone(), name.clone())).cloned());
    match stored {
        Some(stored) => Ok(Json(serde_json::to_value(stored).unwrap_or(Value::Null))),
        None => Err(ApiError::new(
            ErrorCode::NotFound,
            format!("no {} document {name:?} in namespace {namespace}", kind.as_str()),
        )),
    }
}

pub async fn list_policies(
    State(node): Node,
    Path(kind): Path<String>,
    Query(query): Query<ListQuery>,
) -> Result<Response, ApiError> {
    list(&node, policy_kind(&kind)?, query).await
}

pub async fn list_rule_groups(State(node): Node, Query(query): Query<ListQuery>) -> Result<Response, ApiError> {
    list(&node, DocumentKind::AlertRules, query).await
}

async fn list(node: &RegistryNode, kind: DocumentKind, query: ListQuery) -> Result<Response, ApiError> {
    let common = Common { namespace: query.namespace, consistency: query.consistency };
    let namespace = common.namespace()?;
    let wait = watch::wait_of(query.wait.as_deref())?;
    common.read_barrier(node).await?;
    let index =
        watch::block(node, &WatchTarget::Documents { kind, namespace: namespace.clone() }, query.index, wait).await;
    let (revision, documents) = node.read(|applied| {
        let documents: Vec<Value> = applied
            .state
            .documents
            .range((kind, namespace.clone(), String::new())..)
            .take_while(|((k, ns, _), _)| *k == kind && *ns == namespace)
            .map(|(_, stored)| stored)
            .filter(|stored| query.service.as_deref().is_none_or(|service| stored.document.service() == Some(service)))
            .filter_map(|stored| serde_json::to_value(stored).ok())
            .collect();
        (applied.state.revision, documents)
    });
    Ok(watch::with_index(index, Json(json!({"revision": revision, "index": index, "documents": documents}))))
}

pub async fn delete_policy(
    State(node): Node,
    Path((kind, name)): Path<(String, String)>,
    Query(query): Query<WriteQuery>,
) -> Result<Json<Value>, ApiError> {
    delete(&node, policy_kind(&kind)?, name, query).await
}

pub async fn delete_rule_group(
    State(node): Node,
    Path(name): Path<String>,
    Query(query): Query<WriteQuery>,
) -> Result<Json<Value>, ApiError> {
    delete(&node, DocumentKind::AlertRules, name, query).await
}

async fn delete(
    node: &RegistryNode,
    kind: DocumentKind,
    name: String,
    query: WriteQuery,
) -> Result<Json<Value>, ApiError> {
    let namespace = Common { namespace: query.namespace, consistency: None }.namespace()?;
    super::answer(node.write(Command::DeleteDocument { namespace, kind, name, cas: query.cas }).await?)
}

/// `POST /v1/alert-rules`: a Prometheus rule file (`groups:`), YAML unless the content type
/// says JSON. Every group is checked before any is stored; then all are stored in one entry.
pub async fn import_rule_file(
    State(node): Node,
    Query(query): Query<WriteQuery>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Json<Value>, ApiError> {
    let namespace = Common { namespace: query.namespace, consistency: None }.namespace()?;
    if query.cas.is_some() {
        return Err(ApiError::bad_request("cas applies to one group: PUT /v1/alert-rules/{group}?cas="));
    }
    let is_json = headers
        .get(axum::http::header::CONTENT_TYPE)
        .and_then(|value| value.to_str().ok())
        .is_some_and(|value| value.starts_with("application/json"));
    let file: RuleFile = if is_json {
        serde_json::from_slice(&body).map_err(|error| ApiError::bad_request(format!("invalid rule file: {error}")))?
    } else {
        // Like Prometheus, read the first YAML document of the file and ignore any others.
        let first = serde_yaml_ng::Deserializer::from_slice(&body)
            .next()
            .ok_or_else(|| ApiError::bad_request("the rule file is empty"))?;
        serde_path_to_error::deserialize::<_, RuleFile>(first)
            .map_err(|error| ApiError::bad_request(format!("invalid rule file: {}: {}", error.path(), error.inner())))?
    };
    let mut documents = Vec::new();
    for group in file.groups {
        check_document_name(&group.name)?;
        if documents.iter().any(|(name, _)| *name == group.name) {
            return Err(ApiError::bad_request(format!("group {:?} appears twice in the file", group.name)));
        }
        group.validate().map_err(|error| ApiError::bad_request(format!("invalid rule file: {error}")))?;
        documents.push((group.name.clone(), Document::AlertRules(group)));
    }
    let groups = documents.len();
    if groups == 0 {
        return Err(ApiError::bad_request("the rule file has no groups"));
    }
    let outcome = node.write(Command::PutDocuments { namespace, documents }).await?;
    let Json(mut answer) = super::answer(outcome)?;
    answer["groups"] = json!(groups);
    Ok(Json(answer))
}
