//! The agent's wiring ([`run`]) and its supervisor: scans the globs every `scan_interval`,
//! starts a [`file_task`] per new file at its checkpoint, tells tasks of files that left the
//! globs to drain, persists checkpoints every `checkpoint_interval`, and on shutdown lets the
//! tasks flush for up to `shutdown_timeout` before writing the checkpoints a last time.

use std::{
    collections::{HashMap, HashSet},
    fs::File,
    future::Future,
    sync::Arc,
};

use anyhow::Context;
use tokio::{net::TcpListener, sync::watch, task::JoinSet, time::MissedTickBehavior};

use crate::{
    batch::RecordTemplate,
    checkpoint::CheckpointStore,
    complaints::kind_of,
    config::{AgentConfig, ReadFrom},
    delivery::Delivery,
    discover::{Discovery, Found},
    file_task::{self, Ended, FileHandle, Shared, Start},
    ledger::Ledger,
    metrics as m,
    placement::{place, Candidate, Placement},
    ship::{retry::RetryPolicy, Shipper},
    spool::Spool,
    tailer::FileId,
};

/// Runs the agent until `shutdown` resolves, then flushes, writes checkpoints and returns.
/// `listener`, when given, serves `/health` and `/metrics`.
pub async fn run(
    config: AgentConfig,
    listener: Option<TcpListener>,
    shutdown: impl Future<Output = ()>,
) -> anyhow::Result<()> {
    config.validate().map_err(|errors| anyhow::anyhow!("invalid config:\n{errors}"))?;
    let server = listener.map(|listener| tokio::spawn(serve_observability(listener)));
    let _lock = vigil_common::data_dir::lock(&config.data_dir)?;
    let checkpoints = Arc::new(CheckpointStore::open(&config.data_dir)?);
    let host = config.host_name();
    let spool = match config.spool.max_bytes {
        0 => None,
        max_bytes => {
            let dir = config.data_dir.join("spool");
            let spool = Spool::open(&dir, max_bytes).with_context(|| {
                format!("agent.spool: cannot open the spool directory {} (fix its permissions, or set agent.spool.max_bytes = 0 to turn the spool off)", dir.display())
            })?;
            let held = spool.held();
            if held.batches > 0 {
                tracing::info!(
                    batches = held.batches,
                    lines = held.lines,
                    bytes = held.bytes,
                    "the spool holds batches from before; delivering them first"
                );
            }
            Some(Arc::new(spool))
        }
    };
    let delivery = Arc::new(Delivery {
        shipper: Shipper::from_config(&config.output)?,
        retry: RetryPolicy::from_config(&config.output),
        ledger: Arc::new(Ledger::open(&config.data_dir)),
        spool,
        config: config.spool.clone(),
    });
    let shared = Arc::new(Shared {
        delivery: delivery.clone(),
        checkpoints: checkpoints.clone(),
        batch: config.batch,
        poll_interval: config.poll_interval,
        max_line_bytes: config.max_line_bytes,
        partial_line_timeout: config.partial_line_timeout,
    });
    let templates = config
        .inputs
        .iter()
        .map(|input| {
            let mut labels = config.labels.clone();
            labels.extend(input.labels.clone());
            let reading = file_task::Reading::for_input(&config, input);
            RecordTemplate { service: input.service.clone(), host: host.clone(), labels, reading }
        })
        .collect();
    let discovery = Arc::new(Discovery::new(&config.inputs).context("agent.inputs: invalid glob")?);
    tracing::info!(%host, output = delivery.shipper.kind(), inputs = config.inputs.len(),
        data_dir = %config.data_dir.display(), "vigil-agent started");

    let (stop_tx, stop_rx) = watch::channel(false);
    let drainer = tokio::spawn(delivery.clone().drain(stop_rx.clone()));
    if !config.scrape.is_empty() || config.host_metrics.is_some() || config.textfile_directory.is_some() {
        let shipper = Arc::new(crate::ship::metrics::MetricShipper::from_config(&config.output)?);
        for target in &config.scrape {
            tracing::info!(url = %target.url, job = %target.job, interval = ?target.interval, "scraping");
            tokio::spawn(crate::scrape::run(target.clone(), config.labels.clone(), shipper.clone(), stop_rx.clone()));
        }
        if config.host_metrics.is_some() || config.textfile_directory.is_some() {
            let interval = config.host_metrics.unwrap_or(std::time::Duration::from_secs(15));
            let textfiles = config.textfile_directory.clone();
            tracing::info!(?interval, textfiles = ?textfiles, "collecting host metrics");
            tokio::spawn(crate::host::run(
                interval,
                config.host_metrics.is_some(),
                textfiles,
                host.clone(),
                config.labels.clone(),
                shipper,
                stop_rx.clone(),
            ));
        }
    }
    let mut supervisor = Supervisor {
        discovery,
        templates,
        shared,
        checkpoints: checkpoints.clone(),
        read_from: config.read_from,
        stop: stop_rx,
        files: HashMap::new(),
        tasks: JoinSet::new(),
        task_files: HashMap::new(),
        first_scan: true,
        waits: HashMap::new(),
    };
    let mut scan_tick = tokio::time::interval(config.scan_interval);
    scan_tick.set_missed_tick_behavior(MissedTickBehavior::Delay);
    let mut checkpoint_tick = tokio::time::interval(config.checkpoint_interval);
    checkpoint_tick.set_missed_tick_behavior(MissedTickBehavior::Delay);
    tokio::pin!(shutdown);
    loop {
        tokio::select! {
            _ = &mut shutdown => break,
            _ = scan_tick.tick() => supervisor.scan().await,
            Some(finished) = supervisor.tasks.join_next_with_id() => supervisor.finished(finished),
            _ = checkpoint_tick.tick() => {
                if let Err(error) = persist(&checkpoints, &delivery).await {
                    metrics::counter!(m::CHECKPOINT_WRITE_ERRORS_TOTAL).increment(1);
                    tracing::warn!(error = %format!("{error:#}"), "failed to write checkpoints; retrying at the next interval");
                }
                // Off the runtime: trimming walks the heap under the allocator's locks.
                tokio::task::spawn_blocking(give_back_free_memory);
            }
        }
    }

    tracing::info!(timeout = ?config.shutdown_timeout, "stopping: flushing pending batches");
    let _ = stop_tx.send(true);
    let tasks = &mut supervisor.tasks;
    let flushed =
        tokio::time::timeout(config.shutdown_timeout, async { while tasks.join_next().await.is_some() {} }).await;
    if flushed.is_err() {
        tracing::warn!(
            files = supervisor.tasks.len(),
            "pending batches were not acknowledged in time; their lines are read again after a restart"
        );
        supervisor.tasks.shutdown().await;
    }
    let _ = drainer.await;
    persist(&checkpoints, &delivery).await.context("failed to write checkpoints at shutdown")?;
    if let Some(server) = server {
        server.abort();
    }
    tracing::info!("vigil-agent stopped");
    Ok(())
}

