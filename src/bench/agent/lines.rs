//! Real log lines from the shared data (read in place, never copied into the repository):
//! every log file the logs bench uses, split into lines, and files made of them repeated.

use std::{
    io::Write,
    path::{Path, PathBuf},
};

use anyhow::Context;

/// Lines without their newline (nor a trailing `\r`: the agent strips it, and then every line
/// spans exactly its bytes plus one in the file).
pub fn load(logs_dir: &Path) -> anyhow::Result<Vec<Vec<u8>>> {
    let mut lines = Vec::new();
    for path in crate::bench::logs::corpus::source_files(logs_dir)? {
        let bytes = std::fs::read(&path).with_context(|| format!("failed to read {}", path.display()))?;
        for line in bytes.split(|b| *b == b'\n') {
            let line = line.strip_suffix(b"\r").unwrap_or(line);
            if !line.is_empty() {
                lines.push(line.to_vec());
            }
        }
    }
    anyhow::ensure!(!lines.is_empty(), "no log lines under {}", logs_dir.display());
    Ok(lines)
}

/// A file of lines, newline-terminated.
pub struct LogFile {
    pub path: PathBuf,
    pub bytes: u64,
    pub lines: u64,
}

/// Writes `lines` over and over to `path` until it holds at least `target_bytes`.
pub fn write_file(lines: &[Vec<u8>], path: &Path, target_bytes: u64) -> anyhow::Result<LogFile> {
    let file = std::fs::File::create(path).with_context(|| format!("failed to create {}", path.display()))?;
    let mut writer = std::io::BufWriter::with_capacity(1 << 20, file);
    let (mut bytes, mut count) = (0u64, 0u64);
    for line in lines.iter().cycle() {
        if bytes >= target_bytes {
            break;
        }
        writer.write_all(line)?;
        writer.write_all(b"\n")?;
        bytes += line.len() as u64 + 1;
        count += 1;
    }
    writer.flush()?;
    Ok(LogFile { path: path.to_path_buf(), bytes, lines: count })
}

/// Appends whole lines from `lines` (cycling from `*next`) to `chunk` until it holds `bytes`.
pub fn fill(lines: &[Vec<u8>], next: &mut usize, chunk: &mut Vec<u8>, bytes: usize) -> u64 {
    let mut count = 0;
    while chunk.len() < bytes {
        chunk.extend_from_slice(&lines[*next % lines.len()]);
        chunk.push(b'\n');
        *next += 1;
        count += 1;
    }
    count
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_written_file_holds_whole_lines_up_to_the_target() {
        let dir = tempfile::tempdir().expect("temp dir");
        let lines = vec![b"first line".to_vec(), b"second".to_vec()];
        let file = write_file(&lines, &dir.path().join("x.log"), 29).expect("written");
        let text = std::fs::read_to_string(&file.path).expect("readable");
        assert_eq!(text, "first line\nsecond\nfirst line\n");
        assert_eq!((file.bytes, file.lines), (29, 3), "the third line reaches the target");
    }

    #[test]
    fn fill_appends_whole_lines_and_continues_where_it_stopped() {
        let lines = vec![b"aaaa".to_vec(), b"bb".to_vec()];
        let (mut next, mut chunk) = (0, Vec::new());
        assert_eq!(fill(&lines, &mut next, &mut chunk, 6), 2);
        assert_eq!(chunk, b"aaaa\nbb\n");
        chunk.clear();
        fill(&lines, &mut next, &mut chunk, 1);
        assert_eq!(chunk, b"aaaa\n");
    }
}
