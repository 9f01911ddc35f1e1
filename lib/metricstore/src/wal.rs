//! The write-ahead log: every new series and every sample batch is written here, and fsynced,
//! before it is acknowledged; on start the log is replayed into the head.
//!
//! Files are `NNNNNNNN.seg` in the WAL directory, read in name order. A record is
//! `length: u32 LE | crc32 of the payload: u32 LE | payload`; a payload starts with its kind:
//! - 1, series: `id: u32`, then the labels as (name, value) length-prefixed strings;
//! - 2, samples: `(id: u32, time: i64, value bits: u64)` repeated;
//! - 3, offsets: `(partition: i32, next offset: i64)` repeated, the bus position the records
//!   before it cover, so a restart resumes consuming exactly there.
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

/// One replayed record.
#[derive(Debug, Clone, PartialEq)]
pub enum Record {
    Series { id: u32, labels: Labels },
    Samples(Vec<(u32, i64, f64)>),
    Offsets(BTreeMap<i32, i64>),
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
        let mut segments = list_segments(dir)?;
        let mut replayed = Replayed::default();
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
        let (segment, written) = last_good.unwrap_or((1, 0));
        let file = OpenOptions::new().create(true).append(true).open(segment_path(dir, segment))?;
        if segments.is_empty() {
            File::open(dir)?.sync_all()?;
        }
        Ok((Wal { dir: dir.to_path_buf(), segment, file: BufWriter::new(file), written }, replayed))
    }

    pub fn log_series(&mut self, id: u32, labels: &Labels) -> std::io::Result<()> {
        let mut payload = vec![KIND_SERIES];
        payload.extend_from_slice(&id.to_le_bytes());
        for (name, value) in labels.iter() {
            put_str(&mut payload, name);
            put_str(&mut payload, value);
        }
        self.write_record(&payload)
    }

    pub fn log_samples(&mut self, samples: &[(u32, i64, f64)]) -> std::io::Result<()> {
        if samples.is_empty() {
            return Ok(());
        }
        let mut payload = Vec::with_capacity(1 + samples.len() * 20);
        payload.push(KIND_SAMPLES);
        for (id, time, value) in samples {
            payload.extend_from_slice(&id.to_le_bytes());
            payload.extend_from_slice(&time.to_le_bytes());
            payload.extend_from_slice(&value.to_bits().to_le_bytes());
        }
        self.write_record(&payload)
    }

    pub fn log_offsets(&mut self, offsets: &BTreeMap<i32, i64>) -> std::io::Result<()> {
        let mut payload = vec![KIND_OFFSETS];
        for (partition, offset) in offsets {
            payload.extend_from_slice(&partition.to_le_bytes());
            payload.extend_from_slice(&offset.to_le_bytes());
        }
        self.write_record(&payload)
    }

    /// Makes everything logged so far durable; only then may it be acknowledged.
    pub fn sync(&mut self) -> std::io::Result<()> {
        self.file.flush()?;
        self.file.get_ref().sync_data()
    }

    fn write_record(&mut self, payload: &[u8]) -> std::io::Result<()> {
        if self.written >= SEGMENT_BYTES {
            self.next_segment()?;
        }
        self.file.write_all(&(payload.len() as u32).to_le_bytes())?;
        self.file.write_all(&crc32fast::hash(payload).to_le_bytes())?;
        self.file.write_all(payload)?;
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
