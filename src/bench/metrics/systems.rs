//! The two systems under test, each a child process on loopback with its data in the
//! scratch directory: `vigil up`, and Prometheus with its remote-write receiver.

use std::{
    path::{Path, PathBuf},
    process::{Child, Command, Stdio},
    time::{Duration, Instant},
};

use anyhow::Context;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum System {
    Vigil,
    Prometheus,
}

impl System {
    pub fn name(self) -> &'static str {
        match self {
            System::Vigil => "vigil",
            System::Prometheus => "prometheus",
        }
    }
}

pub struct Running {
    pub system: System,
    pub base: String,
    pub data: PathBuf,
    child: Child,
}

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Running {
    pub async fn start(system: System, dir: &Path) -> anyhow::Result<Running> {
        std::fs::create_dir_all(dir)?;
        let port = crate::bench::free_port()?;
        let listen = format!("127.0.0.1:{port}");
        let data = dir.join("data");
        let log = std::fs::File::create(dir.join("server.log"))?;
        let mut command = match system {
            System::Vigil => {
                let mut command = Command::new(std::env::current_exe()?);
                command.args(["up", "--data-dir", &data.display().to_string(), "--listen", &listen]);
                // Compaction is timed by the bench's wait, not by the default minute.
                command.env("VIGIL__METRICS__MAINTENANCE_INTERVAL", "5s");
                command
            }
            System::Prometheus => {
                let config = dir.join("prometheus.yml");
                std::fs::write(&config, "global:\n  scrape_interval: 1h\n")?;
                let mut command = Command::new("prometheus");
                command.args([
                    &format!("--config.file={}", config.display()),
                    &format!("--storage.tsdb.path={}", data.display()),
                    &format!("--web.listen-address={listen}"),
                    "--web.enable-remote-write-receiver",
                    "--storage.tsdb.retention.time=30d",
                ]);
                command
            }
        };
        let child = command
            .stdin(Stdio::null())
            .stdout(log.try_clone()?)
            .stderr(log)
            .spawn()
            .with_context(|| format!("failed to start {} (is it installed?)", system.name()))?;
        let running = Running { system, base: format!("http://{listen}"), data, child };
        let ready = match system {
            System::Vigil => format!("{}/health", running.base),
            System::Prometheus => format!("{}/-/ready", running.base),
        };
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            if reqwest::get(&ready).await.is_ok_and(|r| r.status().is_success()) {
                return Ok(running);
            }
            anyhow::ensure!(Instant::now() < deadline, "{} did not become ready", system.name());
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// CPU seconds the process has used (user + system), from /proc.
    pub fn cpu_seconds(&self) -> f64 {
        let stat = std::fs::read_to_string(format!("/proc/{}/stat", self.pid())).unwrap_or_default();
        // Fields after the command name (which may hold spaces) start after ") ".
        let fields: Vec<&str> = stat.rsplit_once(") ").map(|(_, rest)| rest.split(' ').collect()).unwrap_or_default();
        let ticks = |i: usize| fields.get(i).and_then(|v| v.parse::<f64>().ok()).unwrap_or(0.0);
        (ticks(11) + ticks(12)) / 100.0
    }

    /// Bytes under the data directory.
    pub fn disk_bytes(&self, sub: &str) -> u64 {
        dir_size(&self.data.join(sub))
    }

    /// The raw (full-resolution) blocks on disk: each system's block directories, their bytes
    /// and the samples their own metadata counts. Blocks being written are left out.
    pub fn raw_blocks(&self) -> super::Blocks {
        let (dir, samples_of): (PathBuf, fn(&serde_json::Value) -> Option<u64>) = match self.system {
            System::Vigil => (self.data.join("metrics/blocks"), |meta| {
                (meta["resolution_ms"].as_i64()? == 0).then(|| meta["samples"].as_u64()).flatten()
            }),
            System::Prometheus => (self.data.clone(), |meta| meta["stats"]["numSamples"].as_u64()),
        };
        let mut blocks = super::Blocks::default();
        for entry in std::fs::read_dir(dir).into_iter().flatten().flatten() {
            let path = entry.path();
            let name = path.file_name().and_then(|n| n.to_str()).unwrap_or_default();
            if name.ends_with(".tmp") || name.ends_with(".corrupt") {
                continue;
            }
            let Ok(text) = std::fs::read_to_string(path.join("meta.json")) else { continue };
            let Some(samples) = serde_json::from_str(&text).ok().as_ref().and_then(samples_of) else { continue };
            blocks.count += 1;
            blocks.samples += samples;
            blocks.bytes += dir_size(&path);
        }
        blocks
    }
}

fn dir_size(path: &Path) -> u64 {
    let Ok(entries) = std::fs::read_dir(path) else { return std::fs::metadata(path).map(|m| m.len()).unwrap_or(0) };
    entries
        .flatten()
        .map(|e| if e.path().is_dir() { dir_size(&e.path()) } else { e.metadata().map(|m| m.len()).unwrap_or(0) })
        .sum()
}
