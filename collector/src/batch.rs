//! Batching: lines of ONE stream (one file generation) collected until `max_lines`,
//! `max_bytes` or `linger`, then encoded as a protobuf [`LogBatch`].
//!
//! One stream per batch means one partition key per batch, so a file's lines stay in order
//! in one partition; the batch carries the file position after its last line, which becomes
//! the checkpoint once the batch is acknowledged.

use std::{
    collections::BTreeMap,
    ops::Range,
    sync::{Arc, Mutex},
    time::{Duration, Instant},
};

use vigil_model::log_batch_writer::{append_record, batch_header, record_size, RecordFields, SharedFields};

use crate::{
    checkpoint::LineMark, config::BatchConfig, file_task::Reading, fingerprint::Fingerprint, framing::LineRef,
};

/// What a file task knows of its input: what every record carries besides its line, and how
/// the lines are read.
#[derive(Debug, Clone, PartialEq)]
pub struct RecordTemplate {
    pub service: String,
    pub host: String,
    pub labels: BTreeMap<String, String>,
    pub reading: Reading,
}

/// An encoded batch ready to ship.
#[derive(Debug, Clone, PartialEq)]
pub struct Batch {
    /// The stream its lines belong to: the partition key.
    pub stream: String,
    /// File position after the batch's last line: the checkpoint once acknowledged.
    pub end_offset: u64,
    /// The batch's last line, which must still be in the file for the checkpoint to hold.
    pub last_line: Option<LineMark>,
    pub lines: u64,
    /// File bytes its lines span (newlines included): what the completeness ledger counts.
    pub file_bytes: u64,
    /// Protobuf-encoded `LogBatch`.
    pub payload: Vec<u8>,
    /// End offsets of the multiline events in it that were ended by their flush timeout or
    /// the agent stopping (see `Checkpoint::event_cuts`).
    pub event_cuts: Vec<u64>,
    /// Ends of unterminated last lines shipped on their timeout since the last batch (see
    /// `Checkpoint::line_cuts`); such a line is in this batch or a later one.
    pub line_cuts: Vec<u64>,
}

/// Payload buffers of a file's batches already accounted for, emptied, for its builder to
/// fill again: a busy file otherwise takes fresh pages for every batch (the page faults were
/// 8% of the agent's CPU at full speed). Only large buffers are kept, one at a time.
#[derive(Debug, Clone, Default)]
pub struct PayloadPool(Arc<Mutex<Vec<Vec<u8>>>>);

impl PayloadPool {
    const KEEP: usize = 1;
    const SMALLEST: usize = 64 << 10;

    /// Gives back the payload of a batch that was delivered, spooled or dropped.
    pub fn put(&self, mut payload: Vec<u8>) {
        if payload.capacity() < Self::SMALLEST {
            return;
        }
        payload.clear();
        let mut pool = self.0.lock().expect("pool lock is never poisoned");
        if pool.len() < Self::KEEP {
            pool.push(payload);
        }
    }

    /// An empty buffer with room for at least `capacity` bytes.
    fn get(&self, capacity: usize) -> Vec<u8> {
        let kept = self.0.lock().expect("pool lock is never poisoned").pop();
        match kept {
            Some(mut payload) => {
                payload.reserve(capacity);
                payload
            }
            None => Vec::with_capacity(capacity),
        }
    }
}

/// Collects the lines of one stream, encoding each as it comes (see `vigil_model::log_batch_writer`).
#[derive(Debug)]
pub struct BatchBuilder {
    limits: BatchConfig,
    stream: String,
    service: String,
    host: String,
    labels: BTreeMap<String, String>,
    /// The encoded fields every record shares, and the source they were made for (a file
    /// renamed while it is read changes its source).
    shared: Option<(String, SharedFields)>,
    /// The `LogBatch` encoded so far; empty when no line is in it.
    payload: Vec<u8>,
    lines: u64,
    file_bytes: u64,
    end_offset: u64,
    /// The last record's file offset and where its bytes are in `payload`: its [`LineMark`]
    /// is made once, when the batch is taken, not for every line.
    last_record: Option<(u64, Range<usize>)>,
    event_cuts: Vec<u64>,
    line_cuts: Vec<u64>,
    first_at: Option<Instant>,
    pool: PayloadPool,
}