struct Supervisor {
    discovery: Arc<Discovery>,
    /// One per input, in config order.
    templates: Vec<RecordTemplate>,
    shared: Arc<Shared>,
    checkpoints: Arc<CheckpointStore>,
    read_from: ReadFrom,
    stop: watch::Receiver<bool>,
    files: HashMap<FileId, Arc<FileHandle>>,
    tasks: JoinSet<(FileId, Ended)>,
    task_files: HashMap<tokio::task::Id, FileId>,
    first_scan: bool,
    /// Files looking like a copy of a live one, waiting (see [`Placement::Wait`]).
    waits: HashMap<FileId, Waiting>,
}

/// A file that holds what the live file `original` holds, found when that one had completed
/// `polls_then` polls. It is decided once `original` completed a poll that started after
/// that (which notices a truncation) and no truncation of it awaits retirement: then it
/// either continues the retired stream (a copytruncate copy) or is new (a `cp`).
#[derive(Debug, Clone, Copy)]
struct Waiting {
    original: FileId,
    polls_then: u64,
}

/// A file a scan found, opened and placed; `found.id` is the identity of the opened handle.
struct Opened {
    found: Found,
    file: File,
    start: Start,
    placement: Placement,
}

impl Supervisor {
    async fn scan(&mut self) {
        let discovery = self.discovery.clone();
        let known: HashSet<FileId> = self.files.keys().copied().collect();
        let checkpoints = self.checkpoints.clone();
        let from_end = self.first_scan && self.read_from == ReadFrom::End;
        let decided: HashSet<FileId> =
            self.waits.iter().filter(|(_, waiting)| self.wait_is_over(waiting)).map(|(id, _)| *id).collect();
        let scanned = tokio::task::spawn_blocking(move || {
            scan_and_open(&discovery, &known, &checkpoints, from_end, &|id| !decided.contains(&id))
        })
        .await;
        let (found, opened) = scanned.expect("a scan does not panic");
        let (waiting, opened): (Vec<Opened>, Vec<Opened>) =
            opened.into_iter().partition(|opened| matches!(opened.placement, Placement::Wait { .. }));
        self.waits.retain(|id, _| waiting.iter().any(|w| w.found.id == *id));
        for waiting in waiting {
            let Placement::Wait { of } = waiting.placement else { continue };
            let polls_then = self.files.get(&of).map_or(0, |handle| handle.polls());
            self.waits.entry(waiting.found.id).or_insert_with(|| {
                tracing::debug!(path = %waiting.found.path.display(), original = %of,
                    "the file holds what a tailed file holds; waiting for that one to be read again to tell whether it is its copy");
                Waiting { original: of, polls_then }
            });
        }
        if self.first_scan && found.is_empty() {
            // The commonest first-run mistake is a path that matches nothing: say so.
            tracing::warn!(paths = ?self.discovery.patterns(), "no file matches the configured paths; rescanning until one appears");
        }
        let seen: HashMap<FileId, &Found> = found.iter().map(|found| (found.id, found)).collect();
        for (id, handle) in &self.files {
            match seen.get(id) {
                Some(found) => {
                    handle.mark_present();
                    handle.saw_size(found.size);
                    if handle.path() != found.path {
                        tracing::info!(from = %handle.path().display(), to = %found.path.display(), file = %id, "file renamed");
                        handle.set_path(found.path.clone());
                    }
                }
                None => handle.mark_gone(),
            }
        }
        if self.first_scan {
            let opened_ids: HashSet<FileId> = opened.iter().map(|opened| opened.found.id).collect();
            for stale in self.checkpoints.retain(|id| seen.contains_key(&id) || opened_ids.contains(&id)) {
                tracing::info!(path = %stale.path.display(), stream = %stale.stream,
                    "releasing the checkpoint of a file that no longer exists (a copy of it would continue its stream)");
            }
        }
        for opened in opened {
            self.start(opened);
        }
        self.first_scan = false;
        metrics::gauge!(m::FILES_OPEN).set(self.files.len() as f64);
    }

