//! Metrics through `vigil up`: Prometheus remote write in, the bus, the metric store, and the
//! Prometheus query API out; a SIGKILL in between loses nothing and duplicates nothing.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use prost::Message as _;
use serde_json::Value;
use vigil_model::metrics::{Label, Sample, TimeSeries, WriteRequest};
use vigil_testkit::wait_until;

use crate::helpers::TestApp;

fn series(pairs: &[(&str, &str)], samples: &[(i64, f64)]) -> TimeSeries {
    TimeSeries {
        labels: pairs.iter().map(|(n, v)| Label { name: n.to_string(), value: v.to_string() }).collect(),
        samples: samples.iter().map(|(t, v)| Sample { timestamp: *t, value: *v }).collect(),
    }
}

async fn remote_write(app: &TestApp, timeseries: Vec<TimeSeries>) -> (u16, String) {
    let body = snap::raw::Encoder::new()
        .compress_vec(&WriteRequest { timeseries, ..Default::default() }.encode_to_vec())
        .expect("snappy");
    let response = app
        .client
        .post(format!("{}/api/v1/write", app.base))
        .header("content-type", "application/x-protobuf")
        .header("content-encoding", "snappy")
        .header("x-prometheus-remote-write-version", "0.1.0")
        .body(body)
        .send()
        .await
        .expect("remote write answered");
    (response.status().as_u16(), response.text().await.unwrap_or_default())
}

async fn prom(app: &TestApp, path: &str, params: &[(&str, String)]) -> (u16, Value) {
    let response = app.client.get(format!("{}{path}", app.base)).query(params).send().await.expect("query answered");
    let status = response.status().as_u16();
    (status, response.json().await.unwrap_or(Value::Null))
}

/// The query's vector result as (labels, value).
async fn instant(app: &TestApp, query: &str, time: f64) -> Vec<(Value, f64)> {
    let (status, body) = prom(app, "/api/v1/query", &[("query", query.to_string()), ("time", time.to_string())]).await;
    assert_eq!(status, 200, "{query}: {body}");
    body["data"]["result"]
        .as_array()
        .map(|result| {
            result
                .iter()
                .map(|r| (r["metric"].clone(), r["value"][1].as_str().and_then(|v| v.parse().ok()).unwrap_or(f64::NAN)))
                .collect()
        })
        .unwrap_or_default()
}

