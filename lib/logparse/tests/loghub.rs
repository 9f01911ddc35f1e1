//! Real-data accuracy: every Loghub 2k sample against its hand-checked ground truth
//! (`<System>_2k.log_structured.csv`: one row per line, header columns such as Date/Time/
//! Level, then Content/EventId/EventTemplate), plus larger elastic/examples files.
//! Skipped, with a message, when the shared data directory is absent.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use time::OffsetDateTime;
use vigil_logparse::{parse_line, Format, Level, ParseContext, Parsed};

const DATA: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../../shared/data");

/// 2024-06-15T00:00:00Z: the clock for formats without a year.
const NOW_MS: i64 = 1_718_409_600_000;

/// The minimum share of lines whose timestamp and level must match the ground truth.
const MIN_ACCURACY: f64 = 0.99;

fn data_dir() -> Option<PathBuf> {
    let dir = Path::new(DATA).join("logs");
    if dir.is_dir() {
        Some(dir)
    } else {
        println!("skipping: shared data not found at {}", dir.display());
        None
    }
}

fn ctx() -> ParseContext {
    ParseContext { now_ms: NOW_MS }
}

/// What the ground truth says about a line's time; `None` parts are not compared.
#[derive(Debug, PartialEq)]
enum Expected {
    Civil { year: Option<i32>, month: u8, day: u8, hms: (u8, u8, u8), millis: Option<u16> },
    EpochSeconds(i64),
}

impl Expected {
    fn matches(&self, ms: i64) -> bool {
        match *self {
            Expected::EpochSeconds(s) => ms.div_euclid(1000) == s,
            Expected::Civil { year, month, day, hms, millis } => {
                let Ok(t) = OffsetDateTime::from_unix_timestamp_nanos(i128::from(ms) * 1_000_000) else {
                    return false;
                };
                year.is_none_or(|y| y == t.year())
                    && u8::from(t.month()) == month
                    && t.day() == day
                    && (t.hour(), t.minute(), t.second()) == hms
                    && millis.is_none_or(|m| m == t.millisecond())
            }
        }
    }
}

/// `16:13:38.811`, `18:01:47,978`, `22:15:29:606`, `203615`. After a third `:` the ms are
/// an unpadded integer (HealthApp writes `35:96` then `35:104`), not a decimal fraction.
fn clock(s: &str) -> Option<((u8, u8, u8), Option<u16>)> {
    if s.len() == 6 && s.bytes().all(|b| b.is_ascii_digit()) {
        let n = |r: std::ops::Range<usize>| s.get(r)?.parse().ok();
        return Some(((n(0..2)?, n(2..4)?, n(4..6)?), None));
    }
    let mut parts = s.split([':', '.', ',']);
    let h = parts.next()?.parse().ok()?;
    let m = parts.next()?.parse().ok()?;
    let sec = parts.next()?.parse().ok()?;
    let ms_is_integer = s.matches(':').count() == 3;
    let millis = match parts.next() {
        Some(f) if ms_is_integer => Some(f.parse().ok()?),
        Some(f) => Some(format!("{f:0<3}").get(..3)?.parse().ok()?),
        None => None,
    };
    Some(((h, m, sec), millis))
}

fn month_num(name: &str) -> Option<u8> {
    let names = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];
    let i = names.iter().position(|n| *n == name)?;
    u8::try_from(i + 1).ok()
}

fn civil(year: Option<i32>, month: u8, day: u8, time: &str) -> Option<Expected> {
    let (hms, millis) = clock(time)?;
    Some(Expected::Civil { year, month, day, hms, millis })
}

/// Reads the ground-truth time of one row, per system.
fn expected(system: &str, row: &HashMap<&str, &str>) -> Option<Expected> {
    let col = |k: &str| row.get(k).copied();
    let num = |s: &str| s.parse::<u8>().ok();
    match system {
        "Android" => {
            let (m, d) = col("Date")?.split_once('-')?;
            civil(None, num(m)?, num(d)?, col("Time")?)
        }
        "Apache" => {
            // "Sun Dec 04 04:47:44 2005"
            let f: Vec<&str> = col("Time")?.split_whitespace().collect();
            civil(f.get(4)?.parse().ok(), month_num(f.get(1)?)?, num(f.get(2)?)?, f.get(3)?)
        }
        // BGL's Time column (2005-06-03-15.42.50) is local time; the epoch column is the
        // real instant and what the parser reads.
        "BGL" => Some(Expected::EpochSeconds(col("Timestamp")?.parse().ok()?)),
        "HPC" => Some(Expected::EpochSeconds(col("Time")?.parse().ok()?)),
        "HDFS" => {
            let d = col("Date")?;
            let y = 2000 + i32::from(num(d.get(0..2)?)?);
            civil(Some(y), num(d.get(2..4)?)?, num(d.get(4..6)?)?, col("Time")?)
        }
        "Hadoop" | "Windows" | "Zookeeper" => {
            let mut d = col("Date")?.split('-');
            let y = d.next()?.parse().ok();
            civil(y, num(d.next()?)?, num(d.next()?)?, col("Time")?)
        }
        "HealthApp" => {
            // "20171223-22:15:29:606"
            let (d, t) = col("Time")?.split_once('-')?;
            civil(d.get(0..4)?.parse().ok(), num(d.get(4..6)?)?, num(d.get(6..8)?)?, t)
        }
        "Linux" => civil(None, month_num(col("Month")?)?, num(col("Date")?)?, col("Time")?),
        "OpenSSH" => civil(None, month_num(col("Date")?)?, num(col("Day")?)?, col("Time")?),
        "Proxifier" => {
            // "10.30 16:49:06"
            let (d, t) = col("Time")?.split_once(' ')?;
            let (m, day) = d.split_once('.')?;
            civil(None, num(m)?, num(day)?, t)
        }
        "Spark" => {
            let mut d = col("Date")?.split('/');
            let y = 2000 + i32::from(num(d.next()?)?);
            civil(Some(y), num(d.next()?)?, num(d.next()?)?, col("Time")?)
        }
        _ => None,
    }
}

