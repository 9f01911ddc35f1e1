//! Writing a block: chunks and index into a `.tmp` directory, fsynced, then renamed.

use std::{
    fs::File,
    io::{BufWriter, Write},
    path::Path,
};

use super::{
    index::{ChunkMeta, IndexWriter, Stream},
    Block, BlockError, BlockMeta, CHUNKS_MAGIC,
};
use crate::{chunk::Chunk, labels::Labels};

/// One series to write: its chunks, ordered by stream and then time.
pub struct BlockSeries {
    pub labels: Labels,
    pub chunks: Vec<(Stream, Chunk)>,
}

/// Writes a block of `series` (in label order) into `blocks_dir` and opens it. `meta`'s
/// counts are filled in here. Returns None when there was nothing to write.
pub fn write_block(
    blocks_dir: &Path,
    mut meta: BlockMeta,
    series: impl IntoIterator<Item = BlockSeries>,
    intern: impl FnMut(Labels) -> Labels,
) -> Result<Option<Block>, BlockError> {
    let name = format!(
        "{}-{}-{}-{}",
        resolution_name(meta.resolution_ms),
        meta.min_time,
        meta.max_time,
        std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default().as_nanos()
    );
    let final_dir = blocks_dir.join(&name);
    let tmp_dir = blocks_dir.join(format!("{name}.tmp"));
    let fail = |reason: String| BlockError { dir: tmp_dir.display().to_string(), reason };
    std::fs::create_dir_all(&tmp_dir).map_err(|e| fail(format!("creating the directory: {e}")))?;

    let written: std::io::Result<bool> = (|| {
        let mut chunks = BufWriter::new(File::create(tmp_dir.join("chunks"))?);
        chunks.write_all(CHUNKS_MAGIC)?;
        let mut offset = CHUNKS_MAGIC.len() as u64;
        let mut index = IndexWriter::default();
        let (mut series_count, mut samples, mut chunk_count) = (0u64, 0u64, 0u64);
        for entry in series {
            if entry.chunks.is_empty() {
                continue;
            }
            let mut metas = Vec::with_capacity(entry.chunks.len());
            for (stream, chunk) in &entry.chunks {
                chunks.write_all(&chunk.bytes)?;
                metas.push(ChunkMeta {
                    stream: *stream,
                    encoding: chunk.encoding,
                    min_time: chunk.min_time,
                    max_time: chunk.max_time,
                    count: chunk.count,
                    offset,
                    len: chunk.bytes.len() as u32,
                });
                offset += chunk.bytes.len() as u64;
                if *stream == Stream::Raw || *stream == Stream::Count {
                    samples += u64::from(chunk.count);
                }
            }
            chunk_count += metas.len() as u64;
            series_count += 1;
            index.add_series(&entry.labels, &metas);
        }
        if series_count == 0 {
            return Ok(false);
        }
        let chunks = chunks.into_inner().map_err(|e| e.into_error())?;
        chunks.sync_all()?;
        let mut index_file = File::create(tmp_dir.join("index"))?;
        index_file.write_all(&index.finish())?;
        index_file.sync_all()?;
        meta.series = series_count;
        meta.samples = samples;
        meta.chunks = chunk_count;
        let mut meta_file = File::create(tmp_dir.join("meta.json"))?;
        meta_file.write_all(serde_json::to_string_pretty(&meta).expect("meta serializes").as_bytes())?;
        meta_file.sync_all()?;
        File::open(&tmp_dir)?.sync_all()?;
        Ok(true)
    })();
    match written {
        Ok(true) => {}
        Ok(false) => {
            let _ = std::fs::remove_dir_all(&tmp_dir);
            return Ok(None);
        }
        Err(error) => {
            let _ = std::fs::remove_dir_all(&tmp_dir);
            return Err(fail(format!("writing: {error}")));
        }
    }
    std::fs::rename(&tmp_dir, &final_dir).map_err(|e| fail(format!("renaming into place: {e}")))?;
    File::open(blocks_dir).and_then(|dir| dir.sync_all()).map_err(|e| fail(format!("syncing the directory: {e}")))?;
    Block::open(&final_dir, intern).map(Some)
}

pub fn resolution_name(resolution_ms: i64) -> String {
    match resolution_ms {
        0 => "raw".into(),
        ms if ms % 3_600_000 == 0 => format!("{}h", ms / 3_600_000),
        ms if ms % 60_000 == 0 => format!("{}m", ms / 60_000),
        ms => format!("{ms}ms"),
    }
}