    fn wait_is_over(&self, waiting: &Waiting) -> bool {
        match self.files.get(&waiting.original) {
            None => true,
            Some(original) => original.polls() >= waiting.polls_then + 2 && !original.truncation_pending(),
        }
    }

    fn start(&mut self, Opened { found, file, start, placement }: Opened) {
        let checkpoint = &start.checkpoint;
        metrics::counter!(m::FILES_PLACED_TOTAL, "placement" => placement.name()).increment(1);
        match &placement {
            Placement::Restarted { reason } => {
                tracing::warn!(path = %found.path.display(), file = %found.id, reason, stream = %checkpoint.stream,
                    "the file's checkpoint no longer describes it; reading it from the start")
            }
            Placement::Continued { from } => {
                tracing::info!(path = %found.path.display(), file = %found.id, from = %from.display(),
                    stream = %checkpoint.stream, offset = checkpoint.offset,
                    "the file holds what an earlier file held (a copytruncate copy, or a released file seen again); continuing where that one was")
            }
            Placement::Resumed | Placement::New | Placement::Wait { .. } => {}
        }
        tracing::info!(path = %found.path.display(), file = %found.id, stream = %checkpoint.stream,
            offset = checkpoint.offset, placement = placement.name(), "tailing file");
        let handle = Arc::new(FileHandle::new(found.id, found.path));
        self.files.insert(found.id, handle.clone());
        let template = self.templates[found.input].clone();
        let task = file_task::run(handle, file, start, template, self.shared.clone(), self.stop.clone());
        let abort = self.tasks.spawn(task);
        self.task_files.insert(abort.id(), found.id);
    }

