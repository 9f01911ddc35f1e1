//! [`LogReader`]: the searchable view of every split under a root directory, kept fresh.

use std::{
    collections::BTreeMap,
    path::{Path, PathBuf},
    sync::Mutex,
    time::{Duration, Instant},
};

use tantivy::{Executor, Index, IndexReader, ReloadPolicy, Searcher};

use crate::{hit::ColumnCache, list_partitions, list_splits, LogSchema, LogStoreError};

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
    /// Shared by every split: a query searches a split's segments on all cores at once.
    executor: Executor,
    columns: ColumnCache,
}

impl LogReader {
    pub fn new(root: &Path, schema: LogSchema) -> LogReader {
        LogReader {
            root: root.to_path_buf(),
            schema,
            state: Mutex::new(State { splits: BTreeMap::new(), refreshed_at: None }),
            executor: search_executor(),
            columns: ColumnCache::default(),
        }
    }

    pub fn schema(&self) -> &LogSchema {
        &self.schema
    }

    /// One searcher per split, newest data included (at most [`REFRESH_INTERVAL`] old).
    pub fn searchers(&self) -> Result<Vec<Searcher>, LogStoreError> {
        let mut state = self.state.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        let stale = state.refreshed_at.is_none_or(|at| at.elapsed() >= REFRESH_INTERVAL);
        if stale {
            self.refresh(&mut state)?;
            state.refreshed_at = Some(Instant::now());
        }
        let searchers: Vec<Searcher> = state.splits.values().map(|split| split.reader.searcher()).collect();
        if stale {
            let live = searchers.iter().flat_map(|s| s.segment_readers().iter().map(|r| r.segment_id())).collect();
            self.columns.retain(&live);
        }
        Ok(searchers)
    }

    pub(crate) fn columns(&self) -> &ColumnCache {
        &self.columns
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
                None => match open_reader(&path, &self.executor) {
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

/// One search thread per core; a single core (or a failure to start the pool) searches on
/// the caller's thread.
fn search_executor() -> Executor {
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    if cores < 2 {
        return Executor::single_thread();
    }
    Executor::multi_thread(cores, "vigil-search-").unwrap_or_else(|error| {
        tracing::warn!(%error, "could not start the search threads; searching on one thread");
        Executor::single_thread()
    })
}

fn open_reader(path: &Path, executor: &Executor) -> Result<IndexReader, LogStoreError> {
    let mut index = Index::open_in_dir(path).map_err(|error| LogStoreError::index(path, error))?;
    index.set_executor(executor.clone());
    index
        .reader_builder()
        .reload_policy(ReloadPolicy::Manual)
        .try_into()
        .map_err(|error| LogStoreError::index(path, error))
}
