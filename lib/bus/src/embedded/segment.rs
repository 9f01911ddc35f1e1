//! Segment files: naming, listing, crash recovery of a tail, and sequential reading.

use std::{
    fs::{File, OpenOptions},
    io::{self, BufReader, Read},
    path::{Path, PathBuf},
};

use tracing::warn;

use crate::{metrics::RECOVERED_TRUNCATED_BYTES_TOTAL, BusError, Message};

use super::record::{self, FRAME_BYTES};

/// Suffix of segment files; the stem is the base offset, zero-padded to 20 digits.
const SEGMENT_SUFFIX: &str = ".log";

/// Path of the segment starting at `base` in partition directory `dir`.
pub(crate) fn segment_path(dir: &Path, base: u64) -> PathBuf {
    dir.join(format!("{base:020}{SEGMENT_SUFFIX}"))
}

/// Base offsets of the segments in `dir`, ascending. Other files are ignored.
pub(crate) fn list_segments(dir: &Path) -> Result<Vec<u64>, BusError> {
    let mut bases = Vec::new();
    for entry in std::fs::read_dir(dir).map_err(|err| BusError::io(dir, err))? {
        let entry = entry.map_err(|err| BusError::io(dir, err))?;
        let name = entry.file_name();
        let base = name
            .to_str()
            .and_then(|name| name.strip_suffix(SEGMENT_SUFFIX))
            .filter(|stem| stem.len() == 20)
            .and_then(|stem| stem.parse::<u64>().ok());
        if let Some(base) = base {
            bases.push(base);
        }
    }
    bases.sort_unstable();
    Ok(bases)
}

/// Creates an empty segment (failing if it exists) and makes its directory entry durable.
pub(crate) fn create_segment(dir: &Path, base: u64) -> Result<File, BusError> {
    let path = segment_path(dir, base);
    let file = OpenOptions::new().append(true).create_new(true).open(&path).map_err(|err| BusError::io(&path, err))?;
    sync_dir(dir)?;
    Ok(file)
}

/// Opens an existing segment for appending.
pub(crate) fn open_for_append(dir: &Path, base: u64) -> Result<File, BusError> {
    let path = segment_path(dir, base);
    OpenOptions::new().append(true).open(&path).map_err(|err| BusError::io(&path, err))
}

/// Makes the entries of directory `dir` (created, renamed or removed files) durable.
pub(crate) fn sync_dir(dir: &Path) -> Result<(), BusError> {
    File::open(dir).and_then(|dir_file| dir_file.sync_all()).map_err(|err| BusError::io(dir, err))
}

/// What recovery found in the last segment of a partition.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Recovered {
    /// Bytes of intact records; the file now has exactly this length.
    pub(crate) valid_bytes: u64,
    /// Offset after the last intact record.
    pub(crate) next_offset: u64,
}

/// Scans the segment at `base` record by record and cuts off a torn tail: a partial frame, a
/// length no record can have, a body past the end of the file, or a checksum mismatch. An
/// intact record with an unexpected offset is not a torn write, so it is reported as corrupt.
pub(crate) fn recover(dir: &Path, base: u64) -> Result<Recovered, BusError> {
    let path = segment_path(dir, base);
    let io_err = |err: io::Error| BusError::io(&path, err);
    let file = OpenOptions::new().read(true).write(true).open(&path).map_err(io_err)?;
    let file_len = file.metadata().map_err(io_err)?.len();
    let mut reader = BufReader::with_capacity(1 << 20, &file);
    let mut valid_bytes = 0u64;
    let mut next_offset = base;
    let mut body = Vec::new();
    while file_len - valid_bytes >= FRAME_BYTES as u64 {
        let mut frame = [0; FRAME_BYTES];
        reader.read_exact(&mut frame).map_err(io_err)?;
        let (body_len, crc) = record::parse_frame(frame);
        let record_end = valid_bytes + (FRAME_BYTES + body_len) as u64;
        if !record::plausible_body_len(body_len) || record_end > file_len {
            break;
        }
        body.resize(body_len, 0);
        reader.read_exact(&mut body).map_err(io_err)?;
        if crc32fast::hash(&body) != crc {
            break;
        }
        let offset = record::body_offset(&body);
        if offset != next_offset {
            return Err(BusError::Corrupt {
                path: path.clone(),
                reason: format!("record at byte {valid_bytes} has offset {offset}, expected {next_offset}"),
            });
        }
        valid_bytes = record_end;
        next_offset += 1;
    }
    if valid_bytes < file_len {
        let truncated = file_len - valid_bytes;
        file.set_len(valid_bytes).map_err(io_err)?;
        file.sync_all().map_err(io_err)?;
        ::metrics::counter!(RECOVERED_TRUNCATED_BYTES_TOTAL).increment(truncated);
        warn!(path = %path.display(), bytes = truncated, "truncated a torn tail of a segment");
    }
    Ok(Recovered { valid_bytes, next_offset })
}

/// Reads the records of one segment in order through its own file handle.
pub(crate) struct SegmentReader {
    pub(crate) base: u64,
    path: PathBuf,
    reader: BufReader<File>,
}

impl SegmentReader {
    /// Opens the segment at `base` positioned at the record with offset `at`, skipping the
    /// records before it by their frames alone.
    pub(crate) fn open(dir: &Path, base: u64, at: u64) -> Result<SegmentReader, BusError> {
        let path = segment_path(dir, base);
        let file = File::open(&path).map_err(|err| BusError::io(&path, err))?;
        let mut segment = SegmentReader { base, path, reader: BufReader::with_capacity(256 * 1024, file) };
        let mut head = [0; FRAME_BYTES + 8];
        for expected in base..at {
            segment.read_full(&mut head, expected)?;
            let (body_len, _) = record::parse_frame(head[..FRAME_BYTES].try_into().expect("8 bytes"));
            let offset = record::body_offset(&head[FRAME_BYTES..]);
            if offset != expected || !record::plausible_body_len(body_len) {
                return Err(segment.corrupt(format!("found offset {offset} where {expected} should be")));
            }
            let rest = i64::try_from(body_len - 8).expect("plausible lengths fit i64");
            segment.reader.seek_relative(rest).map_err(|err| BusError::io(&segment.path, err))?;
        }
        Ok(segment)
    }

    /// Reads the record with offset `expected`, which the caller knows is durable.
    pub(crate) fn read(&mut self, expected: u64, partition: u32) -> Result<Message, BusError> {
        let mut frame = [0; FRAME_BYTES];
        self.read_full(&mut frame, expected)?;
        let (body_len, crc) = record::parse_frame(frame);
        if !record::plausible_body_len(body_len) {
            return Err(self.corrupt(format!("record {expected} claims a length of {body_len} bytes")));
        }
        let mut body = vec![0; body_len];
        self.read_full(&mut body, expected)?;
        let message =
            record::decode(&body, crc, partition).map_err(|err| self.corrupt(format!("record {expected}: {err}")))?;
        if message.offset != expected {
            return Err(self.corrupt(format!("found offset {} where {expected} should be", message.offset)));
        }
        Ok(message)
    }

    fn read_full(&mut self, buf: &mut [u8], expected: u64) -> Result<(), BusError> {
        match self.reader.read_exact(buf) {
            Ok(()) => Ok(()),
            Err(err) if err.kind() == io::ErrorKind::UnexpectedEof => {
                Err(self.corrupt(format!("segment ends before durable offset {expected}")))
            }
            Err(err) => Err(BusError::io(&self.path, err)),
        }
    }

    fn corrupt(&self, reason: String) -> BusError {
        BusError::Corrupt { path: self.path.clone(), reason }
    }
}
