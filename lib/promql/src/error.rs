//! Query errors, each naming what the user can change.

#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum QueryError {
    /// The text is not PromQL (the parser's message says where).
    #[error("parse error: {0}")]
    Parse(String),
    /// Valid PromQL that Vigil does not evaluate yet: refused rather than answered wrongly.
    #[error("not supported: {0}")]
    Unsupported(String),
    /// Valid syntax that cannot be evaluated (types, many-to-many matching, ...).
    #[error("{0}")]
    Execution(String),
    #[error("query timed out")]
    Timeout,
}

pub fn unsupported(what: impl Into<String>) -> QueryError {
    QueryError::Unsupported(what.into())
}

pub fn execution(what: impl Into<String>) -> QueryError {
    QueryError::Execution(what.into())
}
