//! Multiline events: consecutive lines that belong together (a stack trace after the log line
//! that reported it) become one record, their bytes joined with `\n`. Sits between framing and
//! batching in the file task's reader. Pure (no I/O): every rule is a table-driven unit test.
//!
//! [`Rules`] are a small state machine compiled once per input from `[agent.inputs.multiline]`:
//! each line, in the state the lines before it left, either begins a new event or continues the
//! pending one, and sets the next state. A preset is a table of such rules; `start` and
//! `continuation` are one rule each.
//!
//! Invariants:
//! - an event's `offset` is its first line's, its `end_offset` its last line's, and the bytes up
//!   to its first `\n` are its first line as the file holds it at `offset` (what the checkpoint's
//!   last-line mark is taken of);
//! - a pending event is in no batch, so a checkpoint never points inside one: after a restart
//!   its lines are read again and it is assembled again;
//! - an event never grows past `max_lines` or `max_bytes`: it is shipped in pieces
//!   ([`Piece::First`], then [`Piece::Rest`]), nothing is dropped;
//! - pieces of a line over `max_line_bytes` (`long_lines = "split"`) are never joined into an
//!   event: they end the pending event and pass through as they are.

use std::{
    fmt,
    sync::Arc,
    time::{Duration, Instant},
};

use regex::bytes::Regex;

use crate::{
    config::{MultilineConfig, Preset},
    framing::{Line, Piece},
    metrics as m,
};

/// What a line does to the event before it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Action {
    /// It begins a new event (the pending one is complete).
    Start,
    /// It is appended to the pending event (or begins one when none is pending).
    Continue,
}

/// A state of a rule table; every table starts in state 0.
type State = u8;

/// Rule applies in every state.
const ANY: u32 = u32::MAX;

/// A line matching `pattern` in one of `states` (bit per state) does `action` and moves to `next`.
struct Rule {
    states: u32,
    pattern: Regex,
    action: Action,
    next: State,
}

/// The compiled rules of one input: which lines begin an event and which continue one, and
/// the limits of an event.
pub struct Rules {
    /// Tried in order; the first rule that applies in the current state and matches decides.
    table: Vec<Rule>,
    /// What a line no rule matched does (it then moves to state 0).
    otherwise: Action,
    config: MultilineConfig,
}

/// A pattern of `[agent.inputs.multiline]` that does not compile.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("'{pattern}' is not a valid regex: {reason}")]
pub struct InvalidPattern {
    /// The key under `multiline`: `start` or `continuation`.
    pub key: &'static str,
    pub pattern: String,
    pub reason: String,
}

impl Rules {
    /// Compiles the rules `config` describes: its preset, else its `start` or `continuation`
    /// pattern (a config without any gives rules where every line is its own event).
    pub fn compile(config: &MultilineConfig) -> Result<Rules, InvalidPattern> {
        let single = |key, pattern: &str, action| -> Result<Vec<Rule>, InvalidPattern> {
            Ok(vec![Rule { states: ANY, pattern: compile_pattern(key, pattern)?, action, next: 0 }])
        };
        let (table, otherwise) = match (config.preset, &config.start, &config.continuation) {
            (Some(preset), _, _) => (preset_table(preset), Action::Start),
            (None, Some(start), _) => (single("start", start, Action::Start)?, Action::Continue),
            (None, None, Some(continuation)) => {
                (single("continuation", continuation, Action::Continue)?, Action::Start)
            }
            (None, None, None) => (Vec::new(), Action::Start),
        };
        Ok(Rules { table, otherwise, config: config.clone() })
    }

    fn classify(&self, state: State, line: &[u8]) -> (Action, State) {
        self.table
            .iter()
            .find(|rule| rule.states & (1 << state) != 0 && rule.pattern.is_match(line))
            .map_or((self.otherwise, 0), |rule| (rule.action, rule.next))
    }
}

impl fmt::Debug for Rules {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Rules").field("config", &self.config).finish_non_exhaustive()
    }
}

impl PartialEq for Rules {
    fn eq(&self, other: &Rules) -> bool {
        self.config == other.config
    }
}

/// Compiles the pattern given as `key` (`start` or `continuation`).
pub fn compile_pattern(key: &'static str, pattern: &str) -> Result<Regex, InvalidPattern> {
    Regex::new(pattern).map_err(|error| InvalidPattern {
        key,
        pattern: pattern.to_string(),
        reason: one_line(&error.to_string()),
    })
}

