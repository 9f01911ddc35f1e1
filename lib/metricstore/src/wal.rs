//! The write-ahead log: every new series and every sample batch is written here, and fsynced,
//! before it is acknowledged; on start the log is replayed into the head.
//!
//! Files are `NNNNNNNN.seg` in the WAL directory, read in name order. A record is
//! `length: u32 LE | crc32 of the payload: u32 LE | payload`; a payload starts with its kind:
//! - 1, series: `id: u32`, then the labels as (name, value) length-prefixed strings;
//! - 2, samples: `(id: u32, time: i64, value bits: u64)` repeated;
//! - 3, offsets: `(partition: i32, next offset: i64)` repeated, the bus position the records
//!   before it cover, so a restart resumes consuming exactly there;
//! - 4, chunk: `id: u32, count: u16`, then a compressed chunk of that series' samples.
//!
//! A checkpoint (`checkpoint.NNNNNNNN`, same record format) replaces every segment before
//! segment N once the samples they held are in blocks: it holds what the head still has
//! (series, chunks, late samples) and the bus offsets. Replay reads the newest checkpoint,
//! then the segments from N on. A checkpoint is written under `.tmp`, fsynced and renamed
//! before any segment is removed, so a crash at any point leaves a complete log.
//!
//! A crash can leave a torn record at the end. Replay stops at the first record that is short
//! or fails its checksum, truncates the log there (and drops later segments), and reports how
//! many bytes it cut: those records were never acknowledged, since acknowledging waits for the
//! fsync of everything before it.

use std::{
    collections::BTreeMap,
    fs::{File, OpenOptions},
    io::{BufWriter, Read, Write},
    path::{Path, PathBuf},
};

use crate::labels::Labels;

/// A segment is closed for new records past this size.
const SEGMENT_BYTES: u64 = 128 * 1024 * 1024;
const HEADER_BYTES: usize = 8;
/// Larger records are corruption, not data (a batch is far smaller).
const MAX_RECORD_BYTES: u32 = 256 * 1024 * 1024;

const KIND_SERIES: u8 = 1;
const KIND_SAMPLES: u8 = 2;
const KIND_OFFSETS: u8 = 3;
const KIND_CHUNK: u8 = 4;

/// One replayed record.
#[derive(Debug, Clone, PartialEq)]
pub enum Record {
    Series { id: u32, labels: Labels },
    Samples(Vec<(u32, i64, f64)>),
    Offsets(BTreeMap<i32, i64>),
    Chunk { id: u32, count: u16, bytes: Vec<u8> },
}

/// What replay found.
#[derive(Debug, Default)]
pub struct Replayed {
    pub records: Vec<Record>,
    /// Bytes cut from the end (a torn or corrupt tail), 0 after a clean stop.
    pub truncated_bytes: u64,
}

pub struct Wal {
    dir: PathBuf,
    segment: u32,
    file: BufWriter<File>,
    written: u64,
}

