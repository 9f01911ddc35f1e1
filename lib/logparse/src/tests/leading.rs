//! Level detection in the header of timestamped plain-text lines: found in the first few
//! tokens in every common layout, never taken from the free text further on.

use super::{ctx, field};
use crate::{parse_line, Format, Level};

#[test]
fn level_in_header_positions() {
    use Level::*;
    let cases = [
        ("2015-10-18 18:01:47,978 INFO [main] org.x: y", Info),
        ("[2016-12-19 20:26:45,231] WARN [Replica], x (kafka.y)", Warn),
        ("2015-07-29 17:41:44,747 - INFO  [QuorumPeer[myid=1]/0:0:0:2181:F@774] - x", Info),
        ("2016-09-28 04:30:30, Info                  CBS    Loaded x", Info),
        ("081109 203615 148 INFO dfs.DataNode$PacketResponder: x", Info),
        ("17/06/09 20:10:40 ERROR executor.Executor: x", Error),
        ("03-17 16:13:38.811  1702  2395 D WindowManager: x", Debug),
        ("03-17 16:13:38.811  1702  2395 V WindowManager: x", Trace),
        ("03-17 16:13:38.811  1702  2395 E WindowManager: x", Error),
        ("2015/05/17 10:05:43 [error] 1234#0: *1 open() failed", Error),
        ("2023-01-02 03:04:05,678 - root - WARNING - disk almost full", Warn),
        ("2023-01-02 03:04:05.678 [http-nio-8080-exec-1] DEBUG c.e.Foo - x", Debug),
        ("2023-01-02 03:04:05.678  INFO 12345 --- [main] c.e.App : Started", Info),
        ("2023-01-02T03:04:05Z level=error msg=x", Error),
        ("[2023-01-02 03:04:05,678: INFO/MainProcess] Task done", Info),
        ("2023-01-02 03:04:05 [notice] x", Notice),
        ("2023-01-02 03:04:05 SEVERE x", Error),
        ("2023-01-02 03:04:05 FATAL x", Fatal),
        ("2023-01-02 03:04:05 TRACE x", Trace),
        ("2023-01-02 03:04:05 <warning> x", Warn),
        ("2023-01-02 03:04:05 | ERROR | x", Error),
        ("2023-01-02 03:04:05.123 UTC [4242] ERROR:  relation missing", Error),
        ("2023-01-02T03:04:05.123456Z 0 [Warning] [MY-010068] x", Warn),
        ("I0102 15:04:05.123456 1 main.go:12] x", Info),
        ("E0102 15:04:05.123456 1 main.go:12] x", Error),
        ("ERROR 2023-01-02 03:04:05 something broke", Error),
        ("[WARN] [2023-01-02 03:04:05] x", Warn),
        ("I, [2016-12-19T20:26:45.231000 #1234]  INFO -- : x", Info),
        ("E, [2016-12-19T20:26:45.231000 #1234] ERROR -- : x", Error),
    ];
    for (line, want) in cases {
        let p = parse_line(line, &ctx());
        assert_eq!(p.level, Some(want), "{line}");
        assert!(p.timestamp_ms.is_some(), "{line}");
        assert_eq!(p.format, Format::LeadingTimestamp, "{line}");
        assert_eq!(p.message, None, "plain text keeps the whole line: {line}");
    }
}

#[test]
fn level_words_in_free_text_are_not_the_level() {
    for line in [
        "2015-10-18 18:01:47 Starting job; an ERROR may follow",
        "2015-10-18 18:01:47 job failed with ERROR",
        "2015-10-18 18:01:47 main: ERROR in component",
        "081109 203615 148 dfs.DataNode: reported ERROR",
        "[10.30 16:49:06] chrome.exe - proxy.example:5070 open through proxy x WARNING",
        // A single letter is a level only in logcat's position after pid and tid.
        "2015-10-18 18:01:47 E mc squared",
    ] {
        let p = parse_line(line, &ctx());
        assert!(p.timestamp_ms.is_some(), "{line}");
        assert_eq!(p.level, None, "{line}");
    }
}

#[test]
fn bgl_reads_epoch_column_and_level_after_component() {
    let line = "- 1117838570 2005.06.03 R02-M1-N0-C:J12-U11 2005-06-03-15.42.50.675872 \
                R02-M1-N0-C:J12-U11 RAS KERNEL INFO instruction cache parity error corrected";
    let p = parse_line(line, &ctx());
    assert_eq!(p.timestamp_ms, Some(1_117_838_570_000));
    assert_eq!(p.level, Some(Level::Info));
    assert_eq!(field(&p, "node"), Some("R02-M1-N0-C:J12-U11"));
    assert_eq!(field(&p, "component"), Some("KERNEL"));

    let alert = "KERNDTLB 1118536327 2005.06.11 R30-M0-N9-C:J16-U01 2005-06-11-17.32.07.581048 \
                 R30-M0-N9-C:J16-U01 RAS KERNEL FATAL data TLB error interrupt";
    assert_eq!(parse_line(alert, &ctx()).level, Some(Level::Fatal));
    let discovery = "- 1119977619 2005.06.28 R02-M1-NE 2005-06-28-09.53.39.479164 R02-M1-NE \
                     NULL DISCOVERY WARNING Node card is not fully functional";
    assert_eq!(parse_line(discovery, &ctx()).level, Some(Level::Warn));
}

#[test]
fn hpc_reads_epoch_column() {
    let line = "134681 node-246 unix.hw state_change.unavailable 1077804742 1 Component State \
                Change: Component \\042alt0\\042 is in the unavailable state (HWID=1973)";
    let p = parse_line(line, &ctx());
    assert_eq!(p.timestamp_ms, Some(1_077_804_742_000));
    assert_eq!(p.level, None);
    assert_eq!(p.format, Format::LeadingTimestamp);

    // An id after a word of text is not a time.
    let p = parse_line("Order 1234567890 shipped", &ctx());
    assert_eq!(p.timestamp_ms, None);
    assert_eq!(p.format, Format::Unknown);
}
