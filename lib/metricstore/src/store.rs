//! [`MetricStore`]: the head, its write-ahead log and the on-disk blocks together.
//!
//! A batch is applied to the head, the accepted samples (and any new series) are logged with
//! the bus offsets they cover, and the log is fsynced before `append` returns: what it
//! acknowledges survives a crash. [`MetricStore::maintain`] (run in the background) moves
//! the head's older samples into blocks, merges blocks, writes the downsampled tiers and
//! applies retention; queries read the blocks and the head and merge them.

use std::{
    collections::{BTreeMap, HashMap},
    path::{Path, PathBuf},
    sync::{Arc, Mutex, RwLock},
};

use crate::{
    block::{write_block, Block, BlockMeta, BlockSeries, Stream},
    chunk::{decode, Chunk, ChunkIter},
    compact::{first_merge_window, merge_blocks, plan_merges},
    downsample::{downsample, RESOLUTIONS_MS},
    head::{AppendError, Head, HeadOptions, SeriesSamples},
    hints::SelectHints,
    labels::Labels,
    matcher::Matcher,
    sync::{lock, read, write},
    wal::{Record, Wal},
};

/// What an append did with its samples.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct AppendReport {
    pub appended: u64,
    /// Already stored (a resent batch): accepted, not stored twice.
    pub duplicates: u64,
    /// Older than the series' last sample and outside the out-of-order window.
    pub out_of_order: u64,
    /// A different value for a timestamp already stored.
    pub conflicting: u64,
}

/// What opening found.
#[derive(Debug, Default, Clone)]
pub struct Recovered {
    pub series: usize,
    pub samples: u64,
    /// Bytes cut from a torn log tail (never acknowledged).
    pub truncated_bytes: u64,
    /// The bus position the recovered samples cover: resume consuming here.
    pub offsets: BTreeMap<i32, i64>,
    pub blocks: usize,
    /// Blocks that could not be read, each with the reason; they were renamed `*.corrupt`
    /// and are left for an operator to inspect.
    pub corrupt_blocks: Vec<String>,
}

/// How the store keeps its data.
#[derive(Debug, Clone, Copy)]
pub struct StoreOptions {
    pub head: HeadOptions,
    /// How long raw samples are kept, in ms of sample time behind the newest sample (0:
    /// forever).
    pub raw_retention_ms: i64,
    /// How long the 5-minute and 1-hour tiers are kept (0: forever).
    pub downsampled_retention_ms: [i64; 2],
    /// Whether raw blocks are downsampled into the 5-minute and 1-hour tiers.
    pub downsample: bool,
}

impl Default for StoreOptions {
    fn default() -> Self {
        StoreOptions {
            head: HeadOptions::default(),
            raw_retention_ms: 15 * DAY_MS,
            downsampled_retention_ms: [90 * DAY_MS, 365 * DAY_MS],
            downsample: true,
        }
    }
}

const DAY_MS: i64 = 86_400_000;

/// What one round of maintenance did.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct MaintainReport {
    /// Blocks cut from the head.
    pub head_blocks: usize,
    /// Blocks that were merged into larger ones.
    pub merged: usize,
    /// Downsampled blocks written.
    pub downsampled: usize,
    /// Blocks removed by retention.
    pub expired: usize,
}

/// Sizes on disk, for the bench and the store's metrics.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct DiskUsage {
    pub wal_bytes: u64,
    pub raw_block_bytes: u64,
    pub raw_block_samples: u64,
    pub downsampled_block_bytes: u64,
    pub blocks: usize,
}

pub struct MetricStore {
    options: StoreOptions,
    head: Head,
    log: Mutex<Log>,
    blocks_dir: PathBuf,
    /// Sorted by resolution, then start time.
    blocks: RwLock<Vec<Arc<Block>>>,
    /// One maintenance round at a time.
    maintaining: Mutex<()>,
    /// Type, help and unit per metric family, as last sent. Saved to `metadata.json` by each
    /// maintenance round that finds it changed (senders send it again regularly, so a crash
    /// loses at most one round's changes until they do).
    metadata: RwLock<BTreeMap<String, Metadata>>,
    metadata_changed: std::sync::atomic::AtomicBool,
    metadata_path: PathBuf,
}

