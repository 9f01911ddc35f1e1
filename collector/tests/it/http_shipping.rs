//! Lines of real files arrive at the ingest endpoint once, in order, with their offsets, even
//! while the server fails for a while.

use vigil_collector::checkpoint;

use crate::helpers::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_line_of_a_real_file_arrives_once_with_its_offset() {
    let Some(source) = shared_data("logs/loghub/HDFS/HDFS_2k.log") else { return };
    let dir = tempfile::tempdir().expect("tempdir");
    let logs = dir.path().join("logs");
    std::fs::create_dir(&logs).expect("mkdir");
    let path = logs.join("hdfs.log");
    let content = std::fs::read(&source).expect("read test data");
    std::fs::write(&path, &content).expect("copy test data");
    let expected = expected_lines(&content, 0);
    assert_eq!(expected.len(), 2000, "HDFS_2k.log has 2000 lines");

    let server = IngestServer::start().await;
    let data_dir = dir.path().join("data");
    let mut config = agent_config(&server.url, &data_dir, &format!("{}/*.log", logs.display()));
    config.batch.max_lines = 300;
    let agent = TestAgent::start(config);
    eventually("all 2000 lines arrive", || server.received().len() >= expected.len()).await;
    agent.stop().await;

    let received = server.received();
    assert_eq!(sorted_unique(server.lines_of(&path)), expected, "every line once, CRLF stripped, offsets exact");
    let stream = stream_of(&data_dir, &path);
    for r in &received {
        assert_eq!(r.record.stream, stream);
        assert_eq!(r.partition_key, stream, "the partition key is the stream");
        assert_eq!((r.record.service.as_str(), r.record.host.as_str()), ("svc", "test-host"));
        assert_eq!(r.record.labels.get("env").map(String::as_str), Some("test"));
        assert!(!r.record.truncated);
        assert!(r.record.read_time_ms > 1_600_000_000_000);
    }
    let offsets: Vec<u64> = received.iter().map(|r| r.record.offset).collect();
    assert!(offsets.windows(2).all(|w| w[0] < w[1]), "one file's lines arrive in order");
    let checkpoint = checkpoint_of(&data_dir, &path).expect("the file has a checkpoint");
    assert_eq!(checkpoint.offset, content.len() as u64);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn appended_lines_arrive_and_a_partial_line_waits_for_its_newline() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("app.log");
    append(&path, &numbered("first", 0, 10));
    let server = IngestServer::start().await;
    let agent = TestAgent::start(agent_config(
        &server.url,
        &dir.path().join("data"),
        &format!("{}/*.log", dir.path().display()),
    ));
    eventually("the first 10 lines arrive", || server.received().len() == 10).await;

    let mut written = numbered("first", 0, 10);
    for round in 0..5 {
        let more = numbered(&format!("round {round}"), 0, 20);
        append(&path, &more);
        written.push_str(&more);
    }
    append(&path, "complete\npart");
    written.push_str("complete\n");
    eventually("appended lines arrive", || server.received().len() == 10 + 100 + 1).await;
    assert!(
        !server.received().iter().any(|r| r.record.line.starts_with(b"part")),
        "a line without its newline is not shipped (it was read with \"complete\")"
    );
    append(&path, "ial\n");
    written.push_str("partial\n");
    eventually("the completed line arrives", || server.received().len() == 112).await;
    agent.stop().await;
    assert_eq!(sorted_unique(server.lines_of(&path)), expected_lines(written.as_bytes(), 0));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nothing_is_lost_while_the_server_fails_and_the_checkpoint_waits_for_success() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("app.log");
    let content = numbered("outage", 0, 500);
    append(&path, &content);
    let server = IngestServer::start().await;
    server.set_failing(true);
    let data_dir = dir.path().join("data");
    let mut config = agent_config(&server.url, &data_dir, &format!("{}/*.log", dir.path().display()));
    config.batch.max_lines = 100;
    let agent = TestAgent::start(config);

    eventually("the agent retries against the failing server", || server.failed_requests() >= 5).await;
    eventually("the checkpoint of the new file is written", || checkpoint_of(&data_dir, &path).is_some()).await;
    let during_outage = checkpoint_of(&data_dir, &path).expect("checkpoint");
    assert_eq!(during_outage.offset, 0, "no acknowledgement, no progress");
    assert!(server.received().is_empty());

    append(&path, &numbered("during", 0, 50));
    server.set_failing(false);
    eventually("all lines arrive after recovery", || server.received().len() == 550).await;
    let total = std::fs::metadata(&path).expect("stat").len();
    eventually("the checkpoint reaches the end", || checkpoint_of(&data_dir, &path).is_some_and(|c| c.offset == total))
        .await;
    agent.stop().await;
    let all = format!("{content}{}", numbered("during", 0, 50));
    assert_eq!(sorted_unique(server.lines_of(&path)), expected_lines(all.as_bytes(), 0));

    // A few transient failures in the middle of a stream lose nothing either.
    let server = IngestServer::start().await;
    server.fail_next(3);
    let other = dir.path().join("other.log");
    append(&other, &numbered("blip", 0, 40));
    let agent = TestAgent::start(agent_config(&server.url, &data_dir, &format!("{}/other.log", dir.path().display())));
    eventually("lines arrive after transient failures", || server.received().len() == 40).await;
    agent.stop().await;
    assert_eq!(server.failed_requests(), 3);
    assert_eq!(sorted_unique(server.lines_of(&other)).len(), 40);
    let stored = checkpoint::read(&data_dir.join(checkpoint::FILE_NAME)).expect("readable");
    let other_size = std::fs::metadata(&other).expect("stat").len();
    assert!(stored.files.iter().any(|c| c.path == other && c.offset == other_size), "{stored:?}");
}
