//! Apache / nginx access logs, common and combined (and with a leading virtual host):
//! `127.0.0.1 - frank [10/Oct/2000:13:55:36 -0700] "GET /a.gif HTTP/1.0" 200 2326 "ref" "ua"`.
//! Fields: `client_ip`, `method`, `path`, `status`, `bytes`, `referrer`, `user_agent`; the
//! level follows the status (5xx error, 4xx warn, else info).

use crate::cursor::{as_str, Cursor};
use crate::{level, time, Format, ParseContext, Parsed};

/// Parses an access-log line, or returns `None` when the line is not one.
pub(crate) fn parse(line: &str, ctx: &ParseContext) -> Option<Parsed> {
    let s = line.as_bytes();
    let mut c = Cursor::new(s);
    let first = c.token();
    if first.is_empty() {
        return None;
    }
    // `host ident user [` or, with a virtual host first, `vhost host ident user [`.
    let mut tokens = [first, &[], &[], &[]];
    let mut n = 1;
    while n < tokens.len() {
        if !c.eat(b' ') {
            return None;
        }
        if c.peek() == Some(b'[') {
            break;
        }
        tokens[n] = c.token();
        n += 1;
    }
    if n == tokens.len() && !c.eat(b' ') {
        return None;
    }
    if !(3..=4).contains(&n) || !c.eat(b'[') {
        return None;
    }
    let client_ip = if n == 4 { tokens[1] } else { tokens[0] };
    let (timestamp_ms, len) = time::scan(c.rest(), ctx.now_ms)?;
    c.advance(len);
    if !c.eat(b']') || !c.eat(b' ') || !c.eat(b'"') {
        return None;
    }
    let request = quoted(&mut c)?;
    if !c.eat(b' ') {
        return None;
    }
    let status = c.token();
    let status_code = as_str(status).parse::<u16>().ok();
    if status_code.is_none() && status != b"-" {
        return None;
    }
    let mut fields = Vec::with_capacity(7);
    push(&mut fields, "client_ip", as_str(client_ip).to_string());
    let mut parts = request.splitn(3, ' ');
    if let (Some(method), Some(path)) = (parts.next(), parts.next()) {
        if !method.is_empty() && method.bytes().all(|b| b.is_ascii_uppercase()) {
            push(&mut fields, "method", method.to_string());
            push(&mut fields, "path", path.to_string());
        }
    }
    push(&mut fields, "status", as_str(status).to_string());
    if c.eat(b' ') {
        push(&mut fields, "bytes", as_str(c.token()).to_string());
        if c.eat(b' ') && c.eat(b'"') {
            if let Some(referrer) = quoted(&mut c) {
                push(&mut fields, "referrer", referrer);
                if c.eat(b' ') && c.eat(b'"') {
                    if let Some(ua) = quoted(&mut c) {
                        push(&mut fields, "user_agent", ua);
                    }
                }
            }
        }
    }
    Some(Parsed {
        timestamp_ms: Some(timestamp_ms),
        level: Some(level::from_http_status(status_code.unwrap_or(0))),
        message: None,
        fields,
        format: Format::AccessLog,
    })
}

fn push(fields: &mut Vec<(String, String)>, key: &str, value: String) {
    if !value.is_empty() && value != "-" {
        fields.push((key.to_string(), value));
    }
}

/// Reads a double-quoted string (past the opening quote) up to its closing quote, undoing
/// `\"` and `\\` escapes; `None` when unterminated.
fn quoted(c: &mut Cursor<'_>) -> Option<String> {
    let raw = {
        let mut t = *c;
        let start = t.rest();
        let mut len = 0;
        loop {
            match t.peek()? {
                b'"' => break,
                b'\\' => {
                    t.advance(2);
                    len += 2;
                }
                _ => {
                    t.advance(1);
                    len += 1;
                }
            }
        }
        let raw = start.get(..len.min(start.len()))?;
        *c = t;
        c.advance(1);
        raw
    };
    let text = String::from_utf8_lossy(raw);
    if !text.contains('\\') {
        return Some(text.into_owned());
    }
    let mut out = String::with_capacity(text.len());
    let mut chars = text.chars();
    while let Some(ch) = chars.next() {
        if ch == '\\' {
            match chars.next() {
                Some(e @ ('"' | '\\')) => out.push(e),
                Some(other) => {
                    out.push('\\');
                    out.push(other);
                }
                None => out.push('\\'),
            }
        } else {
            out.push(ch);
        }
    }
    Some(out)
}
