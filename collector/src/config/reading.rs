//! How a file's bytes become records: `agent.long_lines` and an input's
//! `[agent.inputs.multiline]` (the rules themselves are in [`crate::multiline`]).

use std::time::Duration;

use serde::Deserialize;

/// What happens to a line longer than `max_line_bytes`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LongLines {
    /// Ship its first `max_line_bytes` flagged `truncated`; the rest is skipped.
    #[default]
    Truncate,
    /// Ship it as pieces of at most `max_line_bytes`, in order, each flagged `split` at the
    /// offset of its first byte: nothing is skipped.
    Split,
}

/// `[agent.inputs.multiline]`: lines that belong together (a stack trace) are shipped as one
/// record, joined with `\n`. Give exactly one of `preset`, `start` or `continuation`.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct MultilineConfig {
    /// Built-in rules for stack traces: `java`, `python` or `go`.
    pub preset: Option<Preset>,
    /// A regex: a line matching it begins a new event, any other line continues the event
    /// before it (for logs whose every event starts with a timestamp: `'^\d{4}-\d{2}-\d{2}'`).
    pub start: Option<String>,
    /// A regex: a line matching it continues the event before it, any other line begins a new
    /// event (for indented continuation lines: `'^\s'`).
    pub continuation: Option<String>,
    /// A pending event is shipped once no line was added to it for this long.
    #[serde(with = "humantime_serde")]
    pub flush_timeout: Duration,
    /// Most lines in one event; a longer one is shipped in pieces flagged `split`.
    pub max_lines: usize,
    /// Most bytes in one event; a longer one is shipped in pieces flagged `split` (a single
    /// line is never cut for this: `max_line_bytes` bounds it).
    pub max_bytes: usize,
}

impl Default for MultilineConfig {
    fn default() -> Self {
        MultilineConfig {
            preset: None,
            start: None,
            continuation: None,
            flush_timeout: Duration::from_secs(1),
            max_lines: 500,
            max_bytes: 1 << 20,
        }
    }
}

/// Built-in multiline rules.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Preset {
    /// The log line, then `pkg.SomeException: message`, `\tat ...` frames, `Caused by:`,
    /// `Suppressed:` and `... N more`.
    Java,
    /// The log line, then `Traceback (most recent call last):`, indented frames and the
    /// exception line, with chained tracebacks.
    Python,
    /// `panic:` or `fatal error:`, then every goroutine's stack (blank lines included).
    Go,
}
