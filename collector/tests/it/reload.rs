//! SIGHUP reload of the real `vigil-agent` binary: a valid new config is applied without
//! losing or repeating a line; an invalid one is refused, naming the key, and the agent keeps
//! shipping with the config it had.

use std::{
    collections::HashSet,
    path::Path,
    process::{Child, Command, Stdio},
    time::Duration,
};

use crate::helpers::*;

fn write_config(path: &Path, data_dir: &Path, server: &str, inputs: &str) {
    let config = format!(
        r#"[agent]
data_dir = "{data_dir}"
scan_interval = "50ms"
poll_interval = "20ms"
checkpoint_interval = "50ms"
{inputs}
[agent.output]
http = {{ url = "{server}" }}
retry_initial_delay = "20ms"
[agent.batch]
linger = "20ms"
"#,
        data_dir = data_dir.display()
    );
    std::fs::write(path, config).expect("write config");
}

fn input(glob: &Path, service: &str) -> String {
    format!("[[agent.inputs]]\npaths = [\"{}\"]\nservice = \"{service}\"\n", glob.display())
}

fn signal(child: &Child, signal: i32) {
    // SAFETY: kill(2) on a child we spawned and still own.
    assert_eq!(unsafe { libc::kill(child.id() as i32, signal) }, 0, "signal sent");
}

fn distinct_identities(server: &IngestServer) -> usize {
    server.received().into_iter().map(|r| (r.record.stream, r.record.offset)).collect::<HashSet<_>>().len()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sighup_applies_a_valid_config_without_loss_and_refuses_an_invalid_one() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (data_dir, config) = (dir.path().join("data"), dir.path().join("agent.toml"));
    let (a, b) = (dir.path().join("a.log"), dir.path().join("b.log"));
    let server = IngestServer::start().await;
    write_config(&config, &data_dir, &server.url, &input(&a, "first"));
    let mut agent = Command::new(env!("CARGO_BIN_EXE_vigil-agent"))
        .args(["--config", &config.display().to_string()])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("start vigil-agent");
    append(&a, &numbered("a before", 0, 50));
    append(&b, &numbered("b before", 0, 20));
    eventually("a.log arrives", || server.received().len() == 50).await;

    write_config(&config, &data_dir, &server.url, &(input(&a, "first") + &input(&b, "second")));
    signal(&agent, libc::SIGHUP);
    append(&a, &numbered("a during reload", 0, 30));
    eventually("b.log is picked up and a.log goes on", || distinct_identities(&server) == 100).await;
    let b_service: HashSet<String> =
        server.received().into_iter().filter(|r| r.record.line.starts_with(b"b ")).map(|r| r.record.service).collect();
    assert_eq!(b_service, HashSet::from(["second".to_string()]));

    std::fs::write(&config, "[agent]\nscan_interval = \"0s\"\n").expect("break the config");
    signal(&agent, libc::SIGHUP);
    tokio::time::sleep(Duration::from_millis(300)).await;
    append(&b, &numbered("b after a bad reload", 0, 10));
    eventually("the agent still ships with its config", || distinct_identities(&server) == 110).await;

    signal(&agent, libc::SIGTERM);
    let output = tokio::task::spawn_blocking(move || {
        let status = agent.wait().expect("wait");
        let mut log = String::new();
        std::io::Read::read_to_string(agent.stdout.as_mut().expect("piped"), &mut log).expect("read log");
        (status, log)
    })
    .await
    .expect("join");
    let (status, log) = output;
    assert!(status.success(), "exits cleanly on SIGTERM:\n{log}");
    assert!(log.contains("agent.scan_interval"), "the refused reload names the key:\n{log}");
    let mut lines: Vec<Vec<u8>> = server.received().into_iter().map(|r| r.record.line).collect();
    lines.sort();
    lines.dedup();
    assert_eq!(lines.len(), 110, "every line written arrived");
    assert_eq!(distinct_identities(&server), 110, "no line arrived under two identities");
}
