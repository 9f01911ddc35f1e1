//! A child process of ours (the `vigil` or `vigil-agent` binary) that a test can kill -9 and
//! restart with the same arguments.

use std::{
    path::{Path, PathBuf},
    process::{Child, Command, Stdio},
};

pub struct Process {
    program: PathBuf,
    args: Vec<String>,
    envs: Vec<(String, String)>,
    log: PathBuf,
    cwd: Option<PathBuf>,
    child: Option<Child>,
}

impl Process {
    /// Starts `program args...`, appending stdout and stderr to `log`.
    pub fn start(program: &Path, args: &[String], envs: &[(String, String)], log: &Path) -> Process {
        Process::start_in(None, program, args, envs, log)
    }

    /// Like [`Process::start`], in the working directory `cwd` when given.
    pub fn start_in(
        cwd: Option<&Path>,
        program: &Path,
        args: &[String],
        envs: &[(String, String)],
        log: &Path,
    ) -> Process {
        let mut process = Process {
            program: program.to_path_buf(),
            args: args.to_vec(),
            envs: envs.to_vec(),
            log: log.to_path_buf(),
            cwd: cwd.map(Path::to_path_buf),
            child: None,
        };
        process.restart();
        process
    }

    /// Starts the process again (after a kill), with the same arguments.
    pub fn restart(&mut self) {
        assert!(self.child.is_none(), "restart needs the old process gone first");
        let log = std::fs::OpenOptions::new().create(true).append(true).open(&self.log).expect("test log file opens");
        let mut command = Command::new(&self.program);
        if let Some(cwd) = &self.cwd {
            command.current_dir(cwd);
        }
        let child = command
            .args(&self.args)
            .envs(self.envs.iter().map(|(k, v)| (k.as_str(), v.as_str())))
            .env("RUST_LOG", std::env::var("RUST_LOG").unwrap_or_else(|_| "info".to_string()))
            .stdin(Stdio::null())
            .stdout(log.try_clone().expect("log handle clones"))
            .stderr(log)
            .spawn()
            .unwrap_or_else(|error| panic!("failed to start {}: {error}", self.program.display()));
        self.child = Some(child);
    }

    /// SIGKILL: no chance to flush or commit anything.
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// SIGTERM, then wait for a clean exit; returns true when it exited successfully.
    pub fn stop(&mut self) -> bool {
        let Some(mut child) = self.child.take() else { return false };
        let _ = Command::new("kill").arg("-TERM").arg(child.id().to_string()).status();
        child.wait().map(|status| status.success()).unwrap_or(false)
    }

    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(Child::id)
    }

    /// What the process printed so far (for failure messages).
    pub fn output(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }
}

impl Drop for Process {
    fn drop(&mut self) {
        self.kill();
    }
}
