//! The on-disk spool: while the destination is down, batches wait on disk and reading goes on;
//! they are delivered by themselves, in order, once it is back, also after a restart. The
//! ledger accounts for every line.

use std::{collections::HashMap, path::Path, time::Duration};

use vigil_collector::{
    config::{AgentConfig, WhenFull},
    ledger::{self, Count, LedgerFile},
};

use crate::helpers::*;

fn spooling_config(server: &IngestServer, data_dir: &Path, glob: &str) -> AgentConfig {
    let mut config = agent_config(&server.url, data_dir, glob);
    config.spool.after = Duration::from_millis(200);
    config.batch.max_lines = 10;
    config
}

fn ledger_of(data_dir: &Path) -> LedgerFile {
    ledger::read(&data_dir.join(ledger::FILE_NAME)).expect("readable").unwrap_or_default()
}

fn spool_files(data_dir: &Path) -> usize {
    std::fs::read_dir(data_dir.join("spool")).map_or(0, |dir| dir.count())
}

/// Asserts every line of `expected` arrived once, and each stream's lines in file order.
fn assert_in_order_once(server: &IngestServer, expected: &str) {
    let received = server.received();
    let mut arrived: Vec<&[u8]> = received.iter().map(|r| r.record.line.as_slice()).collect();
    arrived.sort();
    let mut wanted: Vec<&[u8]> = expected.lines().map(str::as_bytes).collect();
    wanted.sort();
    assert_eq!(arrived, wanted, "every line once");
    let mut last: HashMap<&str, u64> = HashMap::new();
    for record in received.iter().map(|r| &r.record) {
        let previous = last.insert(&record.stream, record.offset);
        assert!(previous.is_none_or(|p| p < record.offset), "stream {} arrives in file order", record.stream);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn while_the_destination_is_down_reading_goes_on_into_the_spool_and_it_drains_in_order() {
    let dir = tempfile::tempdir().expect("tempdir");
    let data_dir = dir.path().join("data");
    let (app, rotated) = (dir.path().join("app.log"), dir.path().join("app.log.1"));
    let server = IngestServer::start().await;
    server.set_failing(true);
    let agent = TestAgent::start(spooling_config(&server, &data_dir, &format!("{}/*.log", dir.path().display())));
    let before = numbered("before rotation", 0, 95);
    append(&app, &before);
    eventually("the file is read to its end and spooled", || ledger_of(&data_dir).totals.spooled.lines == 95).await;
    assert!(spool_files(&data_dir) >= 2, "batches wait on disk");
    assert_eq!(checkpoint_of(&data_dir, &app).map(|c| c.offset), Some(before.len() as u64), "reading was not held up");

    // Rotated away and deleted while the destination is down: its lines are safe in the spool.
    std::fs::rename(&app, &rotated).expect("rotate");
    let after = numbered("after rotation", 0, 30);
    append(&app, &after);
    eventually("the new file is spooled too", || ledger_of(&data_dir).totals.spooled.lines == 125).await;
    std::fs::remove_file(&rotated).expect("delete the rotated file");
    assert!(server.received().is_empty(), "nothing was accepted while failing");

    server.set_failing(false);
    eventually("every line arrives", || server.received().len() >= 125).await;
    eventually("the spool empties", || spool_files(&data_dir) == 0).await;
    append(&app, &numbered("after recovery", 0, 3));
    eventually("delivery is direct again", || server.received().len() >= 128).await;
    agent.stop().await;

    assert_in_order_once(&server, &(before + &after + &numbered("after recovery", 0, 3)));
    let totals = ledger_of(&data_dir).totals;
    assert_eq!((totals.read.lines, totals.delivered.lines, totals.spooled.lines), (128, 128, 0));
    assert_eq!(totals.pending(), Count::default());
    assert!(totals.dropped.is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn spooled_batches_survive_a_crash_and_are_delivered_after_the_restart() {
    let dir = tempfile::tempdir().expect("tempdir");
    let data_dir = dir.path().join("data");
    let app = dir.path().join("app.log");
    let glob = format!("{}/*.log", dir.path().display());
    let server = IngestServer::start().await;
    server.set_failing(true);
    let agent = TestAgent::start(spooling_config(&server, &data_dir, &glob));
    let lines = numbered("spooled", 0, 40);
    append(&app, &lines);
    eventually("all lines spooled", || ledger_of(&data_dir).totals.spooled.lines == 40).await;
    agent.crash().await;
    std::fs::remove_file(&app).expect("the file is gone: only the spool has its lines");

    server.set_failing(false);
    let agent = TestAgent::start(spooling_config(&server, &data_dir, &glob));
    eventually("the spooled lines arrive after the restart", || server.received().len() >= 40).await;
    eventually("the spool empties", || spool_files(&data_dir) == 0).await;
    agent.stop().await;
    assert_in_order_once(&server, &lines);
    assert_eq!(ledger_of(&data_dir).totals.delivered.lines, 40);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_spool_blocks_reading_by_default_and_nothing_is_lost() {
    let dir = tempfile::tempdir().expect("tempdir");
    let data_dir = dir.path().join("data");
    let app = dir.path().join("app.log");
    let server = IngestServer::start().await;
    server.set_failing(true);
    let mut config = spooling_config(&server, &data_dir, &format!("{}/*.log", dir.path().display()));
    config.spool.max_bytes = 2_000;
    let agent = TestAgent::start(config);
    let lines = numbered("blocked", 0, 200);
    append(&app, &lines);
    eventually("the spool fills", || ledger_of(&data_dir).totals.spooled.lines >= 10).await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    let checkpoint = checkpoint_of(&data_dir, &app).map_or(0, |c| c.offset);
    assert!(checkpoint < lines.len() as u64, "reading paused at {checkpoint} of {} bytes", lines.len());

    server.set_failing(false);
    eventually("every line arrives", || server.received().len() >= 200).await;
    agent.stop().await;
    assert_in_order_once(&server, &lines);
    assert!(ledger_of(&data_dir).totals.dropped.is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn drop_newest_drops_what_does_not_fit_and_the_ledger_accounts_for_every_line() {
    let dir = tempfile::tempdir().expect("tempdir");
    let data_dir = dir.path().join("data");
    let app = dir.path().join("app.log");
    let server = IngestServer::start().await;
    server.set_failing(true);
    let mut config = spooling_config(&server, &data_dir, &format!("{}/*.log", dir.path().display()));
    config.spool.max_bytes = 2_000;
    config.spool.when_full = WhenFull::DropNewest;
    let agent = TestAgent::start(config);
    let lines = numbered("dropped or not", 0, 200);
    append(&app, &lines);
    eventually("the whole file is accounted for", || {
        let totals = ledger_of(&data_dir).totals;
        totals.read.lines == 200 && totals.pending() == Count::default()
    })
    .await;
    let full = ledger_of(&data_dir);
    let dropped = full.totals.dropped.get("spool_full").copied().unwrap_or_default();
    assert!(dropped.lines > 0 && full.totals.spooled.lines > 0, "{:?}", full.totals);
    assert_eq!(full.totals.spooled.lines + dropped.lines, 200);
    let table = vigil_collector::status::render(&full, full.written_ms);
    assert!(table.contains("dropped: ") && table.contains("spool_full"), "{table}");

    server.set_failing(false);
    let spooled = full.totals.spooled.lines as usize;
    eventually("the spooled lines arrive", || server.received().len() >= spooled).await;
    eventually("the spool empties", || spool_files(&data_dir) == 0).await;
    agent.stop().await;
    let arrived = sorted_unique(server.lines_of(&app));
    assert_eq!(arrived.len(), spooled, "what was spooled arrives, what was dropped does not");
    let totals = ledger_of(&data_dir).totals;
    assert_eq!(totals.delivered.lines + dropped.lines, 200);
}

/// A size-limited tmpfs mounted on `path` until dropped; `None` where mounting is not allowed.
struct Tmpfs(std::path::PathBuf);

impl Tmpfs {
    fn mount(path: &Path, size: &str) -> Option<Tmpfs> {
        std::fs::create_dir_all(path).expect("mount point");
        let mounted = std::process::Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={size}"), "tmpfs", &path.display().to_string()])
            .stderr(std::process::Stdio::null())
            .status()
            .is_ok_and(|status| status.success());
        mounted.then(|| Tmpfs(path.to_path_buf()))
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let _ = std::process::Command::new("umount").arg(&self.0).status();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_spool_on_a_full_disk_pauses_reading_and_loses_nothing() {
    let dir = tempfile::tempdir().expect("tempdir");
    let data_dir = dir.path().join("data");
    let Some(_disk) = Tmpfs::mount(&data_dir.join("spool"), "16k") else {
        eprintln!("skipping: mounting a tmpfs needs root (CAP_SYS_ADMIN)");
        return;
    };
    let app = dir.path().join("app.log");
    let server = IngestServer::start().await;
    server.set_failing(true);
    let agent = TestAgent::start(spooling_config(&server, &data_dir, &format!("{}/*.log", dir.path().display())));
    let lines = numbered("on a full disk", 0, 600);
    append(&app, &lines);
    eventually("the spool's disk fills", || ledger_of(&data_dir).totals.spooled.lines >= 10).await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    let checkpoint = checkpoint_of(&data_dir, &app).map_or(0, |c| c.offset);
    assert!(checkpoint < lines.len() as u64, "reading paused at {checkpoint} of {} bytes", lines.len());
    assert!(ledger_of(&data_dir).totals.dropped.is_empty(), "nothing dropped under the default policy");

    server.set_failing(false);
    eventually("every line arrives", || server.received().len() >= 600).await;
    agent.stop().await;
    assert_in_order_once(&server, &lines);
}