/// Minimal RFC 4180 reader: quoted fields with `""` escapes.
fn read_csv(text: &str) -> Vec<Vec<String>> {
    let mut rows = Vec::new();
    let mut row = Vec::new();
    let mut field = String::new();
    let mut quoted = false;
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        match (quoted, c) {
            (true, '"') if chars.peek() == Some(&'"') => {
                field.push('"');
                chars.next();
            }
            (true, '"') => quoted = false,
            (true, c) => field.push(c),
            (false, '"') => quoted = true,
            (false, ',') => row.push(std::mem::take(&mut field)),
            (false, '\n') => {
                row.push(std::mem::take(&mut field));
                rows.push(std::mem::take(&mut row));
            }
            (false, '\r') => {}
            (false, c) => field.push(c),
        }
    }
    if !field.is_empty() || !row.is_empty() {
        row.push(field);
        rows.push(row);
    }
    rows
}

struct Score {
    lines: usize,
    ts_ok: usize,
    level_ok: Option<usize>,
}

fn score_system(dir: &Path, system: &str) -> Score {
    let log_path = dir.join(system).join(format!("{system}_2k.log"));
    let csv_path = dir.join(system).join(format!("{system}_2k.log_structured.csv"));
    let log = std::fs::read(&log_path).expect("loghub log is readable");
    let log = String::from_utf8_lossy(&log);
    let csv = std::fs::read(&csv_path).expect("loghub ground truth is readable");
    let csv = read_csv(&String::from_utf8_lossy(&csv));
    let (header, rows) = csv.split_first().expect("ground truth has a header row");
    let lines: Vec<&str> = log.lines().collect();
    assert_eq!(lines.len(), rows.len(), "{system}: one ground-truth row per line");

    // Linux's "Level" column holds the hostname (`combo`) in the Loghub ground truth, and
    // syslog lines without <PRI> carry no level: there is nothing to compare.
    let has_level = header.iter().any(|h| h == "Level") && system != "Linux";
    let mut score = Score { lines: lines.len(), ts_ok: 0, level_ok: has_level.then_some(0) };
    let mut shown = 0;
    for (line, row) in lines.iter().zip(rows) {
        let row: HashMap<&str, &str> = header.iter().map(String::as_str).zip(row.iter().map(String::as_str)).collect();
        let parsed = parse_line(line, &ctx());
        let want = expected(system, &row).expect("ground-truth time is readable");
        let ts_ok = parsed.timestamp_ms.is_some_and(|ms| want.matches(ms));
        score.ts_ok += usize::from(ts_ok);
        let level_ok = match (&mut score.level_ok, row.get("Level")) {
            (Some(n), Some(gt)) => {
                let ok = parsed.level == Level::parse(gt);
                *n += usize::from(ok);
                ok
            }
            _ => true,
        };
        if (!ts_ok || !level_ok) && shown < 3 {
            shown += 1;
            println!("  {system} mismatch: {line}\n    got {parsed:?}\n    want {want:?} level {:?}", row.get("Level"));
        }
    }
    score
}

#[test]
fn loghub_timestamps_and_levels_match_ground_truth() {
    let Some(dir) = data_dir() else { return };
    let dir = dir.join("loghub");
    let systems = [
        "Android",
        "Apache",
        "BGL",
        "HDFS",
        "HPC",
        "Hadoop",
        "HealthApp",
        "Linux",
        "OpenSSH",
        "Proxifier",
        "Spark",
        "Windows",
        "Zookeeper",
    ];
    let pct = |n: usize, d: usize| 100.0 * n as f64 / d as f64;
    let mut failures = Vec::new();
    println!("{:<10} {:>5} {:>9} {:>9}", "system", "lines", "time %", "level %");
    for system in systems {
        let s = score_system(&dir, system);
        let level = s.level_ok.map_or("n/a".to_string(), |n| format!("{:.2}", pct(n, s.lines)));
        println!("{system:<10} {:>5} {:>9.2} {level:>9}", s.lines, pct(s.ts_ok, s.lines));
        if (s.ts_ok as f64) < MIN_ACCURACY * s.lines as f64 {
            failures.push(format!("{system} timestamps"));
        }
        if s.level_ok.is_some_and(|n| (n as f64) < MIN_ACCURACY * s.lines as f64) {
            failures.push(format!("{system} levels"));
        }
    }
    assert!(failures.is_empty(), "below {MIN_ACCURACY}: {failures:?}");
}