/// The last line of a (multi-line) regex error, which says what is wrong.
fn one_line(message: &str) -> String {
    let last = message.lines().map(str::trim).rfind(|line| !line.is_empty()).unwrap_or(message);
    last.strip_prefix("error: ").unwrap_or(last).to_string()
}

/// A preset's rules (fixed patterns: compiling them cannot fail).
fn preset_table(preset: Preset) -> Vec<Rule> {
    let rule = |states: u32, pattern: &str, action: Action, next: State| Rule {
        states,
        pattern: Regex::new(pattern).expect("preset patterns are valid (a unit test compiles each)"),
        action,
        next,
    };
    use Action::{Continue, Start};
    match preset {
        // Stateless: the exception line (`pkg.SomeException: message`) and every trace line
        // continue what is before them, so the log line that reported the exception leads.
        Preset::Java => vec![
            rule(ANY, r"^\s+at \S", Continue, 0),
            rule(ANY, r"^\s*\.\.\. \d+ (?:more|common frames omitted)$", Continue, 0),
            rule(ANY, r"^\s*(?:Caused by|Suppressed): ", Continue, 0),
            rule(ANY, r"^(?:[A-Za-z_$][\w$]*\.)+[A-Za-z_$][\w$]*(?:Exception|Error|Throwable)(?::|$)", Continue, 0),
        ],
        // A traceback continues the line before it (`logger.exception` writes the message
        // first). Inside it, indented lines are frames and source; the first line that is not
        // indented is the exception (`ValueError: bad`, or a bare `KeyboardInterrupt`) and
        // ends it, unless a blank line and "During handling..." chain another traceback.
        Preset::Python => {
            const TRACEBACK: State = 1;
            const RAISED: State = 2;
            const CHAINED: State = 3;
            const GROUP: State = 4;
            // Right after an exception line, a traceback is another one: it begins an event.
            const FOLLOWS_A_LINE: u32 = 1 << 0 | 1 << CHAINED;
            vec![
                rule(FOLLOWS_A_LINE, r"^Traceback \(most recent call last\):$", Continue, TRACEBACK),
                rule(ANY, r"^Traceback \(most recent call last\):$", Start, TRACEBACK),
                rule(FOLLOWS_A_LINE, r"^\s*\+ Exception Group Traceback \(most recent call last\):$", Continue, GROUP),
                rule(ANY, r"^\s*\+ Exception Group Traceback \(most recent call last\):$", Start, GROUP),
                rule(1 << TRACEBACK, r"^[ \t]", Continue, TRACEBACK),
                rule(1 << TRACEBACK, r"^(?:[A-Za-z_]\w*\.)*[A-Za-z_]\w*(?::|$)", Continue, RAISED),
                rule(1 << RAISED | 1 << CHAINED, r"^\s*$", Continue, CHAINED),
                rule(
                    1 << CHAINED,
                    r"^(?:During handling of the above exception, another exception occurred|The above exception was the direct cause of the following exception):$",
                    Continue,
                    CHAINED,
                ),
                // An exception group's traceback is indented throughout.
                rule(1 << GROUP, r"^[ \t]", Continue, GROUP),
            ]
        }
        // `panic:` / `fatal error:` begins a crash dump: the panic lines, a `[signal ...]`
        // line, then each goroutine (`goroutine N [state]:`, function lines, tab-indented file
        // lines, `created by ...`), goroutines separated by blank lines.
        Preset::Go => {
            const PANIC: State = 1;
            const STACK: State = 2;
            vec![
                rule(ANY, r"^(?:panic: |fatal error: )", Start, PANIC),
                rule(ANY, r"http: panic serving ", Start, PANIC),
                rule(1 << PANIC | 1 << STACK, r"^goroutine \d+ .*:$", Continue, STACK),
                rule(1 << PANIC, r"^(?:\s|$|\[signal )", Continue, PANIC),
                rule(1 << STACK, r"^(?:\s|$|created by |\.\.\.)", Continue, STACK),
                rule(1 << STACK, r"^\S+\(.*\)$", Continue, STACK),
            ]
        }
    }
}

/// An event being assembled.
#[derive(Debug)]
struct Event {
    line: Line,
    lines: usize,
    /// When its last line was added.
    updated: Instant,
}