impl BatchBuilder {
    pub fn new(limits: BatchConfig, stream: String, template: &RecordTemplate) -> BatchBuilder {
        BatchBuilder {
            limits,
            stream,
            service: template.service.clone(),
            host: template.host.clone(),
            labels: template.labels.clone(),
            shared: None,
            payload: Vec::new(),
            lines: 0,
            file_bytes: 0,
            end_offset: 0,
            last_record: None,
            event_cuts: Vec::new(),
            line_cuts: Vec::new(),
            first_at: None,
            pool: PayloadPool::default(),
        }
    }

    /// The same builder, taking the buffers of its next batches from `pool`.
    pub fn with_pool(mut self, pool: PayloadPool) -> BatchBuilder {
        self.pool = pool;
        self
    }

    /// The last record pushed is a multiline event ended by its flush timeout or the agent
    /// stopping: the batch carries its end, for the checkpoint (see `Checkpoint::event_cuts`).
    /// An unterminated last line ending at `end_offset` was just read on its timeout: the
    /// next batch taken carries the offset (the line may still wait in a multiline event).
    pub fn mark_line_cut(&mut self, end_offset: u64) {
        self.line_cuts.push(end_offset);
    }

    pub fn mark_event_cut(&mut self) {
        if !self.is_empty() {
            self.event_cuts.push(self.end_offset);
        }
    }

    pub fn is_empty(&self) -> bool {
        self.lines == 0
    }

    /// Adds a line (or multiline event, or piece of a long line); returns the batch built so
    /// far first when the line would not fit in it.
    pub fn push(&mut self, line: &LineRef<'_>, source: &str, read_time_ms: i64, now: Instant) -> Option<Batch> {
        if self.shared.as_ref().is_none_or(|(made_for, _)| made_for != source) {
            let shared = SharedFields::new(&self.service, &self.host, source, &self.labels, &self.stream);
            self.shared = Some((source.to_string(), shared));
        }
        let fields = RecordFields {
            line: line.bytes,
            offset: line.offset,
            read_time_ms,
            truncated: line.truncated,
            split: line.piece.is_split(),
        };
        let shared = &self.shared.as_ref().expect("made above").1;
        let size = record_size(shared, &fields);
        let full_before =
            if !self.is_empty() && self.payload.len() + size > self.limits.max_bytes { self.take() } else { None };
        let shared = &self.shared.as_ref().expect("made above").1;
        if self.payload.is_empty() {
            batch_header(&mut self.payload);
        }
        let line_at = append_record(shared, &fields, &mut self.payload);
        self.lines += 1;
        self.file_bytes += line.end_offset - line.offset;
        self.end_offset = line.end_offset;
        self.last_record = Some((line.offset, line_at..line_at + line.bytes.len()));
        self.first_at.get_or_insert(now);
        full_before
    }

    /// The batch reached `max_lines` or `max_bytes`.
    pub fn is_full(&self) -> bool {
        self.lines >= self.limits.max_lines as u64 || self.payload.len() >= self.limits.max_bytes
    }

    /// How long until the oldest line has waited `linger`; `None` when empty.
    pub fn due_in(&self, now: Instant) -> Option<Duration> {
        self.first_at.map(|first| (first + self.limits.linger).saturating_duration_since(now))
    }

