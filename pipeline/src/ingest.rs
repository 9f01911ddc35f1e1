//! `POST /api/v1/logs/ingest`: appends a payload to the log topic and answers once it is
//! durable, so an agent may advance its checkpoint on a 2xx.
//!
//! The body is a native batch (`application/x-vigil-logbatch-v1`), JSON lines
//! (`application/x-ndjson` or `application/json`) or plain lines (`text/plain`).

use axum::{
    body::Body,
    extract::State,
    http::{header, HeaderMap},
    routing::post,
    Json, Router,
};
use prost::Message as _;
use vigil_bus::{OutgoingMessage, Producer};
use vigil_common::ApiError;
use vigil_model::{
    content_type::{self, Encoding},
    search::IngestResponse,
    ErrorCode, LogBatch, LOG_BATCH_SCHEMA_VERSION,
};

use crate::metrics as m;

/// Largest request body accepted by default.
pub const DEFAULT_MAX_BODY_BYTES: usize = 32 << 20;

/// Header that chooses the partition (lines with the same key stay in order).
pub const PARTITION_KEY_HEADER: &str = "x-vigil-partition-key";

#[derive(Clone)]
struct IngestState {
    producer: Producer,
    topic: String,
    max_body_bytes: usize,
}

/// The ingest route, appending to `topic` through `producer`.
pub fn router(producer: Producer, topic: &str, max_body_bytes: usize) -> Router {
    Router::new().route("/api/v1/logs/ingest", post(ingest)).with_state(IngestState {
        producer,
        topic: topic.to_string(),
        max_body_bytes,
    })
}

async fn ingest(
    State(state): State<IngestState>,
    headers: HeaderMap,
    body: Body,
) -> Result<Json<IngestResponse>, ApiError> {
    let too_large = || {
        ApiError::new(
            ErrorCode::PayloadTooLarge,
            format!("request body over the limit of {} bytes: send smaller batches", state.max_body_bytes),
        )
    };
    // Refuse on the announced length before reading anything.
    let announced =
        headers.get(header::CONTENT_LENGTH).and_then(|v| v.to_str().ok()).and_then(|v| v.parse::<usize>().ok());
    if announced.is_some_and(|length| length > state.max_body_bytes) {
        return Err(too_large());
    }
    let body = axum::body::to_bytes(body, state.max_body_bytes).await.map_err(|error| {
        if std::error::Error::source(&error).is_some_and(|source| source.is::<http_body_util::LengthLimitError>()) {
            too_large()
        } else {
            ApiError::bad_request(format!("failed to read the request body: {error}"))
        }
    })?;
    let content_type = headers.get(header::CONTENT_TYPE).and_then(|value| value.to_str().ok());
    let encoding = content_type.and_then(|value| Encoding::from_content_type(Some(value))).ok_or_else(|| {
        ApiError::new(
            ErrorCode::UnsupportedMediaType,
            format!(
                "unsupported content type {:?}: send {}, {} or text/plain",
                content_type.unwrap_or("(none)"),
                content_type::LOG_BATCH_V1,
                content_type::JSON_LINES
            ),
        )
    })?;
    let (accepted, batch_key) = match encoding {
        Encoding::LogBatchV1 => {
            let batch = LogBatch::decode(body.as_ref())
                .map_err(|error| ApiError::bad_request(format!("body is not a valid log batch: {error}")))?;
            if batch.schema_version == 0 || batch.schema_version > LOG_BATCH_SCHEMA_VERSION {
                return Err(ApiError::bad_request(format!(
                    "log batch schema version {} is not supported (this server reads up to {LOG_BATCH_SCHEMA_VERSION})",
                    batch.schema_version
                )));
            }
            let key =
                batch.records.first().map(|r| if r.stream.is_empty() { r.source.clone() } else { r.stream.clone() });
            (batch.records.len() as u64, key)
        }
        Encoding::JsonLines | Encoding::PlainLines => {
            (body.split(|b| *b == b'\n').filter(|line| !line.iter().all(u8::is_ascii_whitespace)).count() as u64, None)
        }
    };
    let key = headers
        .get(PARTITION_KEY_HEADER)
        .map(|value| value.as_bytes().to_vec())
        .or_else(|| batch_key.map(String::into_bytes));
    metrics::counter!(m::INGEST_REQUESTS_TOTAL).increment(1);
    metrics::counter!(m::INGEST_BYTES_TOTAL).increment(body.len() as u64);
    let message = OutgoingMessage {
        key,
        headers: vec![(content_type::HEADER.to_string(), encoding.content_type().as_bytes().to_vec())],
        payload: body.to_vec(),
    };
    let appended = state.producer.send(&state.topic, vec![message]).await.map_err(|error| match error {
        vigil_bus::BusError::Rejected(reason) => ApiError::bad_request(reason),
        other => ApiError::unavailable(format!("failed to append to the bus: {other}; retry later")),
    })?;
    Ok(Json(IngestResponse { accepted, partition: appended.partition, offset: appended.offset }))
}
