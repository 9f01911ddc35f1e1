//! [`LogReader`]: the searchable view of every split under a root directory, kept fresh.

use std::{
    collections::BTreeMap,
    path::{Path, PathBuf},
    sync::Mutex,
    time::{Duration, Instant},
};

use tantivy::{Index, IndexReader, ReloadPolicy, Searcher};

use crate::{list_partitions, list_splits, LogSchema, LogStoreError};

/// How often the split list is rescanned and the newest splits reloaded: bounds the delay
/// between a commit and its documents being searchable.
const REFRESH_INTERVAL: Duration = Duration::from_millis(200);

struct OpenSplit {
    reader: IndexReader,
    /// Only the newest split of a partition receives new commits (older ones only merge).
    newest: bool,
}

struct State {
    splits: BTreeMap<PathBuf, OpenSplit>,
    refreshed_at: Option<Instant>,
}

/// Opens splits lazily and hands out consistent searchers. Cheap to share behind an `Arc`.
pub struct LogReader {
    root: PathBuf,
    schema: LogSchema,
    state: Mutex<State>,
}

impl LogReader {
    pub fn new(root: &Path, schema: LogSchema) -> LogReader {
        LogReader {
            root: root.to_path_buf(),
            schema,
            state: Mutex::new(State { splits: BTreeMap::new(), refreshed_at: None }),
        }
    }

    pub fn schema(&self) -> &LogSchema {
        &self.schema
    }

    /// One searcher per split, newest data included (at most [`REFRESH_INTERVAL`] old).
    pub fn searchers(&self) -> Result<Vec<Searcher>, LogStoreError> {
        let mut state = self.state.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        if state.refreshed_at.is_none_or(|at| at.elapsed() >= REFRESH_INTERVAL) {
            self.refresh(&mut state)?;
            state.refreshed_at = Some(Instant::now());
        }
        Ok(state.splits.values().map(|split| split.reader.searcher()).collect())
    }

    /// Forces the next [`searchers`](Self::searchers) call to rescan (tests, benchmarks).
    pub fn invalidate(&self) {
        let mut state = self.state.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        state.refreshed_at = None;
    }

    fn refresh(&self, state: &mut State) -> Result<(), LogStoreError> {
        let mut present = BTreeMap::new();
        for partition in list_partitions(&self.root)? {
            let splits = list_splits(&self.root, partition)?;
            let last = splits.len().saturating_sub(1);
            for (position, split) in splits.into_iter().enumerate() {
                if split.path.join("meta.json").exists() {
                    present.insert(split.path, position == last);
                }
            }
        }
        state.splits.retain(|path, _| present.contains_key(path));
        for (path, newest) in present {
            match state.splits.get_mut(&path) {
                Some(open) => {
                    if newest || open.newest {
                        open.reader.reload().map_err(|error| LogStoreError::index(&path, error))?;
                    }
                    open.newest = newest;
                }
                None => match open_reader(&path) {
                    Ok(reader) => {
                        state.splits.insert(path, OpenSplit { reader, newest });
                    }
                    // A split deleted by retention between listing and opening.
                    Err(_) if !path.exists() => {}
                    Err(error) => return Err(error),
                },
            }
        }
        Ok(())
    }
}

fn open_reader(path: &Path) -> Result<IndexReader, LogStoreError> {
    let index = Index::open_in_dir(path).map_err(|error| LogStoreError::index(path, error))?;
    index
        .reader_builder()
        .reload_policy(ReloadPolicy::Manual)
        .try_into()
        .map_err(|error| LogStoreError::index(path, error))
}
