//! Passing a call on to the leader, for what only the leader can do (lease renewals).

use axum::{http::HeaderMap, Json};
use serde_json::Value;
use vigil_common::http::ApiError;

use crate::node::RegistryNode;

/// Sends `method path` to the leader with the caller's token, and answers as it answered.
pub async fn to_leader(
    node: &RegistryNode,
    method: reqwest::Method,
    path: &str,
    headers: &HeaderMap,
) -> Result<Json<Value>, ApiError> {
    send(node, method, path, headers, None).await
}

/// `PUT path` with a JSON body, to the leader.
pub async fn to_leader_with_body(
    node: &RegistryNode,
    path: &str,
    headers: &HeaderMap,
    body: &Value,
) -> Result<Json<Value>, ApiError> {
    send(node, reqwest::Method::PUT, path, headers, Some(body)).await
}

async fn send(
    node: &RegistryNode,
    method: reqwest::Method,
    path: &str,
    headers: &HeaderMap,
    body: Option<&Value>,
) -> Result<Json<Value>, ApiError> {
    let address = node.leader_address()?;
    let mut request = node.http().request(method, format!("http://{address}{path}"));
    if let Some(body) = body {
        request = request.json(body);
    }
    if let Some(authorization) = headers.get(axum::http::header::AUTHORIZATION) {
        request = request.header(reqwest::header::AUTHORIZATION, authorization.as_bytes());
    }
    let response = request
        .send()
        .await
        .map_err(|error| ApiError::unavailable(format!("failed to reach the registry leader at {address}: {error}")))?;
    crate::node::decode_answer(response).await.map(Json)
}
