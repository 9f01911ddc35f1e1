//! API tokens (admin only): `POST /v1/auth/tokens` creates one and shows its secret once,
//! `GET` lists them (no secrets), `DELETE /v1/auth/tokens/{id}` revokes one.

use std::sync::Arc;

use axum::{
    extract::{Path, State},
    Json,
};
use serde::Deserialize;
use serde_json::{json, Value};
use vigil_common::http::ApiError;
use vigil_model::registry::Command;

use super::params::check_name;
use crate::{auth, node::RegistryNode};

type Node = State<Arc<RegistryNode>>;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewToken {
    id: String,
    scopes: Vec<String>,
}

fn check_scope(scope: &str) -> Result<(), ApiError> {
    let valid = match scope {
        "admin" | "read" | "write:kv" => true,
        _ => match scope.strip_prefix("write:") {
            Some(target) if target.starts_with("kv/") => target.len() > 3,
            Some(target) => {
                let mut parts = target.splitn(2, '/');
                parts.all(|part| check_name("scope part", part).is_ok())
            }
            None => false,
        },
    };
    if valid {
        Ok(())
    } else {
        Err(ApiError::bad_request(format!(
            "unknown scope {scope:?}: use admin, read, write:<namespace>, write:<namespace>/<service>, write:kv or write:kv/<prefix>"
        )))
    }
}

pub async fn create(State(node): Node, body: super::params::JsonBody<NewToken>) -> Result<Json<Value>, ApiError> {
    let super::params::JsonBody(new) = body;
    check_name("token id", &new.id)?;
    if new.scopes.is_empty() {
        return Err(ApiError::bad_request("scopes is empty: a token needs at least one scope"));
    }
    for scope in &new.scopes {
        check_scope(scope)?;
    }
    let secret = auth::new_secret();
    let command =
        Command::PutToken { id: new.id.clone(), secret_sha256: auth::sha256_hex(&secret), scopes: new.scopes.clone() };
    let Json(mut answer) = super::answer(node.write(command).await?)?;
    answer["id"] = json!(new.id);
    answer["scopes"] = json!(new.scopes);
    answer["token"] = json!(secret);
    Ok(Json(answer))
}

pub async fn list(State(node): Node) -> Result<Json<Value>, ApiError> {
    node.read_barrier().await?;
    let tokens: Vec<Value> = node.read(|applied| {
        applied
            .state
            .tokens
            .values()
            .map(|t| json!({"id": t.id, "scopes": t.scopes, "create_revision": t.create_revision}))
            .collect()
    });
    Ok(Json(json!({ "tokens": tokens })))
}

pub async fn delete(State(node): Node, Path(id): Path<String>) -> Result<Json<Value>, ApiError> {
    super::answer(node.write(Command::DeleteToken { id }).await?)
}
