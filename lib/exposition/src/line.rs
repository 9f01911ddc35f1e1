//! One sample line: `name{label="value",...} value [timestamp] [# {exemplar labels} value]`.

use crate::{Format, ParsedSample};

pub fn parse_sample_line(line: &str, format: Format) -> Result<ParsedSample, String> {
    let mut cursor = Cursor { text: line, at: 0 };
    let name = cursor.name().ok_or_else(|| format!("expected a metric name at column {}", cursor.at + 1))?;
    let mut labels = Vec::new();
    if cursor.peek() == Some('{') {
        cursor.at += 1;
        loop {
            cursor.skip_spaces();
            match cursor.peek() {
                Some('}') => {
                    cursor.at += 1;
                    break;
                }
                None => return Err("unterminated label set: missing '}'".into()),
                _ => {}
            }
            let label = cursor.name().ok_or_else(|| format!("expected a label name at column {}", cursor.at + 1))?;
            cursor.skip_spaces();
            if cursor.peek() != Some('=') {
                return Err(format!("expected '=' after label {label:?} at column {}", cursor.at + 1));
            }
            cursor.at += 1;
            cursor.skip_spaces();
            let value = cursor.quoted().map_err(|e| format!("label {label:?}: {e}"))?;
            labels.push((label, value));
            cursor.skip_spaces();
            match cursor.peek() {
                Some(',') => cursor.at += 1,
                Some('}') => {}
                _ => return Err(format!("expected ',' or '}}' at column {}", cursor.at + 1)),
            }
        }
    }
    let rest = cursor.rest();
    // An exemplar follows " # ".
    let body = rest.split(" # ").next().unwrap_or("");
    let mut fields = body.split_whitespace();
    let value_text = fields.next().ok_or_else(|| format!("no value for {name}"))?;
    let value = parse_value(value_text).ok_or_else(|| format!("invalid value {value_text:?} for {name}"))?;
    let timestamp_ms = match fields.next() {
        None => None,
        Some(text) => {
            Some(parse_timestamp(text, format).ok_or_else(|| format!("invalid timestamp {text:?} for {name}"))?)
        }
    };
    if let Some(extra) = fields.next() {
        return Err(format!("unexpected {extra:?} after the timestamp of {name}"));
    }
    Ok(ParsedSample { name, labels, value, timestamp_ms })
}

fn parse_value(text: &str) -> Option<f64> {
    match text {
        "+Inf" | "Inf" | "+inf" | "inf" => Some(f64::INFINITY),
        "-Inf" | "-inf" => Some(f64::NEG_INFINITY),
        "NaN" | "nan" => Some(f64::NAN),
        other => other.parse().ok(),
    }
}

fn parse_timestamp(text: &str, format: Format) -> Option<i64> {
    match format {
        Format::Text => text.parse::<i64>().ok().or_else(|| text.parse::<f64>().ok().map(|v| v as i64)),
        Format::OpenMetrics => text.parse::<f64>().ok().filter(|v| v.is_finite()).map(|s| (s * 1000.0).round() as i64),
    }
}

/// `# HELP` text: `\\` and `\n` are the only escapes.
pub fn unescape_help(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut chars = text.chars();
    while let Some(c) = chars.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        match chars.next() {
            Some('n') => out.push('\n'),
            Some('\\') => out.push('\\'),
            Some(other) => {
                out.push('\\');
                out.push(other);
            }
            None => out.push('\\'),
        }
    }
    out
}

struct Cursor<'a> {
    text: &'a str,
    at: usize,
}

impl Cursor<'_> {
    fn peek(&self) -> Option<char> {
        self.text[self.at..].chars().next()
    }

    fn rest(&self) -> &str {
        &self.text[self.at..]
    }

    fn skip_spaces(&mut self) {
        while matches!(self.peek(), Some(' ' | '\t')) {
            self.at += 1;
        }
    }

    /// A metric or label name: `[a-zA-Z_:][a-zA-Z0-9_:]*` (validated later by the store).
    fn name(&mut self) -> Option<String> {
        let start = self.at;
        for (offset, c) in self.text[start..].char_indices() {
            let ok = c.is_ascii_alphanumeric() || c == '_' || c == ':';
            if !ok || (offset == 0 && c.is_ascii_digit()) {
                break;
            }
            self.at = start + offset + c.len_utf8();
        }
        (self.at > start).then(|| self.text[start..self.at].to_string())
    }

    /// A double-quoted value with `\\`, `\"` and `\n` escapes.
    fn quoted(&mut self) -> Result<String, String> {
        if self.peek() != Some('"') {
            return Err(format!("expected '\"' at column {}", self.at + 1));
        }
        self.at += 1;
        let mut out = String::new();
        let mut chars = self.text[self.at..].char_indices();
        while let Some((offset, c)) = chars.next() {
            match c {
                '"' => {
                    self.at += offset + 1;
                    return Ok(out);
                }
                '\\' => match chars.next() {
                    Some((_, 'n')) => out.push('\n'),
                    Some((_, '"')) => out.push('"'),
                    Some((_, '\\')) => out.push('\\'),
                    Some((_, other)) => {
                        out.push('\\');
                        out.push(other);
                    }
                    None => break,
                },
                other => out.push(other),
            }
        }
        Err("unterminated quoted value".into())
    }
}
