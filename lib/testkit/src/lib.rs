//! Test harness: real components, unique names, readiness by polling with a deadline.
//!
//! [`Broker`] starts a real Kafka-protocol broker (tansu), [`Process`] runs one of our
//! binaries and can SIGKILL it, [`shared_data`] finds the real data set, and [`wait_until`]
//! replaces every fixed sleep.

mod broker;
mod process;

use std::{
    future::Future,
    net::TcpListener,
    path::PathBuf,
    sync::atomic::{AtomicU64, Ordering},
    time::{Duration, Instant},
};

pub use broker::{Broker, BrokerStorage};
pub use process::Process;

/// A port nothing listens on right now (for processes that cannot be handed a listener).
pub fn free_port() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").expect("binding port 0 on loopback works");
    listener.local_addr().expect("a bound socket has an address").port()
}

/// A name no other test in this run uses: `prefix-<pid>-<counter>`.
pub fn unique_name(prefix: &str) -> String {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    format!("{prefix}-{}-{}", std::process::id(), COUNTER.fetch_add(1, Ordering::Relaxed))
}

/// The shared real-world data set (`../shared/data` beside the repository), or `None` with a
/// printed note when it is not there. `VIGIL_SHARED_DATA` overrides the location.
pub fn shared_data() -> Option<PathBuf> {
    let path = std::env::var_os("VIGIL_SHARED_DATA")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../../../shared/data")));
    if path.join("README.md").exists() {
        Some(path)
    } else {
        eprintln!("shared data not found at {}: skipping the parts that need it", path.display());
        None
    }
}

/// Polls `check` until it returns `Some` or `timeout` passes (then panics with `what`).
pub async fn wait_until<T, F, Fut>(what: &str, timeout: Duration, mut check: F) -> T
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Option<T>>,
{
    let deadline = Instant::now() + timeout;
    loop {
        if let Some(value) = check().await {
            return value;
        }
        assert!(Instant::now() < deadline, "timed out after {timeout:?} waiting for {what}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Waits until `GET {base}/health` answers 200.
pub async fn wait_healthy(base: &str, timeout: Duration) {
    let client = reqwest::Client::new();
    let url = format!("{base}/health");
    wait_until(&format!("{url} to answer"), timeout, || {
        let request = client.get(&url).timeout(Duration::from_secs(1)).send();
        async move { request.await.ok().filter(|r| r.status().is_success()).map(|_| ()) }
    })
    .await
}