#[tokio::test]
async fn remote_written_samples_are_queryable_through_the_prometheus_api_and_survive_a_kill() {
    let mut app = TestApp::up().await;
    let now = SystemTime::now().duration_since(UNIX_EPOCH).expect("clock").as_millis() as i64;
    let start = now - now % 15_000 - 300_000;
    // A counter growing by 30 every 15 s on two instances, for 5 minutes.
    let points =
        |per_step: f64| -> Vec<(i64, f64)> { (0..=20).map(|i| (start + i * 15_000, per_step * i as f64)).collect() };
    let (status, body) = remote_write(
        &app,
        vec![
            series(&[("__name__", "http_requests_total"), ("job", "api"), ("instance", "a")], &points(30.0)),
            series(&[("__name__", "http_requests_total"), ("job", "api"), ("instance", "b")], &points(60.0)),
            series(&[("__name__", "bad-name"), ("job", "api")], &points(1.0)),
        ],
    )
    .await;
    assert_eq!(status, 400, "an invalid series is refused by name: {body}");
    assert!(body.contains("bad-name") && body.contains("1 series refused"), "{body}");

    let at = (start + 300_000) as f64 / 1000.0;
    wait_until("the samples to be queryable", Duration::from_secs(20), || async {
        (instant(&app, "http_requests_total", at).await.len() == 2).then_some(())
    })
    .await;
    // 30 per 15 s is 2/s; the sum over both instances 6/s.
    let rate = instant(&app, "sum by (job) (rate(http_requests_total[1m]))", at).await;
    assert_eq!(rate.len(), 1, "{rate:?}");
    assert_eq!(rate[0].0["job"], "api");
    assert!((rate[0].1 - 6.0).abs() < 1e-9, "{rate:?}");

    // A range query has one point per step.
    let (status, body) = prom(
        &app,
        "/api/v1/query_range",
        &[
            ("query", "http_requests_total{instance=\"a\"}".into()),
            ("start", ((start + 60_000) as f64 / 1000.0).to_string()),
            ("end", at.to_string()),
            ("step", "60s".into()),
        ],
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["data"]["resultType"], "matrix");
    let values = body["data"]["result"][0]["values"].as_array().expect("values");
    assert_eq!(values.len(), 5, "{body}");
    assert_eq!(values[4][1], "600", "{body}");

    // Series, labels and label values, as Grafana asks for them.
    let (_, body) = prom(&app, "/api/v1/series", &[("match[]", "http_requests_total".into())]).await;
    assert_eq!(body["data"].as_array().map(Vec::len), Some(2), "{body}");
    let (_, body) = prom(&app, "/api/v1/labels", &[]).await;
    let names: Vec<&str> = body["data"].as_array().into_iter().flatten().filter_map(Value::as_str).collect();
    assert!(["__name__", "instance", "job"].iter().all(|n| names.contains(n)), "{body}");
    let (_, body) = prom(&app, "/api/v1/label/instance/values", &[]).await;
    let values: Vec<&str> = body["data"].as_array().into_iter().flatten().filter_map(Value::as_str).collect();
    assert!(values.contains(&"a") && values.contains(&"b"), "{body}");
    // Narrowed by match[], as Grafana's template variables ask.
    let (_, body) =
        prom(&app, "/api/v1/label/instance/values", &[("match[]", "http_requests_total{instance=\"a\"}".into())]).await;
    assert_eq!(body["data"], serde_json::json!(["a"]), "{body}");
    let (_, body) = prom(&app, "/api/v1/labels", &[("match[]", "http_requests_total".into())]).await;
    assert_eq!(body["data"], serde_json::json!(["__name__", "instance", "job"]), "{body}");

    // Errors in Prometheus's format: a syntax error names the place; outside the subset says so.
    let (status, body) = prom(&app, "/api/v1/query", &[("query", "sum(rate(x[1m])".into())]).await;
    assert_eq!(
        (status, body["status"].as_str(), body["errorType"].as_str()),
        (400, Some("error"), Some("bad_data")),
        "{body}"
    );
    let (status, body) =
        prom(&app, "/api/v1/query", &[("query", "label_replace(up, \"a\", \"b\", \"c\", \"d\")".into())]).await;
    assert_eq!(status, 422, "{body}");
    assert!(body["error"].as_str().unwrap_or("").contains("not supported"), "{body}");

    // vigil up scrapes its own /metrics into the same store.
    let now_s = SystemTime::now().duration_since(UNIX_EPOCH).expect("clock").as_secs_f64();
    let own = wait_until("vigil's own metrics to be stored", Duration::from_secs(30), || async {
        let up = instant(&app, "up{job=\"vigil\"}", now_s).await;
        (!up.is_empty()).then_some(up)
    })
    .await;
    assert_eq!(own[0].1, 1.0, "{own:?}");
    let own = instant(&app, "scrape_duration_seconds{job=\"vigil\"}", now_s).await;
    assert!(own.first().is_some_and(|(_, v)| *v >= 0.0 && *v < 10.0), "the scrape is timed: {own:?}");

    // SIGKILL: the acknowledged samples come back from the log, once each.
    app.process.kill();
    app.restart().await;
    let counts = instant(&app, "count_over_time(http_requests_total[10m])", at).await;
    assert_eq!(counts.len(), 2, "{counts:?}");
    assert!(counts.iter().all(|(_, count)| *count == 21.0), "every sample once: {counts:?}");
    // The same samples sent again (a sender retrying) are not stored twice; a marker series in
    // the same request shows when the pipeline has taken it.
    let (status, body) = remote_write(
        &app,
        vec![
            series(&[("__name__", "http_requests_total"), ("job", "api"), ("instance", "a")], &points(30.0)),
            series(&[("__name__", "resent_marker")], &[(start + 300_000, 1.0)]),
        ],
    )
    .await;
    assert_eq!(status, 204, "{body}");
    wait_until("the resent batch to be stored", Duration::from_secs(20), || async {
        (!instant(&app, "resent_marker", at).await.is_empty()).then_some(())
    })
    .await;
    let counts = instant(&app, "count_over_time(http_requests_total{instance=\"a\"}[10m])", at).await;
    assert_eq!(counts[0].1, 21.0, "a resent batch is stored once: {counts:?}");
}

