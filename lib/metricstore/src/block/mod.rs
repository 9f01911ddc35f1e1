//! Immutable on-disk blocks. A block holds every series' samples for one time range, at one
//! resolution: raw, or downsampled into per-window aggregates (see `downsample.rs`).
//!
//! A block is a directory under `blocks/` holding `chunks` (the compressed chunks, series
//! after series), `index` (labels and chunk lists, `index.rs`) and `meta.json`. It is written
//! under a `.tmp` name, fsynced and renamed, so a directory without `.tmp` is complete. Both
//! files are memory-mapped: a query decodes only the chunks it needs.

mod index;
mod write;

use std::{
    fs::File,
    path::{Path, PathBuf},
};

use memmap2::Mmap;
use serde::{Deserialize, Serialize};

pub use index::{ChunkMeta, Stream};
pub use write::{write_block, BlockSeries};

use crate::{
    chunk::decode,
    labels::Labels,
    matcher::Matcher,
    postings::{matches_all, unindexed, Postings},
};

const CHUNKS_MAGIC: &[u8; 5] = b"VGCH\x01";

/// What a block covers, in `meta.json`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BlockMeta {
    pub version: u32,
    /// Samples at or after this time (ms)...
    pub min_time: i64,
    /// ...and before this one: the range is half-open, as Prometheus's.
    pub max_time: i64,
    /// 0 for raw samples, else the downsampling window in ms.
    pub resolution_ms: i64,
    /// 1 when cut from the head; each compaction adds one.
    pub level: u32,
    pub series: u64,
    pub samples: u64,
    pub chunks: u64,
    /// Whether the downsampled blocks for this raw block's range were written.
    #[serde(default)]
    pub downsampled: bool,
}

pub struct Block {
    dir: PathBuf,
    pub meta: BlockMeta,
    index: Mmap,
    chunks: Mmap,
    series: Vec<index::IndexedSeries>,
    postings: Postings,
}

/// A block could not be read.
#[derive(Debug, thiserror::Error)]
#[error("block {dir}: {reason}")]
pub struct BlockError {
    pub dir: String,
    pub reason: String,
}

impl Block {
    /// Opens the block in `dir`. `intern` may replace each label set with an equal one already
    /// in memory, so the head and the blocks share them.
    pub fn open(dir: &Path, intern: impl FnMut(Labels) -> Labels) -> Result<Block, BlockError> {
        let fail = |reason: String| BlockError { dir: dir.display().to_string(), reason };
        let meta_text =
            std::fs::read_to_string(dir.join("meta.json")).map_err(|e| fail(format!("reading meta.json: {e}")))?;
        let meta: BlockMeta = serde_json::from_str(&meta_text).map_err(|e| fail(format!("meta.json: {e}")))?;
        let index = map(&dir.join("index")).map_err(|e| fail(format!("reading index: {e}")))?;
        let chunks = map(&dir.join("chunks")).map_err(|e| fail(format!("reading chunks: {e}")))?;
        if !chunks.starts_with(CHUNKS_MAGIC) {
            return Err(fail("the chunks file is not a Vigil chunks file (version 1)".into()));
        }
        let series = index::read_series(&index, intern, CHUNKS_MAGIC.len() as u64).map_err(fail)?;
        let end = series.last().map(|s| index::chunk_metas(&index, s)).and_then(|m| m.last().copied());
        if end.is_some_and(|last| last.offset + u64::from(last.len) > chunks.len() as u64) {
            return Err(fail("the chunks file is shorter than its index says".into()));
        }
        let mut postings = Postings::default();
        for (id, entry) in series.iter().enumerate() {
            postings.add(id as u32, &entry.labels);
        }
        Ok(Block { dir: dir.to_path_buf(), meta, index, chunks, series, postings })
    }

