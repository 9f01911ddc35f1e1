//! Shipping to a Vigil server: `POST <url>/api/v1/logs/ingest` with the protobuf batch, its
//! content type, and `x-vigil-partition-key: <stream>`. The server answers 2xx only once the
//! batch is durable; errors come as `{"error":{"code","message"}}`.

use std::error::Error as _;

use reqwest::{header::CONTENT_TYPE, StatusCode};
use vigil_model::{content_type::LOG_BATCH_V1, error::ErrorBody};

use super::{Attempt, ShipError};
use crate::{batch::Batch, config::HttpOutput};

/// Path of the ingest endpoint under the server URL.
pub const INGEST_PATH: &str = "/api/v1/logs/ingest";
/// Header that chooses the partition on the server.
pub const PARTITION_KEY_HEADER: &str = "x-vigil-partition-key";

pub struct HttpShipper {
    client: reqwest::Client,
    endpoint: String,
}

impl HttpShipper {
    pub fn new(output: &HttpOutput) -> anyhow::Result<HttpShipper> {
        let client = reqwest::Client::builder()
            .timeout(output.timeout)
            .user_agent(concat!("vigil-agent/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|error| anyhow::anyhow!("agent.output.http: failed to build the http client: {error}"))?;
        Ok(HttpShipper { client, endpoint: endpoint(&output.url) })
    }

    pub fn start(&self, batch: &Batch) -> Attempt {
        let request = self
            .client
            .post(&self.endpoint)
            .header(CONTENT_TYPE, LOG_BATCH_V1)
            .header(PARTITION_KEY_HEADER, &batch.stream)
            .body(batch.payload.clone());
        Box::pin(send(request, self.endpoint.clone()))
    }
}

/// Sends a built request; `Ok` once the server answered 2xx.
async fn send(request: reqwest::RequestBuilder, endpoint: String) -> Result<(), ShipError> {
    let response = request.send().await.map_err(|error| {
        ShipError::Retryable(format!("failed to reach {endpoint}: {}", chain(&error.without_url())))
    })?;
    let status = response.status();
    if status.is_success() {
        return Ok(());
    }
    let body = response.bytes().await.unwrap_or_default();
    let message = match serde_json::from_slice::<ErrorBody>(&body) {
        Ok(error) => error.error.message,
        Err(_) => String::from_utf8_lossy(&body[..body.len().min(512)]).into_owned(),
    };
    let text = format!("server answered {status}: {message}");
    if status == StatusCode::TOO_MANY_REQUESTS || status.is_server_error() {
        Err(ShipError::Retryable(text))
    } else {
        Err(ShipError::Rejected(text))
    }
}

/// `<url>/api/v1/logs/ingest`, whatever trailing slashes the URL has.
fn endpoint(url: &str) -> String {
    format!("{}{INGEST_PATH}", url.trim_end_matches('/'))
}

/// An error with its causes (`error sending request: connection refused`).
fn chain(error: &reqwest::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn endpoint_appends_the_ingest_path() {
        assert_eq!(endpoint("http://vigil:7280"), "http://vigil:7280/api/v1/logs/ingest");
        assert_eq!(endpoint("http://vigil:7280/"), "http://vigil:7280/api/v1/logs/ingest");
    }
}
