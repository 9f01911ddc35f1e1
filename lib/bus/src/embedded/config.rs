//! Settings of the embedded bus, and the rule for topic names.

use crate::BusError;

use super::record;

/// How the embedded bus lays out and bounds its logs.
#[derive(Debug, Clone)]
pub struct EmbeddedConfig {
    /// Partitions of every topic created (default 2). Existing topics keep the count they were
    /// created with.
    pub partitions: u32,
    /// A segment file rolls over once the next record would take it past this size
    /// (default 128 MiB). Whole segments are the unit of deletion.
    pub segment_bytes: u64,
    /// Largest single message accepted, as encoded on disk: key, headers, payload and a few
    /// dozen bytes of framing (default 16 MiB). Larger messages are rejected.
    pub max_message_bytes: usize,
}

impl Default for EmbeddedConfig {
    fn default() -> EmbeddedConfig {
        EmbeddedConfig { partitions: 2, segment_bytes: 128 * 1024 * 1024, max_message_bytes: 16 * 1024 * 1024 }
    }
}

impl EmbeddedConfig {
    pub(crate) fn validate(&self) -> Result<(), BusError> {
        if self.partitions == 0 {
            return Err(BusError::Rejected("partitions must be at least 1".to_string()));
        }
        if self.segment_bytes == 0 {
            return Err(BusError::Rejected("segment_bytes must be at least 1".to_string()));
        }
        if self.max_message_bytes == 0 || self.max_message_bytes > record::MAX_RECORD_BYTES {
            return Err(BusError::Rejected(format!(
                "max_message_bytes must be between 1 and {} bytes, got {}",
                record::MAX_RECORD_BYTES,
                self.max_message_bytes
            )));
        }
        Ok(())
    }
}

/// Longest topic name accepted.
const MAX_TOPIC_CHARS: usize = 200;

/// Topic names become directory names: 1 to 200 of `[A-Za-z0-9._-]`, and not `.` or `..`.
pub(crate) fn validate_topic(topic: &str) -> Result<(), BusError> {
    let allowed = |c: char| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-');
    if topic.is_empty() || topic.len() > MAX_TOPIC_CHARS || !topic.chars().all(allowed) || topic == "." || topic == ".."
    {
        return Err(BusError::Rejected(format!(
            "invalid topic name {topic:?}: use 1 to {MAX_TOPIC_CHARS} characters of [A-Za-z0-9._-]"
        )));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn topic_names() {
        for good in ["vigil.logs.v1", "a", "A-b_c.9", &"x".repeat(200)] {
            assert!(validate_topic(good).is_ok(), "{good} should be accepted");
        }
        for bad in ["", ".", "..", "a/b", "a b", "ü", "a~b", &"x".repeat(201)] {
            assert!(matches!(validate_topic(bad), Err(BusError::Rejected(_))), "{bad:?} should be rejected");
        }
    }

    #[test]
    fn default_config_is_valid() {
        assert!(EmbeddedConfig::default().validate().is_ok());
        let zero = EmbeddedConfig { partitions: 0, ..EmbeddedConfig::default() };
        assert!(zero.validate().is_err());
    }
}
