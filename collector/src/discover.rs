//! Discovery: expands the inputs' globs into the set of files to tail, each identified by
//! (device, inode) so a renamed file is still the same file.
//!
//! Blocking (directory reads and `stat`): callers run [`Discovery::scan`] on a blocking
//! thread. A file matched by several patterns or inputs is reported once, for the first.

use std::{
    collections::HashSet,
    path::PathBuf,
    time::{Duration, SystemTime},
};

use crate::{
    complaints::{kind_of, Complaints, NOT_A_FILE},
    config::InputConfig,
    tailer::FileId,
};

/// A file a scan found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Found {
    pub id: FileId,
    pub path: PathBuf,
    /// Index of the input (in config order) that matched it.
    pub input: usize,
    /// Size at the time of the scan.
    pub size: u64,
    /// Last modified longer ago than its input's `ignore_older`: read only if it has a
    /// checkpoint already.
    pub idle: bool,
}

/// The compiled globs of every input.
#[derive(Debug)]
pub struct Discovery {
    inputs: Vec<InputGlobs>,
    /// Paths the globs match that cannot be read, each logged once.
    pub complaints: Complaints,
}

#[derive(Debug, Clone)]
struct InputGlobs {
    paths: Vec<String>,
    exclude: Vec<glob::Pattern>,
    ignore_older: Option<Duration>,
}

impl Discovery {
    /// Compiles the inputs' patterns (validated config: errors name the pattern).
    pub fn new(inputs: &[InputConfig]) -> Result<Discovery, glob::PatternError> {
        let inputs = inputs
            .iter()
            .map(|input| {
                let exclude = input.exclude.iter().map(|p| glob::Pattern::new(p)).collect::<Result<_, _>>()?;
                Ok(InputGlobs { paths: input.paths.clone(), exclude, ignore_older: input.ignore_older })
            })
            .collect::<Result<_, glob::PatternError>>()?;
        Ok(Discovery { inputs, complaints: Complaints::default() })
    }

    /// Every include pattern, for messages.
    pub fn patterns(&self) -> Vec<&str> {
        self.inputs.iter().flat_map(|input| input.paths.iter().map(String::as_str)).collect()
    }

    /// Lists the regular files the globs match now (symlinks are followed), minus exclusions.
    pub fn scan(&self) -> Vec<Found> {
        let mut seen = HashSet::new();
        let mut found = Vec::new();
        let mut matched: HashSet<PathBuf> = HashSet::new();
        for (index, input) in self.inputs.iter().enumerate() {
            for pattern in &input.paths {
                let entries = match glob::glob(pattern) {
                    Ok(entries) => entries,
                    Err(error) => {
                        tracing::warn!(pattern, %error, "invalid glob pattern");
                        continue;
                    }
                };
                for entry in entries {
                    let path = match entry {
                        Ok(path) => path,
                        Err(error) => {
                            let what = "cannot read a directory the glob goes through";
                            self.complaints.report(error.path(), kind_of(error.error()), what, error.error());
                            matched.insert(error.path().to_path_buf());
                            continue;
                        }
                    };
                    if input.excludes(&path) {
                        continue;
                    }
                    matched.insert(path.clone());
                    let metadata = match std::fs::metadata(&path) {
                        Ok(metadata) => metadata,
                        Err(error) => {
                            self.complaints.report(&path, kind_of(&error), "cannot stat the path", &error);
                            continue;
                        }
                    };
                    if !metadata.is_file() {
                        let what = "the path is not a regular file (a directory?)";
                        self.complaints.report(&path, NOT_A_FILE, what, &format!("{:?}", metadata.file_type()));
                        continue;
                    }
                    let id = FileId::of(&metadata);
                    let idle = input.ignore_older.is_some_and(|older| {
                        let age = metadata.modified().ok().and_then(|m| SystemTime::now().duration_since(m).ok());
                        age.is_some_and(|age| age > older)
                    });
                    if seen.insert(id) {
                        found.push(Found { id, path, input: index, size: metadata.len(), idle });
                    }
                }
            }
        }
        self.complaints.retain(|path| matched.contains(path));
        found
    }
}

impl InputGlobs {
    /// A pattern with a `/` matches the whole path, one without it the file name.
    fn excludes(&self, path: &std::path::Path) -> bool {
        self.exclude.iter().any(|pattern| {
            if pattern.as_str().contains('/') {
                pattern.matches_path(path)
            } else {
                path.file_name().is_some_and(|name| pattern.matches(&name.to_string_lossy()))
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn input(paths: &[String], exclude: &[&str]) -> InputConfig {
        InputConfig {
            paths: paths.to_vec(),
            exclude: exclude.iter().map(|p| p.to_string()).collect(),
            service: "svc".into(),
            ..InputConfig::default()
        }
    }

    #[test]
    fn finds_matching_files_once_and_honours_exclusions() {
        let dir = tempfile::tempdir().expect("tempdir");
        let root = dir.path().display().to_string();
        for name in ["a.log", "b.log", "c.log.gz", "skip.log", "nested/d.log"] {
            let path = dir.path().join(name);
            std::fs::create_dir_all(path.parent().expect("has a parent")).expect("mkdir");
            std::fs::write(&path, b"x\n").expect("write");
        }
        std::fs::create_dir(dir.path().join("dir.log")).expect("a directory is not a file");
        std::fs::hard_link(dir.path().join("a.log"), dir.path().join("a-link.log")).expect("hard link");
        let inputs = [
            input(&[format!("{root}/*.log"), format!("{root}/**/*.log")], &["skip.*", &format!("{root}/nested/*")]),
            input(&[format!("{root}/*.gz")], &[]),
        ];
        let found = Discovery::new(&inputs).expect("valid globs").scan();
        let names: Vec<(String, usize)> = found
            .iter()
            .map(|f| (f.path.strip_prefix(dir.path()).expect("inside").display().to_string(), f.input))
            .collect();
        assert_eq!(names, [("a-link.log".to_string(), 0), ("b.log".to_string(), 0), ("c.log.gz".to_string(), 1)]);
        assert_eq!(found[0].size, 2);
    }

    #[test]
    fn files_untouched_for_longer_than_ignore_older_are_marked_idle() {
        let dir = tempfile::tempdir().expect("tempdir");
        let old = dir.path().join("old.log");
        std::fs::write(&old, b"x\n").expect("write");
        let two_days_ago = SystemTime::now() - Duration::from_secs(2 * 86_400);
        std::fs::File::options().write(true).open(&old).and_then(|f| f.set_modified(two_days_ago)).expect("set mtime");
        std::fs::write(dir.path().join("new.log"), b"y\n").expect("write");
        let mut input = input(&[format!("{}/*.log", dir.path().display())], &[]);
        input.ignore_older = Some(Duration::from_secs(86_400));
        let found = Discovery::new(&[input]).expect("valid globs").scan();
        let idle: Vec<(String, bool)> =
            found.iter().map(|f| (f.path.file_name().unwrap().to_string_lossy().into_owned(), f.idle)).collect();
        assert_eq!(idle, [("new.log".to_string(), false), ("old.log".to_string(), true)]);
    }
}
