//! The benchmark corpus: real log files from the shared data, repeated with varied hosts,
//! services and a unique request id per line until it reaches the requested size.

use std::path::{Path, PathBuf};

use anyhow::Context;

pub struct Corpus {
    /// (service, source, line)
    pub lines: Vec<(String, String, Vec<u8>)>,
    /// Sum of line lengths plus one newline each: what `grep` reads.
    pub bytes: u64,
    /// The request id of the line in the middle: a needle that matches exactly one line.
    pub needle: String,
}

/// Every log file under `logs_dir` except ground-truth CSVs, docs and the NGINX status JSON
/// (metrics snapshots, not logs).
pub(crate) fn source_files(logs_dir: &Path) -> anyhow::Result<Vec<PathBuf>> {
    let mut files = Vec::new();
    let mut stack = vec![logs_dir.to_path_buf()];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).with_context(|| format!("failed to read {}", dir.display()))? {
            let path = entry?.path();
            let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("");
            if path.is_dir() {
                stack.push(path);
            } else if !name.ends_with(".csv")
                && !name.ends_with(".md")
                && !name.starts_with("LICENSE")
                && name != "CITATION"
                && !name.contains("nginxplus")
            {
                files.push(path);
            }
        }
    }
    files.sort();
    anyhow::ensure!(!files.is_empty(), "no log files under {}", logs_dir.display());
    Ok(files)
}

pub fn generate(logs_dir: &Path, target_bytes: u64) -> anyhow::Result<Corpus> {
    let mut originals: Vec<(String, Vec<Vec<u8>>)> = Vec::new();
    for path in source_files(logs_dir)? {
        let bytes = std::fs::read(&path)?;
        let name = path
            .file_stem()
            .and_then(|n| n.to_str())
            .unwrap_or("log")
            .split('_')
            .next()
            .unwrap_or("log")
            .to_lowercase();
        let lines = bytes.split(|b| *b == b'\n').filter(|l| !l.is_empty()).map(<[u8]>::to_vec).collect();
        originals.push((name, lines));
    }
    let mut lines = Vec::new();
    let mut bytes = 0u64;
    let mut round = 0u64;
    let mut counter = 0u64;
    while bytes < target_bytes {
        for (name, file_lines) in &originals {
            let service = format!("{name}-{}", round % 8);
            let source = format!("/var/log/{name}/{}.log", round % 16);
            for line in file_lines {
                let mut varied = line.clone();
                // A unique id per line, as real request logs carry: makes needles exist.
                varied.extend_from_slice(format!(" rid={:016x}", mix(counter)).as_bytes());
                counter += 1;
                bytes += varied.len() as u64 + 1;
                lines.push((service.clone(), source.clone(), varied));
            }
        }
        round += 1;
    }
    let needle = format!("{:016x}", mix(counter / 2));
    Ok(Corpus { lines, bytes, needle })
}

/// A cheap bijective scramble so ids look random but stay unique.
fn mix(mut x: u64) -> u64 {
    x = (x ^ (x >> 30)).wrapping_mul(0xbf58476d1ce4e5b9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94d049bb133111eb);
    x ^ (x >> 31)
}