/// Assembles the lines of one file into events, in order.
#[derive(Debug)]
pub struct Aggregator {
    rules: Arc<Rules>,
    state: State,
    pending: Option<Event>,
    /// Offsets where an event ended before a restart without a line ending it (its flush
    /// timeout passed): the event before each ends there again. Ascending.
    cuts: std::collections::VecDeque<u64>,
}

impl Aggregator {
    pub fn new(rules: Arc<Rules>) -> Aggregator {
        Aggregator { rules, state: 0, pending: None, cuts: Default::default() }
    }

    /// The same, for a file read again from a checkpoint that recorded `cuts`.
    pub fn with_cuts(mut self, mut cuts: Vec<u64>) -> Aggregator {
        cuts.sort_unstable();
        self.cuts = cuts.into();
        self
    }

    /// Adds the next line of the file (read at `now`); events it completes go to `out`.
    pub fn push(&mut self, line: Line, now: Instant, out: &mut Vec<Line>) {
        while self.cuts.front().is_some_and(|cut| *cut < line.offset) {
            self.cuts.pop_front();
        }
        if self.cuts.front() == Some(&line.offset) {
            // The pending event was shipped as it stood here before: it ends here again. The
            // state goes on as it did then (a flush leaves it).
            self.cuts.pop_front();
            out.extend(self.flush());
        }
        if line.piece.is_split() {
            out.extend(self.flush());
            self.state = 0;
            out.push(line);
            return;
        }
        let (action, next) = self.rules.classify(self.state, &line.bytes);
        self.state = next;
        let limits = &self.rules.config;
        match (action, self.pending.as_mut()) {
            (Action::Continue, Some(event))
                if event.lines < limits.max_lines
                    && event.line.bytes.len() + 1 + line.bytes.len() <= limits.max_bytes =>
            {
                let joined = &mut event.line;
                joined.bytes.push(b'\n');
                joined.bytes.extend_from_slice(&line.bytes);
                joined.end_offset = line.end_offset;
                joined.truncated |= line.truncated;
                joined.skipped_bytes += line.skipped_bytes;
                event.lines += 1;
                event.updated = now;
            }
            (Action::Continue, Some(_)) => {
                // Over the limits: ship what there is as a piece; the rest continues it.
                metrics::counter!(m::MULTILINE_EVENTS_CUT_TOTAL).increment(1);
                let mut cut = self.pending.take().expect("matched Some").line;
                if cut.piece == Piece::Whole {
                    cut.piece = Piece::First;
                }
                out.push(cut);
                self.pending = Some(Event { line: Line { piece: Piece::Rest, ..line }, lines: 1, updated: now });
            }
            (Action::Start, _) | (Action::Continue, None) => {
                out.extend(self.flush());
                self.pending = Some(Event { line, lines: 1, updated: now });
            }
        }
    }

    /// How long until the pending event has waited `flush_timeout` for another line; `None`
    /// when none is pending.
    pub fn due_in(&self, now: Instant) -> Option<Duration> {
        let timeout = self.rules.config.flush_timeout;
        self.pending.as_ref().map(|event| (event.updated + timeout).saturating_duration_since(now))
    }

