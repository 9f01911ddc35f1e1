//! Property: `parse_line` never panics, whatever the bytes (multibyte text, control
//! characters, huge lines, and near-misses of every format).

use proptest::prelude::*;

use crate::{parse_json_object, parse_line, ParseContext};

/// Fragments of real formats, so the generator reaches deep into each scanner.
const PIECES: &[&str] = &[
    "2015-10-18",
    " ",
    "18:01:47",
    ",978",
    ".5",
    "Z",
    "+02:00",
    "-0700",
    "T",
    "[",
    "]",
    "<34>",
    "<165>1 ",
    "Oct 11 ",
    "Sun Dec 04 ",
    "2005",
    "10/Oct/2000:13:55:36",
    "\"",
    "\\",
    "=",
    "k=",
    "level=",
    "INFO",
    "E",
    "-",
    "|",
    ":",
    "{",
    "}",
    "\"msg\":",
    "1117838570",
    "081109 203615",
    "03-17",
    "é",
    "日本",
    "🦀",
    "\u{0}",
    "\t",
    "sshd[1]:",
    "RAS KERNEL ",
    "I0102",
    "17/06/09",
];

fn line_strategy() -> impl Strategy<Value = String> {
    prop_oneof![
        any::<String>(),
        proptest::collection::vec(proptest::sample::select(PIECES), 0..40).prop_map(|v| v.concat()),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(3000))]

    #[test]
    fn parse_line_never_panics(line in line_strategy(), now_ms in any::<i64>()) {
        let ctx = ParseContext { now_ms };
        let p = parse_line(&line, &ctx);
        let _ = parse_json_object(&line, &ctx);
        prop_assert!(p.message.is_none() || p.format != crate::Format::Unknown);
    }
}

#[test]
fn huge_lines_do_not_panic() {
    let ctx = ParseContext { now_ms: 0 };
    let long_text = "日本語 ERROR k=v ".repeat(200_000);
    let long_pairs = "k=v ".repeat(300_000);
    let long_stamp = format!("2015-10-18 18:01:47,978 INFO {}", "x".repeat(3_000_000));
    let long_quote = format!("msg=\"{}", "\\\"".repeat(500_000));
    let long_json = format!("{{\"a\":\"{}\"}}", "é".repeat(1_000_000));
    for line in [long_text, long_pairs, long_stamp, long_quote, long_json] {
        let _ = parse_line(&line, &ctx);
    }
    for now_ms in [i64::MIN, -1, 0, i64::MAX] {
        let ctx = ParseContext { now_ms };
        let _ = parse_line("Dec 31 23:59:59 h a: x", &ctx);
        let _ = parse_line("03-17 16:13:38.811  1 2 D x", &ctx);
    }
}
