//! Metric samples on the bus: a [`MetricBatch`] of series, each with its labels and samples.
//!
//! The series, label and sample messages use the field numbers of Prometheus's remote-write
//! protocol (`prometheus.TimeSeries`), so a remote-write request decodes into them directly
//! ([`WriteRequest`]) and passes through to the bus without conversion.

/// Prometheus's stale marker: a sample whose value is a NaN with exactly these bits ends its
/// series (written by a scraper when a series disappears).
pub const STALE_NAN_BITS: u64 = 0x7ff0_0000_0000_0002;

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
    /// `# TYPE`, `# HELP` and `# UNIT` of the metric families in the batch.
    #[prost(message, repeated, tag = "4")]
    pub metadata: Vec<MetricMetadata>,
}

/// A metric family's type, help and unit, as remote write's `prometheus.MetricMetadata`.
#[derive(Clone, PartialEq, prost::Message)]
pub struct MetricMetadata {
    /// Remote write's enum: 0 unknown, 1 counter, 2 gauge, 3 histogram, 4 gaugehistogram,
    /// 5 summary, 6 info, 7 stateset.
    #[prost(int32, tag = "1")]
    pub kind: i32,
    #[prost(string, tag = "2")]
    pub metric_family_name: String,
    #[prost(string, tag = "4")]
    pub help: String,
    #[prost(string, tag = "5")]
    pub unit: String,
}

/// Remote write's type enum, by name (`counter`, `gauge`, ...).
pub const METRIC_KINDS: [&str; 8] =
    ["unknown", "counter", "gauge", "histogram", "gaugehistogram", "summary", "info", "stateset"];

impl MetricMetadata {
    /// From exposition text's `# TYPE` word (`untyped` and anything unknown are `unknown`).
    pub fn new(family: &str, kind: Option<&str>, help: Option<&str>, unit: Option<&str>) -> MetricMetadata {
        let kind = kind.and_then(|k| METRIC_KINDS.iter().position(|known| *known == k)).unwrap_or(0) as i32;
        MetricMetadata {
            kind,
            metric_family_name: family.to_string(),
            help: help.unwrap_or_default().to_string(),
            unit: unit.unwrap_or_default().to_string(),
        }
    }

    pub fn kind_name(&self) -> &'static str {
        usize::try_from(self.kind).ok().and_then(|i| METRIC_KINDS.get(i)).copied().unwrap_or("unknown")
    }
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

/// Prometheus remote write 1.0's request (`prometheus.WriteRequest`).
#[derive(Clone, PartialEq, prost::Message)]
pub struct WriteRequest {
    #[prost(message, repeated, tag = "1")]
    pub timeseries: Vec<TimeSeries>,
    #[prost(message, repeated, tag = "3")]
    pub metadata: Vec<MetricMetadata>,
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
            metadata: vec![MetricMetadata::new("up", Some("gauge"), Some("1 if the target is up"), None)],
        };
        let batch = MetricBatch {
            schema_version: METRIC_BATCH_SCHEMA_VERSION,
            series: request.timeseries.clone(),
            source: String::new(),
            metadata: request.metadata.clone(),
        };
        let decoded = MetricBatch::decode(batch.encode_to_vec().as_slice()).unwrap();
        assert_eq!(decoded.series, request.timeseries);
        assert_eq!(decoded.metadata[0].kind_name(), "gauge");
        assert_eq!(WriteRequest::decode(request.encode_to_vec().as_slice()).unwrap(), request);
    }
}
