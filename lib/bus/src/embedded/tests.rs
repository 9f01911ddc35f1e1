//! Behaviour of the embedded bus as a producer and a consumer see it, on real files.

use std::{
    collections::{BTreeMap, HashSet},
    path::{Path, PathBuf},
    sync::Arc,
    time::Duration,
};

use tokio::time::{timeout, Instant};

use super::{EmbeddedBus, EmbeddedConfig, EmbeddedConsumer};
use crate::{BusError, Message, OutgoingMessage, ResumeFn};

const TOPIC: &str = "vigil.logs.v1";
/// A deadline for things that should happen at once, never a synchronization point.
const DEADLINE: Duration = Duration::from_secs(20);

fn config(partitions: u32, segment_bytes: u64) -> EmbeddedConfig {
    EmbeddedConfig { partitions, segment_bytes, ..EmbeddedConfig::default() }
}

fn open(dir: &Path, partitions: u32) -> EmbeddedBus {
    EmbeddedBus::open(dir, config(partitions, 1 << 20)).expect("bus opens")
}

fn from_start() -> ResumeFn {
    Arc::new(|_| None)
}

fn message(key: &str, index: usize) -> OutgoingMessage {
    OutgoingMessage {
        key: Some(key.as_bytes().to_vec()),
        headers: vec![("content-type".into(), b"text/plain".to_vec()), ("seq".into(), index.to_string().into_bytes())],
        payload: format!("{key} line {index}").into_bytes(),
    }
}

fn segment_file(dir: &Path, partition: u32, base: u64) -> PathBuf {
    dir.join(TOPIC).join(partition.to_string()).join(format!("{base:020}.log"))
}

fn segment_bases(dir: &Path, partition: u32) -> Vec<u64> {
    let mut bases: Vec<u64> = std::fs::read_dir(dir.join(TOPIC).join(partition.to_string()))
        .expect("partition directory exists")
        .map(|entry| {
            entry.expect("entry").file_name().to_string_lossy().trim_end_matches(".log").parse().expect("segment name")
        })
        .collect();
    bases.sort_unstable();
    bases
}

/// Receives until `count` messages arrived, then checks nothing more comes.
async fn receive(consumer: &mut EmbeddedConsumer, count: usize) -> Vec<Message> {
    let mut received = Vec::new();
    let deadline = Instant::now() + DEADLINE;
    while received.len() < count {
        assert!(Instant::now() < deadline, "only {} of {count} messages arrived", received.len());
        received.extend(consumer.recv_batch(64, Duration::from_secs(1)).await.expect("recv_batch"));
    }
    let extra = consumer.recv_batch(64, Duration::from_millis(50)).await.expect("recv_batch");
    assert!(extra.is_empty(), "unexpected extra messages: {extra:?}");
    received
}

fn offsets(messages: &[Message], partition: u32) -> Vec<u64> {
    messages.iter().filter(|m| m.partition == partition).map(|m| m.offset).collect()
}

#[tokio::test]
async fn append_then_consume_returns_every_message_once_in_order() {
    let dir = tempfile::tempdir().expect("tempdir");
    let bus = open(dir.path(), 2);
    let before = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).expect("clock").as_millis() as i64;
    let first: Vec<_> = (0..5).map(|i| message("a", i)).collect();
    assert_eq!(bus.append(TOPIC, 0, first.clone()).await.expect("append"), 0);
    assert_eq!(bus.append(TOPIC, 0, vec![message("a", 5)]).await.expect("append"), 5);
    let bare = OutgoingMessage { key: None, headers: vec![], payload: b"no key".to_vec() };
    assert_eq!(bus.append(TOPIC, 1, vec![bare.clone()]).await.expect("append"), 0);
    assert_eq!((bus.end_offset(TOPIC, 0).expect("end"), bus.end_offset(TOPIC, 1).expect("end")), (6, 1));

    let mut consumer = bus.consumer(TOPIC, from_start()).expect("consumer");
    let received = receive(&mut consumer, 7).await;
    assert_eq!(offsets(&received, 0), (0..6).collect::<Vec<_>>());
    assert_eq!(offsets(&received, 1), vec![0]);
    let partition0: Vec<_> = received.iter().filter(|m| m.partition == 0).collect();
    for (index, got) in partition0.iter().enumerate() {
        let sent = message("a", index);
        assert_eq!((&got.key, &got.headers, &got.payload), (&sent.key, &sent.headers, &sent.payload));
        assert!(got.timestamp_ms >= before, "timestamp is the append time");
    }
    let lone = received.iter().find(|m| m.partition == 1).expect("partition 1 message");
    assert_eq!((&lone.key, &lone.headers, &lone.payload), (&None, &vec![], &bare.payload));
}

