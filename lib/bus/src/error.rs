use std::path::PathBuf;

/// Errors of the transport. A variant exists where a caller acts differently.
#[derive(Debug, thiserror::Error)]
pub enum BusError {
    /// The bus cannot take or give messages now (broker unreachable, queue full): retry later.
    #[error("bus unavailable: {0}")]
    Unavailable(String),
    /// The bus's files are damaged in a way recovery could not repair.
    #[error("bus data at {path} is corrupt: {reason}")]
    Corrupt { path: PathBuf, reason: String },
    /// A request the bus refuses (unknown topic, message too large): retrying will not help.
    #[error("bus rejected the request: {0}")]
    Rejected(String),
    #[error("bus i/o error at {path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

impl BusError {
    pub(crate) fn io(path: impl Into<PathBuf>, source: std::io::Error) -> BusError {
        BusError::Io { path: path.into(), source }
    }
}
