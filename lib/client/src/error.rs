//! What a client call can fail with, split by what the caller does about it.

use vigil_model::ErrorCode;

#[derive(Debug, Clone, thiserror::Error)]
pub enum ClientError {
    /// The registry answered and refused: the code says why (`not_found`, `conflict` for a
    /// compare-and-set on a stale revision, `unauthorized`, `bad_request`, ...).
    #[error("{call}: the registry answered {status} ({code:?}): {message}")]
    Api { call: String, status: u16, code: ErrorCode, message: String },
    /// No endpoint gave an answer before the failover deadline.
    #[error("{call}: no registry node answered within {waited_ms} ms (tried {endpoints}): {last}")]
    Unreachable { call: String, endpoints: String, waited_ms: u128, last: String },
    /// An answer arrived but is not what this client version expects.
    #[error("{call}: the answer could not be read: {detail}")]
    Decode { call: String, detail: String },
    /// The client was built with an unusable setting.
    #[error("{0}")]
    Config(String),
}

impl ClientError {
    /// The registry's error code, when it answered.
    pub fn code(&self) -> Option<ErrorCode> {
        match self {
            ClientError::Api { code, .. } => Some(*code),
            _ => None,
        }
    }

    pub fn is_not_found(&self) -> bool {
        self.code() == Some(ErrorCode::NotFound)
    }

    /// A compare-and-set lost: read again and retry with the new revision.
    pub fn is_conflict(&self) -> bool {
        self.code() == Some(ErrorCode::Conflict)
    }
}
