use std::path::PathBuf;

/// Errors of the log store. Query-side errors carry what the user must change.
#[derive(Debug, thiserror::Error)]
pub enum LogStoreError {
    /// The query string does not parse or names something that does not exist.
    #[error("{0}")]
    BadQuery(String),
    /// A request over one of the store's limits (result window, buckets, query length).
    #[error("{0}")]
    OverLimit(String),
    /// The query ran past its time budget and was stopped.
    #[error("query exceeded its time budget")]
    Timeout,
    #[error("index at {path}: {source}")]
    Index {
        path: PathBuf,
        #[source]
        source: tantivy::TantivyError,
    },
    #[error("i/o error at {path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("tantivy: {0}")]
    Tantivy(#[from] tantivy::TantivyError),
}

impl LogStoreError {
    pub(crate) fn io(path: impl Into<PathBuf>, source: std::io::Error) -> LogStoreError {
        LogStoreError::Io { path: path.into(), source }
    }
    pub(crate) fn index(path: impl Into<PathBuf>, source: tantivy::TantivyError) -> LogStoreError {
        LogStoreError::Index { path: path.into(), source }
    }
}