/// A metric family's type (`counter`, `gauge`, ...), help and unit.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Metadata {
    pub kind: String,
    pub help: String,
    pub unit: String,
}

struct Log {
    wal: Wal,
    offsets: BTreeMap<i32, i64>,
}

impl MetricStore {
    /// Opens the store in `dir` (creating it) with default options.
    pub fn open(dir: &Path) -> std::io::Result<(MetricStore, Recovered)> {
        MetricStore::open_with(dir, StoreOptions::default())
    }

    /// Opens the store in `dir` (creating it): replays the log into the head and opens the
    /// blocks.
    pub fn open_with(dir: &Path, options: StoreOptions) -> std::io::Result<(MetricStore, Recovered)> {
        let (wal, replayed) = Wal::open(&dir.join("wal"))?;
        let head = Head::with_options(options.head);
        let mut recovered = Recovered { truncated_bytes: replayed.truncated_bytes, ..Recovered::default() };
        // Log ids are the head's ids of the run that wrote them; map them to this run's.
        let mut ids = HashMap::new();
        let replay = |id: Option<&u32>, time: i64, value: f64, recovered: &mut Recovered| {
            if let Some(id) = id {
                if head.append_replayed(*id, time, value) == Ok(true) {
                    recovered.samples += 1;
                }
            }
        };
        for record in replayed.records {
            match record {
                Record::Series { id, labels } => {
                    ids.insert(id, head.series_id(&labels).0);
                }
                Record::Samples(samples) => {
                    for (id, time, value) in samples {
                        replay(ids.get(&id), time, value, &mut recovered);
                    }
                }
                Record::Chunk { id, count, bytes } => {
                    for (time, value) in ChunkIter::new(&bytes, count) {
                        replay(ids.get(&id), time, value, &mut recovered);
                    }
                }
                Record::Offsets(offsets) => recovered.offsets.extend(offsets),
            }
        }
        recovered.series = head.series_count();
        let blocks_dir = dir.join("blocks");
        std::fs::create_dir_all(&blocks_dir)?;
        let blocks = open_blocks(&blocks_dir, &head, &mut recovered)?;
        recovered.blocks = blocks.len();
        let log = Log { wal, offsets: recovered.offsets.clone() };
        let metadata_path = dir.join("metadata.json");
        let metadata = match std::fs::read(&metadata_path) {
            Ok(bytes) => serde_json::from_slice(&bytes).unwrap_or_default(),
            Err(_) => BTreeMap::new(),
        };
        let store = MetricStore {
            options,
            head,
            log: Mutex::new(log),
            blocks_dir,
            blocks: RwLock::new(blocks),
            maintaining: Mutex::new(()),
            metadata: RwLock::new(metadata),
            metadata_changed: Default::default(),
            metadata_path,
        };
        Ok((store, recovered))
    }

    /// Stores a batch, durably, and records that it covers the bus up to `offsets` (next
    /// offset per partition). Returns once the log is fsynced.
    pub fn append(&self, batch: &[(Labels, i64, f64)], offsets: &BTreeMap<i32, i64>) -> std::io::Result<AppendReport> {
        let mut log = lock(&self.log);
        let mut report = AppendReport::default();
        let mut accepted = Vec::with_capacity(batch.len());
        for (labels, time, value) in batch {
            let (id, created) = self.head.series_id(labels);
            if created {
                log.wal.log_series(id, labels)?;
            }
            match self.head.append(id, *time, *value) {
                Ok(true) => {
                    accepted.push((id, *time, *value));
                    report.appended += 1;
                }
                Ok(false) => report.duplicates += 1,
                Err(AppendError::OutOfOrder { .. }) => report.out_of_order += 1,
                Err(AppendError::Duplicate { .. }) => report.conflicting += 1,
                Err(error @ AppendError::UnknownSeries(_)) => return Err(std::io::Error::other(error.to_string())),
            }
        }
        log.wal.log_samples(&accepted)?;
        if !offsets.is_empty() {
            log.wal.log_offsets(offsets)?;
            log.offsets.extend(offsets.iter().map(|(p, o)| (*p, *o)));
        }
        log.wal.sync()?;
        Ok(report)
    }

