//! Names of the encodings a log payload can arrive in, carried in the Kafka header
//! `content-type` or the HTTP `Content-Type`.

/// The bus / HTTP header that names a payload's encoding.
pub const HEADER: &str = "content-type";

/// The native protobuf [`crate::LogBatch`], schema version 1.
pub const LOG_BATCH_V1: &str = "application/x-vigil-logbatch-v1";

/// One JSON object per line (what Vector, Fluent Bit and the OpenTelemetry Collector write).
pub const JSON_LINES: &str = "application/x-ndjson";

/// How a payload is encoded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Encoding {
    LogBatchV1,
    JsonLines,
    /// Plain text, one log line per line (`text/plain`).
    PlainLines,
}

impl Encoding {
    /// Maps a content type to an encoding; `None` for a type Vigil does not read.
    /// A missing header means JSON lines, since that is what third-party producers write.
    pub fn from_content_type(value: Option<&str>) -> Option<Encoding> {
        let Some(value) = value else {
            return Some(Encoding::JsonLines);
        };
        let essence = value.split(';').next().unwrap_or("").trim().to_ascii_lowercase();
        match essence.as_str() {
            LOG_BATCH_V1 | "application/x-protobuf" => Some(Encoding::LogBatchV1),
            JSON_LINES | "application/json" | "application/jsonlines" | "application/x-jsonlines" => {
                Some(Encoding::JsonLines)
            }
            "text/plain" => Some(Encoding::PlainLines),
            _ => None,
        }
    }

    pub fn content_type(self) -> &'static str {
        match self {
            Encoding::LogBatchV1 => LOG_BATCH_V1,
            Encoding::JsonLines => JSON_LINES,
            Encoding::PlainLines => "text/plain",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn content_types_map_to_encodings() {
        assert_eq!(Encoding::from_content_type(None), Some(Encoding::JsonLines));
        assert_eq!(Encoding::from_content_type(Some("application/json; charset=utf-8")), Some(Encoding::JsonLines));
        assert_eq!(Encoding::from_content_type(Some(LOG_BATCH_V1)), Some(Encoding::LogBatchV1));
        assert_eq!(Encoding::from_content_type(Some("text/plain")), Some(Encoding::PlainLines));
        assert_eq!(Encoding::from_content_type(Some("image/png")), None);
    }
}