    fn finished(&mut self, result: Result<(tokio::task::Id, (FileId, Ended)), tokio::task::JoinError>) {
        let task = match &result {
            Ok((task, _)) => *task,
            Err(error) => error.id(),
        };
        let Some(id) = self.task_files.remove(&task) else { return };
        self.files.remove(&id);
        if let Err(error) = result {
            tracing::error!(file = %id, %error, "file task failed; the file is picked up again at the next scan");
        }
        metrics::gauge!(m::FILES_OPEN).set(self.files.len() as f64);
    }
}

/// Scans the globs, opens the files not in `known` and decides where each starts (blocking).
/// Files with a checkpoint of their own are placed first: one found truncated retires its
/// stream before a copy of it is placed.
fn scan_and_open(
    discovery: &Discovery,
    known: &HashSet<FileId>,
    checkpoints: &CheckpointStore,
    from_end: bool,
    may_wait: &dyn Fn(FileId) -> bool,
) -> (Vec<Found>, Vec<Opened>) {
    let found = discovery.scan();
    let mut candidates: Vec<(Found, File)> = Vec::new();
    for candidate in found.iter().filter(|found| !known.contains(&found.id)) {
        let file = match File::open(&candidate.path) {
            Ok(file) => {
                discovery.complaints.clear(&candidate.path);
                file
            }
            Err(error) => {
                discovery.complaints.report(&candidate.path, kind_of(&error), "cannot open the file", &error);
                continue;
            }
        };
        let Ok(metadata) = file.metadata() else { continue };
        // The path may have been replaced between the scan and the open: trust the handle.
        let id = FileId::of(&metadata);
        if known.contains(&id) || candidates.iter().any(|(found, _)| found.id == id) {
            continue;
        }
        if candidate.idle && checkpoints.get(id).is_none() {
            continue;
        }
        let found =
            Found { id, path: candidate.path.clone(), input: candidate.input, size: metadata.len(), idle: false };
        candidates.push((found, file));
    }
    candidates.sort_by_cached_key(|(found, _)| checkpoints.get(found.id).is_none());
    let mut opened = Vec::new();
    for (found, file) in candidates {
        let placing = Candidate { id: found.id, path: &found.path, file: &file, size: found.size };
        match checkpoints.with_state(|state| place(state, &placing, from_end, may_wait(found.id))) {
            Ok((checkpoint, head, placement)) => {
                opened.push(Opened { start: Start { checkpoint, head }, placement, found, file });
            }
            Err(error) => {
                tracing::warn!(path = %found.path.display(), %error, "failed to read the file's first bytes; trying again at the next scan");
            }
        }
    }
    // A stream name must be on disk before any of its lines is shipped: a restart that
    // forgot it would ship the same lines again under another name, which the pipeline's
    // resend filter cannot recognise.
    let named = opened.iter().any(|o| matches!(o.placement, Placement::New | Placement::Restarted { .. }));
    if let Err(error) = if named { checkpoints.persist().map(drop) } else { Ok(()) } {
        tracing::error!(%error, "failed to record where new files start; a crash now may ship their lines twice");
    }
    (found, opened)
}

/// Writes the checkpoints, then the ledger (blocking work, off the runtime).
async fn persist(checkpoints: &Arc<CheckpointStore>, delivery: &Arc<Delivery>) -> anyhow::Result<()> {
    let (store, delivery) = (checkpoints.clone(), delivery.clone());
    tokio::task::spawn_blocking(move || -> anyhow::Result<()> {
        store.persist()?;
        let held = delivery.spool.as_ref().map(|spool| spool.held()).unwrap_or_default();
        delivery.ledger.persist(held).context("failed to write the ledger")
    })
    .await
    .context("checkpoint writer panicked")??;
    Ok(())
}

/// Returns the heap's free pages to the system. A burst (a busy file's batches in flight,
/// and librdkafka's copies of them) leaves freed memory that glibc would otherwise keep, so
/// the agent's resident memory stayed at its peak: at a steady 10 MB/s, 31 MiB instead of the
/// about 22 MiB it uses.
fn give_back_free_memory() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: malloc_trim only walks and trims the allocator's own free lists.
    unsafe {
        libc::malloc_trim(0);
    }
}

async fn serve_observability(listener: TcpListener) {
    if let Err(error) = axum::serve(listener, vigil_common::http::observability_routes()).await {
        tracing::error!(%error, "the /health and /metrics server stopped");
    }
}
