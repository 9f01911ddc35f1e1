//! Query parameters and name checks shared by the registry handlers.

use serde::Deserialize;
use vigil_common::http::ApiError;
use vigil_model::registry::DEFAULT_NAMESPACE;

use crate::node::RegistryNode;

/// `?namespace=&consistency=`, accepted by every registry endpoint.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Common {
    pub namespace: Option<String>,
    pub consistency: Option<String>,
}

impl Common {
    pub fn namespace(&self) -> Result<String, ApiError> {
        let namespace = self.namespace.clone().unwrap_or_else(|| DEFAULT_NAMESPACE.to_string());
        check_name("namespace", &namespace)?;
        Ok(namespace)
    }

    /// Waits for a linearizable read unless `consistency=stale`.
    pub async fn read_barrier(&self, node: &RegistryNode) -> Result<(), ApiError> {
        match self.consistency.as_deref() {
            None | Some("linearizable") | Some("default") => node.read_barrier().await,
            Some("stale") => Ok(()),
            Some(other) => Err(ApiError::bad_request(format!(
                "consistency={other:?} is not known: use linearizable (the default) or stale"
            ))),
        }
    }
}

/// Names of namespaces, services and instances: 1-128 characters of letters, digits, `.`, `_`,
/// `-` and `:`, so they are safe in URLs, metric labels and log lines.
pub fn check_name(what: &str, name: &str) -> Result<(), ApiError> {
    let valid = !name.is_empty()
        && name.len() <= 128
        && name.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-' | ':'));
    if valid {
        Ok(())
    } else {
        Err(ApiError::bad_request(format!(
            "invalid {what} {name:?}: use 1-128 characters among letters, digits, '.', '_', '-' and ':'"
        )))
    }
}

/// Names of policies and rule groups: 1-256 characters, no `/` and no control characters
/// (rule files name groups freely: "Cilium Endpoints").
pub fn check_document_name(name: &str) -> Result<(), ApiError> {
    let valid = !name.trim().is_empty() && name.len() <= 256 && !name.chars().any(|c| c == '/' || c.is_control());
    if valid {
        Ok(())
    } else {
        Err(ApiError::bad_request(format!(
            "invalid name {name:?}: use 1-256 characters, no '/' and no control characters"
        )))
    }
}

/// A JSON request body, whatever the content type says (`curl -d` sends form encoding), read
/// with errors that name the field at fault.
pub struct JsonBody<T>(pub T);

impl<S: Send + Sync, T: serde::de::DeserializeOwned> axum::extract::FromRequest<S> for JsonBody<T> {
    type Rejection = ApiError;

    async fn from_request(request: axum::extract::Request, state: &S) -> Result<Self, ApiError> {
        let bytes = axum::body::Bytes::from_request(request, state).await.map_err(|rejection| {
            let code = if rejection.status() == axum::http::StatusCode::PAYLOAD_TOO_LARGE {
                vigil_model::ErrorCode::PayloadTooLarge
            } else {
                vigil_model::ErrorCode::BadRequest
            };
            ApiError::new(code, rejection.body_text())
        })?;
        let mut deserializer = serde_json::Deserializer::from_slice(&bytes);
        serde_path_to_error::deserialize(&mut deserializer).map(JsonBody).map_err(|error| {
            let path = error.path().to_string();
            if path == "." {
                ApiError::bad_request(format!("invalid JSON body: {}", error.inner()))
            } else {
                ApiError::bad_request(format!("invalid JSON body: {path}: {}", error.inner()))
            }
        })
    }
}