    /// Series matching every matcher with their samples in `[min_time, max_time]`, from the
    /// blocks and the head, sorted by labels. With hints that allow it, older data comes from
    /// a downsampled tier (see [`crate::select::tier_for`]).
    pub fn select(
        &self,
        matchers: &[Matcher],
        min_time: i64,
        max_time: i64,
        hints: &SelectHints,
    ) -> Vec<SeriesSamples> {
        self.select_map(matchers, min_time, max_time, hints, |series| series)
    }

    /// What [`MetricStore::select`] gives, each series mapped by `map` as soon as it is read
    /// (on any core): a caller that reduces each series (a range function) never holds all
    /// their samples at once.
    pub fn select_map<T: Send>(
        &self,
        matchers: &[Matcher],
        min_time: i64,
        max_time: i64,
        hints: &SelectHints,
        map: impl Fn(SeriesSamples) -> T + Sync,
    ) -> Vec<T> {
        let blocks: Vec<Arc<Block>> = read(&self.blocks)
            .iter()
            .filter(|b| b.meta.max_time > min_time && b.meta.min_time <= max_time)
            .cloned()
            .collect();
        let plan = crate::select::plan(&self.head, &blocks, matchers, min_time, max_time, hints);
        plan.map(&self.head, &blocks, map)
    }

    /// Labels of the series matching every matcher with samples in `[min_time, max_time]`,
    /// sorted (for `/api/v1/series`: no sample is decoded).
    pub fn series(&self, matchers: &[Matcher], min_time: i64, max_time: i64) -> Vec<Labels> {
        let mut all: std::collections::BTreeSet<Labels> =
            self.head.series(matchers, min_time, max_time).into_iter().collect();
        for block in read(&self.blocks).iter() {
            all.extend(block.series(matchers, min_time, max_time));
        }
        all.into_iter().collect()
    }

    pub fn label_names(&self) -> Vec<String> {
        let mut names: std::collections::BTreeSet<String> = self.head.label_names().into_iter().collect();
        for block in read(&self.blocks).iter() {
            names.extend(block.label_names().map(str::to_string));
        }
        names.into_iter().collect()
    }

    pub fn label_values(&self, name: &str) -> Vec<String> {
        let mut values: std::collections::BTreeSet<String> = self.head.label_values(name).into_iter().collect();
        for block in read(&self.blocks).iter() {
            values.extend(block.label_values(name).map(str::to_string));
        }
        values.into_iter().collect()
    }

    /// Series in the head (the live ones).
    pub fn series_count(&self) -> usize {
        self.head.series_count()
    }

    /// Records a metric family's type, help and unit.
    pub fn set_metadata(&self, family: &str, metadata: Metadata) {
        let mut all = write(&self.metadata);
        if all.get(family) != Some(&metadata) {
            all.insert(family.to_string(), metadata);
            self.metadata_changed.store(true, std::sync::atomic::Ordering::Relaxed);
        }
    }

    fn save_metadata(&self) -> std::io::Result<()> {
        if !self.metadata_changed.swap(false, std::sync::atomic::Ordering::Relaxed) {
            return Ok(());
        }
        let text = serde_json::to_vec(&*read(&self.metadata)).expect("metadata serializes");
        let tmp = self.metadata_path.with_extension("json.tmp");
        std::fs::write(&tmp, text)?;
        std::fs::rename(&tmp, &self.metadata_path)
    }

    /// Metadata of `family`, or of every family (at most `limit`).
    pub fn metadata(&self, family: Option<&str>, limit: usize) -> BTreeMap<String, Metadata> {
        let all = read(&self.metadata);
        all.iter()
            .filter(|(name, _)| family.is_none_or(|wanted| wanted == name.as_str()))
            .take(limit)
            .map(|(name, m)| (name.clone(), m.clone()))
            .collect()
    }

    /// The bus position everything stored so far covers.
    pub fn offsets(&self) -> BTreeMap<i32, i64> {
        lock(&self.log).offsets.clone()
    }

    pub fn disk_usage(&self) -> DiskUsage {
        let mut usage = DiskUsage { wal_bytes: lock(&self.log).wal.size_bytes(), ..DiskUsage::default() };
        for block in read(&self.blocks).iter() {
            usage.blocks += 1;
            if block.meta.resolution_ms == 0 {
                usage.raw_block_bytes += block.size_bytes();
                usage.raw_block_samples += block.meta.samples;
            } else {
                usage.downsampled_block_bytes += block.size_bytes();
            }
        }
        usage
    }

