//! Compaction: which blocks to merge (`plan_merges`) and merging them (`merge_blocks`).
//!
//! Blocks of one resolution are merged when their ranges overlap (a crash between writing a
//! block and checkpointing the log, or late samples cut into a block of their own), and when
//! they fill a larger aligned window that is over: 2 h blocks become 6 h, then 18 h, then
//! 54 h blocks. Fewer, larger blocks mean a smaller index per sample and fewer files per query.

use std::sync::Arc;

use crate::{
    block::{Block, BlockSeries, ChunkMeta, Stream},
    chunk::{decode, encode_all, Chunk},
    labels::Labels,
    merge::merge_samples,
};

/// Each level's window is this many times the one below.
const LEVEL_FACTOR: i64 = 3;
const LEVELS: u32 = 3;

/// The first merge level's window: blocks fresh from the head are merged within it.
pub fn first_merge_window(block_ms: i64) -> i64 {
    block_ms * LEVEL_FACTOR
}

/// Groups of blocks (all of one resolution) to merge into one block each.
pub fn plan_merges(blocks: &[Arc<Block>], block_ms: i64) -> Vec<Vec<Arc<Block>>> {
    let mut sorted: Vec<Arc<Block>> = blocks.to_vec();
    sorted.sort_by_key(|b| (b.meta.min_time, b.meta.max_time));
    // Overlaps first: chains of blocks whose ranges overlap.
    let mut groups: Vec<Vec<Arc<Block>>> = Vec::new();
    for block in &sorted {
        match groups.last_mut() {
            Some(group) if group.iter().map(|b| b.meta.max_time).max().unwrap_or(i64::MIN) > block.meta.min_time => {
                group.push(block.clone())
            }
            _ => groups.push(vec![block.clone()]),
        }
    }
    let overlapping: Vec<Vec<Arc<Block>>> = groups.into_iter().filter(|g| g.len() > 1).collect();
    if !overlapping.is_empty() {
        return overlapping;
    }
    let newest = sorted.iter().map(|b| b.meta.max_time).max().unwrap_or(i64::MIN);
    let mut window = block_ms;
    for _ in 0..LEVELS {
        window *= LEVEL_FACTOR;
        let mut plans: Vec<Vec<Arc<Block>>> = Vec::new();
        let mut current: Option<(i64, Vec<Arc<Block>>)> = None;
        for block in &sorted {
            let start = block.meta.min_time.div_euclid(window);
            let fits =
                block.meta.max_time <= (start + 1) * window && block.meta.max_time - block.meta.min_time < window;
            let key = fits.then_some(start);
            match (&mut current, key) {
                (Some((open, group)), Some(key)) if *open == key => group.push(block.clone()),
                _ => {
                    if let Some((start, group)) = current.take() {
                        push_if_ready(&mut plans, start, window, newest, group);
                    }
                    current = key.map(|key| (key, vec![block.clone()]));
                }
            }
        }
        if let Some((start, group)) = current {
            push_if_ready(&mut plans, start, window, newest, group);
        }
        if !plans.is_empty() {
            return plans;
        }
    }
    Vec::new()
}

/// A window is merged once more than one block falls in it and it is over (a newer block
/// exists past it), so no more data is expected in it.
fn push_if_ready(plans: &mut Vec<Vec<Arc<Block>>>, start: i64, window: i64, newest: i64, group: Vec<Arc<Block>>) {
    if group.len() > 1 && (start + 1) * window <= newest {
        plans.push(group);
    }
}

/// The series of `blocks` merged, in label order, ready for `write_block`. Chunks are copied
/// as they are unless chunks of one stream overlap in time; those are decoded, merged (each
/// timestamp once) and encoded again.
pub fn merge_blocks(blocks: &[Arc<Block>], cut_every: i64) -> impl Iterator<Item = BlockSeries> + '_ {
    let mut sources: Vec<_> = blocks.iter().map(|b| b.all_series().peekable()).collect();
    std::iter::from_fn(move || {
        let smallest: Labels = sources.iter_mut().filter_map(|s| s.peek().map(|(l, _)| (*l).clone())).min()?;
        let mut chunks: Vec<(ChunkMeta, &[u8])> = Vec::new();
        for source in &mut sources {
            if source.peek().is_some_and(|(labels, _)| **labels == smallest) {
                chunks.extend(source.next().expect("peeked").1);
            }
        }
        Some(BlockSeries { labels: smallest, chunks: merge_streams(chunks, cut_every) })
    })
}

fn merge_streams(mut chunks: Vec<(ChunkMeta, &[u8])>, cut_every: i64) -> Vec<(Stream, Chunk)> {
    chunks.sort_by_key(|(meta, _)| (meta.stream, meta.min_time));
    let mut out = Vec::new();
    let mut start = 0;
    while start < chunks.len() {
        let stream = chunks[start].0.stream;
        let end = start + chunks[start..].iter().take_while(|(m, _)| m.stream == stream).count();
        let group = &chunks[start..end];
        let overlaps = group.windows(2).any(|pair| pair[1].0.min_time <= pair[0].0.max_time);
        if overlaps {
            let sources =
                group.iter().map(|(meta, bytes)| decode(meta.encoding, bytes, meta.count).collect()).collect();
            out.extend(encode_all(merge_samples(sources), cut_every).into_iter().map(|c| (stream, c)));
        } else {
            out.extend(group.iter().map(|(meta, bytes)| {
                let chunk = Chunk {
                    min_time: meta.min_time,
                    max_time: meta.max_time,
                    count: meta.count,
                    encoding: meta.encoding,
                    bytes: bytes.to_vec(),
                };
                (stream, chunk)
            }));
        }
        start = end;
    }
    out
}
