//! The file's life around the agent: restarts resume at the checkpoint, truncation and rename
//! rotation lose nothing.

use std::{collections::HashSet, time::Duration};

use crate::helpers::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn restart_resumes_at_the_checkpoint_without_resending() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("app.log");
    let data_dir = dir.path().join("data");
    let glob = format!("{}/*.log", dir.path().display());
    let server = IngestServer::start().await;
    append(&path, &numbered("before", 0, 100));
    let agent = TestAgent::start(agent_config(&server.url, &data_dir, &glob));
    eventually("the first 100 lines arrive", || server.received().len() == 100).await;
    agent.stop().await;
    let size = std::fs::metadata(&path).expect("stat").len();
    assert_eq!(checkpoint_of(&data_dir, &path).expect("checkpoint").offset, size, "clean shutdown saves the position");

    append(&path, &numbered("while down", 0, 50));
    let agent = TestAgent::start(agent_config(&server.url, &data_dir, &glob));
    eventually("lines written while the agent was down arrive", || server.received().len() >= 150).await;
    append(&path, &numbered("after", 0, 5));
    eventually("lines written after the restart arrive", || server.received().len() >= 155).await;
    agent.stop().await;

    let all = format!("{}{}{}", numbered("before", 0, 100), numbered("while down", 0, 50), numbered("after", 0, 5));
    assert_eq!(sorted_unique(server.lines_of(&path)), expected_lines(all.as_bytes(), 0), "nothing sent twice");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lines_sent_again_after_a_crash_carry_the_stream_they_were_first_sent_under() {
    // The pipeline recognises a resent line by (stream, offset): a crash before the periodic
    // checkpoint write must not give the file's content another stream name.
    let dir = tempfile::tempdir().expect("tempdir");
    let data_dir = dir.path().join("data");
    let glob = format!("{}/*.log", dir.path().display());
    let server = IngestServer::start().await;
    let mut config = agent_config(&server.url, &data_dir, &glob);
    config.checkpoint_interval = Duration::from_secs(3600);
    let agent = TestAgent::start(config.clone());
    let (new_file, truncated) = (dir.path().join("new.log"), dir.path().join("truncated.log"));
    append(&truncated, &numbered("old content", 0, 10));
    eventually("the old content arrives", || server.lines_of(&truncated).len() == 10).await;
    agent.stop().await;

    let agent = TestAgent::start(config.clone());
    append(&new_file, &numbered("new file", 0, 30));
    std::fs::OpenOptions::new().write(true).open(&truncated).expect("open").set_len(0).expect("truncate");
    append(&truncated, &numbered("after truncation", 0, 20));
    eventually("both files' lines arrive", || {
        server.lines_of(&new_file).len() == 30 && server.lines_of(&truncated).len() == 30
    })
    .await;
    agent.crash().await;

    let agent = TestAgent::start(config);
    append(&new_file, &numbered("new file", 30, 5));
    append(&truncated, &numbered("after truncation", 20, 5));
    eventually("lines written after the crash arrive", || {
        server.lines_of(&new_file).len() >= 35 && server.lines_of(&truncated).len() >= 35
    })
    .await;
    agent.stop().await;

    for (path, expected) in [(&new_file, 35), (&truncated, 35)] {
        let source = path.to_string_lossy();
        let distinct: HashSet<(String, u64)> = server
            .received()
            .into_iter()
            .filter(|r| r.record.source == source)
            .map(|r| (r.record.stream, r.record.offset))
            .collect();
        assert_eq!(distinct.len(), expected, "{}: distinct (stream, offset) pairs", path.display());
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_line_shipped_unterminated_is_not_shipped_again_longer_after_a_crash() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("app.log");
    let data_dir = dir.path().join("data");
    let server = IngestServer::start().await;
    let mut config = agent_config(&server.url, &data_dir, &format!("{}/*.log", dir.path().display()));
    config.partial_line_timeout = Duration::from_millis(200);
    // The crash comes before any periodic checkpoint write.
    config.checkpoint_interval = Duration::from_secs(3600);
    append(&path, "first\nabc");
    let agent = TestAgent::start(config.clone());
    eventually("the unterminated line arrives on its timeout", || server.lines_of(&path).len() == 2).await;
    agent.crash().await;

    // The writer finishes the line. Read again from the start, "abc" must end where it
    // ended, or "abcdef" comes back at its offset, which the pipeline (keeping the first
    // record it saw at an offset) drops, and "def" is never indexed.
    append(&path, "def\nnext\n");
    let agent = TestAgent::start(config);
    eventually("the line after it arrives", || server.lines_of(&path).iter().any(|(_, line)| line == b"next")).await;
    agent.stop().await;

    let indexed = indexed_as_the_pipeline_would(&server, &path);
    let indexed: Vec<(u64, &str)> = indexed.iter().map(|(offset, line)| (*offset, line.as_str())).collect();
    assert_eq!(indexed, [(0, "first"), (6, "abc"), (9, "def"), (13, "next")], "every byte of the file is indexed once");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_truncated_file_is_read_again_from_the_start_as_a_new_generation() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("app.log");
    let data_dir = dir.path().join("data");
    let server = IngestServer::start().await;
    let old = numbered("an old line that is rather long", 0, 20);
    append(&path, &old);
    let agent = TestAgent::start(agent_config(&server.url, &data_dir, &format!("{}/*.log", dir.path().display())));
    eventually("the old lines arrive", || server.received().len() == 20).await;
    let old_stream = server.received()[0].record.stream.clone();

    std::fs::OpenOptions::new().write(true).open(&path).expect("open").set_len(0).expect("truncate");
    append(&path, "new 1\nnew 2\nnew 3\n");
    eventually("the new lines arrive", || server.received().len() == 23).await;
    eventually("the checkpoint moves to a new stream", || {
        checkpoint_of(&data_dir, &path).is_some_and(|c| c.stream != old_stream && c.offset == 18)
    })
    .await;
    agent.stop().await;

    let received = server.received();
    let new: Vec<(u64, &[u8], &str)> =
        received[20..].iter().map(|r| (r.record.offset, r.record.line.as_slice(), r.record.stream.as_str())).collect();
    let stream = checkpoint_of(&data_dir, &path).expect("checkpoint").stream;
    assert_eq!(new, [(0, &b"new 1"[..], stream.as_str()), (6, b"new 2", &stream), (12, b"new 3", &stream)]);
    assert!(received[..20].iter().all(|r| r.record.stream == old_stream));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rename_rotation_drains_the_old_file_and_reads_the_new_one_from_the_start() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("app.log");
    let rotated = dir.path().join("app.log.1");
    let data_dir = dir.path().join("data");
    let server = IngestServer::start().await;
    append(&path, &numbered("old", 0, 50));
    let agent = TestAgent::start(agent_config(&server.url, &data_dir, &format!("{}/app.log", dir.path().display())));
    eventually("the first lines arrive", || server.received().len() == 50).await;

    let old_stream = server.received()[0].record.stream.clone();
    let old_inode = std::os::unix::fs::MetadataExt::ino(&std::fs::metadata(&path).expect("stat"));
    append(&path, &numbered("old", 50, 10));
    std::fs::rename(&path, &rotated).expect("rotate");
    append(&path, &numbered("new", 0, 20));
    eventually("the old file's last lines and the new file arrive", || server.received().len() == 80).await;
    eventually("the drained old file's checkpoint is released", || checkpoint_of_inode(&data_dir, old_inode).is_none())
        .await;
    agent.stop().await;
    let new_stream = stream_of(&data_dir, &path);

    let received = server.received();
    let mut old: Vec<(u64, Vec<u8>)> = received
        .iter()
        .filter(|r| r.record.stream == old_stream)
        .map(|r| (r.record.offset, r.record.line.clone()))
        .collect();
    old = sorted_unique(old);
    assert_eq!(old, expected_lines(numbered("old", 0, 60).as_bytes(), 0));
    assert_ne!(new_stream, old_stream);
    let new: Vec<(u64, Vec<u8>)> = received
        .iter()
        .filter(|r| r.record.stream == new_stream)
        .map(|r| (r.record.offset, r.record.line.clone()))
        .collect();
    assert_eq!(sorted_unique(new), expected_lines(numbered("new", 0, 20).as_bytes(), 0));
}

/// logrotate's copytruncate with a glob that also matches the copy (`app.log*`): the copy is
/// recognised and continued, not read again; the truncated file is read from its start.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn copytruncate_with_the_copy_matched_ships_every_line_once() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("app.log");
    let data_dir = dir.path().join("data");
    let server = IngestServer::start().await;
    let agent = TestAgent::start(agent_config(&server.url, &data_dir, &format!("{}/app.log*", dir.path().display())));
    let mut written = String::new();
    for rotation in 1..=5 {
        let lines = numbered(&format!("before rotation {rotation}"), 0, 40);
        append(&path, &lines);
        written.push_str(&lines);
        let expected = written.lines().count();
        eventually("the lines before the rotation arrive", || server.received().len() >= expected).await;
        std::fs::copy(&path, dir.path().join(format!("app.log.{rotation}"))).expect("copy");
        std::fs::OpenOptions::new().write(true).open(&path).expect("open").set_len(0).expect("truncate");
    }
    let last = numbered("after the last rotation", 0, 10);
    append(&path, &last);
    written.push_str(&last);
    let expected = written.lines().count();
    eventually("every line arrives", || server.received().len() >= expected).await;
    // Time for a copy wrongly taken for a new file to be read again.
    tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    agent.stop().await;

    let mut shipped: Vec<String> =
        server.received().iter().map(|r| String::from_utf8_lossy(&r.record.line).into_owned()).collect();
    shipped.sort();
    let mut wanted: Vec<String> = written.lines().map(str::to_string).collect();
    wanted.sort();
    assert_eq!(shipped, wanted, "every line once: none lost, none read again from a copy");
}
