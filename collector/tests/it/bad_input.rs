//! Paths the agent cannot read: an unreadable file, a symlink loop, a dangling symlink, a
//! directory where a file was, a permission change on a file being read. Each is logged once
//! and counted; the agent keeps shipping everything else and picks a fixed path up by itself.
//! Runs the real binary, as an unprivileged user when the tests run as root (root reads
//! anything, so permissions would prove nothing).

use std::{
    os::unix::fs::{symlink, PermissionsExt},
    path::Path,
    process::{Command, Stdio},
};

use crate::helpers::*;

fn chmod(path: &Path, mode: u32) {
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).expect("chmod");
}

/// The value of `vigil_agent_path_problems_total{problem="<problem>"}` (0 when absent).
async fn problems(metrics_url: &str, problem: &str) -> u64 {
    let Ok(response) = reqwest::get(metrics_url).await else { return 0 };
    let text = response.text().await.unwrap_or_default();
    let series = format!("vigil_agent_path_problems_total{{problem=\"{problem}\"}} ");
    text.lines().find_map(|line| line.strip_prefix(&series)).and_then(|v| v.trim().parse().ok()).unwrap_or(0)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unreadable_looping_and_replaced_paths_are_logged_once_counted_and_skipped() {
    let dir = tempfile::tempdir().expect("tempdir");
    chmod(dir.path(), 0o777);
    let (logs, data_dir) = (dir.path().join("logs"), dir.path().join("data"));
    for made in [&logs, &data_dir] {
        std::fs::create_dir(made).expect("mkdir");
        chmod(made, 0o777);
    }
    let (good, secret, later) = (logs.join("good.log"), logs.join("secret.log"), logs.join("later.log"));
    append(&good, &numbered("good", 0, 10));
    append(&secret, &numbered("secret", 0, 5));
    chmod(&secret, 0o000);
    symlink(logs.join("loop2.log"), logs.join("loop1.log")).expect("symlink");
    symlink(logs.join("loop1.log"), logs.join("loop2.log")).expect("symlink");
    symlink(logs.join("nowhere"), logs.join("dangling.log")).expect("symlink");
    std::fs::create_dir(logs.join("adir.log")).expect("mkdir");

    let server = IngestServer::start().await;
    let port = std::net::TcpListener::bind("127.0.0.1:0").expect("port").local_addr().expect("addr").port();
    let agent_bin = env!("CARGO_BIN_EXE_vigil-agent");
    let args = [
        "--server",
        &server.url,
        "--service",
        "svc",
        "--path",
        &format!("{}/*.log", logs.display()),
        "--data-dir",
        &data_dir.display().to_string(),
        "--listen",
        &format!("127.0.0.1:{port}"),
    ];
    // SAFETY: geteuid has no preconditions.
    let mut command = if unsafe { libc::geteuid() } == 0 {
        let mut command = Command::new("setpriv");
        command.args(["--reuid=65534", "--regid=65534", "--clear-groups", agent_bin]);
        command
    } else {
        Command::new(agent_bin)
    };
    let log_path = dir.path().join("agent.log");
    let log_file = std::fs::File::create(&log_path).expect("log file");
    let mut agent = command.args(args).stdout(log_file).stderr(Stdio::inherit()).spawn().expect("start the agent");
    let log_so_far = || std::fs::read_to_string(&log_path).unwrap_or_default();
    let metrics_url = format!("http://127.0.0.1:{port}/metrics");

    eventually("the readable file arrives", || server.lines_of(&good).len() == 10).await;
    for (problem, count) in [("permission_denied", 1), ("symlink_loop", 2), ("dangling_symlink", 1), ("not_a_file", 1)]
    {
        let deadline = std::time::Instant::now() + DEADLINE;
        loop {
            let counted = problems(&metrics_url, problem).await;
            if counted == count {
                break;
            }
            assert!(
                std::time::Instant::now() < deadline,
                "{problem} counted {counted} times, not {count}:\n{}",
                log_so_far()
            );
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        }
    }
    tokio::time::sleep(std::time::Duration::from_millis(2500)).await; // two more scans
    assert_eq!(problems(&metrics_url, "permission_denied").await, 1, "counted once, not at every scan");

    chmod(&secret, 0o644);
    eventually("the file is read once its permission is fixed", || server.lines_of(&secret).len() == 5).await;

    // A file being read loses its permission: the open handle keeps reading.
    chmod(&good, 0o000);
    append(&good, &numbered("good after chmod", 0, 3));
    eventually("a file already open is read on", || server.lines_of(&good).len() == 13).await;

    // A file replaced by a directory, then a new file: the agent goes on.
    std::fs::remove_file(&good).expect("remove");
    std::fs::create_dir(&good).expect("a directory in its place");
    append(&later, &numbered("later", 0, 4));
    eventually("a new file after the replacement arrives", || server.lines_of(&later).len() == 4).await;

    // SAFETY: kill(2) on the child we spawned.
    unsafe { libc::kill(agent.id() as i32, libc::SIGTERM) };
    let status = tokio::task::spawn_blocking(move || agent.wait().expect("wait")).await.expect("join");
    let log = log_so_far();
    assert!(status.success(), "the agent exits cleanly:\n{log}");
    let secret_name = secret.display().to_string();
    let secret_lines = log.lines().filter(|line| line.contains(&secret_name) && line.contains("cannot open")).count();
    assert_eq!(secret_lines, 1, "the unreadable file is logged once:\n{log}");
    for name in ["loop1.log", "dangling.log", "adir.log"] {
        assert!(log.lines().any(|line| line.contains(name)), "{name} is named in the log:\n{log}");
    }
}
