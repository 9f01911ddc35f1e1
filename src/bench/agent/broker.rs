//! The Kafka-protocol broker both shippers produce to: tansu with its in-memory storage
//! engine (as the project's tests run it, see `lib/testkit/src/broker.rs`), on a free loopback
//! port and pinned away from the shipper's core. Each measurement gets a fresh one, so neither
//! shipper writes to a broker already holding the other's gigabyte.

use std::{
    path::{Path, PathBuf},
    time::{Duration, Instant},
};

use anyhow::Context;

use super::process::{self, Running};

pub struct Broker {
    process: Running,
    pub address: String,
    tansu: PathBuf,
}

/// `tansu` from ~/.cargo/bin or PATH.
pub fn find_tansu() -> anyhow::Result<PathBuf> {
    let home_bin = std::env::var_os("HOME").map(|home| Path::new(&home).join(".cargo/bin/tansu"));
    if let Some(path) = home_bin.filter(|path| path.is_file()) {
        return Ok(path);
    }
    let on_path = std::env::var_os("PATH")
        .and_then(|paths| std::env::split_paths(&paths).map(|dir| dir.join("tansu")).find(|path| path.is_file()));
    on_path.context(
        "tansu (the Kafka-protocol broker) is not on PATH or in ~/.cargo/bin: \
         cargo install --locked tansu --features dynostore",
    )
}

impl Broker {
    /// Starts tansu on `cpus` and waits until it accepts connections.
    pub async fn start(tansu: &Path, dir: &Path, cpus: Option<&str>) -> anyhow::Result<Broker> {
        std::fs::create_dir_all(dir)?;
        let port = crate::bench::free_port()?;
        let url = format!("tcp://127.0.0.1:{port}");
        let mut command = process::command(tansu, cpus);
        command.args(["broker", "--listener-url", &url, "--advertised-listener-url", &url]);
        command.args(["--storage-engine", "memory://tansu/"]);
        let process = Running::start("tansu", command, &dir.join("tansu.log"), false)?;
        let mut broker = Broker { process, address: format!("127.0.0.1:{port}"), tansu: tansu.to_path_buf() };
        let deadline = Instant::now() + Duration::from_secs(30);
        while tokio::net::TcpStream::connect(&broker.address).await.is_err() {
            broker.process.ensure_running()?;
            anyhow::ensure!(Instant::now() < deadline, "tansu did not accept connections within 30 s");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        Ok(broker)
    }

    pub async fn create_topic(&self, topic: &str, partitions: u32) -> anyhow::Result<()> {
        let output = tokio::process::Command::new(&self.tansu)
            .args(["topic", "create", "--broker", &format!("tcp://{}", self.address)])
            .args(["--partitions", &partitions.to_string(), topic])
            .output()
            .await
            .context("failed to run tansu topic create")?;
        anyhow::ensure!(
            output.status.success(),
            "failed to create topic {topic}: {}",
            String::from_utf8_lossy(&output.stderr).trim()
        );
        Ok(())
    }

    pub fn cpu_seconds(&self) -> f64 {
        self.process.cpu_seconds()
    }

    pub async fn stop(self) {
        self.process.stop().await;
    }
}
