//! The block index file: every series' labels and the list of its chunks, in label order.
//!
//! Layout: `VGIX`, version byte 1; the symbol table (every distinct label name and value once:
//! count, then length-prefixed strings); the series (count, then per series: pair count and
//! (name, value) symbol numbers, chunk count and per chunk its stream and encoding (stream +
//! 8 × encoding), first time (zig-zag, as
//! a delta from the previous chunk's first time), time span, sample count and byte length);
//! a CRC-32 of everything before it. Chunks are stored in the chunks file in the same order,
//! one after another, so their offsets are not stored: they are the running sum of lengths.
//!
//! Postings are not stored: they are built from the series when the block is opened.

use std::collections::HashMap;

use crate::{
    chunk::Encoding,
    labels::Labels,
    varint::{put_bytes, put_uvarint, put_varint, Cursor},
};

const MAGIC: &[u8; 4] = b"VGIX";
const VERSION: u8 = 1;

/// Which samples a chunk holds: a raw block has raw samples only; a downsampled block has, per
/// series and window, the aggregates below.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Stream {
    Raw = 0,
    Count = 1,
    Sum = 2,
    Min = 3,
    Max = 4,
    /// The counter's raw samples at each window's end and just before each reset: rate and
    /// increase over them equal those over the raw samples at window boundaries.
    Counter = 5,
}

impl Stream {
    fn from_number(number: u64) -> Option<Stream> {
        Some(match number {
            0 => Stream::Raw,
            1 => Stream::Count,
            2 => Stream::Sum,
            3 => Stream::Min,
            4 => Stream::Max,
            5 => Stream::Counter,
            _ => return None,
        })
    }
}

/// Where one chunk is and what it covers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ChunkMeta {
    pub stream: Stream,
    pub encoding: Encoding,
    pub min_time: i64,
    pub max_time: i64,
    pub count: u16,
    pub offset: u64,
    pub len: u32,
}

/// Builds an index while series are written in label order.
#[derive(Default)]
pub struct IndexWriter {
    symbols: HashMap<String, u64>,
    symbol_list: Vec<String>,
    series: Vec<u8>,
    series_count: u64,
}

impl IndexWriter {
    pub fn add_series(&mut self, labels: &Labels, chunks: &[ChunkMeta]) {
        self.series_count += 1;
        put_uvarint(&mut self.series, labels.len() as u64);
        for (name, value) in labels.iter() {
            for text in [name, value] {
                let number = self.symbol(text);
                put_uvarint(&mut self.series, number);
            }
        }
        put_uvarint(&mut self.series, chunks.len() as u64);
        let mut previous_min = 0;
        for chunk in chunks {
            put_uvarint(&mut self.series, chunk.stream as u64 + 8 * chunk.encoding as u64);
            put_varint(&mut self.series, chunk.min_time - previous_min);
            put_uvarint(&mut self.series, (chunk.max_time - chunk.min_time) as u64);
            put_uvarint(&mut self.series, u64::from(chunk.count));
            put_uvarint(&mut self.series, u64::from(chunk.len));
            previous_min = chunk.min_time;
        }
    }

    fn symbol(&mut self, text: &str) -> u64 {
        if let Some(number) = self.symbols.get(text) {
            return *number;
        }
        let number = self.symbol_list.len() as u64;
        self.symbols.insert(text.to_string(), number);
        self.symbol_list.push(text.to_string());
        number
    }

    pub fn finish(self) -> Vec<u8> {
        let mut out = MAGIC.to_vec();
        out.push(VERSION);
        put_uvarint(&mut out, self.symbol_list.len() as u64);
        for symbol in &self.symbol_list {
            put_bytes(&mut out, symbol.as_bytes());
        }
        put_uvarint(&mut out, self.series_count);
        out.extend_from_slice(&self.series);
        let crc = crc32fast::hash(&out);
        out.extend_from_slice(&crc.to_le_bytes());
        out
    }
}

