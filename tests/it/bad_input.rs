//! Bad input over HTTP: kept and flagged, or refused with a clear error; the pipeline goes on.

use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::helpers::TestApp;

/// Announces a body of `length` bytes and sends none of it: the server must refuse on the
/// announced length alone. (A client that streams the whole body may see the connection
/// close under it instead of the answer, which is a race, not a result.)
async fn announce_oversized_body(base: &str, length: usize) -> String {
    let address = base.trim_start_matches("http://");
    let mut stream = tokio::net::TcpStream::connect(address).await.expect("connect");
    let head = format!(
        "POST /api/v1/logs/ingest HTTP/1.1\r\nHost: {address}\r\nContent-Type: text/plain\r\nContent-Length: {length}\r\nConnection: close\r\n\r\n"
    );
    stream.write_all(head.as_bytes()).await.expect("send the request head");
    let mut answer = Vec::new();
    let read = tokio::time::timeout(Duration::from_secs(10), stream.read_to_end(&mut answer)).await;
    assert!(read.is_ok(), "the server waited for the body instead of refusing it");
    String::from_utf8_lossy(&answer).into_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_input_is_kept_flagged_or_refused_and_ingest_goes_on() {
    let app = TestApp::up().await;

    // Invalid UTF-8 and malformed JSON are kept, flagged.
    let response = app.ingest("text/plain", b"bad bytes \xff\xfe here\n".to_vec()).await;
    assert!(response.status().is_success());
    let response = app
        .ingest("application/x-ndjson", b"{\"msg\":\"fine json\",\"level\":\"warn\"}\n{\"broken\": \n".to_vec())
        .await;
    assert!(response.status().is_success());

    // A 10 MB line is stored whole, as ordered pieces flagged `split`.
    let mut huge = b"2024-01-01T00:00:00Z ERROR giant ".to_vec();
    huge.extend(std::iter::repeat_n(b'x', 10 * 1024 * 1024));
    huge.push(b'\n');
    let huge_len = huge.len() - 1;
    assert!(app.ingest("text/plain", huge).await.status().is_success());

    assert_eq!(app.wait_total(&[("q", "flags:invalid_utf8")], 1).await, 1);
    assert_eq!(app.wait_total(&[("q", "flags:malformed_json")], 1).await, 1);
    let fine = app.search(&[("q", "fine")]).await;
    assert_eq!(fine.total, 1);
    assert_eq!(fine.hits[0].level.as_deref(), Some("warn"));
    let pieces = app.search(&[("q", "flags:split"), ("limit", "1000"), ("sort", "asc")]).await;
    let stored: usize = pieces.hits.iter().map(|hit| hit.message.len()).sum();
    assert_eq!(stored, huge_len, "all 10 MB kept");

    // Refused with a clear error, nothing appended.
    let response = app.ingest("image/png", b"\x89PNG".to_vec()).await;
    assert_eq!(response.status().as_u16(), 415);
    let body: serde_json::Value = response.json().await.expect("json error");
    assert!(body["error"]["message"].as_str().expect("message").contains("content type"), "{body}");

    let response = app.ingest(vigil_model::content_type::LOG_BATCH_V1, b"\xff\xff\xff\xff".to_vec()).await;
    assert_eq!(response.status().as_u16(), 400);

    let answer = announce_oversized_body(&app.base, 40 * 1024 * 1024).await;
    assert!(answer.starts_with("HTTP/1.1 413"), "{answer}");
    assert!(answer.contains("\"payload_too_large\""), "{answer}");

    // The pipeline kept going.
    assert!(app.ingest("text/plain", b"2024-01-01T00:00:01Z INFO still alive\n".to_vec()).await.status().is_success());
    assert_eq!(app.wait_total(&[("q", "\"still alive\"")], 1).await, 1);
}
