//! The HTTP surface beyond search: live tail, /metrics, unknown paths, the time budget.

use std::time::Duration;

use crate::helpers::TestApp;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn live_tail_streams_new_matching_lines() {
    let app = TestApp::up().await;
    app.ingest("text/plain", b"2024-01-01T00:00:00Z ERROR old line before the tail\n".to_vec()).await;
    app.wait_total(&[("q", "old")], 1).await;

    let mut stream = app
        .client
        .get(format!("{}/api/v1/logs/tail", app.base))
        .query(&[("q", "payment")])
        .send()
        .await
        .expect("tail answers");
    assert_eq!(stream.status().as_u16(), 200);
    app.ingest(
        "text/plain",
        b"2024-01-01T00:00:01Z ERROR payment declined for order 7\n2024-01-01T00:00:02Z INFO unrelated\n".to_vec(),
    )
    .await;
    let mut received = String::new();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    while !received.contains("payment declined") {
        let chunk = tokio::time::timeout_at(deadline, stream.chunk())
            .await
            .expect("a tail event in time")
            .expect("stream open");
        received.push_str(&String::from_utf8_lossy(&chunk.expect("stream not closed")));
    }
    assert!(received.contains("event: log"), "{received}");
    assert!(!received.contains("old line"), "the tail starts at the request: {received}");
    assert!(!received.contains("unrelated"), "only matching lines: {received}");

    let (status, body) = app.get("/api/v1/logs/tail", &[("q", "a AND (")]).await;
    assert_eq!(status, 400, "a bad tail query is refused up front: {body}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_health_and_unknown_paths() {
    let app = TestApp::up().await;
    app.ingest("text/plain", b"bad \xff byte\n".to_vec()).await;
    app.wait_total(&[("q", "flags:invalid_utf8")], 1).await;
    let metrics =
        app.client.get(format!("{}/metrics", app.base)).send().await.expect("metrics").text().await.expect("text");
    assert!(metrics.contains("vigil_pipeline_events_indexed_total"), "{metrics}");
    assert!(metrics.contains("vigil_pipeline_events_flagged_total{flag=\"invalid_utf8\"}"), "{metrics}");
    assert!(
        metrics.contains("vigil_http_requests_total{route=\"/api/v1/logs/ingest\",method=\"POST\",status=\"200\"}"),
        "{metrics}"
    );
    let (status, body) = app.get("/api/v1/nothing-here", &[]).await;
    assert_eq!(status, 404);
    assert_eq!(body["error"]["code"], "not_found");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_search_over_its_time_budget_answers_503() {
    let app = TestApp::up_with_env(&[("VIGIL__QUERY__TIMEOUT".to_string(), "1ns".to_string())]).await;
    let (status, body) = app.get("/api/v1/logs/search", &[("q", "anything")]).await;
    assert_eq!(status, 503, "{body}");
    assert_eq!(body["error"]["code"], "timeout");
}