impl Wal {
    /// Opens (or creates) the WAL in `dir` and replays it.
    pub fn open(dir: &Path) -> std::io::Result<(Wal, Replayed)> {
        std::fs::create_dir_all(dir)?;
        let mut replayed = Replayed::default();
        let checkpoint = newest_checkpoint(dir)?;
        if let Some(first) = checkpoint {
            let path = checkpoint_path(dir, first);
            let bytes = read_file(&path)?;
            let (records, good_len) = decode_records(&bytes);
            if good_len < bytes.len() {
                // A checkpoint is complete and fsynced before it gets its name: damage here
                // is a disk fault, and replaying past it would lose acknowledged samples.
                return Err(std::io::Error::new(
                    std::io::ErrorKind::InvalidData,
                    format!("the WAL checkpoint {} is corrupt at byte {good_len}; restore it from a backup or move the metrics directory aside", path.display()),
                ));
            }
            replayed.records.extend(records);
            remove_before(dir, first)?;
        }
        let mut segments = list_segments(dir)?;
        let mut last_good: Option<(u32, u64)> = None;
        let mut corrupt_at: Option<(u32, u64)> = None;
        for &segment in &segments {
            let bytes = read_file(&segment_path(dir, segment))?;
            let (records, good_len) = decode_records(&bytes);
            replayed.records.extend(records);
            last_good = Some((segment, good_len as u64));
            if good_len < bytes.len() {
                corrupt_at = Some((segment, good_len as u64));
                break;
            }
        }
        if let Some((segment, length)) = corrupt_at {
            // Cut the bad tail and everything after it: later records cannot be trusted to
            // follow on from what was lost.
            let path = segment_path(dir, segment);
            replayed.truncated_bytes += std::fs::metadata(&path)?.len() - length;
            OpenOptions::new().write(true).open(&path)?.set_len(length)?;
            for later in segments.iter().filter(|s| **s > segment) {
                let path = segment_path(dir, *later);
                replayed.truncated_bytes += std::fs::metadata(&path)?.len();
                std::fs::remove_file(path)?;
            }
            segments.retain(|s| *s <= segment);
            File::open(dir)?.sync_all()?;
        }
        let (segment, written) = last_good.unwrap_or((checkpoint.unwrap_or(1), 0));
        let file = OpenOptions::new().create(true).append(true).open(segment_path(dir, segment))?;
        if segments.is_empty() {
            File::open(dir)?.sync_all()?;
        }
        Ok((Wal { dir: dir.to_path_buf(), segment, file: BufWriter::new(file), written }, replayed))
    }

    pub fn log_series(&mut self, id: u32, labels: &Labels) -> std::io::Result<()> {
        self.write_record(&series_payload(id, labels))
    }

    pub fn log_samples(&mut self, samples: &[(u32, i64, f64)]) -> std::io::Result<()> {
        if samples.is_empty() {
            return Ok(());
        }
        self.write_record(&samples_payload(samples))
    }

    pub fn log_offsets(&mut self, offsets: &BTreeMap<i32, i64>) -> std::io::Result<()> {
        self.write_record(&offsets_payload(offsets))
    }

    /// Makes everything logged so far durable; only then may it be acknowledged.
    pub fn sync(&mut self) -> std::io::Result<()> {
        self.file.flush()?;
        self.file.get_ref().sync_data()
    }

    /// Starts a new segment and writes a checkpoint in front of it with what `fill` puts in;
    /// then removes the older segments and checkpoints, which it replaces.
    pub fn checkpoint(
        &mut self,
        fill: impl FnOnce(&mut CheckpointWriter) -> std::io::Result<()>,
    ) -> std::io::Result<()> {
        self.next_segment()?;
        let first = self.segment;
        let tmp = self.dir.join(format!("checkpoint.{first:08}.tmp"));
        let mut writer = CheckpointWriter { file: BufWriter::new(File::create(&tmp)?) };
        fill(&mut writer)?;
        let file = writer.file.into_inner().map_err(|e| e.into_error())?;
        file.sync_all()?;
        std::fs::rename(&tmp, checkpoint_path(&self.dir, first))?;
        File::open(&self.dir)?.sync_all()?;
        remove_before(&self.dir, first)
    }

    /// Bytes in the log's files.
    pub fn size_bytes(&self) -> u64 {
        std::fs::read_dir(&self.dir)
            .map(|entries| entries.flatten().filter_map(|e| e.metadata().ok()).map(|m| m.len()).sum())
            .unwrap_or(0)
    }

    fn write_record(&mut self, payload: &[u8]) -> std::io::Result<()> {
        if self.written >= SEGMENT_BYTES {
            self.next_segment()?;
        }
        write_framed(&mut self.file, payload)?;
        self.written += (HEADER_BYTES + payload.len()) as u64;
        Ok(())
    }

    fn next_segment(&mut self) -> std::io::Result<()> {
        self.sync()?;
        self.segment += 1;
        let file = OpenOptions::new().create(true).append(true).open(segment_path(&self.dir, self.segment))?;
        File::open(&self.dir)?.sync_all()?;
        self.file = BufWriter::new(file);
        self.written = 0;
        Ok(())
    }
}

/// Writes the records of a checkpoint.
pub struct CheckpointWriter {
    file: BufWriter<File>,
}