    /// One round of maintenance: cut the head's older samples into blocks (the head keeps
    /// half a block length behind its newest sample), merge blocks, downsample, apply
    /// retention. `force` cuts every complete block range however recent (for a clean stop
    /// and for benchmarks).
    pub fn maintain(&self, force: bool) -> std::io::Result<MaintainReport> {
        let _one_at_a_time = lock(&self.maintaining);
        let mut report = MaintainReport { head_blocks: self.cut_head(force)?, ..MaintainReport::default() };
        loop {
            let merged = self.merge_once()?;
            if merged == 0 {
                break;
            }
            report.merged += merged;
        }
        if self.options.downsample {
            report.downsampled = self.downsample_blocks()?;
        }
        report.expired = self.expire()?;
        self.save_metadata()?;
        Ok(report)
    }

    /// Moves every complete block range that is far enough behind the newest sample from the
    /// head into blocks, then checkpoints the log. Returns the blocks written.
    fn cut_head(&self, force: bool) -> std::io::Result<usize> {
        let block_ms = self.options.head.block_ms;
        let (Some(head_min), Some(head_max)) = (self.head.min_time(), self.head.max_time()) else { return Ok(0) };
        // Keep half a block of recent samples in the head: late samples still land there.
        let keep = if force { 0 } else { block_ms / 2 };
        let before = (head_max - keep).div_euclid(block_ms) * block_ms;
        if before <= head_min {
            return Ok(0);
        }
        let taken = self.head.take_before(before);
        // Chunks never straddle a block boundary, so each goes to the block of its start.
        let mut ranges: BTreeMap<i64, Vec<BlockSeries>> = BTreeMap::new();
        for entry in &taken {
            let mut by_range: BTreeMap<i64, Vec<(Stream, Chunk)>> = BTreeMap::new();
            for chunk in &entry.chunks {
                // Blocks keep each chunk in its smaller encoding.
                let chunk = chunk.recompressed();
                by_range.entry(chunk.min_time.div_euclid(block_ms)).or_default().push((Stream::Raw, chunk));
            }
            for (range, chunks) in by_range {
                ranges.entry(range).or_default().push(BlockSeries { labels: entry.labels.clone(), chunks });
            }
        }
        let mut written = Vec::new();
        for (range, series) in ranges {
            let meta = block_meta(range * block_ms, (range + 1) * block_ms, 0, 1);
            if let Some(block) =
                write_block(&self.blocks_dir, meta, series, |l| self.head.intern(l)).map_err(io_error)?
            {
                written.push(Arc::new(block));
            }
        }
        let count = written.len();
        self.add_blocks(written, &[]);
        // The blocks are durable: drop what they hold from the head and the log.
        let mut log = lock(&self.log);
        self.head.drop_taken(&taken);
        let offsets = log.offsets.clone();
        let head = &self.head;
        log.wal.checkpoint(|checkpoint| {
            let mut result = Ok(());
            head.for_each_series(|id, labels, closed, open, late| {
                if result.is_ok() {
                    result = (|| {
                        checkpoint.series(id, labels)?;
                        for chunk in closed.iter().chain(open.as_ref()) {
                            checkpoint.chunk(id, chunk)?;
                        }
                        let late: Vec<(u32, i64, f64)> = late.iter().map(|(t, v)| (id, *t, *v)).collect();
                        checkpoint.samples(&late)
                    })();
                }
            });
            result?;
            checkpoint.offsets(&offsets)
        })?;
        Ok(count)
    }

    /// Merges one planned group per resolution; returns how many source blocks were merged.
    fn merge_once(&self) -> std::io::Result<usize> {
        let blocks = read(&self.blocks).clone();
        let mut merged = 0;
        for resolution in std::iter::once(0).chain(RESOLUTIONS_MS) {
            let tier: Vec<Arc<Block>> = blocks.iter().filter(|b| b.meta.resolution_ms == resolution).cloned().collect();
            for group in plan_merges(&tier, self.options.head.block_ms) {
                let min_time = group.iter().map(|b| b.meta.min_time).min().unwrap_or_default();
                let max_time = group.iter().map(|b| b.meta.max_time).max().unwrap_or_default();
                let level = group.iter().map(|b| b.meta.level).max().unwrap_or(1) + 1;
                let mut meta = block_meta(min_time, max_time, resolution, level);
                meta.downsampled = group.iter().all(|b| b.meta.downsampled);
                let series = merge_blocks(&group, self.options.head.block_ms);
                let block = write_block(&self.blocks_dir, meta, series, |l| self.head.intern(l)).map_err(io_error)?;
                self.add_blocks(block.into_iter().map(Arc::new).collect(), &group);
                merged += group.len();
            }
        }
        Ok(merged)
    }