    /// Takes the collected lines as an encoded batch (`None` when empty).
    pub fn take(&mut self) -> Option<Batch> {
        if self.is_empty() {
            return None;
        }
        // After a full batch the next starts with room for as much (the file is busy); after
        // one cut by time it starts empty, so hundreds of quiet files hold no buffers.
        let next = if self.is_full() { self.pool.get(self.payload.len()) } else { Vec::new() };
        let payload = std::mem::replace(&mut self.payload, next);
        self.first_at = None;
        // The mark must describe bytes the file holds at `offset`: a line's bytes are its
        // file bytes (less a trailing `\r`), and so are an event's up to its first `\n` (its
        // lines were joined with `\n`, each maybe without its `\r`).
        let last_line = self.last_record.take().map(|(offset, bytes)| {
            let record = &payload[bytes];
            let first_line = record.split(|&byte| byte == b'\n').next().unwrap_or_default();
            LineMark { offset, fingerprint: Fingerprint::of_bytes(first_line) }
        });
        Some(Batch {
            stream: self.stream.clone(),
            end_offset: self.end_offset,
            last_line,
            lines: std::mem::take(&mut self.lines),
            file_bytes: std::mem::take(&mut self.file_bytes),
            payload,
            event_cuts: std::mem::take(&mut self.event_cuts),
            line_cuts: std::mem::take(&mut self.line_cuts),
        })
    }
}

#[cfg(test)]
mod tests {
    use prost::Message;
    use vigil_model::{LogBatch, LOG_BATCH_SCHEMA_VERSION};

    use super::*;
    use crate::framing::{Line, Piece};

    fn line(text: &str, offset: u64) -> Line {
        Line {
            bytes: text.as_bytes().to_vec(),
            offset,
            end_offset: offset + text.len() as u64 + 1,
            truncated: false,
            skipped_bytes: 0,
            piece: Piece::Whole,
        }
    }

    fn template() -> RecordTemplate {
        RecordTemplate {
            service: "api".into(),
            host: "h1".into(),
            labels: [("env".into(), "prod".into())].into(),
            reading: Reading::default(),
        }
    }

    fn builder(max_lines: usize, max_bytes: usize) -> BatchBuilder {
        let limits = BatchConfig { max_lines, max_bytes, linger: Duration::from_millis(200) };
        BatchBuilder::new(limits, "1:2:0".into(), &template())
    }

    #[test]
    fn a_batch_built_in_a_reused_buffer_holds_only_its_own_records() {
        let pool = PayloadPool::default();
        let mut builder = builder(3, 1 << 20).with_pool(pool.clone());
        let now = Instant::now();
        let long = "x".repeat(30_000);
        let mut full_batch = |start: u64| {
            for n in 0..3 {
                builder.push(&line(&long, start + n * 30_001).as_line_ref(), "/x.log", 1, now);
            }
            builder.take().expect("a full batch")
        };
        let first = full_batch(0);
        let reused = first.payload.as_ptr();
        pool.put(first.payload); // delivered: its buffer is large enough to be kept
        let _second = full_batch(90_003); // the next batch starts in the kept buffer
        builder.push(&line("after", 180_006).as_line_ref(), "/x.log", 2, now);
        let third = builder.take().expect("one line");
        assert_eq!(third.payload.as_ptr(), reused, "built in the first batch's buffer");
        let decoded = LogBatch::decode(third.payload.as_slice()).expect("valid protobuf");
        assert_eq!(decoded.records.len(), 1);
        assert_eq!((decoded.records[0].line.as_slice(), decoded.records[0].offset), (&b"after"[..], 180_006));
        let mark = LineMark { offset: 180_006, fingerprint: Fingerprint::of_bytes(b"after") };
        assert_eq!(third.last_line, Some(mark));
    }