    /// Writes `meta` as this block's meta.json (atomically) and opens the block again.
    pub fn rewrite_meta(
        dir: &Path,
        meta: &BlockMeta,
        intern: impl FnMut(Labels) -> Labels,
    ) -> Result<Block, BlockError> {
        let fail = |reason: String| BlockError { dir: dir.display().to_string(), reason };
        let tmp = dir.join("meta.json.tmp");
        let written: std::io::Result<()> = (|| {
            let mut file = File::create(&tmp)?;
            std::io::Write::write_all(
                &mut file,
                serde_json::to_string_pretty(meta).expect("meta serializes").as_bytes(),
            )?;
            file.sync_all()?;
            std::fs::rename(&tmp, dir.join("meta.json"))?;
            File::open(dir)?.sync_all()
        })();
        written.map_err(|e| fail(format!("rewriting meta.json: {e}")))?;
        Block::open(dir, intern)
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Series matching every matcher with their `stream` samples in `[min_time, max_time]`,
    /// in label order; series without samples there are left out.
    pub fn select(
        &self,
        matchers: &[Matcher],
        min_time: i64,
        max_time: i64,
        stream: Stream,
    ) -> Vec<(Labels, Vec<(i64, f64)>)> {
        self.matching(matchers, min_time, max_time)
            .into_iter()
            .map(|(id, labels)| (labels, self.samples_of(id, min_time, max_time, stream)))
            .filter(|(_, samples)| !samples.is_empty())
            .collect()
    }

    /// Ids and labels of the series matching every matcher, in label order, if the block
    /// overlaps `[min_time, max_time]`; no sample is decoded.
    pub fn matching(&self, matchers: &[Matcher], min_time: i64, max_time: i64) -> Vec<(u32, Labels)> {
        if self.meta.max_time <= min_time || self.meta.min_time > max_time {
            return Vec::new();
        }
        let ids = self.postings.candidate_ids(matchers, self.series.len() as u32);
        let unindexed = unindexed(matchers);
        ids.filter(|&id| unindexed.is_empty() || matches_all(&unindexed, &self.series[id as usize].labels))
            .map(|id| (id, self.series[id as usize].labels.clone()))
            .collect()
    }

    /// The `stream` samples in `[min_time, max_time]` of the series `id` (from [`Block::matching`]).
    pub fn samples_of(&self, id: u32, min_time: i64, max_time: i64, stream: Stream) -> Vec<(i64, f64)> {
        let mut samples = Vec::new();
        let Some(entry) = self.series.get(id as usize) else { return samples };
        for meta in index::chunk_metas(&self.index, entry) {
            if meta.stream != stream || meta.max_time < min_time || meta.min_time > max_time {
                continue;
            }
            let iter = decode(meta.encoding, self.chunk_bytes(&meta), meta.count);
            samples.extend(iter.filter(|(time, _)| (min_time..=max_time).contains(time)));
        }
        samples
    }

    /// Labels of the series matching every matcher with a chunk in `[min_time, max_time]`.
    pub fn series(&self, matchers: &[Matcher], min_time: i64, max_time: i64) -> Vec<Labels> {
        if self.meta.max_time <= min_time || self.meta.min_time > max_time {
            return Vec::new();
        }
        let ids = self.postings.candidate_ids(matchers, self.series.len() as u32);
        ids.map(|id| &self.series[id as usize])
            .filter(|entry| matches_all(matchers, &entry.labels))
            .filter(|entry| {
                let metas = index::chunk_metas(&self.index, entry);
                metas.iter().any(|m| m.max_time >= min_time && m.min_time <= max_time)
            })
            .map(|entry| entry.labels.clone())
            .collect()
    }

    /// Every series with all its chunks of every stream: what compaction copies.
    pub fn all_series(&self) -> impl Iterator<Item = (&Labels, Vec<(ChunkMeta, &[u8])>)> {
        self.series.iter().map(|entry| {
            let chunks = index::chunk_metas(&self.index, entry)
                .into_iter()
                .map(|meta| (meta, self.chunk_bytes(&meta)))
                .collect();
            (&entry.labels, chunks)
        })
    }

    pub fn label_names(&self) -> impl Iterator<Item = &str> {
        self.postings.label_names()
    }

    pub fn label_values(&self, name: &str) -> impl Iterator<Item = &str> {
        self.postings.label_values(name)
    }

    /// Bytes on disk (index and chunks).
    pub fn size_bytes(&self) -> u64 {
        (self.index.len() + self.chunks.len()) as u64
    }

    fn chunk_bytes(&self, meta: &ChunkMeta) -> &[u8] {
        // Bounds were checked against the file when the block was opened.
        let start = meta.offset as usize;
        self.chunks.get(start..start + meta.len as usize).unwrap_or_default()
    }
}

fn map(path: &Path) -> std::io::Result<Mmap> {
    let file = File::open(path)?;
    // SAFETY: block files are written once, fsynced and renamed into place before they are
    // opened, and never modified or truncated afterwards (a block is replaced by writing a new
    // one and removing the old directory, whose mapping stays valid until dropped).
    unsafe { Mmap::map(&file) }
}
