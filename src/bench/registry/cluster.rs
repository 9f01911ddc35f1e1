//! The two 3-node clusters the benchmark drives: Vigil's registry (this binary, `run --roles
//! registry`) and etcd, as separate processes on loopback with data on the same disk.

use std::{
    path::{Path, PathBuf},
    process::{Child, Command, Stdio},
    time::{Duration, Instant},
};

use anyhow::Context;
use serde_json::Value;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum System {
    Vigil,
    Etcd,
}

impl System {
    pub fn name(self) -> &'static str {
        match self {
            System::Vigil => "vigil",
            System::Etcd => "etcd",
        }
    }
}

struct Member {
    program: PathBuf,
    args: Vec<String>,
    log: PathBuf,
    child: Option<Child>,
    /// Where clients reach it (`host:port`).
    client_address: String,
}

impl Member {
    fn start(&mut self) -> anyhow::Result<()> {
        let log = std::fs::OpenOptions::new().create(true).append(true).open(&self.log)?;
        let child = Command::new(&self.program)
            .args(&self.args)
            .stdin(Stdio::null())
            .stdout(log.try_clone()?)
            .stderr(log)
            .spawn()
            .with_context(|| format!("failed to start {}", self.program.display()))?;
        self.child = Some(child);
        Ok(())
    }

    fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

pub struct Cluster {
    pub system: System,
    members: Vec<Member>,
    client: reqwest::Client,
}

impl Drop for Cluster {
    fn drop(&mut self) {
        for member in &mut self.members {
            member.kill();
        }
    }
}

impl Cluster {
    /// `nodes` registry nodes of this binary, auth off (etcd runs without auth too).
    pub fn vigil(dir: &Path, nodes: usize) -> anyhow::Result<Cluster> {
        let exe = std::env::current_exe()?;
        let ports: Vec<u16> = (0..nodes).map(|_| crate::bench::free_port()).collect::<anyhow::Result<_>>()?;
        let peers: Vec<String> =
            ports.iter().enumerate().map(|(i, p)| format!("\"{}=127.0.0.1:{p}\"", i + 1)).collect();
        let mut members = Vec::new();
        for (i, port) in ports.iter().enumerate() {
            let node_dir = dir.join(format!("vigil-{}", i + 1));
            std::fs::create_dir_all(&node_dir)?;
            let config = node_dir.join("vigil.toml");
            std::fs::write(
                &config,
                format!(
                    "data_dir = \"{}\"\nlisten = \"127.0.0.1:{port}\"\n[registry]\nnode_id = {}\nauth = false\npeers = [{}]\n",
                    node_dir.join("data").display(),
                    i + 1,
                    peers.join(", ")
                ),
            )?;
            members.push(Member {
                program: exe.clone(),
                args: ["run", "--config", &config.display().to_string(), "--roles", "registry"]
                    .map(String::from)
                    .to_vec(),
                log: node_dir.join("vigil.log"),
                child: None,
                client_address: format!("127.0.0.1:{port}"),
            });
        }
        Cluster::start(System::Vigil, members)
    }

    /// Three etcd members (Debian `etcd-server`), as in ../shared/peers.md.
    pub fn etcd(dir: &Path) -> anyhow::Result<Cluster> {
        let program =
            which("etcd").context("etcd is not installed: apt-get install etcd-server (or pass --skip-etcd)")?;
        let peer_ports = [crate::bench::free_port()?, crate::bench::free_port()?, crate::bench::free_port()?];
        let client_ports = [crate::bench::free_port()?, crate::bench::free_port()?, crate::bench::free_port()?];
        let initial: Vec<String> =
            peer_ports.iter().enumerate().map(|(i, p)| format!("n{}=http://127.0.0.1:{p}", i + 1)).collect();
        let mut members = Vec::new();
        for i in 0..3 {
            let data = dir.join(format!("etcd-{}", i + 1));
            std::fs::create_dir_all(&data)?;
            let args = vec![
                "--name".into(),
                format!("n{}", i + 1),
                "--data-dir".into(),
                data.join("data").display().to_string(),
                "--listen-peer-urls".into(),
                format!("http://127.0.0.1:{}", peer_ports[i]),
                "--initial-advertise-peer-urls".into(),
                format!("http://127.0.0.1:{}", peer_ports[i]),
                "--listen-client-urls".into(),
                format!("http://127.0.0.1:{}", client_ports[i]),
                "--advertise-client-urls".into(),
                format!("http://127.0.0.1:{}", client_ports[i]),
                "--initial-cluster".into(),
                initial.join(","),
                "--initial-cluster-state".into(),
                "new".into(),
            ];
            members.push(Member {
                program: program.clone(),
                args,
                log: data.join("etcd.log"),
                child: None,
                client_address: format!("127.0.0.1:{}", client_ports[i]),
            });
        }
        Cluster::start(System::Etcd, members)
    }