    #[test]
    fn batch_decodes_to_records_with_stream_and_offsets() {
        let mut builder = builder(10, 1 << 20);
        let now = Instant::now();
        assert!(builder.push(&line("a", 0).as_line_ref(), "/x.log", 7, now).is_none());
        assert!(builder.push(&line("bb", 2).as_line_ref(), "/x.log", 7, now).is_none());
        let batch = builder.take().expect("two lines");
        assert_eq!((batch.lines, batch.end_offset, batch.stream.as_str()), (2, 5, "1:2:0"));
        let mark = LineMark { offset: 2, fingerprint: Fingerprint::of_bytes(b"bb") };
        assert_eq!(batch.last_line, Some(mark), "the checkpoint will check that the last line is still there");
        let decoded = LogBatch::decode(batch.payload.as_slice()).expect("valid protobuf");
        assert_eq!(decoded.schema_version, LOG_BATCH_SCHEMA_VERSION);
        let first = &decoded.records[0];
        assert_eq!((first.line.as_slice(), first.offset, first.source.as_str()), (&b"a"[..], 0, "/x.log"));
        assert_eq!((first.stream.as_str(), first.service.as_str(), first.read_time_ms), ("1:2:0", "api", 7));
        assert_eq!(first.labels.get("env").map(String::as_str), Some("prod"));
        assert!(builder.take().is_none(), "taking empties the builder");
    }

    #[test]
    fn fills_by_lines_and_by_bytes() {
        let mut by_lines = builder(2, 1 << 20);
        let now = Instant::now();
        by_lines.push(&line("a", 0).as_line_ref(), "/x", 0, now);
        assert!(!by_lines.is_full());
        by_lines.push(&line("b", 2).as_line_ref(), "/x", 0, now);
        assert!(by_lines.is_full());

        let mut by_bytes = builder(1000, 150);
        let long = "x".repeat(60);
        assert!(by_bytes.push(&line(&long, 0).as_line_ref(), "/x", 0, now).is_none());
        let first = by_bytes.push(&line(&long, 61).as_line_ref(), "/x", 0, now).expect("second line does not fit");
        assert_eq!((first.lines, first.end_offset), (1, 61));
        assert!(first.payload.len() <= 150);
    }

    #[test]
    fn an_event_is_marked_by_its_first_line_and_a_piece_is_flagged_split() {
        let mut builder = builder(10, 1 << 20);
        let now = Instant::now();
        // Read from "boom\r\n\tat x\r\n": the file holds "boom\r\n..." at 0, not "boom\n\tat x".
        let event = Line { bytes: b"boom\n\tat x".to_vec(), end_offset: 13, ..line("", 0) };
        builder.push(&event.as_line_ref(), "/x", 0, now);
        let piece = Line { piece: Piece::First, end_offset: 17, ..line("abcd", 13) };
        builder.push(&piece.as_line_ref(), "/x", 0, now);
        let batch = builder.take().expect("two records");
        assert_eq!(batch.end_offset, 17);
        assert_eq!(batch.last_line, Some(LineMark { offset: 13, fingerprint: Fingerprint::of_bytes(b"abcd") }));
        let decoded = LogBatch::decode(batch.payload.as_slice()).expect("valid protobuf");
        assert_eq!(decoded.records.iter().map(|r| r.split).collect::<Vec<_>>(), [false, true]);

        builder.push(
            &(Line { bytes: b"boom\n\tat x".to_vec(), end_offset: 13, ..line("", 0) }).as_line_ref(),
            "/x",
            0,
            now,
        );
        let mark = builder.take().expect("one record").last_line.expect("marked");
        assert_eq!(mark, LineMark { offset: 0, fingerprint: Fingerprint::of_bytes(b"boom") }, "the first line's bytes");
    }

    #[test]
    fn linger_counts_from_the_oldest_line() {
        let mut builder = builder(10, 1 << 20);
        let start = Instant::now();
        assert_eq!(builder.due_in(start), None);
        builder.push(&line("a", 0).as_line_ref(), "/x", 0, start);
        builder.push(&line("b", 2).as_line_ref(), "/x", 0, start + Duration::from_millis(150));
        assert_eq!(builder.due_in(start + Duration::from_millis(150)), Some(Duration::from_millis(50)));
        assert_eq!(builder.due_in(start + Duration::from_secs(1)), Some(Duration::ZERO));
    }
}
