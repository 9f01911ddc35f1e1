//! Metric samples on the bus: a [`MetricBatch`] of series, each with its labels and samples.
//!
//! The series, label and sample messages use the field numbers of Prometheus's remote-write
//! protocol (`prometheus.TimeSeries`), so a remote-write request decodes into them directly
//! ([`WriteRequest`]) and passes through to the bus without conversion.

/// Version of [`MetricBatch`]; the pipeline keeps (and counts) batches of a newer version.
pub const METRIC_BATCH_SCHEMA_VERSION: u32 = 1;

/// What the agent and the remote-write receiver put on the metrics topic.
#[derive(Clone, PartialEq, prost::Message)]
pub struct MetricBatch {
    #[prost(uint32, tag = "1")]
    pub schema_version: u32,
    #[prost(message, repeated, tag = "2")]
    pub series: Vec<TimeSeries>,
    /// Who sent it (an agent's host, `remote-write`), for error messages and metrics.
    #[prost(string, tag = "3")]
    pub source: String,
}

#[derive(Clone, PartialEq, prost::Message)]
pub struct TimeSeries {
    /// The metric name is the `__name__` label.
    #[prost(message, repeated, tag = "1")]
    pub labels: Vec<Label>,
    #[prost(message, repeated, tag = "2")]
    pub samples: Vec<Sample>,
}

#[derive(Clone, PartialEq, prost::Message)]
pub struct Label {
    #[prost(string, tag = "1")]
    pub name: String,
    #[prost(string, tag = "2")]
    pub value: String,
}

#[derive(Clone, PartialEq, prost::Message)]
pub struct Sample {
    #[prost(double, tag = "1")]
    pub value: f64,
    /// Milliseconds since the epoch.
    #[prost(int64, tag = "2")]
    pub timestamp: i64,
}

/// Prometheus remote write 1.0's request (`prometheus.WriteRequest`); metadata (field 3) is
/// not read.
#[derive(Clone, PartialEq, prost::Message)]
pub struct WriteRequest {
    #[prost(message, repeated, tag = "1")]
    pub timeseries: Vec<TimeSeries>,
}

#[cfg(test)]
mod tests {
    use prost::Message;

    use super::*;

    #[test]
    fn a_remote_write_request_decodes_into_the_bus_series() {
        let request = WriteRequest {
            timeseries: vec![TimeSeries {
                labels: vec![Label { name: "__name__".into(), value: "up".into() }],
                samples: vec![Sample { value: 1.0, timestamp: 1_700_000_000_000 }],
            }],
        };
        let batch = MetricBatch {
            schema_version: METRIC_BATCH_SCHEMA_VERSION,
            series: request.timeseries.clone(),
            source: String::new(),
        };
        let decoded = MetricBatch::decode(batch.encode_to_vec().as_slice()).unwrap();
        assert_eq!(decoded.series, request.timeseries);
        assert_eq!(WriteRequest::decode(request.encode_to_vec().as_slice()).unwrap(), request);
    }
}
