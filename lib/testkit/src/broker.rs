//! A real Kafka-protocol broker (tansu) on a free loopback port.

use std::{
    net::TcpStream,
    path::Path,
    process::Command,
    time::{Duration, Instant},
};

use crate::{free_port, Process};

/// Where the broker keeps messages.
#[derive(Debug, Clone)]
pub enum BrokerStorage {
    /// Forgets everything when the broker stops.
    Memory,
    /// A PostgreSQL URL (the database needs tansu's schema): survives broker restarts.
    Postgres(String),
    /// A SQLite database in this directory (tansu creates its schema): survives broker
    /// restarts.
    Sqlite(std::path::PathBuf),
}

pub struct Broker {
    process: Process,
    port: u16,
}

impl Broker {
    /// Starts `tansu broker` (it must be on PATH or in ~/.cargo/bin: the test command
    /// installs it) and waits until it accepts connections.
    pub fn start(storage: BrokerStorage, log_dir: &Path) -> Broker {
        let port = free_port();
        let url = format!("tcp://127.0.0.1:{port}");
        // tansu reads a sqlite:// path relative to its working directory.
        let (engine, cwd) = match storage {
            BrokerStorage::Memory => ("memory://tansu/".to_string(), None),
            BrokerStorage::Postgres(url) => (url, None),
            BrokerStorage::Sqlite(dir) => ("sqlite://tansu.db".to_string(), Some(dir)),
        };
        let args = vec![
            "broker".to_string(),
            "--listener-url".to_string(),
            url.clone(),
            "--advertised-listener-url".to_string(),
            url,
            "--storage-engine".to_string(),
            engine,
        ];
        let log = log_dir.join(format!("tansu-{port}.log"));
        let process = Process::start_in(cwd.as_deref(), &tansu_path(), &args, &[], &log);
        let broker = Broker { process, port };
        broker.wait_accepting();
        broker
    }

    pub fn address(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    pub fn create_topic(&self, topic: &str, partitions: u32) {
        let status = Command::new(tansu_path())
            .args(["topic", "create", "--broker", &format!("tcp://{}", self.address())])
            .args(["--partitions", &partitions.to_string(), topic])
            .status()
            .expect("tansu topic create runs");
        assert!(status.success(), "failed to create topic {topic}");
    }

    pub fn kill(&mut self) {
        self.process.kill();
    }

    pub fn restart(&mut self) {
        self.process.restart();
        self.wait_accepting();
    }

    fn wait_accepting(&self) {
        let deadline = Instant::now() + Duration::from_secs(30);
        while TcpStream::connect(("127.0.0.1", self.port)).is_err() {
            assert!(Instant::now() < deadline, "broker did not start:\n{}", self.process.output());
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

fn tansu_path() -> std::path::PathBuf {
    let home_bin = std::env::var_os("HOME").map(|home| Path::new(&home).join(".cargo/bin/tansu"));
    match home_bin {
        Some(path) if path.exists() => path,
        _ => "tansu".into(),
    }
}
