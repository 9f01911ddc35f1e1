//! Problems with paths the globs match (unreadable, a directory, a symlink loop...), logged
//! once per path and problem instead of at every scan, and counted, so a bad path is visible
//! without drowning the log. The agent goes on with every other file and tries the path again
//! at each scan: a fixed permission is picked up by itself.

use std::{
    collections::HashMap,
    io,
    path::{Path, PathBuf},
    sync::Mutex,
};

use crate::metrics as m;

/// A matched path that is not a regular file (a directory, a socket...).
pub const NOT_A_FILE: &str = "not_a_file";

#[derive(Debug, Default)]
pub struct Complaints {
    /// The problem last logged per path.
    last: Mutex<HashMap<PathBuf, &'static str>>,
}

/// The kind of an I/O error on a path, as a metric label.
pub fn kind_of(error: &io::Error) -> &'static str {
    match error.kind() {
        io::ErrorKind::PermissionDenied => "permission_denied",
        io::ErrorKind::NotFound => "dangling_symlink",
        _ if error.raw_os_error() == Some(libc::ELOOP) => "symlink_loop",
        _ => "io_error",
    }
}

impl Complaints {
    /// Logs `what` about `path` (with `detail`) unless it is the problem last logged for it;
    /// a warning, or for something that may well be intended (a directory a broad glob
    /// matches) an info line.
    pub fn report(&self, path: &Path, kind: &'static str, what: &str, detail: &dyn std::fmt::Display) {
        let mut last = self.last.lock().expect("complaints lock is never poisoned");
        if last.get(path) == Some(&kind) {
            return;
        }
        last.insert(path.to_path_buf(), kind);
        metrics::counter!(m::PATH_PROBLEMS_TOTAL, "problem" => kind).increment(1);
        if kind == NOT_A_FILE {
            tracing::info!(path = %path.display(), problem = kind, %detail, "{what}; skipping it");
        } else {
            tracing::warn!(path = %path.display(), problem = kind, %detail,
                "{what}; skipping it, and trying again at every scan (logged once until the problem changes)");
        }
    }

    /// The path is fine now (or gone): a new problem with it will be logged again.
    pub fn clear(&self, path: &Path) {
        let mut last = self.last.lock().expect("complaints lock is never poisoned");
        if last.remove(path).is_some() {
            tracing::info!(path = %path.display(), "the path is readable again");
        }
    }

    /// Forgets paths for which `still_there` is false.
    pub fn retain(&self, still_there: impl Fn(&Path) -> bool) {
        self.last.lock().expect("complaints lock is never poisoned").retain(|path, _| still_there(path));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_problem_is_reported_once_until_it_changes_or_clears() {
        let complaints = Complaints::default();
        let path = Path::new("/var/log/x.log");
        complaints.report(path, "permission_denied", "cannot open", &"denied");
        complaints.report(path, "permission_denied", "cannot open", &"denied");
        assert_eq!(complaints.last.lock().expect("lock").len(), 1);
        complaints.report(path, NOT_A_FILE, "a directory", &"dir");
        assert_eq!(complaints.last.lock().expect("lock").get(path), Some(&NOT_A_FILE));
        complaints.clear(path);
        assert!(complaints.last.lock().expect("lock").is_empty());
        let looped = io::Error::from_raw_os_error(libc::ELOOP);
        assert_eq!(kind_of(&looped), "symlink_loop");
        assert_eq!(kind_of(&io::Error::from(io::ErrorKind::PermissionDenied)), "permission_denied");
    }
}