fn lines_of(path: &Path) -> Vec<String> {
    let bytes = std::fs::read(path).expect("data file is readable");
    String::from_utf8_lossy(&bytes).lines().map(str::to_string).collect()
}

#[test]
fn apache_access_log_lines_are_all_recognised() {
    let Some(dir) = data_dir() else { return };
    let lines = lines_of(&dir.join("other/apache-access/apache_logs"));
    assert_eq!(lines.len(), 10_000);
    let bad: Vec<(&String, Parsed)> = lines
        .iter()
        .map(|l| (l, parse_line(l, &ctx())))
        .filter(|(_, p)| {
            p.format != Format::AccessLog || p.timestamp_ms.is_none() || !p.fields.iter().any(|(k, _)| k == "status")
        })
        .collect();
    assert!(bad.is_empty(), "{} unrecognised, first: {:?}", bad.len(), bad.first());
}

#[test]
fn auth_log_lines_all_get_a_timestamp() {
    let Some(dir) = data_dir() else { return };
    let lines = lines_of(&dir.join("other/syslog-auth/auth.log"));
    let missing: Vec<&String> = lines.iter().filter(|l| parse_line(l, &ctx()).timestamp_ms.is_none()).collect();
    assert!(missing.is_empty(), "{} without timestamp, first: {:?}", missing.len(), missing.first());
}

#[test]
fn kafka_log4j_records_get_timestamp_and_level() {
    let Some(dir) = data_dir() else { return };
    let dir = dir.join("other/kafka-java-multiline");
    for name in [
        "kafka0_controller.log.2016-12-19-18",
        "kafka0_server.log.2016-12-19-20",
        "kafka0_state-change.log.2016-12-19-16",
    ] {
        let lines = lines_of(&dir.join(name));
        // Record starts are `[2016-12-19 ...] LEVEL`; the rest are stack-trace lines.
        let starts: Vec<&String> = lines.iter().filter(|l| l.starts_with("[20")).collect();
        assert!(!starts.is_empty(), "{name}");
        for line in starts {
            let p = parse_line(line, &ctx());
            assert!(p.timestamp_ms.is_some() && p.level.is_some(), "{name}: {line}");
        }
        for line in lines.iter().filter(|l| l.starts_with("\tat ")) {
            assert_eq!(parse_line(line, &ctx()).timestamp_ms, None, "{name}: {line}");
        }
    }
}

#[test]
fn nginx_plus_json_documents_parse_as_json() {
    let Some(dir) = data_dir() else { return };
    for line in lines_of(&dir.join("other/nginxplus-json/nginxplus_json_logs")) {
        let p = parse_line(&line, &ctx());
        assert_eq!(p.format, Format::Json);
        assert!(p.timestamp_ms.is_some(), "top-level `timestamp` is epoch ms");
        assert!(p.fields.iter().any(|(k, _)| k.starts_with("server_zones.")));
    }
}

/// Throughput over every sample file; run with
/// `cargo test --release -p vigil-logparse --test loghub -- --ignored --nocapture`.
#[test]
#[ignore = "benchmark: meaningful only in release builds"]
fn throughput() {
    let Some(dir) = data_dir() else { return };
    let mut files: Vec<(String, Vec<String>)> = Vec::new();
    for entry in std::fs::read_dir(dir.join("loghub")).expect("loghub dir is readable") {
        let system = entry.expect("dir entry").file_name().to_string_lossy().to_string();
        let path = dir.join("loghub").join(&system).join(format!("{system}_2k.log"));
        if path.is_file() {
            files.push((system, lines_of(&path)));
        }
    }
    for other in ["apache-access/apache_logs", "syslog-auth/auth.log", "nginxplus-json/nginxplus_json_logs"] {
        files.push((other.to_string(), lines_of(&dir.join("other").join(other))));
    }
    files.sort();
    for (name, lines) in &files {
        let bytes: usize = lines.iter().map(|l| l.len() + 1).sum();
        let rounds = (20_000_000 / bytes).max(1);
        let start = std::time::Instant::now();
        for _ in 0..rounds {
            for l in lines {
                std::hint::black_box(parse_line(std::hint::black_box(l), &ctx()));
            }
        }
        let secs = start.elapsed().as_secs_f64();
        let mb = (bytes * rounds) as f64 / 1e6;
        println!("{name:<40} {:>8.1} MB/s {:>8.2} M lines/s", mb / secs, (lines.len() * rounds) as f64 / secs / 1e6);
    }
}
