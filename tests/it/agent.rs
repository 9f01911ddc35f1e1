//! The agent as a separate process: files -> vigil-agent -> (HTTP | Kafka) -> pipeline -> search.

use std::{
    io::Write,
    path::{Path, PathBuf},
    time::Duration,
};

use vigil_testkit::{unique_name, wait_until, Broker, BrokerStorage, Process};

use crate::helpers::{assert_each_seq_once, grep_count, kafka_config, lines_of, TestApp};

/// `target/<profile>/vigil-agent`, built by `cargo test --workspace`.
pub(crate) fn agent_binary() -> PathBuf {
    let exe = std::env::current_exe().expect("test binary path");
    let dir = exe.parent().and_then(Path::parent).expect("target/<profile>/deps/<test>");
    let agent = dir.join("vigil-agent");
    assert!(
        agent.exists(),
        "{} is missing: run the tests with `cargo test --workspace` (or cargo build -p vigil-collector)",
        agent.display()
    );
    agent
}

fn start_agent(work: &Path, output: &[&str], path_glob: &Path) -> Process {
    let mut args: Vec<String> = output.iter().map(|s| s.to_string()).collect();
    args.extend(
        ["--service", "shop", "--host", "web-1", "--label", "env=test", "--data-dir"].iter().map(|s| s.to_string()),
    );
    args.push(work.join("agent-data").display().to_string());
    args.push("--path".into());
    args.push(path_glob.display().to_string());
    Process::start(&agent_binary(), &args, &[], &work.join("agent.log"))
}

/// Copies real files into `dir` as `<name>.log`; returns (path, non-blank line count).
fn copy_corpus(data: &Path, dir: &Path) -> Vec<(PathBuf, u64)> {
    std::fs::create_dir_all(dir).expect("log dir");
    [
        ("hdfs", "logs/loghub/HDFS/HDFS_2k.log"),
        ("zookeeper", "logs/loghub/Zookeeper/Zookeeper_2k.log"),
        ("access", "logs/other/apache-access/apache_logs"),
        ("kafka", "logs/other/kafka-java-multiline/kafka0_server.log.2016-12-19-20"),
        ("auth", "logs/other/syslog-auth/auth.log"),
    ]
    .into_iter()
    .map(|(name, relative)| {
        let bytes = std::fs::read(data.join(relative)).expect("shared data file");
        let target = dir.join(format!("{name}.log"));
        std::fs::write(&target, &bytes).expect("copy");
        (target, lines_of(&bytes).len() as u64)
    })
    .collect()
}

/// Per file: every line stored, and word counts equal to `grep -c` over the file.
async fn assert_files_match_grep(app: &TestApp, files: &[(PathBuf, u64)]) {
    for (path, lines) in files {
        let source = path.display().to_string();
        assert_eq!(app.total(&[("source", &source)]).await, *lines, "{source}");
        for word in ["error", "info", "exception", "failed", "session", "block"] {
            let found = app.total(&[("source", &source), ("q", word)]).await;
            assert_eq!(found, grep_count(path, word), "{source}: q={word} vs grep -c");
        }
    }
}