#[tokio::test]
async fn reopening_keeps_data_and_continues_offsets() {
    let dir = tempfile::tempdir().expect("tempdir");
    let bus = open(dir.path(), 1);
    bus.append(TOPIC, 0, (0..3).map(|i| message("k", i)).collect()).await.expect("append");
    drop(bus);

    let bus = open(dir.path(), 1);
    assert_eq!(bus.end_offset(TOPIC, 0).expect("end"), 3);
    assert_eq!(bus.append(TOPIC, 0, vec![message("k", 3)]).await.expect("append"), 3);
    let mut consumer = bus.consumer(TOPIC, from_start()).expect("consumer");
    let received = receive(&mut consumer, 4).await;
    let payloads: Vec<_> = received.iter().map(|m| m.payload.clone()).collect();
    let expected: Vec<_> = (0..4).map(|i| message("k", i).payload).collect();
    assert_eq!(payloads, expected);
}

#[tokio::test]
async fn recovery_cuts_a_torn_tail_and_keeps_intact_records() {
    type Damage = fn(&Path);
    let cases: [(&str, Damage, u64); 4] = [
        ("garbage after the last record", |path| append_bytes(path, &[0xAB; 37]), 5),
        ("half a frame", |path| append_bytes(path, &[9, 0, 0]), 5),
        ("last record cut short", |path| shorten(path, 6), 4),
        ("last record with a flipped byte", |path| flip_last_byte(path), 4),
    ];
    for (case, damage, intact) in cases {
        let dir = tempfile::tempdir().expect("tempdir");
        let bus = open(dir.path(), 1);
        bus.append(TOPIC, 0, (0..5).map(|i| message("k", i)).collect()).await.expect("append");
        drop(bus);
        let path = segment_file(dir.path(), 0, 0);
        damage(&path);

        let bus = open(dir.path(), 1);
        assert_eq!(bus.end_offset(TOPIC, 0).expect("end"), intact, "{case}");
        assert_eq!(bus.append(TOPIC, 0, vec![message("k", 99)]).await.expect("append"), intact, "{case}");
        let mut consumer = bus.consumer(TOPIC, from_start()).expect("consumer");
        let received = receive(&mut consumer, intact as usize + 1).await;
        let mut expected: Vec<_> = (0..intact as usize).map(|i| message("k", i).payload).collect();
        expected.push(message("k", 99).payload);
        assert_eq!(received.iter().map(|m| m.payload.clone()).collect::<Vec<_>>(), expected, "{case}");
        assert_eq!(offsets(&received, 0), (0..=intact).collect::<Vec<_>>(), "{case}");
    }
}

fn append_bytes(path: &Path, bytes: &[u8]) {
    use std::io::Write;
    let mut file = std::fs::OpenOptions::new().append(true).open(path).expect("segment opens");
    file.write_all(bytes).expect("write");
}

fn shorten(path: &Path, by: u64) {
    let file = std::fs::OpenOptions::new().write(true).open(path).expect("segment opens");
    let len = file.metadata().expect("metadata").len();
    file.set_len(len - by).expect("truncate");
}

fn flip_last_byte(path: &Path) {
    let mut bytes = std::fs::read(path).expect("read segment");
    *bytes.last_mut().expect("segment is not empty") ^= 0xFF;
    std::fs::write(path, bytes).expect("write segment");
}