    /// Writes the 5-minute and 1-hour tiers of every raw block that has none yet and will not
    /// be merged at the first level any more: merged already, or alone in a window that is
    /// over (so blocks fresh from the head are not downsampled twice).
    fn downsample_blocks(&self) -> std::io::Result<usize> {
        let block_ms = self.options.head.block_ms;
        let blocks = read(&self.blocks).clone();
        let newest = blocks.iter().filter(|b| b.meta.resolution_ms == 0).map(|b| b.meta.max_time).max();
        let window = first_merge_window(block_ms);
        let settled = |b: &Block| {
            b.meta.level > 1 || newest.is_some_and(|newest| (b.meta.min_time.div_euclid(window) + 1) * window <= newest)
        };
        let pending: Vec<Arc<Block>> =
            blocks.into_iter().filter(|b| b.meta.resolution_ms == 0 && !b.meta.downsampled && settled(b)).collect();
        let mut written = 0;
        for raw in pending {
            let mut new_blocks = Vec::new();
            // Each raw series is decoded once: its 5-minute tier streams into the first block,
            // its 1-hour tier (12 times smaller) waits in memory for the second.
            let [fine, coarse] = RESOLUTIONS_MS;
            let mut coarse_series = Vec::new();
            let fine_series = raw.all_series().map(|(labels, chunks)| {
                let samples: Vec<(i64, f64)> = chunks
                    .iter()
                    .filter(|(meta, _)| meta.stream == Stream::Raw)
                    .flat_map(|(meta, bytes)| decode(meta.encoding, bytes, meta.count))
                    .collect();
                coarse_series
                    .push(BlockSeries { labels: labels.clone(), chunks: downsample(&samples, coarse, block_ms) });
                BlockSeries { labels: labels.clone(), chunks: downsample(&samples, fine, block_ms) }
            });
            new_blocks.extend(self.write_tier(&raw, fine, fine_series)?);
            new_blocks.extend(self.write_tier(&raw, coarse, coarse_series)?);
            written += new_blocks.len();
            // The raw block is marked only once its tiers are durable: a crash before this
            // writes them again, and the overlap is merged away.
            let mut meta = raw.meta.clone();
            meta.downsampled = true;
            let marked = Block::rewrite_meta(raw.dir(), &meta, |l| self.head.intern(l)).map_err(io_error)?;
            new_blocks.push(Arc::new(marked));
            self.add_blocks(new_blocks, &[raw]);
        }
        Ok(written)
    }

    /// Writes one downsampled tier of `raw` (None when it holds no series).
    fn write_tier(
        &self,
        raw: &Block,
        resolution: i64,
        series: impl IntoIterator<Item = BlockSeries>,
    ) -> std::io::Result<Option<Arc<Block>>> {
        let meta = block_meta(raw.meta.min_time, raw.meta.max_time, resolution, raw.meta.level);
        let block = write_block(&self.blocks_dir, meta, series, |l| self.head.intern(l)).map_err(io_error)?;
        Ok(block.map(Arc::new))
    }

    /// Removes blocks whose whole range is older than their tier's retention, counted back
    /// from the newest sample.
    fn expire(&self) -> std::io::Result<usize> {
        let blocks = read(&self.blocks).clone();
        let newest = blocks.iter().map(|b| b.meta.max_time).chain(self.head.max_time()).max().unwrap_or(i64::MIN);
        let retention = |resolution: i64| match resolution {
            0 => self.options.raw_retention_ms,
            r if r == RESOLUTIONS_MS[0] => self.options.downsampled_retention_ms[0],
            _ => self.options.downsampled_retention_ms[1],
        };
        let expired: Vec<Arc<Block>> = blocks
            .into_iter()
            .filter(|b| {
                let keep = retention(b.meta.resolution_ms);
                // A raw block waits for its tiers before it may go.
                let tiers_done = b.meta.resolution_ms != 0 || b.meta.downsampled || !self.options.downsample;
                keep > 0 && b.meta.max_time <= newest.saturating_sub(keep) && tiers_done
            })
            .collect();
        let count = expired.len();
        self.add_blocks(Vec::new(), &expired);
        Ok(count)
    }