    fn start(system: System, mut members: Vec<Member>) -> anyhow::Result<Cluster> {
        for member in &mut members {
            member.start()?;
        }
        let client = reqwest::Client::builder().timeout(Duration::from_secs(2)).build()?;
        Ok(Cluster { system, members, client })
    }

    pub fn addresses(&self) -> Vec<String> {
        self.members.iter().map(|m| m.client_address.clone()).collect()
    }

    /// Index of the member that leads, once every running member names the same leader (a
    /// deposed leader that has not noticed yet must not be taken for the leader).
    pub async fn leader(&self) -> Option<usize> {
        let mut agreed: Option<String> = None;
        let mut leader_index = None;
        for (index, member) in self.members.iter().enumerate() {
            if member.child.is_none() {
                continue;
            }
            let (leader, me) = self.view(&member.client_address).await?;
            if agreed.get_or_insert_with(|| leader.clone()) != &leader {
                return None;
            }
            if leader == me {
                leader_index = Some(index);
            }
        }
        leader_index
    }

    /// Waits until every running member has applied as far as the most advanced one (within a
    /// few entries), so a kill never lands while a restarted member is still catching up.
    pub async fn wait_caught_up(&self, timeout: Duration) -> anyhow::Result<()> {
        let deadline = Instant::now() + timeout;
        loop {
            let mut applied = Vec::new();
            for member in self.members.iter().filter(|m| m.child.is_some()) {
                applied.push(self.applied_index(&member.client_address).await);
            }
            if let Some(indexes) = applied.into_iter().collect::<Option<Vec<u64>>>() {
                let (min, max) =
                    (indexes.iter().min().copied().unwrap_or(0), indexes.iter().max().copied().unwrap_or(0));
                if max - min <= 5 {
                    return Ok(());
                }
            }
            anyhow::ensure!(
                Instant::now() < deadline,
                "{} members did not catch up within {timeout:?}",
                self.system.name()
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    async fn applied_index(&self, address: &str) -> Option<u64> {
        let status = self.status(address).await?;
        match self.system {
            System::Vigil => status["applied_index"].as_u64(),
            System::Etcd => {
                let index = &status["raftAppliedIndex"];
                index.as_str().and_then(|s| s.parse().ok()).or_else(|| index.as_u64())
            }
        }
    }

    /// (the leader this member names, its own id), as strings.
    async fn view(&self, address: &str) -> Option<(String, String)> {
        let status = self.status(address).await?;
        match self.system {
            System::Vigil => Some((status["leader"].as_u64()?.to_string(), status["node_id"].as_u64()?.to_string())),
            System::Etcd => {
                Some((status["leader"].as_str()?.to_string(), status["header"]["member_id"].as_str()?.to_string()))
            }
        }
    }

    /// A member's status document (`/v1/cluster/status`, or etcd's maintenance status).
    async fn status(&self, address: &str) -> Option<Value> {
        let request = match self.system {
            System::Vigil => self.client.get(format!("http://{address}/v1/cluster/status")),
            System::Etcd => self.client.post(format!("http://{address}/v3/maintenance/status")).body("{}"),
        };
        request.send().await.ok()?.json().await.ok()
    }

    /// Waits until a member other than `not` leads.
    pub async fn wait_for_leader(&self, not: Option<usize>, timeout: Duration) -> anyhow::Result<usize> {
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(leader) = self.leader().await.filter(|l| Some(*l) != not) {
                return Ok(leader);
            }
            anyhow::ensure!(Instant::now() < deadline, "{} elected no leader within {timeout:?}", self.system.name());
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    pub fn kill(&mut self, member: usize) {
        self.members[member].kill();
    }

    pub fn restart(&mut self, member: usize) -> anyhow::Result<()> {
        self.members[member].start()
    }

    /// The last `lines` lines of every member's log, for an error report (the scratch
    /// directory is deleted when the bench stops).
    pub fn log_tails(&self, lines: usize) -> String {
        let mut tails = String::new();
        for (i, member) in self.members.iter().enumerate() {
            let text = std::fs::read_to_string(&member.log).unwrap_or_default();
            let all: Vec<&str> = text.lines().collect();
            tails.push_str(&format!("--- member {i} ({}) ---\n", member.client_address));
            tails.push_str(&all[all.len().saturating_sub(lines)..].join("\n"));
            tails.push('\n');
        }
        tails
    }
}

fn which(program: &str) -> Option<PathBuf> {
    std::env::var_os("PATH")?.to_str()?.split(':').map(|dir| Path::new(dir).join(program)).find(|path| path.is_file())
}