#[tokio::test]
async fn consumer_starts_where_resume_says() {
    let dir = tempfile::tempdir().expect("tempdir");
    let bus = open(dir.path(), 2);
    bus.append(TOPIC, 0, (0..10).map(|i| message("a", i)).collect()).await.expect("append");
    bus.append(TOPIC, 1, (0..3).map(|i| message("b", i)).collect()).await.expect("append");

    let resume: ResumeFn = Arc::new(|partition| (partition == 0).then_some(7));
    let mut consumer = bus.consumer(TOPIC, resume).expect("consumer");
    let received = receive(&mut consumer, 6).await;
    assert_eq!(offsets(&received, 0), vec![7, 8, 9]);
    assert_eq!(offsets(&received, 1), vec![0, 1, 2], "no stored position starts at the beginning");

    let too_far: ResumeFn = Arc::new(|_| Some(11));
    assert!(matches!(bus.consumer(TOPIC, too_far), Err(BusError::Rejected(_))));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn consumer_wakes_when_an_append_lands() {
    let dir = tempfile::tempdir().expect("tempdir");
    let bus = open(dir.path(), 2);
    let mut consumer = bus.consumer(TOPIC, from_start()).expect("consumer");
    let empty = consumer.recv_batch(10, Duration::from_millis(20)).await.expect("recv_batch");
    assert!(empty.is_empty(), "nothing appended yet");

    let linger = Duration::from_secs(600);
    let waiting = tokio::spawn(async move { consumer.recv_batch(10, linger).await });
    bus.append(TOPIC, 1, vec![message("late", 0)]).await.expect("append");
    let batch = timeout(DEADLINE, waiting).await.expect("woke well before the linger").expect("task").expect("recv");
    assert_eq!(batch.len(), 1);
    assert_eq!((batch[0].partition, batch[0].offset, &batch[0].payload), (1, 0, &message("late", 0).payload));
}

#[tokio::test]
async fn segments_roll_and_commit_deletes_only_consumed_ones() {
    let dir = tempfile::tempdir().expect("tempdir");
    let bus = EmbeddedBus::open(dir.path(), config(1, 1024)).expect("bus opens");
    for index in 0..100 {
        bus.append(TOPIC, 0, vec![message("k", index)]).await.expect("append");
    }
    let bases = segment_bases(dir.path(), 0);
    assert!(bases.len() > 5, "segments rolled: {bases:?}");
    for path in bases.iter().map(|&base| segment_file(dir.path(), 0, base)) {
        assert!(std::fs::metadata(&path).expect("segment").len() <= 1024, "{} is over segment_bytes", path.display());
    }

    let mut reader = bus.consumer(TOPIC, from_start()).expect("consumer");
    assert_eq!(receive(&mut reader, 100).await.len(), 100);
    let lagging = bus.consumer(TOPIC, from_start()).expect("lagging consumer");
    reader.commit(0, 50).expect("commit");
    assert_eq!(segment_bases(dir.path(), 0), bases, "a consumer still at 0 keeps every segment");

    drop(lagging);
    reader.commit(0, 50).expect("commit");
    let kept = segment_bases(dir.path(), 0);
    assert!(kept[0] <= 50 && kept.len() > 1 && kept[1] > 50, "segments below 50 are gone, 50 is kept: {kept:?}");

    let mut fresh = bus.consumer(TOPIC, Arc::new(|_| Some(50))).expect("consumer");
    let rest = receive(&mut fresh, 50).await;
    assert_eq!(offsets(&rest, 0), (50..100).collect::<Vec<_>>());
    assert_eq!(rest[0].payload, message("k", 50).payload);

    reader.commit(0, 100).expect("commit everything");
    fresh.commit(0, 100).expect("commit everything");
    assert_eq!(segment_bases(dir.path(), 0), vec![*bases.last().expect("segments")], "the active segment stays");
    assert!(matches!(reader.commit(0, 101), Err(BusError::Rejected(_))), "commit past the end");
    assert_eq!(bus.append(TOPIC, 0, vec![message("k", 100)]).await.expect("append"), 100);
    drop((reader, fresh, bus));

    let bus = EmbeddedBus::open(dir.path(), config(1, 1024)).expect("bus reopens");
    let mut consumer = bus.consumer(TOPIC, Arc::new(|_| Some(100))).expect("consumer");
    assert_eq!(offsets(&receive(&mut consumer, 1).await, 0), vec![100]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_appenders_lose_and_duplicate_nothing() {
    const TASKS: usize = 50;
    const PER_TASK: usize = 100;
    let dir = tempfile::tempdir().expect("tempdir");
    let bus = open(dir.path(), 2);
    let appenders: Vec<_> = (0..TASKS)
        .map(|task| {
            let bus = bus.clone();
            tokio::spawn(async move {
                let key = format!("task-{task}");
                let partition = bus.partition_for(TOPIC, Some(key.as_bytes())).expect("partition");
                for index in 0..PER_TASK {
                    bus.append(TOPIC, partition, vec![message(&key, index)]).await.expect("append");
                }
            })
        })
        .collect();
    for appender in appenders {
        timeout(Duration::from_secs(120), appender).await.expect("appends finish").expect("task");
    }

    let mut consumer = bus.consumer(TOPIC, from_start()).expect("consumer");
    let received = receive(&mut consumer, TASKS * PER_TASK).await;
    for partition in 0..2 {
        let offsets = offsets(&received, partition);
        assert_eq!(offsets, (0..offsets.len() as u64).collect::<Vec<_>>(), "partition {partition} is dense");
    }
    let unique: HashSet<_> = received.iter().map(|m| m.payload.clone()).collect();
    assert_eq!(unique.len(), TASKS * PER_TASK, "every message exactly once");
    let mut per_key: BTreeMap<Vec<u8>, Vec<usize>> = BTreeMap::new();
    for got in &received {
        let seq = got.header("seq").expect("seq header").parse().expect("number");
        per_key.entry(got.key.clone().expect("key")).or_default().push(seq);
    }
    assert!(per_key.values().all(|seqs| *seqs == (0..PER_TASK).collect::<Vec<_>>()), "each key keeps its order");
}

#[tokio::test]
async fn oversize_messages_bad_topics_and_partitions_are_rejected() {
    let dir = tempfile::tempdir().expect("tempdir");
    let limits = EmbeddedConfig { max_message_bytes: 1024, ..config(1, 1 << 20) };
    let bus = EmbeddedBus::open(dir.path(), limits).expect("bus opens");
    let small = message("k", 0);
    let big = OutgoingMessage { payload: vec![7; 2000], ..message("k", 1) };

    match bus.append(TOPIC, 0, vec![small.clone(), big]).await {
        Err(BusError::Rejected(reason)) => assert!(reason.contains("1024"), "names the limit: {reason}"),
        other => panic!("expected a rejection, got {other:?}"),
    }
    assert_eq!(bus.end_offset(TOPIC, 0).expect("end"), 0, "nothing of the batch was appended");
    assert!(matches!(bus.append(TOPIC, 1, vec![small.clone()]).await, Err(BusError::Rejected(_))));
    assert_eq!(bus.append(TOPIC, 0, vec![small]).await.expect("append"), 0);

    for bad in ["", "../escape", "a/b", "spaces here", &"x".repeat(201)] {
        assert!(matches!(bus.append(bad, 0, vec![message("k", 0)]).await, Err(BusError::Rejected(_))), "{bad:?}");
        assert!(matches!(bus.partitions(bad), Err(BusError::Rejected(_))), "{bad:?}");
        assert!(matches!(bus.consumer(bad, from_start()), Err(BusError::Rejected(_))), "{bad:?}");
    }
    let entries: Vec<_> = std::fs::read_dir(dir.path()).expect("dir").map(|e| e.expect("entry").file_name()).collect();
    assert_eq!(entries, vec![std::ffi::OsString::from(TOPIC)], "bad topics left nothing on disk");
}

#[tokio::test]
async fn keys_map_to_stable_partitions() {
    let dir = tempfile::tempdir().expect("tempdir");
    let bus = EmbeddedBus::open(dir.path(), config(4, 1 << 20)).expect("bus opens");
    assert_eq!(bus.partitions(TOPIC).expect("partitions"), 4);
    let first = bus.partition_for(TOPIC, Some(b"host-1/var/log/syslog")).expect("partition");
    drop(bus);
    let bus = EmbeddedBus::open(dir.path(), config(8, 1 << 20)).expect("bus reopens");
    assert_eq!(bus.partitions(TOPIC).expect("partitions"), 4, "an existing topic keeps its partitions");
    assert_eq!(bus.partition_for(TOPIC, Some(b"host-1/var/log/syslog")).expect("partition"), first);
    let spread: HashSet<_> = (0..8).map(|_| bus.partition_for(TOPIC, None).expect("partition")).collect();
    assert!(spread.len() > 1, "messages without a key spread over partitions");
}
