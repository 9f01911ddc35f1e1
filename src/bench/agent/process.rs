//! A child process of the bench, optionally pinned to chosen cores (`taskset -c`), its output
//! in a log file, killed when dropped (also when the bench fails or is interrupted).

use std::{
    path::{Path, PathBuf},
    process::Stdio,
};

use anyhow::Context;
use tokio::process::{Child, Command};

use super::sample;

/// A command for `program`, run on `cpus` (a `taskset` list such as `1` or `0,2-3`) when given.
pub fn command(program: &Path, cpus: Option<&str>) -> Command {
    let mut command = match cpus {
        Some(cpus) => {
            let mut command = Command::new("taskset");
            command.arg("-c").arg(cpus).arg(program);
            command
        }
        None => Command::new(program),
    };
    command.kill_on_drop(true).stdin(Stdio::null());
    command
}

pub struct Running {
    pub name: &'static str,
    pub child: Child,
    /// Fixed at spawn: `taskset` execs the program, so this is the program's pid.
    pub pid: u32,
    pub log: PathBuf,
}

impl Running {
    /// Starts `command` with stderr (and stdout unless `capture_stdout`) going to `log`.
    pub fn start(
        name: &'static str,
        mut command: Command,
        log: &Path,
        capture_stdout: bool,
    ) -> anyhow::Result<Running> {
        let file = std::fs::File::create(log).with_context(|| format!("failed to create {}", log.display()))?;
        if capture_stdout {
            command.stdout(Stdio::piped());
        } else {
            command.stdout(file.try_clone()?);
        }
        command.stderr(file);
        let child = command
            .spawn()
            .with_context(|| format!("failed to start {name} (a pinned process needs `taskset`, from util-linux)"))?;
        let pid = child.id().context("a child just spawned has a pid")?;
        Ok(Running { name, child, pid, log: log.to_path_buf() })
    }

    pub fn cpu_seconds(&self) -> f64 {
        sample::cpu_seconds(self.pid)
    }

    /// An error naming the process and the end of its log when it has exited.
    pub fn ensure_running(&mut self) -> anyhow::Result<()> {
        match self.child.try_wait()? {
            None => Ok(()),
            Some(status) => anyhow::bail!("{} exited ({status}); its log ends with:\n{}", self.name, self.log_tail()),
        }
    }

    /// The last lines of the log, for error messages.
    pub fn log_tail(&self) -> String {
        let text = std::fs::read_to_string(&self.log).unwrap_or_default();
        let lines: Vec<&str> = text.lines().collect();
        lines[lines.len().saturating_sub(20)..].join("\n")
    }

    /// Kills the process and waits for it.
    pub async fn stop(mut self) {
        let _ = self.child.kill().await;
    }
}