fn sequenced_line(n: usize) -> String {
    // One ms apart from a fixed start, so time order is sequence order.
    let (s, ms) = (n / 1000, n % 1000);
    format!("2024-03-01T10:{:02}:{:02}.{ms:03}Z INFO order seq{n} shipped\n", s / 60, s % 60)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn agent_over_http_ships_every_line_once_across_agent_kill_9() {
    let Some(data) = vigil_testkit::shared_data() else { return };
    let work = tempfile::tempdir().expect("tempdir");
    let logs = work.path().join("logs");
    let files = copy_corpus(&data, &logs);
    let app = TestApp::up().await;
    let mut agent = start_agent(work.path(), &["--server", &app.base], &logs.join("*.log"));

    let expected: u64 = files.iter().map(|(_, lines)| lines).sum();
    assert_eq!(app.wait_total(&[("service", "shop")], expected).await, expected, "agent log:\n{}", agent.output());
    assert_files_match_grep(&app, &files).await;
    let hit = &app.search(&[("source", &files[0].0.display().to_string()), ("limit", "1")]).await.hits[0];
    assert_eq!((hit.host.as_str(), hit.attributes.get("env").map(String::as_str)), ("web-1", Some("test")));

    // A writer appends while the agent is killed -9 twice and restarted.
    const LINES: usize = 8_000;
    let seq_path = logs.join("orders.log");
    let mut file = std::fs::File::create(&seq_path).expect("orders.log");
    for chunk in 0..8 {
        for n in chunk * 1000..(chunk + 1) * 1000 {
            file.write_all(sequenced_line(n).as_bytes()).expect("append");
        }
        file.flush().expect("flush");
        if chunk == 2 || chunk == 5 {
            let source = seq_path.display().to_string();
            let at_least = (chunk * 1000) as u64;
            wait_until("some orders shipped", Duration::from_secs(60), || {
                let app = &app;
                let source = source.clone();
                async move { (app.total(&[("source", &source)]).await >= at_least).then_some(()) }
            })
            .await;
            agent.kill();
            agent.restart();
        }
    }
    let source = seq_path.display().to_string();
    assert_eq!(
        app.wait_total(&[("source", &source)], LINES as u64).await,
        LINES as u64,
        "agent log:\n{}",
        agent.output()
    );
    assert_each_seq_once(&app, ("source", &source), LINES).await;
    assert!(agent.stop(), "the agent exits cleanly on SIGTERM");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn agent_to_kafka_to_pipeline() {
    let Some(data) = vigil_testkit::shared_data() else { return };
    let work = tempfile::tempdir().expect("tempdir");
    let broker = Broker::start(BrokerStorage::Memory, work.path());
    let topic = unique_name("agent-logs");
    broker.create_topic(&topic, 3);
    let config = kafka_config(&broker.address(), &topic);
    let app = TestApp::run_with_config(&config, "pipeline,query").await;
    let logs = work.path().join("logs");
    let files = copy_corpus(&data, &logs);
    let agent = start_agent(work.path(), &["--brokers", &broker.address(), "--topic", &topic], &logs.join("*.log"));
    let expected: u64 = files.iter().map(|(_, lines)| lines).sum();
    assert_eq!(app.wait_total(&[], expected).await, expected, "agent log:\n{}", agent.output());
    assert_files_match_grep(&app, &files).await;
}

/// The broker is killed and restarted mid-stream (a durable storage engine, so it remembers):
/// the agent retries, the pipeline reconnects, every line arrives exactly once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn broker_kill_and_restart_loses_and_duplicates_nothing() {
    let work = tempfile::tempdir().expect("tempdir");
    let mut broker = Broker::start(BrokerStorage::Sqlite(work.path().to_path_buf()), work.path());
    let topic = unique_name("restart-logs");
    broker.create_topic(&topic, 2);
    let config = kafka_config(&broker.address(), &topic);
    let app = TestApp::run_with_config(&config, "pipeline,query").await;
    let logs = work.path().join("logs");
    std::fs::create_dir_all(&logs).expect("log dir");
    let path = logs.join("orders.log");
    let mut file = std::fs::File::create(&path).expect("orders.log");
    let agent = start_agent(work.path(), &["--brokers", &broker.address(), "--topic", &topic], &logs.join("*.log"));
    const LINES: usize = 6_000;
    let source = path.display().to_string();
    let mut write_lines = |range: std::ops::Range<usize>| {
        for n in range {
            file.write_all(sequenced_line(n).as_bytes()).expect("append");
        }
        file.flush().expect("flush");
    };
    write_lines(0..3_000);
    wait_until("some orders indexed", Duration::from_secs(60), || {
        let app = &app;
        let source = source.clone();
        async move { (app.total(&[("source", &source)]).await >= 2_000).then_some(()) }
    })
    .await;
    broker.kill();
    write_lines(3_000..4_000); // lines keep coming while the broker is down
    tokio::time::sleep(Duration::from_secs(2)).await; // the outage itself
    broker.restart();
    write_lines(4_000..LINES);
    let total = app.wait_total(&[("source", &source)], LINES as u64).await;
    assert_eq!(total, LINES as u64, "agent log:\n{}", agent.output());
    assert_each_seq_once(&app, ("source", &source), LINES).await;
}

/// Many small batches in flight per file (`in_flight = 16`, 20 lines a batch) while the
/// broker goes away and comes back, with the spool taking over after 1 s: the batches still
/// arrive in order (a batch overtaken by a later one would be dropped by the indexer as a
/// resend), so every line is indexed exactly once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn batches_in_flight_arrive_in_order_across_a_broker_outage() {
    let work = tempfile::tempdir().expect("tempdir");
    let mut broker = Broker::start(BrokerStorage::Sqlite(work.path().to_path_buf()), work.path());
    let topic = unique_name("in-flight-logs");
    broker.create_topic(&topic, 2);
    let app = TestApp::run_with_config(&kafka_config(&broker.address(), &topic), "pipeline,query").await;
    let logs = work.path().join("logs");
    std::fs::create_dir_all(&logs).expect("log dir");
    let path = logs.join("payments.log");
    let config = work.path().join("agent.toml");
    let toml = format!(
        "[agent.output]\nkafka = {{ brokers = \"{}\", topic = \"{topic}\", in_flight = 16 }}\n\
         [agent.batch]\nmax_lines = 20\nlinger = \"20ms\"\n[agent.spool]\nafter = \"1s\"\n",
        broker.address()
    );
    std::fs::write(&config, toml).expect("agent config");
    let agent = start_agent(work.path(), &["--config", &config.display().to_string()], &logs.join("*.log"));
    const LINES: usize = 8_000;
    let mut file = std::fs::File::create(&path).expect("payments.log");
    for n in 0..400 {
        file.write_all(sequenced_line(n).as_bytes()).expect("append");
    }
    file.flush().expect("flush");
    let source = path.display().to_string();
    // Lines flow end to end (the broker's own storage is set up) before the broker goes away.
    wait_until("some payments indexed", Duration::from_secs(60), || {
        let (app, source) = (&app, source.clone());
        async move { (app.total(&[("source", &source)]).await >= 200).then_some(()) }
    })
    .await;
    let writer = std::thread::spawn(move || {
        for n in 400..LINES {
            file.write_all(sequenced_line(n).as_bytes()).expect("append");
            if n % 40 == 0 {
                file.flush().expect("flush");
                std::thread::sleep(Duration::from_millis(20)); // about 2,000 lines/s, for 4 s
            }
        }
        file.flush().expect("flush");
    });
    tokio::time::sleep(Duration::from_millis(300)).await;
    broker.kill();
    tokio::time::sleep(Duration::from_secs(3)).await; // the outage, while lines keep coming
    broker.restart();
    writer.join().expect("writer");
    let total = app.wait_total(&[("source", &source)], LINES as u64).await;
    assert_eq!(total, LINES as u64, "agent log:\n{}", agent.output());
    assert_each_seq_once(&app, ("source", &source), LINES).await;
    let log = agent.output();
    assert!(log.contains("they go to the spool until it is back"), "the outage was long enough to spool:\n{log}");
}
