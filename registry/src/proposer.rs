//! Group commit for client writes on the leader.
//!
//! openraft 0.9 waits for each log append to be flushed before it takes the next one, so
//! proposing every client write as its own entry costs one fsync per write. The proposer
//! queues concurrent writes and proposes everything queued as one `Batch` entry: one append,
//! one fsync, one replication round for many clients. At most [`IN_FLIGHT`] batches are
//! proposed at once; while they are, new writes gather into the next batch, so batches grow
//! with the load and a lone write still goes out at once.

use std::sync::Arc;

use openraft::error::RaftError;
use tokio::sync::{mpsc, oneshot, Semaphore};
use vigil_common::http::ApiError;
use vigil_model::registry::{Command, CommandOutcome, RegistryRequest, REGISTRY_SCHEMA_VERSION};

use crate::Raft;

/// Batches proposed and not yet answered.
const IN_FLIGHT: usize = 4;
/// The most commands in one entry (bounds an entry's size and a follower's append).
const MAX_BATCH: usize = 1024;
/// Writes waiting for a batch; past this, callers wait to queue.
const QUEUE: usize = 16_384;

type Reply = oneshot::Sender<Result<CommandOutcome, ApiError>>;

#[derive(Clone)]
pub(crate) struct Proposer {
    queue: mpsc::Sender<(Command, Reply)>,
    timeout: std::time::Duration,
}

impl Proposer {
    pub(crate) fn start(raft: Raft, timeout: std::time::Duration) -> Proposer {
        let (queue, pending) = mpsc::channel(QUEUE);
        tokio::spawn(run(raft, pending));
        Proposer { queue, timeout }
    }

    /// Proposes `command` and waits until it is applied.
    pub(crate) async fn propose(&self, command: Command) -> Result<CommandOutcome, ApiError> {
        let (reply, answer) = oneshot::channel();
        self.queue.send((command, reply)).await.map_err(|_| ApiError::unavailable("the registry is shutting down"))?;
        match tokio::time::timeout(self.timeout, answer).await {
            Ok(answer) => answer.map_err(|_| ApiError::unavailable("the registry is shutting down"))?,
            Err(_) => Err(ApiError::unavailable(format!(
                "the write was not committed within {:?} (the leader may have lost its quorum); it may still be applied: read before retrying",
                self.timeout
            ))),
        }
    }
}

async fn run(raft: Raft, mut pending: mpsc::Receiver<(Command, Reply)>) {
    let permits = Arc::new(Semaphore::new(IN_FLIGHT));
    while let Some(first) = pending.recv().await {
        let Ok(permit) = permits.clone().acquire_owned().await else { return };
        let mut batch = vec![first];
        while batch.len() < MAX_BATCH {
            match pending.try_recv() {
                Ok(next) => batch.push(next),
                Err(_) => break,
            }
        }
        let raft = raft.clone();
        tokio::spawn(async move {
            let _permit = permit;
            propose_batch(&raft, batch).await;
        });
    }
}

async fn propose_batch(raft: &Raft, batch: Vec<(Command, Reply)>) {
    let started = std::time::Instant::now();
    metrics::histogram!(crate::metrics::BATCH_COMMANDS).record(batch.len() as f64);
    let (commands, replies): (Vec<Command>, Vec<Reply>) = batch.into_iter().unzip();
    let single = commands.len() == 1;
    let command = if single { commands.into_iter().next().expect("one command") } else { Command::Batch { commands } };
    let request = RegistryRequest { version: REGISTRY_SCHEMA_VERSION, at_ms: crate::node::now_ms(), command };
    let result = match raft.client_write(request).await {
        Ok(response) => Ok(response.data),
        Err(RaftError::APIError(error)) => Err(ApiError::unavailable(format!("{error}; retry"))),
        Err(RaftError::Fatal(error)) => Err(ApiError::internal(format!("registry stopped: {error}"))),
    };
    metrics::histogram!(crate::metrics::COMMIT_SECONDS).record(started.elapsed().as_secs_f64());
    match result {
        Ok(CommandOutcome::Batch { outcomes }) if !single => {
            for (reply, outcome) in replies.into_iter().zip(outcomes) {
                count(&outcome);
                let _ = reply.send(Ok(outcome));
            }
        }
        Ok(outcome) => {
            for reply in replies {
                count(&outcome);
                let _ = reply.send(Ok(outcome.clone()));
            }
        }
        Err(error) => {
            for reply in replies {
                metrics::counter!(crate::metrics::WRITES_TOTAL, "outcome" => "error").increment(1);
                let _ = reply.send(Err(error.clone()));
            }
        }
    }
}

fn count(outcome: &CommandOutcome) {
    let label = match outcome {
        CommandOutcome::Applied { .. } => "applied",
        CommandOutcome::Unchanged { .. } => "unchanged",
        CommandOutcome::CasFailed { .. } => "cas_failed",
        CommandOutcome::NotFound => "not_found",
        CommandOutcome::Batch { .. } => "batch",
    };
    metrics::counter!(crate::metrics::WRITES_TOTAL, "outcome" => label).increment(1);
}