impl CheckpointWriter {
    pub fn series(&mut self, id: u32, labels: &Labels) -> std::io::Result<()> {
        write_framed(&mut self.file, &series_payload(id, labels))
    }

    /// A head chunk (XOR-encoded, as the head always is).
    pub fn chunk(&mut self, id: u32, chunk: &crate::chunk::Chunk) -> std::io::Result<()> {
        debug_assert_eq!(chunk.encoding, crate::chunk::Encoding::Xor, "the head only has XOR chunks");
        let mut payload = Vec::with_capacity(7 + chunk.bytes.len());
        payload.push(KIND_CHUNK);
        payload.extend_from_slice(&id.to_le_bytes());
        payload.extend_from_slice(&chunk.count.to_le_bytes());
        payload.extend_from_slice(&chunk.bytes);
        write_framed(&mut self.file, &payload)
    }

    pub fn samples(&mut self, samples: &[(u32, i64, f64)]) -> std::io::Result<()> {
        if samples.is_empty() {
            return Ok(());
        }
        write_framed(&mut self.file, &samples_payload(samples))
    }

    pub fn offsets(&mut self, offsets: &BTreeMap<i32, i64>) -> std::io::Result<()> {
        write_framed(&mut self.file, &offsets_payload(offsets))
    }
}

fn write_framed(out: &mut impl Write, payload: &[u8]) -> std::io::Result<()> {
    out.write_all(&(payload.len() as u32).to_le_bytes())?;
    out.write_all(&crc32fast::hash(payload).to_le_bytes())?;
    out.write_all(payload)
}

fn series_payload(id: u32, labels: &Labels) -> Vec<u8> {
    let mut payload = vec![KIND_SERIES];
    payload.extend_from_slice(&id.to_le_bytes());
    for (name, value) in labels.iter() {
        put_str(&mut payload, name);
        put_str(&mut payload, value);
    }
    payload
}

fn samples_payload(samples: &[(u32, i64, f64)]) -> Vec<u8> {
    let mut payload = Vec::with_capacity(1 + samples.len() * 20);
    payload.push(KIND_SAMPLES);
    for (id, time, value) in samples {
        payload.extend_from_slice(&id.to_le_bytes());
        payload.extend_from_slice(&time.to_le_bytes());
        payload.extend_from_slice(&value.to_bits().to_le_bytes());
    }
    payload
}

fn offsets_payload(offsets: &BTreeMap<i32, i64>) -> Vec<u8> {
    let mut payload = vec![KIND_OFFSETS];
    for (partition, offset) in offsets {
        payload.extend_from_slice(&partition.to_le_bytes());
        payload.extend_from_slice(&offset.to_le_bytes());
    }
    payload
}

fn checkpoint_path(dir: &Path, first_segment: u32) -> PathBuf {
    dir.join(format!("checkpoint.{first_segment:08}"))
}

/// The newest complete checkpoint's first segment number.
fn newest_checkpoint(dir: &Path) -> std::io::Result<Option<u32>> {
    let mut newest = None;
    for entry in std::fs::read_dir(dir)? {
        let name = entry?.file_name();
        let number = name.to_str().and_then(|n| n.strip_prefix("checkpoint.")).and_then(|n| n.parse::<u32>().ok());
        newest = newest.max(number);
    }
    Ok(newest)
}

/// Removes the segments and checkpoints that checkpoint `first` replaces, and unfinished
/// checkpoints.
fn remove_before(dir: &Path, first: u32) -> std::io::Result<()> {
    for entry in std::fs::read_dir(dir)? {
        let entry = entry?;
        let name = entry.file_name();
        let Some(name) = name.to_str() else { continue };
        let segment = name.strip_suffix(".seg").and_then(|n| n.parse::<u32>().ok());
        let checkpoint = name.strip_prefix("checkpoint.").and_then(|n| n.parse::<u32>().ok());
        let stale = segment.is_some_and(|s| s < first)
            || checkpoint.is_some_and(|c| c < first)
            || (name.starts_with("checkpoint.") && name.ends_with(".tmp"));
        if stale {
            std::fs::remove_file(entry.path())?;
        }
    }
    Ok(())
}

