//! `POST /api/v1/write`: the Prometheus remote-write 1.0 receiver (a snappy-compressed
//! protobuf `WriteRequest`), so Prometheus servers, Grafana Alloy or vmagent can send to
//! Vigil. Valid series go to the metrics topic as one [`MetricBatch`]; the answer (204) comes
//! once the bus holds them, so a sender retries anything not acknowledged. Series with
//! invalid labels are counted and named in a 400 (senders do not retry a 4xx); the valid
//! series of the same request are kept.

use axum::{body::Bytes, extract::State, http::StatusCode, routing::post, Router};
use prost::Message as _;
use vigil_bus::{OutgoingMessage, Producer};
use vigil_common::ApiError;
use vigil_metricstore::Labels;
use vigil_model::{
    metrics::{MetricBatch, WriteRequest, METRIC_BATCH_SCHEMA_VERSION},
    metrics_wire, ErrorCode,
};

use crate::metrics as m;

#[derive(Clone)]
struct WriteState {
    producer: Producer,
    topic: String,
}

/// The receiver, appending to `topic` through `producer`.
pub fn router(producer: Producer, topic: &str, max_body_bytes: usize) -> Router {
    Router::new()
        .route("/api/v1/write", post(write))
        .layer(axum::extract::DefaultBodyLimit::max(max_body_bytes))
        .with_state(WriteState { producer, topic: topic.to_string() })
}

async fn write(State(state): State<WriteState>, body: Bytes) -> Result<StatusCode, ApiError> {
    let raw = decompress(&body)?;
    // The usual request (every series valid) goes to the bus as it came, renumbered into a
    // batch, without being decoded into owned structs and encoded again.
    if let Some(payload) = batch_in_place(&raw) {
        if !payload.is_empty() {
            send(&state, payload).await?;
        }
        return Ok(StatusCode::NO_CONTENT);
    }
    let mut request = WriteRequest::decode(raw.as_slice())
        .map_err(|error| ApiError::bad_request(format!("the body is not a remote-write WriteRequest: {error}")))?;
    let metadata = std::mem::take(&mut request.metadata);
    let mut refused = 0usize;
    let mut first_refusal = None;
    let mut series = Vec::with_capacity(request.timeseries.len());
    for one in request.timeseries {
        match Labels::new(one.labels.iter().map(|l| (l.name.as_str(), l.value.as_str()))) {
            Ok(_) => series.push(one),
            Err(error) => {
                refused += 1;
                first_refusal.get_or_insert_with(|| {
                    let shown: Vec<String> = one.labels.iter().map(|l| format!("{}={:?}", l.name, l.value)).collect();
                    format!("{error} (series {{{}}})", shown.join(", "))
                });
            }
        }
    }
    metrics::counter!(m::REMOTE_WRITE_SERIES_REFUSED_TOTAL).increment(refused as u64);
    // Senders also send metadata alone, now and then.
    if !series.is_empty() || !metadata.is_empty() {
        let batch =
            MetricBatch { schema_version: METRIC_BATCH_SCHEMA_VERSION, series, source: SOURCE.into(), metadata };
        send(&state, batch.encode_to_vec()).await?;
    }
    match first_refusal {
        None => Ok(StatusCode::NO_CONTENT),
        Some(first) => Err(ApiError::bad_request(format!(
            "{refused} series refused for invalid labels, the others stored; first: {first}"
        ))),
    }
}

/// The request as a batch payload when it is well-formed and every series' labels are valid
/// (empty when it holds nothing); None sends it the slow way, which names what is wrong.
fn batch_in_place(raw: &[u8]) -> Option<Vec<u8>> {
    let (series, has_metadata) = metrics_wire::write_request_series(raw)?;
    for one in &series {
        let view = metrics_wire::SeriesView::parse(one)?;
        Labels::check(view.labels()?).ok()?;
    }
    if series.is_empty() && !has_metadata {
        return Some(Vec::new());
    }
    metrics_wire::batch_from_write_request(raw, METRIC_BATCH_SCHEMA_VERSION, SOURCE)
}

const SOURCE: &str = "remote-write";

async fn send(state: &WriteState, payload: Vec<u8>) -> Result<(), ApiError> {
    // One key for all remote-written samples: one partition keeps each series in order.
    let message = OutgoingMessage { key: Some(SOURCE.as_bytes().to_vec()), headers: Vec::new(), payload };
    state.producer.send(&state.topic, vec![message]).await.map_err(|error| {
        ApiError::new(ErrorCode::Unavailable, format!("the bus did not take the samples, retry: {error}"))
    })?;
    Ok(())
}

fn decompress(body: &[u8]) -> Result<Vec<u8>, ApiError> {
    snap::raw::Decoder::new().decompress_vec(body).map_err(|error| {
        ApiError::bad_request(format!(
            "the body is not snappy-compressed (remote write sends Content-Encoding: snappy): {error}"
        ))
    })
}
