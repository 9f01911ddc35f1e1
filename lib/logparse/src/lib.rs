//! vigil-logparse: timestamp, level, message and structured fields from one log line.
//!
//! Pure functions, no I/O, on the ingest hot path. Start at [`parse_line`], which tries the
//! formats in a fixed order, each bailing out at the first byte that does not fit:
//!
//! | first byte | tried                                                   | module |
//! |---|---|---|
//! | `{` | JSON object | `json` |
//! | `<` | syslog with `<PRI>` (RFC 5424, else RFC 3164) | `syslog` |
//! | any | leading timestamp (bare, bracketed, glog, epoch, level first), which hands BSD syslog and Apache error lines to their modules | `leading` |
//! | any | access log, logfmt, an epoch column a few tokens in (BGL, HPC) | `access`, `logfmt`, `header_epoch` |
//! | any | otherwise: no timestamp, a level only if a level word leads the line | `header` |
//!
//! Timestamp shapes live in `time`; level spellings come from [`vigil_model::Level::parse`].
//!
//! Invariants: parsing never panics on any input; a level word is only read from a line's
//! header, never from deep in the text; plain-text lines keep their whole text as the
//! message (`message: None`), so what users grep for is what they saw.

mod access;
mod apache_error;
mod cursor;
mod error;
mod header;
mod header_epoch;
mod json;
mod keys;
mod leading;
mod level;
mod logfmt;
mod syslog;
mod time;

#[cfg(test)]
mod tests;

pub use error::JsonError;
pub use json::parse_json_object;
pub use vigil_model::Level;

/// What parsing needs to know about the outside world.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ParseContext {
    /// Now, ms since the epoch: used to infer the year for formats without one (syslog
    /// RFC 3164 `Mar  3 10:00:01`, Proxifier `[10.30 16:49:06]`, logcat, glog). The year
    /// chosen puts the timestamp at most about a day after now, so December lines read in
    /// January belong to last year.
    pub now_ms: i64,
}

/// What one line yielded.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Parsed {
    /// UTC ms since the epoch; local times without a zone are taken as UTC.
    pub timestamp_ms: Option<i64>,
    pub level: Option<Level>,
    /// The message text to store. `None` means the whole line as is, which is what every
    /// plain-text format gives (the header is not stripped: users grep for what they saw).
    /// JSON: the value of `message`/`msg`/`log`/`@message`/`text`/`body` if it is a string;
    /// logfmt: `msg`/`message` if present.
    pub message: Option<String>,
    /// Structured fields. JSON: every leaf (nested keys joined with `.`, numbers, bools and
    /// arrays as their JSON text) except those consumed as timestamp/level/message; logfmt:
    /// every pair except the consumed ones; syslog: `hostname`/`app`/`pid`/`facility`
    /// (RFC 5424 also `msgid` and `<sd-id>.<param>`); access logs: `client_ip`, `method`,
    /// `path`, `status`, `bytes`, `referrer`, `user_agent`; Apache error: `module`, `pid`,
    /// `tid`, `client`; BGL: `node`, `component`.
    pub fields: Vec<(String, String)>,
    pub format: Format,
}

/// Which format a line was recognised as.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Format {
    /// Nothing recognised: no timestamp (a leading level word may still give the level).
    #[default]
    Unknown,
    Json,
    Logfmt,
    Syslog3164,
    Syslog5424,
    /// Apache / nginx access log, common or combined.
    AccessLog,
    /// Apache httpd error log.
    ApacheError,
    /// A plain-text line with a timestamp in its header (log4j, Kafka, HDFS, logcat, nginx
    /// error, BGL, ...).
    LeadingTimestamp,
}

/// Parses one log line (without its newline). Never fails: a line nothing recognises comes
/// back as [`Format::Unknown`] with no timestamp.
pub fn parse_line(line: &str, ctx: &ParseContext) -> Parsed {
    let text = line.trim_start_matches(|c: char| c.is_ascii_whitespace() || c == '\u{feff}');
    let Some(&first) = text.as_bytes().first() else {
        return Parsed::default();
    };
    if first == b'{' {
        if let Ok(p) = parse_json_object(text, ctx) {
            return p;
        }
    }
    if first == b'<' {
        if let Some(p) = syslog::parse_with_pri(text, ctx) {
            return p;
        }
    }
    if let Some(p) = leading::parse(text, ctx) {
        return p;
    }
    if let Some(p) = access::parse(text, ctx) {
        return p;
    }
    if let Some(p) = logfmt::parse(text, ctx) {
        return p;
    }
    if let Some(p) = header_epoch::parse(text) {
        return p;
    }
    Parsed { level: header::leading_level(text.as_bytes()), ..Parsed::default() }
}