/// A series as read from the index: its labels and where its chunk list starts.
pub struct IndexedSeries {
    pub labels: Labels,
    pub chunks_at: usize,
    /// Offset of its first chunk in the chunks file.
    pub first_offset: u64,
}

/// Reads the labels of every series; `intern` may swap a label set for an equal one already
/// in memory. Chunk lists are decoded later, per query, with [`chunk_metas`].
pub fn read_series(
    bytes: &[u8],
    mut intern: impl FnMut(Labels) -> Labels,
    chunks_start: u64,
) -> Result<Vec<IndexedSeries>, String> {
    let body_len = bytes.len().checked_sub(4).ok_or("the index is shorter than its checksum")?;
    let stored = u32::from_le_bytes(bytes[body_len..].try_into().expect("4 bytes"));
    if crc32fast::hash(&bytes[..body_len]) != stored {
        return Err("the index fails its checksum".into());
    }
    let body = &bytes[..body_len];
    if body.len() < 5 || &body[..4] != MAGIC || body[4] != VERSION {
        return Err("not a Vigil block index (version 1)".into());
    }
    let mut cursor = Cursor::new(body);
    cursor.skip(5);
    let broken = || "the index is truncated or malformed".to_string();
    let symbol_count = cursor.uvarint().ok_or_else(broken)?;
    let mut symbols = Vec::with_capacity(symbol_count.min(1 << 20) as usize);
    for _ in 0..symbol_count {
        let text = std::str::from_utf8(cursor.bytes().ok_or_else(broken)?).map_err(|_| "a symbol is not UTF-8")?;
        symbols.push(text);
    }
    let series_count = cursor.uvarint().ok_or_else(broken)?;
    let mut series = Vec::with_capacity(series_count.min(1 << 24) as usize);
    let mut offset = chunks_start;
    for _ in 0..series_count {
        let pairs = cursor.uvarint().ok_or_else(broken)?;
        let mut labels = Vec::with_capacity(pairs as usize);
        for _ in 0..pairs {
            let mut text = || symbols.get(cursor.uvarint()? as usize).copied();
            let name = text().ok_or_else(broken)?;
            let value = text().ok_or_else(broken)?;
            labels.push((name, value));
        }
        let labels = Labels::unchecked(labels).map_err(|error| format!("bad labels in the index: {error}"))?;
        let chunks_at = cursor.position();
        let first_offset = offset;
        let metas = decode_chunk_list(&mut cursor, offset).ok_or_else(broken)?;
        offset += metas.iter().map(|m| u64::from(m.len)).sum::<u64>();
        series.push(IndexedSeries { labels: intern(labels), chunks_at, first_offset });
    }
    if !cursor.is_empty() {
        return Err("the index has bytes after its last series".into());
    }
    Ok(series)
}

/// The chunk list of the series whose list starts at `chunks_at`.
pub fn chunk_metas(index: &[u8], series: &IndexedSeries) -> Vec<ChunkMeta> {
    let mut cursor = Cursor::new(index);
    cursor.skip(series.chunks_at);
    // Checked when the block was opened.
    decode_chunk_list(&mut cursor, series.first_offset).unwrap_or_default()
}

fn decode_chunk_list(cursor: &mut Cursor<'_>, mut offset: u64) -> Option<Vec<ChunkMeta>> {
    let count = cursor.uvarint()?;
    let mut metas = Vec::with_capacity(count.min(1 << 16) as usize);
    let mut previous_min = 0i64;
    for _ in 0..count {
        let kind = cursor.uvarint()?;
        let stream = Stream::from_number(kind % 8)?;
        let encoding = Encoding::from_number(kind / 8)?;
        let min_time = previous_min.checked_add(cursor.varint()?)?;
        let max_time = min_time.checked_add(i64::try_from(cursor.uvarint()?).ok()?)?;
        let count = u16::try_from(cursor.uvarint()?).ok()?;
        let len = u32::try_from(cursor.uvarint()?).ok()?;
        metas.push(ChunkMeta { stream, encoding, min_time, max_time, count, offset, len });
        offset += u64::from(len);
        previous_min = min_time;
    }
    Some(metas)
}
