//! Bearer tokens with scopes, and the cluster secret that guards node-to-node calls.
//!
//! A token is a random secret; the registry stores only its SHA-256 with its scopes, so every
//! node can check it. Scopes: `admin` (everything), `read`, `write:<namespace>`,
//! `write:<namespace>/<service>`, `write:kv`, `write:kv/<key prefix>`. With auth on, writes
//! without a token are refused; reads need `read` only when `anonymous_read` is off. The first
//! leader of a cluster with no token creates `admin` and writes its secret to
//! `<data-dir>/admin-token`.

use std::{path::Path, sync::Arc, time::Duration};

use axum::{
    extract::{Request, State},
    http::Method,
    middleware::Next,
    response::{IntoResponse, Response},
};
use sha2::{Digest, Sha256};
use vigil_common::http::ApiError;
use vigil_model::{registry::Command, ErrorCode};

use crate::node::RegistryNode;

/// The header carrying the cluster secret on node-to-node calls.
pub const CLUSTER_HEADER: &str = "x-vigil-cluster";

/// The file the bootstrap admin token is written to, under the data directory.
pub const ADMIN_TOKEN_FILE: &str = "admin-token";

pub fn sha256_hex(secret: &str) -> String {
    hex(&Sha256::digest(secret.as_bytes()))
}

/// Lower-case hex, without a `format!` per byte (this runs on every authorized request).
fn hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut text = String::with_capacity(bytes.len() * 2);
    for byte in bytes {
        text.push(DIGITS[usize::from(byte >> 4)] as char);
        text.push(DIGITS[usize::from(byte & 0xf)] as char);
    }
    text
}

pub fn new_secret() -> String {
    let bytes: [u8; 24] = rand::random();
    format!("vgl_{}", hex(&bytes))
}

/// What a request needs.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Need {
    Read,
    Write { namespace: String, service: Option<String> },
    WriteKv { key: String },
    Admin,
}

impl Need {
    fn of(method: &Method, path: &str, namespace: &str) -> Need {
        let segments: Vec<&str> = path.trim_start_matches('/').split('/').collect();
        if *method == Method::GET || *method == Method::HEAD {
            return if segments.get(1) == Some(&"auth") { Need::Admin } else { Need::Read };
        }
        match segments.as_slice() {
            // A batch renewal names its instances in the body: it needs the namespace's scope.
            ["v1", "registry", "heartbeats"] => Need::Write { namespace: namespace.to_string(), service: None },
            ["v1", "registry", "services", service, ..] => {
                Need::Write { namespace: namespace.to_string(), service: Some(service.to_string()) }
            }
            ["v1", "kv", key @ ..] => Need::WriteKv { key: key.join("/") },
            // Sessions, locks and elections are keys under reserved prefixes.
            ["v1", "sessions", ..] => Need::WriteKv { key: "_sessions/".to_string() },
            ["v1", "locks", name, ..] => Need::WriteKv { key: format!("_locks/{name}") },
            ["v1", "elections", name, ..] => Need::WriteKv { key: format!("_elections/{name}") },
            ["v1", "policies", ..] | ["v1", "alert-rules", ..] => {
                Need::Write { namespace: namespace.to_string(), service: None }
            }
            _ => Need::Admin,
        }
    }

    fn allowed_by(&self, scopes: &[String]) -> bool {
        scopes.iter().any(|scope| {
            scope == "admin"
                || match self {
                    Need::Read => scope == "read" || scope.starts_with("write:"),
                    Need::Write { namespace, service } => {
                        scope.strip_prefix("write:").is_some_and(|target| match target.split_once('/') {
                            None => target == namespace,
                            Some((ns, s)) => ns == namespace && Some(s) == service.as_deref(),
                        })
                    }
                    Need::WriteKv { key } => {
                        scope == "write:kv"
                            || scope.strip_prefix("write:kv/").is_some_and(|prefix| key.starts_with(prefix))
                    }
                    Need::Admin => false,
                }
        })
    }

    fn describe(&self) -> String {
        match self {
            Need::Read => "read".to_string(),
            Need::Write { namespace, service: Some(service) } => {
                format!("write:{namespace} or write:{namespace}/{service}")
            }
            Need::Write { namespace, service: None } => format!("write:{namespace}"),
            Need::WriteKv { .. } => "write:kv (or write:kv/<prefix of the key>)".to_string(),
            Need::Admin => "admin".to_string(),
        }
    }
}