#[tokio::test]
async fn the_agent_scrapes_an_exporter_and_keeps_the_good_lines_of_a_broken_page() {
    let Some(data) = vigil_testkit::shared_data() else { return };
    // node_exporter's own end-to-end output, served as an exporter would.
    let page = std::fs::read_to_string(data.join("metrics/node_exporter/e2e-output.txt")).expect("exposition sample");
    let expected_cpu = page.lines().filter(|l| l.starts_with("node_cpu_seconds_total{")).count();
    assert!(expected_cpu > 0);
    let served = std::sync::Arc::new(std::sync::Mutex::new(page.clone()));
    let exporter = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let address = exporter.local_addr().expect("address");
    let state = served.clone();
    let router = axum::Router::new().route(
        "/metrics",
        axum::routing::get(move || {
            let state = state.clone();
            async move { state.lock().map(|page| page.clone()).unwrap_or_default() }
        }),
    );
    tokio::spawn(async move { axum::serve(exporter, router).await });

    let app = TestApp::up().await;
    let work = tempfile::tempdir().expect("tempdir");
    let config = work.path().join("agent.toml");
    std::fs::write(
        &config,
        format!("[agent]\n[[agent.scrape]]\nurl = \"http://{address}/metrics\"\njob = \"node\"\ninterval = \"1s\"\ntimeout = \"1s\"\n"),
    )
    .expect("agent config");
    let agent_port = vigil_testkit::free_port();
    let args: Vec<String> = [
        "--server",
        &app.base,
        "--config",
        &config.display().to_string(),
        "--data-dir",
        &work.path().join("agent-data").display().to_string(),
        "--listen",
        &format!("127.0.0.1:{agent_port}"),
        "--host-metrics",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    let _agent =
        vigil_testkit::Process::start(&crate::agent::agent_binary(), &args, &[], &work.path().join("agent.log"));

    let now = || SystemTime::now().duration_since(UNIX_EPOCH).expect("clock").as_secs_f64();
    let up = wait_until("the exporter to be scraped and stored", Duration::from_secs(30), || async {
        let up = instant(&app, "up{job=\"node\"}", now()).await;
        up.first().filter(|(_, value)| *value == 1.0).cloned()
    })
    .await;
    assert_eq!(up.0["instance"], address.to_string(), "{up:?}");
    let page_cpu = format!("count(node_cpu_seconds_total{{job=\"node\",instance=\"{address}\"}})");
    let cpu = instant(&app, &page_cpu, now()).await;
    assert_eq!(cpu.first().map(|(_, v)| *v), Some(expected_cpu as f64), "every CPU series of the page: {cpu:?}");

    // The page's # TYPE and # HELP reach the metadata API (Grafana's type hints).
    let (_, body) = prom(&app, "/api/v1/metadata", &[("metric", "node_cpu_seconds_total".into())]).await;
    assert_eq!(body["data"]["node_cpu_seconds_total"][0]["type"], "counter", "{body}");
    assert!(body["data"]["node_cpu_seconds_total"][0]["help"].as_str().is_some_and(|h| !h.is_empty()), "{body}");

    // --host-metrics: this machine's own figures under node_exporter's names.
    let host = format!("node_boot_time_seconds{{job=\"node\",instance!=\"{address}\"}}");
    let boot = wait_until("the agent's host metrics", Duration::from_secs(30), || async {
        let boot = instant(&app, &host, now()).await;
        (!boot.is_empty()).then_some(boot)
    })
    .await;
    assert!(boot[0].1 > 1.0e9 && boot[0].1 < now(), "a boot time in the past: {boot:?}");

    // A malformed line: reported and skipped, the rest of the page still stored.
    *served.lock().expect("page") = format!("{page}broken{{ 1\nafter_the_break 7\n");
    wait_until("the lines after a broken one to be stored", Duration::from_secs(30), || async {
        (!instant(&app, "after_the_break{job=\"node\"}", now()).await.is_empty()).then_some(())
    })
    .await;
    let agent_metrics = reqwest::get(format!("http://127.0.0.1:{agent_port}/metrics"))
        .await
        .expect("agent metrics")
        .text()
        .await
        .unwrap_or_default();
    assert!(agent_metrics.contains("vigil_agent_scrape_bad_lines_total"), "{agent_metrics}");
}

/// SIGKILL while samples stream in: every sample the receiver acknowledged (204) is there
/// after the restart, each once.
#[tokio::test]
async fn a_kill_during_remote_write_loses_no_acknowledged_sample() {
    let mut app = TestApp::up().await;
    let base = SystemTime::now().duration_since(UNIX_EPOCH).expect("clock").as_millis() as i64 - 3_600_000;
    let acknowledged = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    // A writer sending ten samples per request, retrying a request until it is acknowledged,
    // as a remote-write sender does; the server is killed while it runs.
    let writer = {
        let (target, acknowledged) = (TestApp::client_of(&app), acknowledged.clone());
        tokio::spawn(async move {
            let mut seq = 0i64;
            while seq < 600 {
                let batch: Vec<TimeSeries> = (seq..seq + 10)
                    .map(|s| {
                        series(&[("__name__", "kill_test_seq"), ("job", "writer")], &[(base + s * 1000, s as f64)])
                    })
                    .collect();
                if remote_write_or_down(&target, batch).await.0 == 204 {
                    acknowledged.lock().expect("acks").extend(seq..seq + 10);
                    seq += 10;
                } else {
                    tokio::time::sleep(Duration::from_millis(20)).await;
                }
            }
        })
    };
    wait_until("a first part to be acknowledged", Duration::from_secs(30), || async {
        (acknowledged.lock().expect("acks").len() >= 200).then_some(())
    })
    .await;
    app.process.kill();
    app.restart().await;
    tokio::time::timeout(Duration::from_secs(60), writer).await.expect("the writer finishes").expect("writer task");
    let acknowledged = acknowledged.lock().expect("acks").clone();
    assert_eq!(acknowledged.len(), 600);
    let at = (base + 700_000) as f64 / 1000.0;
    let stored = wait_until("every acknowledged sample after the restart", Duration::from_secs(30), || async {
        let (_, body) =
            prom(&app, "/api/v1/query", &[("query", "kill_test_seq[15m]".into()), ("time", at.to_string())]).await;
        let values = body["data"]["result"][0]["values"].as_array()?.clone();
        (values.len() >= acknowledged.len()).then_some(values)
    })
    .await;
    let stored: Vec<i64> =
        stored.iter().filter_map(|point| point[1].as_str()?.parse::<f64>().ok()).map(|v| v as i64).collect();
    let distinct: std::collections::BTreeSet<i64> = stored.iter().copied().collect();
    assert_eq!(distinct.len(), stored.len(), "no sample stored twice");
    for seq in &acknowledged {
        assert!(distinct.contains(seq), "acknowledged sample {seq} lost");
    }
}

/// Like [`remote_write`], but a refused connection (the server is down) answers status 0.
async fn remote_write_or_down(target: &(reqwest::Client, String), timeseries: Vec<TimeSeries>) -> (u16, String) {
    let body = snap::raw::Encoder::new()
        .compress_vec(&WriteRequest { timeseries, ..Default::default() }.encode_to_vec())
        .expect("snappy");
    match target
        .0
        .post(format!("{}/api/v1/write", target.1))
        .header("content-encoding", "snappy")
        .timeout(Duration::from_secs(5))
        .body(body)
        .send()
        .await
    {
        Ok(response) => (response.status().as_u16(), response.text().await.unwrap_or_default()),
        Err(error) => (0, error.to_string()),
    }
}

/// History sent by remote write (a backfill) is cut into on-disk blocks, merged and
/// downsampled in the background; long-range queries read the downsampled tiers and give the
/// raw answers; everything survives a restart, each sample once.
#[tokio::test]
async fn backfilled_history_goes_to_blocks_and_long_range_queries_stay_right() {
    let envs = [("VIGIL__METRICS__MAINTENANCE_INTERVAL".to_string(), "1s".to_string())];
    let mut app = TestApp::up_with_env(&envs).await;
    let minute = 60_000;
    let now = SystemTime::now().duration_since(UNIX_EPOCH).expect("clock").as_millis() as i64;
    let end = now - now % minute;
    let start = end - 12 * 60 * minute;
    // Two counters growing by 60 a minute (one resets every 5 h) and a gauge, one sample a
    // minute for 12 hours, sent an hour at a time as a backfilling sender would.
    for hour in 0..12 {
        let times: Vec<i64> = (0..60).map(|m| start + (hour * 60 + m) * minute).collect();
        let counter = |reset_every: i64| -> Vec<(i64, f64)> {
            times.iter().map(|t| (*t, (((t - start) / minute) % reset_every * 60) as f64)).collect()
        };
        let gauge: Vec<(i64, f64)> = times.iter().map(|t| (*t, ((t - start) / minute % 97) as f64)).collect();
        let (status, body) = remote_write(
            &app,
            vec![
                series(&[("__name__", "backfill_total"), ("instance", "steady")], &counter(i64::MAX)),
                series(&[("__name__", "backfill_total"), ("instance", "resets")], &counter(300)),
                series(&[("__name__", "backfill_gauge")], &gauge),
            ],
        )
        .await;
        assert_eq!(status, 204, "{body}");
    }
    let blocks = app.data_dir().join("metrics/blocks");
    let names = wait_until("blocks and downsampled tiers on disk", Duration::from_secs(60), || async {
        let names: Vec<String> = std::fs::read_dir(&blocks)
            .ok()?
            .flatten()
            .filter_map(|e| e.file_name().to_str().map(str::to_string))
            .collect();
        let has = |prefix: &str| names.iter().any(|n| n.starts_with(prefix) && !n.ends_with(".tmp"));
        (has("raw-") && has("5m-") && has("1h-")).then_some(names)
    })
    .await;
    // The store reports its blocks in its own metrics.
    wait_until("the block gauge", Duration::from_secs(30), || async {
        let metrics = app.client.get(format!("{}/metrics", app.base)).send().await.ok()?.text().await.ok()?;
        metrics.lines().any(|l| l.starts_with("vigil_metricstore_blocks ") && !l.ends_with(" 0")).then_some(())
    })
    .await;
    eprintln!("blocks: {names:?}");

    for round in ["before a restart", "after a restart"] {
        let at = end as f64 / 1000.0;
        // Every sample once, across blocks and memory.
        let counts = instant(&app, "count_over_time(backfill_total[13h])", at).await;
        assert_eq!(counts.len(), 2, "{round}: {counts:?}");
        assert!(counts.iter().all(|(_, c)| *c == 720.0), "{round}: {counts:?}");
        // A 6 h window stepped by the hour reads the 5 m tier; the answers are the raw ones,
        // within the tier's edge error.
        let range = [
            ("query", "max_over_time(backfill_gauge[6h])".to_string()),
            ("start", ((end - 5 * 60 * minute) as f64 / 1000.0).to_string()),
            ("end", at.to_string()),
            ("step", "3600".to_string()),
        ];
        let (status, body) = prom(&app, "/api/v1/query_range", &range).await;
        assert_eq!(status, 200, "{body}");
        let values = body["data"]["result"][0]["values"].as_array().cloned().unwrap_or_default();
        assert!(!values.is_empty() && values.iter().all(|v| v[1] == "96"), "{round}: the gauge's maximum: {body}");
        let range = [
            ("query", "increase(backfill_total[6h])".to_string()),
            ("start", ((end - 5 * 60 * minute) as f64 / 1000.0).to_string()),
            ("end", at.to_string()),
            ("step", "3600".to_string()),
        ];
        let (status, body) = prom(&app, "/api/v1/query_range", &range).await;
        assert_eq!(status, 200, "{body}");
        for series in body["data"]["result"].as_array().expect("result") {
            for point in series["values"].as_array().expect("values") {
                // 60 a minute for 6 hours, resets included; one 5 m window is 1.4% of 6 h.
                let increase: f64 = point[1].as_str().and_then(|v| v.parse().ok()).expect("number");
                assert!((increase - 21_600.0).abs() <= 21_600.0 * 0.02, "{round}: {}: {increase}", series["metric"]);
            }
        }
        if round == "before a restart" {
            app.process.kill();
            app.restart().await;
        }
    }
}
