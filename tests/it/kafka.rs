//! The distributed shape: HTTP ingest -> a real Kafka-protocol broker -> pipeline -> search.

use std::time::Duration;

use rdkafka::{
    message::{Header, OwnedHeaders},
    producer::{BaseProducer, BaseRecord, Producer as _},
    ClientConfig,
};
use vigil_testkit::{unique_name, Broker, BrokerStorage};

use crate::helpers::{kafka_config, lines_of, TestApp};

/// Writes straight to the topic, the way a third-party producer (or a broken one) would.
fn produce_raw(broker: &Broker, topic: &str, content_type: Option<&str>, payload: &[u8]) {
    let producer: BaseProducer =
        ClientConfig::new().set("bootstrap.servers", broker.address()).create().expect("producer");
    let mut record = BaseRecord::<(), [u8]>::to(topic).payload(payload);
    if let Some(content_type) = content_type {
        record = record.headers(OwnedHeaders::new().insert(Header { key: "content-type", value: Some(content_type) }));
    }
    producer.send(record).map_err(|(error, _)| error).expect("queued");
    producer.flush(Duration::from_secs(10)).expect("delivered");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn logs_through_kafka_are_searchable_exactly_once_across_a_crash() {
    let Some(data) = vigil_testkit::shared_data() else { return };
    let logs = tempfile::tempdir().expect("tempdir");
    let broker = Broker::start(BrokerStorage::Memory, logs.path());
    let topic = unique_name("vigil-logs");
    broker.create_topic(&topic, 3);
    let mut app = TestApp::run_with_config(&kafka_config(&broker.address(), &topic), "ingest,pipeline,query").await;

    let mut expected = 0;
    for system in ["HDFS", "Spark", "OpenSSH"] {
        let path = data.join(format!("logs/loghub/{system}/{system}_2k.log"));
        let bytes = std::fs::read(&path).expect("loghub sample");
        let lines = lines_of(&bytes);
        expected += lines.len() as u64;
        app.ingest_lines(&system.to_lowercase(), &path.display().to_string(), &lines).await;
    }
    // Third-party JSON lines and garbage straight onto the topic.
    produce_raw(
        &broker,
        &topic,
        None,
        br#"{"time":"2024-05-01T10:00:00Z","level":"error","msg":"from fluent bit","service":"fb"}"#,
    );
    produce_raw(&broker, &topic, Some(vigil_model::content_type::LOG_BATCH_V1), b"\x08\xff\xff garbage");
    expected += 2;
    assert_eq!(app.wait_total(&[], expected).await, expected);
    assert_eq!(app.total(&[("service", "fb"), ("level", "error")]).await, 1, "JSON lines are parsed");
    assert_eq!(app.total(&[("q", "flags:undecodable")]).await, 1, "garbage is kept, flagged");

    // kill -9 and restart: the index resumes at its committed offsets, nothing twice.
    app.process.kill();
    app.restart().await;
    let path = data.join("logs/loghub/Zookeeper/Zookeeper_2k.log");
    let bytes = std::fs::read(&path).expect("zookeeper sample");
    let lines = lines_of(&bytes);
    expected += lines.len() as u64;
    app.ingest_lines("zookeeper", &path.display().to_string(), &lines).await;
    assert_eq!(app.wait_total(&[], expected).await, expected);
    tokio::time::sleep(Duration::from_secs(2)).await; // let a duplicate show up if there is one
    assert_eq!(app.total(&[]).await, expected, "no line indexed twice after the restart");
}