    /// Takes the pending event as it is (its flush timeout passed, the file ended or the agent
    /// stops). Lines after it are still read in the state it left.
    pub fn flush(&mut self) -> Option<Line> {
        self.pending.take().map(|event| event.line)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(preset: Option<Preset>, start: Option<&str>, continuation: Option<&str>) -> MultilineConfig {
        MultilineConfig {
            preset,
            start: start.map(str::to_string),
            continuation: continuation.map(str::to_string),
            ..MultilineConfig::default()
        }
    }

    fn preset(preset: Preset) -> Arc<Rules> {
        Arc::new(Rules::compile(&config(Some(preset), None, None)).expect("presets compile"))
    }

    /// Lines of `text` as the framer gives them (offsets included).
    fn lines(text: &str) -> Vec<Line> {
        let mut framer = crate::framing::LineFramer::new(1 << 20, 0);
        let mut out = Vec::new();
        framer.push(text.as_bytes(), &mut out);
        out
    }

    /// The events `rules` make of `text`, flushed at its end.
    fn events(rules: &Arc<Rules>, text: &str) -> Vec<Line> {
        let mut aggregator = Aggregator::new(rules.clone());
        let mut out = Vec::new();
        let now = Instant::now();
        for line in lines(text) {
            aggregator.push(line, now, &mut out);
        }
        out.extend(aggregator.flush());
        out
    }

    fn texts(rules: &Arc<Rules>, text: &str) -> Vec<String> {
        events(rules, text).into_iter().map(|e| String::from_utf8(e.bytes).expect("utf-8")).collect()
    }

    const JAVA: &str = "\
2024-05-01 12:00:00.123 ERROR [main] c.e.OrderService - failed to place order 42
com.example.OrderException: order 42 could not be placed
\tat com.example.OrderService.place(OrderService.java:88)
\tat com.example.Api.handle(Api.java:31)
Caused by: java.lang.IllegalStateException: inventory closed
\tat com.example.Inventory.reserve(Inventory.java:12)
\t... 3 more
\tSuppressed: java.io.IOException: close failed
\t\tat com.example.Inventory.close(Inventory.java:40)
\t\t... 4 common frames omitted
2024-05-01 12:00:01.000 INFO  [main] c.e.OrderService - order 43 placed
Exception in thread \"worker-1\" java.lang.OutOfMemoryError: Java heap space
\tat java.base/java.util.Arrays.copyOf(Arrays.java:3512)
2024-05-01 12:00:02.000 INFO  [main] c.e.OrderService - done
";

    #[test]
    fn a_restart_ends_events_where_their_flush_timeout_ended_them_before() {
        let rules = preset(Preset::Java);
        let text = "ERROR failed\n\tat a.B.c(B.java:1)\n\tat a.B.d(B.java:2)\nINFO next\n";
        let cut = "ERROR failed\n\tat a.B.c(B.java:1)\n".len() as u64;
        let mut aggregator = Aggregator::new(rules.clone()).with_cuts(vec![3, cut]);
        let mut out = Vec::new();
        for line in lines(text) {
            aggregator.push(line, Instant::now(), &mut out);
        }
        out.extend(aggregator.flush());
        let view: Vec<(u64, &str)> =
            out.iter().map(|e| (e.offset, std::str::from_utf8(&e.bytes).expect("utf-8"))).collect();
        assert_eq!(
            view,
            [(0, "ERROR failed\n\tat a.B.c(B.java:1)"), (cut, "\tat a.B.d(B.java:2)"), (cut + 20, "INFO next")],
            "cut where the first run's timeout cut it; a cut inside a line (3) changes nothing"
        );
    }

    #[test]
    fn java_trace_with_caused_by_and_more_is_one_event_led_by_its_log_line() {
        let all = lines(JAVA);
        let got = events(&preset(Preset::Java), JAVA);
        let view: Vec<(u64, u64, usize)> =
            got.iter().map(|e| (e.offset, e.end_offset, e.bytes.split(|&b| b == b'\n').count())).collect();
        assert_eq!(
            view,
            [
                (all[0].offset, all[9].end_offset, 10),
                (all[10].offset, all[10].end_offset, 1),
                (all[11].offset, all[12].end_offset, 2),
                (all[13].offset, all[13].end_offset, 1),
            ]
        );
        let first_ten: Vec<&str> = JAVA.lines().take(10).collect();
        assert_eq!(got[0].bytes, first_ten.join("\n").as_bytes(), "lines joined with \\n, byte for byte");
        assert!(got.iter().all(|e| e.piece == Piece::Whole && !e.truncated));
    }

    const PYTHON: &str = "\
2024-05-01 12:00:00,001 ERROR app: request failed
Traceback (most recent call last):
  File \"/srv/app/views.py\", line 10, in handle
    return parse(body)
  File \"/srv/app/parse.py\", line 3, in parse
    raise ValueError(\"bad body\")
ValueError: bad body
2024-05-01 12:00:00,002 INFO app: next request
Traceback (most recent call last):
  File \"/srv/app/db.py\", line 5, in get
    return rows[key]
KeyError: 'id'

During handling of the above exception, another exception occurred:

Traceback (most recent call last):
  File \"/srv/app/db.py\", line 7, in get
    raise LookupError(key)
LookupError: id
2024-05-01 12:00:00,003 WARNING app: slow
  + Exception Group Traceback (most recent call last):
  |   File \"/srv/app/jobs.py\", line 2, in <module>
  | ExceptionGroup: jobs failed (1 sub-exception)
  +-+---------------- 1 ----------------
    | TimeoutError: job 1
    +------------------------------------
2024-05-01 12:00:00,004 INFO app: bye
";

    #[test]
    fn python_traceback_ends_with_its_unindented_exception_line() {
        let got = texts(&preset(Preset::Python), PYTHON);
        let source: Vec<&str> = PYTHON.lines().collect();
        let join = |from: usize, to: usize| source[from..to].join("\n");
        assert_eq!(
            got,
            [join(0, 7), join(7, 19), join(19, 26), join(26, 27)],
            "the exception line closes the traceback; the next log line is its own event"
        );
    }

    #[test]
    fn python_keeps_a_bare_exception_name_and_a_syntax_error_caret() {
        let text = "\
Traceback (most recent call last):
  File \"<stdin>\", line 1
    x = = 1
        ^
SyntaxError: invalid syntax
Traceback (most recent call last):
  File \"main.py\", line 4, in <module>
KeyboardInterrupt
INFO:root:started again
";
        assert_eq!(texts(&preset(Preset::Python), text).len(), 3);
        assert_eq!(texts(&preset(Preset::Python), text)[2], "INFO:root:started again");
    }

    const GO: &str = "\
2024/05/01 12:00:00 starting workers
panic: runtime error: index out of range [5] with length 3

goroutine 1 [running]:
main.process({0xc000012345, 0x3, 0x3})
\t/app/main.go:21 +0x1d
main.main()
\t/app/main.go:12 +0x45

goroutine 18 [chan receive]:
main.worker(0xc000020060)
\t/app/worker.go:30 +0x30
created by main.main in goroutine 1
\t/app/main.go:10 +0x25
2024/05/01 12:00:05 restarted
";

    #[test]
    fn go_panic_with_two_goroutines_is_one_event() {
        let got = texts(&preset(Preset::Go), GO);
        let source: Vec<&str> = GO.lines().collect();
        assert_eq!(got, [source[0].to_string(), source[1..14].join("\n"), source[14].to_string()]);
    }

    #[test]
    fn go_signal_and_http_panics() {
        let text = "\
panic: runtime error: invalid memory address or nil pointer dereference
[signal SIGSEGV: segmentation violation code=0x1 addr=0x0 pc=0x47b7b2]

goroutine 1 [running]:
main.main()
\t/app/main.go:8 +0x12
2024/05/01 12:00:00 http: panic serving 10.0.0.1:5555: boom
goroutine 7 [running]:
net/http.(*conn).serve.func1()
\t/usr/local/go/src/net/http/server.go:1898 +0xbe
2024/05/01 12:00:01 served
";
        assert_eq!(texts(&preset(Preset::Go), text).iter().map(|e| e.lines().count()).collect::<Vec<_>>(), [6, 4, 1]);
    }

    #[test]
    fn start_and_continuation_patterns() {
        let text = "2024-01-01 a\n  more a\nnot a date\n2024-01-02 b\n2024-01-03 c\n  more c\n";
        let start = Arc::new(Rules::compile(&config(None, Some(r"^\d{4}-\d{2}-\d{2}"), None)).expect("valid"));
        assert_eq!(
            texts(&start, text),
            ["2024-01-01 a\n  more a\nnot a date", "2024-01-02 b", "2024-01-03 c\n  more c"]
        );
        let continuation = Arc::new(Rules::compile(&config(None, None, Some(r"^\s"))).expect("valid"));
        assert_eq!(
            texts(&continuation, text),
            ["2024-01-01 a\n  more a", "not a date", "2024-01-02 b", "2024-01-03 c\n  more c"]
        );
    }

    #[test]
    fn an_event_is_cut_at_max_lines_and_max_bytes_into_flagged_pieces() {
        let text = "head\n 1\n 2\n 3\n 4\nnext\n";
        for (max_lines, max_bytes, expected) in [
            (3, 1 << 20, vec![("head\n 1\n 2", Piece::First), (" 3\n 4", Piece::Rest), ("next", Piece::Whole)]),
            (500, 10, vec![("head\n 1\n 2", Piece::First), (" 3\n 4", Piece::Rest), ("next", Piece::Whole)]),
            (
                2,
                1 << 20,
                vec![("head\n 1", Piece::First), (" 2\n 3", Piece::Rest), (" 4", Piece::Rest), ("next", Piece::Whole)],
            ),
        ] {
            let rules = Rules::compile(&MultilineConfig {
                continuation: Some(r"^\s".into()),
                max_lines,
                max_bytes,
                ..MultilineConfig::default()
            })
            .expect("valid");
            let got = events(&Arc::new(rules), text);
            let view: Vec<(String, Piece)> =
                got.iter().map(|e| (String::from_utf8_lossy(&e.bytes).into_owned(), e.piece)).collect();
            let expected: Vec<(String, Piece)> = expected.into_iter().map(|(t, p)| (t.to_string(), p)).collect();
            assert_eq!(view, expected, "max_lines {max_lines}, max_bytes {max_bytes}");
            assert!(got.windows(2).all(|w| w[0].end_offset == w[1].offset), "pieces cover the file without gaps");
        }
    }

    #[test]
    fn pieces_of_a_long_line_pass_through_and_end_the_pending_event() {
        let rules = Arc::new(Rules::compile(&config(None, None, Some(r"^\s"))).expect("valid"));
        let mut aggregator = Aggregator::new(rules.clone());
        let mut out = Vec::new();
        let now = Instant::now();
        let line = |text: &str, offset: u64, piece| Line {
            bytes: text.into(),
            offset,
            end_offset: offset + text.len() as u64 + u64::from(piece != Piece::First),
            truncated: false,
            skipped_bytes: 0,
            piece,
        };
        aggregator.push(line("head", 0, Piece::Whole), now, &mut out);
        aggregator.push(line(" more", 5, Piece::Whole), now, &mut out);
        aggregator.push(line(" piece", 11, Piece::First), now, &mut out);
        aggregator.push(line(" rest", 17, Piece::Rest), now, &mut out);
        let view: Vec<(&[u8], Piece)> = out.iter().map(|l| (l.bytes.as_slice(), l.piece)).collect();
        assert_eq!(view, [(&b"head\n more"[..], Piece::Whole), (b" piece", Piece::First), (b" rest", Piece::Rest)]);
        assert_eq!(aggregator.flush(), None);
    }

    #[test]
    fn a_pending_event_is_due_flush_timeout_after_its_last_line() {
        let rules = preset(Preset::Java);
        let mut aggregator = Aggregator::new(rules.clone());
        let mut out = Vec::new();
        let start = Instant::now();
        assert_eq!(aggregator.due_in(start), None);
        let mut source = lines("boom\n\tat a.B.c(B.java:1)\n").into_iter();
        aggregator.push(source.next().expect("line"), start, &mut out);
        aggregator.push(source.next().expect("line"), start + Duration::from_millis(600), &mut out);
        assert!(out.is_empty(), "the event may go on");
        assert_eq!(aggregator.due_in(start + Duration::from_millis(1000)), Some(Duration::from_millis(600)));
        assert_eq!(aggregator.due_in(start + Duration::from_secs(5)), Some(Duration::ZERO));
        let event = aggregator.flush().expect("pending");
        assert_eq!((event.offset, event.end_offset), (0, 25));
        assert_eq!(aggregator.due_in(start), None);
    }

    #[test]
    fn invalid_patterns_name_their_key_and_invalid_utf8_lines_are_matched_as_bytes() {
        let error = Rules::compile(&config(None, Some(r"^\d{4"), None)).expect_err("unclosed repetition");
        assert_eq!(error.key, "start");
        assert!(!error.reason.contains('\n') && !error.reason.is_empty(), "{error}");
        let error = Rules::compile(&config(None, None, Some("("))).expect_err("unclosed group");
        assert_eq!(error.key, "continuation");

        let rules = Arc::new(Rules::compile(&config(None, None, Some(r"^\s"))).expect("valid"));
        let mut aggregator = Aggregator::new(rules.clone());
        let mut out = Vec::new();
        let bad = Line {
            bytes: b"\xff bad".to_vec(),
            offset: 0,
            end_offset: 6,
            truncated: false,
            skipped_bytes: 0,
            piece: Piece::Whole,
        };
        let cont = Line { bytes: b" \xfe".to_vec(), offset: 6, end_offset: 9, ..bad.clone() };
        aggregator.push(bad, Instant::now(), &mut out);
        aggregator.push(cont, Instant::now(), &mut out);
        assert_eq!(aggregator.flush().map(|e| e.bytes), Some(b"\xff bad\n \xfe".to_vec()), "bytes kept as they are");
    }
}