fn segment_path(dir: &Path, segment: u32) -> PathBuf {
    dir.join(format!("{segment:08}.seg"))
}

fn list_segments(dir: &Path) -> std::io::Result<Vec<u32>> {
    let mut segments = Vec::new();
    for entry in std::fs::read_dir(dir)? {
        let name = entry?.file_name();
        if let Some(number) = name.to_str().and_then(|n| n.strip_suffix(".seg")).and_then(|n| n.parse().ok()) {
            segments.push(number);
        }
    }
    segments.sort_unstable();
    Ok(segments)
}

fn read_file(path: &Path) -> std::io::Result<Vec<u8>> {
    let mut bytes = Vec::new();
    File::open(path)?.read_to_end(&mut bytes)?;
    Ok(bytes)
}

/// The records of one segment, and the length of its valid prefix.
fn decode_records(bytes: &[u8]) -> (Vec<Record>, usize) {
    let mut records = Vec::new();
    let mut position = 0;
    while position + HEADER_BYTES <= bytes.len() {
        let length = u32::from_le_bytes(bytes[position..position + 4].try_into().expect("4 bytes"));
        let crc = u32::from_le_bytes(bytes[position + 4..position + 8].try_into().expect("4 bytes"));
        let start = position + HEADER_BYTES;
        let Some(end) = start.checked_add(length as usize).filter(|end| *end <= bytes.len()) else { break };
        if length > MAX_RECORD_BYTES || crc32fast::hash(&bytes[start..end]) != crc {
            break;
        }
        match decode_payload(&bytes[start..end]) {
            Some(record) => records.push(record),
            None => break,
        }
        position = end;
    }
    (records, position)
}

fn decode_payload(payload: &[u8]) -> Option<Record> {
    let (&kind, mut body) = payload.split_first()?;
    match kind {
        KIND_SERIES => {
            let id = u32::from_le_bytes(take(&mut body, 4)?.try_into().ok()?);
            let mut pairs = Vec::new();
            while !body.is_empty() {
                pairs.push((get_str(&mut body)?, get_str(&mut body)?));
            }
            Some(Record::Series { id, labels: Labels::unchecked(pairs).ok()? })
        }
        KIND_SAMPLES => {
            if body.len() % 20 != 0 {
                return None;
            }
            Some(Record::Samples(
                body.chunks_exact(20)
                    .map(|s| {
                        let id = u32::from_le_bytes(s[0..4].try_into().expect("4 bytes"));
                        let time = i64::from_le_bytes(s[4..12].try_into().expect("8 bytes"));
                        let value = f64::from_bits(u64::from_le_bytes(s[12..20].try_into().expect("8 bytes")));
                        (id, time, value)
                    })
                    .collect(),
            ))
        }
        KIND_OFFSETS => {
            if body.len() % 12 != 0 {
                return None;
            }
            Some(Record::Offsets(
                body.chunks_exact(12)
                    .map(|o| {
                        (
                            i32::from_le_bytes(o[0..4].try_into().expect("4 bytes")),
                            i64::from_le_bytes(o[4..12].try_into().expect("8 bytes")),
                        )
                    })
                    .collect(),
            ))
        }
        KIND_CHUNK => {
            let id = u32::from_le_bytes(take(&mut body, 4)?.try_into().ok()?);
            let count = u16::from_le_bytes(take(&mut body, 2)?.try_into().ok()?);
            Some(Record::Chunk { id, count, bytes: body.to_vec() })
        }
        _ => None,
    }
}

fn put_str(out: &mut Vec<u8>, text: &str) {
    out.extend_from_slice(&(text.len() as u32).to_le_bytes());
    out.extend_from_slice(text.as_bytes());
}

fn take<'a>(body: &mut &'a [u8], n: usize) -> Option<&'a [u8]> {
    if body.len() < n {
        return None;
    }
    let (head, rest) = body.split_at(n);
    *body = rest;
    Some(head)
}

