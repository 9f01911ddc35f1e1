//! The data-directory lock: one process per data directory, or files get corrupted.

use std::{fs::File, path::Path};

use anyhow::Context;

/// Held for the life of the process; the lock goes with the file handle (also on a crash).
#[derive(Debug)]
pub struct DataDirLock {
    _file: File,
}

/// Creates `dir` if needed and takes an exclusive lock on `dir/.lock`; fails with a message
/// naming the directory when another process holds it.
pub fn lock(dir: &Path) -> anyhow::Result<DataDirLock> {
    std::fs::create_dir_all(dir).with_context(|| format!("failed to create the data directory {}", dir.display()))?;
    let path = dir.join(".lock");
    let file = File::options()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&path)
        .with_context(|| format!("failed to open {}", path.display()))?;
    match file.try_lock() {
        Ok(()) => Ok(DataDirLock { _file: file }),
        Err(std::fs::TryLockError::WouldBlock) => anyhow::bail!(
            "another process is using the data directory {} (it holds {}): stop it or choose another directory",
            dir.display(),
            path.display()
        ),
        Err(std::fs::TryLockError::Error(error)) => {
            Err(error).with_context(|| format!("failed to lock {}", path.display()))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_second_lock_on_the_same_directory_fails_until_the_first_is_dropped() {
        let dir = tempfile::tempdir().expect("tempdir");
        let first = lock(dir.path()).expect("first lock");
        let error = lock(dir.path()).expect_err("second lock must fail").to_string();
        assert!(error.contains("another process"), "{error}");
        drop(first);
        lock(dir.path()).expect("free again");
    }
}