/// Middleware of the REST API: checks the bearer token against what the request needs.
pub async fn authorize(State(node): State<Arc<RegistryNode>>, request: Request, next: Next) -> Response {
    let settings = node.auth_settings();
    if !settings.enabled {
        return next.run(request).await;
    }
    let namespace = request
        .uri()
        .query()
        .and_then(|query| query.split('&').find_map(|pair| pair.strip_prefix("namespace=")))
        .unwrap_or(vigil_model::registry::DEFAULT_NAMESPACE)
        .to_string();
    let need = Need::of(request.method(), request.uri().path(), &namespace);
    if need == Need::Read && settings.anonymous_read {
        return next.run(request).await;
    }
    let token = request
        .headers()
        .get(axum::http::header::AUTHORIZATION)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.strip_prefix("Bearer "))
        .map(str::trim);
    let Some(token) = token else {
        return ApiError::new(
            ErrorCode::Unauthorized,
            format!(
                "this request needs a token with scope {}: send Authorization: Bearer <token> (vigil up writes an admin token to <data-dir>/{ADMIN_TOKEN_FILE})",
                need.describe()
            ),
        )
        .into_response();
    };
    let hash = sha256_hex(token);
    let scopes = node.read(|applied| {
        applied.state.tokens.values().find(|stored| stored.secret_sha256 == hash).map(|stored| stored.scopes.clone())
    });
    match scopes {
        None => ApiError::new(ErrorCode::Unauthorized, "unknown or revoked token").into_response(),
        Some(scopes) if need.allowed_by(&scopes) => next.run(request).await,
        Some(_) => {
            ApiError::new(ErrorCode::Forbidden, format!("the token lacks the scope this needs: {}", need.describe()))
                .into_response()
        }
    }
}

/// Middleware of the Raft routes: only nodes holding the cluster secret may call them.
pub async fn cluster_only(State(node): State<Arc<RegistryNode>>, request: Request, next: Next) -> Response {
    let Some(secret) = node.cluster_secret() else {
        return next.run(request).await;
    };
    let given = request.headers().get(CLUSTER_HEADER).and_then(|value| value.to_str().ok());
    if given == Some(secret) {
        next.run(request).await
    } else {
        ApiError::new(ErrorCode::Unauthorized, "node-to-node call without the cluster secret").into_response()
    }
}

/// Creates the `admin` token once the cluster has a leader and no token, from this node if it
/// leads. The secret is written to the file before it is proposed, so a crash in between
/// leaves a file whose secret the next attempt reuses, never a token nobody knows.
pub async fn bootstrap_admin_token(node: Arc<RegistryNode>, data_dir: &Path) {
    let path = data_dir.join(ADMIN_TOKEN_FILE);
    loop {
        tokio::time::sleep(Duration::from_millis(100)).await;
        if node.read(|applied| !applied.state.tokens.is_empty()) {
            if path.exists() {
                tracing::info!(path = %path.display(), "registry admin token");
            }
            return;
        }
        if !node.is_leader() {
            continue;
        }
        let secret = match std::fs::read_to_string(&path) {
            Ok(text) if !text.trim().is_empty() => text.trim().to_string(),
            _ => {
                let secret = new_secret();
                if let Err(error) = write_secret(&path, &secret) {
                    tracing::error!(%error, path = %path.display(), "failed to write the admin token; auth stays locked");
                    return;
                }
                secret
            }
        };
        let command =
            Command::PutToken { id: "admin".into(), secret_sha256: sha256_hex(&secret), scopes: vec!["admin".into()] };
        match node.write(command).await {
            Ok(_) => {
                tracing::info!(path = %path.display(), "registry admin token created");
                return;
            }
            Err(error) => tracing::warn!(%error, "failed to create the admin token; retrying"),
        }
    }
}

fn write_secret(path: &Path, secret: &str) -> std::io::Result<()> {
    use std::{io::Write, os::unix::fs::OpenOptionsExt};
    let tmp = path.with_extension("tmp");
    {
        let mut file = std::fs::OpenOptions::new().create(true).truncate(true).write(true).mode(0o600).open(&tmp)?;
        file.write_all(format!("{secret}\n").as_bytes())?;
        file.sync_all()?;
    }
    std::fs::rename(&tmp, path)?;
    if let Some(dir) = path.parent() {
        std::fs::File::open(dir)?.sync_all()?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scopes(list: &[&str]) -> Vec<String> {
        list.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn scopes_grant_what_they_name_and_nothing_more() {
        let put = |path: &str| Need::of(&Method::PUT, path, "default");
        let checkout = put("/v1/registry/services/checkout/instances/c1");
        assert!(checkout.allowed_by(&scopes(&["write:default/checkout"])));
        assert!(checkout.allowed_by(&scopes(&["write:default"])));
        assert!(!checkout.allowed_by(&scopes(&["write:default/billing", "read", "write:prod"])));
        let kv = put("/v1/kv/app/db");
        assert!(kv.allowed_by(&scopes(&["write:kv/app/"])));
        assert!(!kv.allowed_by(&scopes(&["write:kv/other/", "write:default"])));
        let members = Need::of(&Method::POST, "/v1/cluster/members", "default");
        assert!(!members.allowed_by(&scopes(&["write:default", "write:kv"])));
        assert!(members.allowed_by(&scopes(&["admin"])));
        assert_eq!(Need::of(&Method::GET, "/v1/auth/tokens", "default"), Need::Admin, "listing tokens is admin only");
        assert_eq!(Need::of(&Method::GET, "/v1/kv/x", "default"), Need::Read);
    }
}