    /// Swaps `removed` for `added` in the block list, then deletes the removed directories
    /// (but not one that an added block was opened from again).
    fn add_blocks(&self, added: Vec<Arc<Block>>, removed: &[Arc<Block>]) {
        let reopened: Vec<PathBuf> = added.iter().map(|b| b.dir().to_path_buf()).collect();
        {
            let mut blocks = write(&self.blocks);
            blocks.retain(|b| !removed.iter().any(|r| Arc::ptr_eq(r, b)));
            blocks.extend(added);
            blocks.sort_by_key(|b| (b.meta.resolution_ms, b.meta.min_time, b.meta.max_time));
        }
        for block in removed.iter().filter(|b| !reopened.iter().any(|dir| dir == b.dir())) {
            // Readers holding the block keep their mapping; the files go when they let go.
            let _ = std::fs::remove_dir_all(block.dir());
        }
    }
}

fn block_meta(min_time: i64, max_time: i64, resolution_ms: i64, level: u32) -> BlockMeta {
    BlockMeta {
        version: 1,
        min_time,
        max_time,
        resolution_ms,
        level,
        series: 0,
        samples: 0,
        chunks: 0,
        downsampled: false,
    }
}

/// Opens every complete block; removes unfinished `.tmp` ones; renames unreadable ones
/// `*.corrupt` and reports them.
fn open_blocks(dir: &Path, head: &Head, recovered: &mut Recovered) -> std::io::Result<Vec<Arc<Block>>> {
    let mut blocks = Vec::new();
    for entry in std::fs::read_dir(dir)? {
        let path = entry?.path();
        let name = path.file_name().and_then(|n| n.to_str()).unwrap_or_default().to_string();
        if !path.is_dir() || name.ends_with(".corrupt") {
            continue;
        }
        if name.ends_with(".tmp") {
            std::fs::remove_dir_all(&path)?;
            continue;
        }
        match Block::open(&path, |l| head.intern(l)) {
            Ok(block) => blocks.push(Arc::new(block)),
            Err(error) => {
                recovered.corrupt_blocks.push(error.to_string());
                std::fs::rename(&path, path.with_file_name(format!("{name}.corrupt")))?;
            }
        }
    }
    blocks.sort_by_key(|b| (b.meta.resolution_ms, b.meta.min_time, b.meta.max_time));
    Ok(blocks)
}

fn io_error(error: crate::block::BlockError) -> std::io::Error {
    std::io::Error::other(error.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample(job: &str, time: i64, value: f64) -> (Labels, i64, f64) {
        (Labels::new([("__name__", "up"), ("job", job)]).unwrap(), time, value)
    }

    #[test]
    fn what_append_acknowledged_is_there_after_a_reopen_with_its_offsets() {
        let dir = tempfile::tempdir().unwrap();
        {
            let (store, recovered) = MetricStore::open(dir.path()).unwrap();
            assert_eq!(recovered.series, 0);
            let report = store
                .append(
                    &[sample("a", 1000, 1.0), sample("b", 1000, 0.0), sample("a", 2000, 1.0)],
                    &BTreeMap::from([(0, 10)]),
                )
                .unwrap();
            assert_eq!(report.appended, 3);
            // A resent batch is counted, not stored twice; an old sample is refused.
            let report =
                store.append(&[sample("a", 2000, 1.0), sample("a", 1500, 9.0)], &BTreeMap::from([(0, 12)])).unwrap();
            assert_eq!((report.appended, report.duplicates, report.out_of_order), (0, 1, 1));
        }
        let (store, recovered) = MetricStore::open(dir.path()).unwrap();
        assert_eq!((recovered.series, recovered.samples), (2, 3));
        assert_eq!(recovered.offsets, BTreeMap::from([(0, 12)]));
        let a = store.select(&[Matcher::equal("job", "a")], 0, 10_000, &SelectHints::raw());
        assert_eq!(a[0].samples, [(1000, 1.0), (2000, 1.0)]);
    }
}
