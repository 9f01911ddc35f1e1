//! A file's fingerprint: a hash of its first bytes. (device, inode) names a file only while
//! it exists: a deleted file's inode is soon given to a new one, and a copy (copytruncate)
//! has a new inode but the old content. The first bytes tell these apart: a checkpoint is
//! resumed only when the file still starts with the bytes it started with, and a new file
//! that starts like a file already read continues where that one was.
//!
//! A file shorter than [`FINGERPRINT_BYTES`] has a partial fingerprint over what it has; it
//! grows with the file (the file task refreshes it) until it is full.

use std::{fs::File, io, os::unix::fs::FileExt};

use serde::{Deserialize, Serialize};

/// Bytes hashed from the start of a file.
pub const FINGERPRINT_BYTES: usize = 256;

/// The hash of a file's first `len` bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Fingerprint {
    pub len: u32,
    pub hash: u64,
}

impl Fingerprint {
    /// The fingerprint of `bytes` (at most [`FINGERPRINT_BYTES`] of them are used).
    pub fn of_bytes(bytes: &[u8]) -> Fingerprint {
        let bytes = &bytes[..bytes.len().min(FINGERPRINT_BYTES)];
        Fingerprint { len: bytes.len() as u32, hash: xxhash_rust::xxh3::xxh3_64(bytes) }
    }

    /// The fingerprint of the file's current first bytes.
    pub fn of_file(file: &File) -> io::Result<Fingerprint> {
        Ok(Fingerprint::of_bytes(&first_bytes(file, FINGERPRINT_BYTES)?))
    }

    /// Whether the fingerprint covers [`FINGERPRINT_BYTES`]: only then is it trusted to
    /// recognise a file under another inode (a short one, like a common first line, could
    /// match a different file).
    pub fn is_full(&self) -> bool {
        self.len as usize == FINGERPRINT_BYTES
    }

    /// Whether `file` still starts with the bytes this fingerprint was taken of.
    pub fn matches(&self, file: &File) -> io::Result<bool> {
        self.matches_at(file, 0)
    }

    /// Whether `file` has the bytes this fingerprint was taken of at `offset`.
    pub fn matches_at(&self, file: &File, offset: u64) -> io::Result<bool> {
        let bytes = bytes_at(file, offset, self.len as usize)?;
        Ok(bytes.len() == self.len as usize && Fingerprint::of_bytes(&bytes) == *self)
    }
}

/// Up to `len` bytes from the start of `file` (fewer when it is shorter).
pub fn first_bytes(file: &File, len: usize) -> io::Result<Vec<u8>> {
    bytes_at(file, 0, len)
}

/// Up to `len` bytes of `file` from `offset` (fewer when it ends sooner).
fn bytes_at(file: &File, offset: u64, len: usize) -> io::Result<Vec<u8>> {
    let mut bytes = vec![0; len];
    let mut filled = 0;
    while filled < len {
        match file.read_at(&mut bytes[filled..], offset + filled as u64) {
            Ok(0) => break,
            Ok(read) => filled += read,
            Err(error) if error.kind() == io::ErrorKind::Interrupted => continue,
            Err(error) => return Err(error),
        }
    }
    bytes.truncate(filled);
    Ok(bytes)
}

#[cfg(test)]
mod tests {
    use std::io::Write;

    use super::*;

    #[test]
    fn a_fingerprint_matches_while_the_first_bytes_stay_and_grows_with_a_short_file() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("app.log");
        let mut writer = File::create(&path).expect("create");
        writer.write_all(b"first line\n").expect("write");
        let reader = File::open(&path).expect("open");
        let short = Fingerprint::of_file(&reader).expect("fingerprint");
        assert_eq!(short.len, 11);
        assert!(!short.is_full());
        writer.write_all(&[b'x'; 400]).expect("write");
        assert!(short.matches(&reader).expect("read"), "appending keeps the first bytes");
        let full = Fingerprint::of_file(&reader).expect("fingerprint");
        assert!(full.is_full() && full.matches(&reader).expect("read"));

        writer.set_len(0).expect("truncate");
        let mut writer = std::fs::OpenOptions::new().append(true).open(&path).expect("reopen");
        writer.write_all(b"other line\n").expect("write");
        assert!(!short.matches(&reader).expect("read"), "different first bytes");
        assert!(!full.matches(&reader).expect("read"), "shorter than the fingerprint");
    }
}
