//! Parses what a `/metrics` endpoint answers: the Prometheus text format (0.0.4) and
//! OpenMetrics 1.0 (`application/openmetrics-text`). Pure functions, no I/O: the agent's
//! scraper and the server's self-scrape both use it.
//!
//! Prometheus drops a whole scrape for one malformed line; here the line is reported (number
//! and reason) and skipped, and the rest of the page is kept, so one broken metric does not
//! blind a dashboard. Exemplars and `_created` samples are read and left out.

mod line;

use std::collections::BTreeMap;

pub use line::parse_sample_line;

/// Which format a page is in (from the Content-Type of the answer).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// `text/plain; version=0.0.4`: timestamps in milliseconds.
    Text,
    /// `application/openmetrics-text`: timestamps in seconds, `# EOF` at the end.
    OpenMetrics,
}

impl Format {
    pub fn from_content_type(content_type: Option<&str>) -> Format {
        match content_type {
            Some(value) if value.trim_start().starts_with("application/openmetrics-text") => Format::OpenMetrics,
            _ => Format::Text,
        }
    }
}

/// One sample of a page.
#[derive(Debug, Clone, PartialEq)]
pub struct ParsedSample {
    pub name: String,
    /// In the order written; the caller validates and sorts them.
    pub labels: Vec<(String, String)>,
    pub value: f64,
    /// The exposed timestamp in ms, when the page gives one.
    pub timestamp_ms: Option<i64>,
}

/// `# TYPE`, `# HELP` and `# UNIT` of a metric family.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Metadata {
    pub kind: Option<String>,
    pub help: Option<String>,
    pub unit: Option<String>,
}

/// A line that could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("line {line}: {message}")]
pub struct LineError {
    pub line: usize,
    pub message: String,
}

#[derive(Debug, Default)]
pub struct Parsed {
    pub samples: Vec<ParsedSample>,
    pub metadata: BTreeMap<String, Metadata>,
    pub errors: Vec<LineError>,
}

/// Parses a whole page.
pub fn parse(text: &str, format: Format) -> Parsed {
    let mut parsed = Parsed::default();
    let mut saw_eof = false;
    for (index, raw) in text.lines().enumerate() {
        let number = index + 1;
        let line = raw.trim_end_matches('\r');
        if saw_eof {
            if !line.trim().is_empty() {
                parsed.errors.push(LineError { line: number, message: "content after # EOF".into() });
            }
            continue;
        }
        if line.trim().is_empty() {
            continue;
        }
        if let Some(comment) = line.strip_prefix('#') {
            let comment = comment.trim_start();
            if comment == "EOF" {
                saw_eof = true;
                continue;
            }
            read_metadata(comment, &mut parsed.metadata);
            continue;
        }
        match parse_sample_line(line, format) {
            Ok(sample) => {
                let created = sample.name.ends_with("_created")
                    && parsed.metadata.get(sample.name.trim_end_matches("_created")).is_some_and(|m| {
                        matches!(m.kind.as_deref(), Some("counter" | "histogram" | "summary" | "gaugehistogram"))
                    });
                if !created {
                    parsed.samples.push(sample);
                }
            }
            Err(message) => parsed.errors.push(LineError { line: number, message }),
        }
    }
    parsed
}

fn read_metadata(comment: &str, metadata: &mut BTreeMap<String, Metadata>) {
    let mut parts = comment.splitn(3, ' ');
    let (Some(keyword), Some(name)) = (parts.next(), parts.next()) else { return };
    let rest = parts.next().unwrap_or("");
    if !matches!(keyword, "TYPE" | "HELP" | "UNIT") {
        return;
    }
    let entry = metadata.entry(name.to_string()).or_default();
    match keyword {
        "TYPE" => entry.kind = Some(rest.trim().to_string()),
        "HELP" => entry.help = Some(line::unescape_help(rest)),
        _ => entry.unit = Some(rest.trim().to_string()),
    }
}

#[cfg(test)]
mod tests;
