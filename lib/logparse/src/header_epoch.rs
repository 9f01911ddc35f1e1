//! Lines whose timestamp is an epoch-seconds column a few tokens in, after ids or labels
//! (never in a line that opens with a word of running text):
//! Blue Gene/L RAS logs (`- 1117838570 2005.06.03 R02-M1-N0-C:J12-U11 2005-06-03-15.42.50.675872
//! R02-M1-N0-C:J12-U11 RAS KERNEL INFO ...`, where the epoch is the real time and the
//! level is the word after `RAS KERNEL`) and HPC cluster logs (`134681 node-246 unix.hw
//! state_change.unavailable 1077804742 1 ...`).

use crate::cursor::{as_str, Cursor};
use crate::header::{level_after_timestamp, HEADER_TOKENS};
use crate::{level, time, Format, Parsed};

/// How many leading tokens may hold the epoch column.
const EPOCH_TOKENS: usize = 6;

/// Parses a line with a 10-digit epoch-seconds token among its first tokens; `None` if
/// there is none.
pub(crate) fn parse(line: &str) -> Option<Parsed> {
    let s = line.as_bytes();
    let mut c = Cursor::new(s);
    let mut tokens: [&[u8]; 9] = [&[]; 9];
    let mut n = 0;
    let mut epoch = None;
    while n < tokens.len() {
        c.skip_blanks();
        if c.is_end() {
            break;
        }
        let tok = c.token();
        tokens[n] = tok;
        if epoch.is_none() && n < EPOCH_TOKENS && tok.len() == 10 {
            if let Some(ms) = time::scan_leading_epoch(tok) {
                epoch = Some((n, ms.0, c.pos()));
                if n > 1 {
                    break;
                }
            }
        }
        n += 1;
    }
    let (idx, ms, end) = epoch?;
    if idx == 1 && n == tokens.len() && is_dotted_date(tokens[2]) {
        return Some(bgl(ms, &tokens));
    }
    if is_prose(tokens[0]) {
        return None;
    }
    Some(Parsed {
        timestamp_ms: Some(ms),
        level: level_after_timestamp(s.get(end..).unwrap_or(&[]), HEADER_TOKENS),
        message: None,
        fields: Vec::new(),
        format: Format::LeadingTimestamp,
    })
}

/// BGL: `label epoch date node time node type component LEVEL text`.
fn bgl(ms: i64, t: &[&[u8]; 9]) -> Parsed {
    let fields = [("node", t[3]), ("component", t[7])]
        .into_iter()
        .map(|(k, v)| (k.to_string(), as_str(v).to_string()))
        .collect();
    Parsed { timestamp_ms: Some(ms), level: level::word(t[8]), message: None, fields, format: Format::LeadingTimestamp }
}

/// A word of running text (`Order`, `user`). A line that opens with one is prose, and a
/// number in it (`Order 1234567890 shipped`) is an id, not the time; HPC lines open with a
/// numeric id, BGL lines with `-` or an upper-case alert label.
fn is_prose(tok: &[u8]) -> bool {
    tok.len() > 1 && tok.iter().all(u8::is_ascii_alphabetic) && tok.iter().any(u8::is_ascii_lowercase)
}

/// `2005.06.03`.
fn is_dotted_date(tok: &[u8]) -> bool {
    tok.len() == 10
        && tok.iter().enumerate().all(|(i, b)| match i {
            4 | 7 => *b == b'.',
            _ => b.is_ascii_digit(),
        })
}
