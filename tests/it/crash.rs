//! kill -9 of the server mid-ingest, restart: every acknowledged line exactly once.

use std::{
    sync::{
        atomic::{AtomicUsize, Ordering},
        Arc,
    },
    time::Duration,
};

use prost::Message as _;
use vigil_model::content_type;

use crate::helpers::{assert_each_seq_once, batch_of, with_offsets, TestApp};

const LINES: usize = 6_000;
const BATCH: usize = 100;
const BASE_MS: i64 = 1_704_067_200_000; // 2024-01-01T00:00:00Z

fn line(n: usize) -> Vec<u8> {
    // A unique timestamp per line gives a total order to page through.
    let ms = BASE_MS + n as i64;
    format!("{} INFO worker seq{n} did its job", ms).into_bytes()
}

/// Sends every batch until it is acknowledged, like the agent: an answer lost in the crash
/// means the batch is sent again, and the pipeline must not index it twice.
async fn send_all(base: String, acked: Arc<AtomicUsize>) {
    let client = reqwest::Client::new();
    let lines: Vec<Vec<u8>> = (0..LINES).map(line).collect();
    let refs: Vec<&[u8]> = lines.iter().map(Vec::as_slice).collect();
    for chunk in with_offsets(&refs).chunks(BATCH) {
        let body = batch_of("crashy", "/var/log/crashy.log", chunk).encode_to_vec();
        loop {
            let sent = client
                .post(format!("{base}/api/v1/logs/ingest"))
                .header("content-type", content_type::LOG_BATCH_V1)
                .body(body.clone())
                .timeout(Duration::from_secs(10))
                .send()
                .await;
            if matches!(&sent, Ok(response) if response.status().is_success()) {
                break;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        acked.fetch_add(1, Ordering::SeqCst);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill_9_mid_ingest_loses_nothing_and_duplicates_nothing() {
    let mut app = TestApp::up().await;
    let acked = Arc::new(AtomicUsize::new(0));
    let sender = tokio::spawn(send_all(app.base.clone(), acked.clone()));
    for kill_after in [15, 40] {
        vigil_testkit::wait_until("batches to be acknowledged", Duration::from_secs(60), || {
            let acked = acked.load(Ordering::SeqCst);
            async move { (acked >= kill_after).then_some(()) }
        })
        .await;
        app.process.kill();
        app.restart().await;
    }
    sender.await.expect("sender finishes");
    let total = app.wait_total(&[("service", "crashy")], LINES as u64).await;
    assert_eq!(total, LINES as u64, "every line once: none lost, none twice");

    assert_each_seq_once(&app, ("service", "crashy"), LINES).await;
}