fn get_str(body: &mut &[u8]) -> Option<String> {
    let length = u32::from_le_bytes(take(body, 4)?.try_into().ok()?) as usize;
    String::from_utf8(take(body, length)?.to_vec()).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn labels(name: &str) -> Labels {
        Labels::new([("__name__", name), ("job", "node")]).unwrap()
    }

    #[test]
    fn records_replay_in_order_after_a_reopen() {
        let dir = tempfile::tempdir().unwrap();
        {
            let (mut wal, replayed) = Wal::open(dir.path()).unwrap();
            assert!(replayed.records.is_empty());
            wal.log_series(0, &labels("up")).unwrap();
            wal.log_samples(&[(0, 1000, 1.0), (0, 2000, f64::NAN)]).unwrap();
            wal.log_offsets(&BTreeMap::from([(0, 42), (3, 7)])).unwrap();
            wal.sync().unwrap();
        }
        let (_, replayed) = Wal::open(dir.path()).unwrap();
        assert_eq!(replayed.truncated_bytes, 0);
        assert_eq!(replayed.records.len(), 3);
        assert_eq!(replayed.records[0], Record::Series { id: 0, labels: labels("up") });
        match &replayed.records[1] {
            Record::Samples(samples) => {
                assert_eq!(samples[0], (0, 1000, 1.0));
                assert!(samples[1].2.is_nan());
            }
            other => panic!("{other:?}"),
        }
        assert_eq!(replayed.records[2], Record::Offsets(BTreeMap::from([(0, 42), (3, 7)])));
    }

    #[test]
    fn a_checkpoint_replaces_the_segments_before_it() {
        let dir = tempfile::tempdir().unwrap();
        {
            let (mut wal, _) = Wal::open(dir.path()).unwrap();
            wal.log_series(0, &labels("old")).unwrap();
            wal.log_samples(&[(0, 1000, 1.0)]).unwrap();
            wal.checkpoint(|checkpoint| {
                checkpoint.series(7, &labels("kept"))?;
                checkpoint.samples(&[(7, 5000, 5.0)])?;
                checkpoint.offsets(&BTreeMap::from([(0, 9)]))
            })
            .unwrap();
            wal.log_samples(&[(7, 6000, 6.0)]).unwrap();
            wal.sync().unwrap();
        }
        assert!(!segment_path(dir.path(), 1).exists(), "the replaced segment is removed");
        let (_, replayed) = Wal::open(dir.path()).unwrap();
        assert_eq!(
            replayed.records,
            [
                Record::Series { id: 7, labels: labels("kept") },
                Record::Samples(vec![(7, 5000, 5.0)]),
                Record::Offsets(BTreeMap::from([(0, 9)])),
                Record::Samples(vec![(7, 6000, 6.0)]),
            ]
        );
    }

    #[test]
    fn a_torn_tail_is_cut_and_writing_goes_on_after_it() {
        let dir = tempfile::tempdir().unwrap();
        {
            let (mut wal, _) = Wal::open(dir.path()).unwrap();
            wal.log_series(0, &labels("up")).unwrap();
            wal.log_samples(&[(0, 1000, 1.0)]).unwrap();
            wal.sync().unwrap();
        }
        let segment = segment_path(dir.path(), 1);
        let good = std::fs::metadata(&segment).unwrap().len();
        // A crash mid-record: half a header and garbage.
        OpenOptions::new().append(true).open(&segment).unwrap().write_all(&[9, 0, 0, 0, 1, 2]).unwrap();
        {
            let (mut wal, replayed) = Wal::open(dir.path()).unwrap();
            assert_eq!(replayed.truncated_bytes, 6);
            assert_eq!(replayed.records.len(), 2);
            assert_eq!(std::fs::metadata(&segment).unwrap().len(), good);
            wal.log_samples(&[(0, 2000, 2.0)]).unwrap();
            wal.sync().unwrap();
        }
        // A flipped byte inside the last record fails its checksum.
        let mut bytes = std::fs::read(&segment).unwrap();
        let last = bytes.len() - 1;
        bytes[last] ^= 0xff;
        std::fs::write(&segment, &bytes).unwrap();
        let (_, replayed) = Wal::open(dir.path()).unwrap();
        assert_eq!(replayed.records.len(), 2, "the corrupt record is dropped, the ones before kept");
        assert!(replayed.truncated_bytes > 0);
    }
}
