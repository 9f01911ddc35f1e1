//! The real `vigil-agent`: its binary, a config file for one input and a Kafka output, and
//! how far it got (`vigil_agent_bytes_acknowledged_total` on its `/metrics`).

use std::{
    path::{Path, PathBuf},
    time::{Duration, Instant},
};

use anyhow::Context;

use super::{
    process::{self, Running},
    Setup, HOST, SERVICE,
};

/// `--agent-bin`, else `vigil-agent` next to this executable (both built by
/// `cargo build --release -p vigil -p vigil-collector`).
pub fn find_binary(flag: Option<PathBuf>) -> anyhow::Result<PathBuf> {
    if let Some(path) = flag {
        anyhow::ensure!(path.is_file(), "--agent-bin {}: no such file", path.display());
        return Ok(path);
    }
    let exe = std::env::current_exe().context("failed to find this executable")?;
    let path = exe.with_file_name("vigil-agent");
    anyhow::ensure!(
        path.is_file(),
        "vigil-agent is not next to {}: build both with `cargo build --release -p vigil -p vigil-collector` \
         (or pass --agent-bin)",
        exe.display()
    );
    if path.components().any(|c| c.as_os_str() == "debug") {
        eprintln!("warning: {} looks like a debug build; the figures need a release build", path.display());
    }
    Ok(path)
}

pub struct Agent {
    pub process: Running,
    metrics_url: String,
    health_url: String,
    client: reqwest::Client,
}

impl Agent {
    /// Writes the config (`read_from = "beginning"`, its own data directory under `dir`) and
    /// starts the agent pinned to `cpus`, tailing `file`.
    pub fn start(setup: &Setup, dir: &Path, file: &Path, brokers: &str, cpus: &str) -> anyhow::Result<Agent> {
        std::fs::create_dir_all(dir)?;
        let listen = format!("127.0.0.1:{}", crate::bench::free_port()?);
        let config = dir.join("agent.toml");
        std::fs::write(&config, config_toml(setup, &dir.join("data"), file, brokers, &listen))?;
        let mut command = process::command(&setup.agent_bin, Some(cpus));
        command.arg("--config").arg(&config);
        // The agent's own overrides would change what is measured.
        for (key, _) in std::env::vars_os() {
            if key.to_string_lossy().starts_with("VIGIL__") {
                command.env_remove(key);
            }
        }
        let process = Running::start("vigil-agent", command, &dir.join("agent.log"), false)?;
        Ok(Agent {
            process,
            metrics_url: format!("http://{listen}/metrics"),
            health_url: format!("http://{listen}/health"),
            client: reqwest::Client::builder().timeout(Duration::from_secs(5)).build()?,
        })
    }

    /// File bytes of acknowledged lines; `None` while `/metrics` does not answer yet.
    pub async fn acknowledged_bytes(&self) -> Option<u64> {
        let text = self.client.get(&self.metrics_url).send().await.ok()?.text().await.ok()?;
        Some(counter(&text, "vigil_agent_bytes_acknowledged_total").unwrap_or(0.0) as u64)
    }

    /// Waits until `/health` answers.
    pub async fn wait_ready(&mut self) -> anyhow::Result<()> {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            if self.client.get(&self.health_url).send().await.is_ok_and(|r| r.status().is_success()) {
                return Ok(());
            }
            self.process.ensure_running()?;
            anyhow::ensure!(Instant::now() < deadline, "vigil-agent did not answer /health within 30 s");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}

fn config_toml(setup: &Setup, data_dir: &Path, file: &Path, brokers: &str, listen: &str) -> String {
    // JSON strings are valid TOML basic strings.
    let quote = |text: &str| serde_json::to_string(text).expect("a string serializes");
    format!(
        "[agent]\n\
         data_dir = {data_dir}\n\
         host = {host}\n\
         listen = {listen}\n\
         read_from = \"beginning\"\n\
         \n\
         [[agent.inputs]]\n\
         paths = [{file}]\n\
         service = {service}\n\
         \n\
         [agent.output]\n\
         kafka = {{ brokers = {brokers}, topic = {topic}, compression = {compression}, properties = {{ {properties} }}, in_flight = {in_flight} }}\n\
         \n\
         [agent.batch]\n\
         max_lines = {max_lines}\n\
         max_bytes = {max_bytes}\n",
        data_dir = quote(&data_dir.to_string_lossy()),
        host = quote(HOST),
        listen = quote(listen),
        file = quote(&file.to_string_lossy()),
        service = quote(SERVICE),
        brokers = quote(brokers),
        topic = quote(super::TOPIC),
        compression = quote(&setup.compression),
        properties = setup
            .producer_properties
            .iter()
            .map(|(key, value)| format!("{} = {}", quote(key), quote(value)))
            .collect::<Vec<_>>()
            .join(", "),
        max_lines = setup.max_lines,
        in_flight = setup.agent_in_flight,
        max_bytes = setup.max_bytes,
    )
}

/// The value of an unlabelled counter in Prometheus text.
fn counter(text: &str, name: &str) -> Option<f64> {
    text.lines().find_map(|line| line.strip_prefix(name)?.strip_prefix(' ')?.trim().parse().ok())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_an_unlabelled_counter() {
        let text = "# TYPE vigil_agent_bytes_acknowledged_total counter\n\
                    vigil_agent_bytes_acknowledged_total_other 5\n\
                    vigil_agent_bytes_acknowledged_total 1048576\n";
        assert_eq!(counter(text, "vigil_agent_bytes_acknowledged_total"), Some(1048576.0));
        assert_eq!(counter(text, "vigil_agent_lines_read_total"), None);
    }
}
