//! Real logs through `vigil up`: every line searchable exactly once, word counts equal to
//! grep's, levels equal to the Loghub ground truth.

use std::{
    collections::{BTreeMap, HashMap},
    path::{Path, PathBuf},
};

use vigil_model::Level;

use crate::helpers::{grep_count, lines_of, TestApp};

/// (service name, file below the shared data dir, ground-truth CSV with a Level column).
fn corpus(data: &Path) -> Vec<(String, PathBuf, Option<PathBuf>)> {
    let mut files = Vec::new();
    for system in ["HDFS", "Zookeeper", "Hadoop", "Spark", "Apache", "BGL", "OpenSSH", "Linux", "HealthApp", "Windows"]
    {
        let dir = data.join("logs/loghub").join(system);
        let log = dir.join(format!("{system}_2k.log"));
        let truth = dir.join(format!("{system}_2k.log_structured.csv"));
        files.push((system.to_lowercase(), log, Some(truth)));
    }
    files.push(("apache-access".into(), data.join("logs/other/apache-access/apache_logs"), None));
    files.push((
        "kafka-state-change".into(),
        data.join("logs/other/kafka-java-multiline/kafka0_state-change.log.2016-12-19-16"),
        None,
    ));
    files.push(("auth".into(), data.join("logs/other/syslog-auth/auth.log"), None));
    files
}

/// A few words of the file: the most frequent ones and some rare ones, letters only.
fn probe_words(bytes: &[u8]) -> Vec<String> {
    let text = String::from_utf8_lossy(bytes).to_lowercase();
    let mut counts: HashMap<&str, usize> = HashMap::new();
    for word in text.split(|c: char| !c.is_ascii_alphanumeric()) {
        if word.len() >= 4 && word.len() <= 40 && word.chars().all(|c| c.is_ascii_alphabetic()) {
            *counts.entry(word).or_default() += 1;
        }
    }
    let mut by_count: Vec<(&str, usize)> = counts.into_iter().collect();
    by_count.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(b.0)));
    let mut words: Vec<String> = by_count.iter().take(4).map(|(w, _)| w.to_string()).collect();
    words.extend(by_count.iter().rev().take(3).map(|(w, _)| w.to_string()));
    words
}

/// Level counts from a Loghub structured CSV, normalised as Vigil names them.
fn truth_levels(csv_path: &Path) -> Option<BTreeMap<String, u64>> {
    let mut reader = csv::Reader::from_path(csv_path).ok()?;
    let level_column = reader.headers().ok()?.iter().position(|h| h == "Level")?;
    let mut counts = BTreeMap::new();
    for row in reader.records() {
        let row = row.ok()?;
        if let Some(level) = row.get(level_column).and_then(Level::parse) {
            *counts.entry(level.as_str().to_string()).or_insert(0) += 1;
        }
    }
    Some(counts)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn real_logs_are_searchable_exactly_once_through_vigil_up() {
    let Some(data) = vigil_testkit::shared_data() else { return };
    let app = TestApp::up().await;
    let corpus = corpus(&data);
    let mut expected_total = 0;
    for (service, path, _) in &corpus {
        let bytes = std::fs::read(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        let lines = lines_of(&bytes);
        expected_total += lines.len() as u64;
        app.ingest_lines(service, &path.display().to_string(), &lines).await;
    }
    let total = app.wait_total(&[], expected_total).await;
    assert_eq!(total, expected_total, "every line exactly once");

    for (service, path, truth) in &corpus {
        let bytes = std::fs::read(path).expect("read above");
        let lines = lines_of(&bytes).len() as u64;
        assert_eq!(app.total(&[("service", service)]).await, lines, "{service}: lines stored");
        for word in probe_words(&bytes) {
            let found = app.total(&[("service", service), ("q", &word)]).await;
            assert_eq!(found, grep_count(path, &word), "{service}: q={word} vs grep -c");
        }
        if let Some(levels) = truth.as_deref().and_then(truth_levels) {
            for (level, count) in levels {
                let found = app.total(&[("service", service), ("level", &level)]).await;
                assert_eq!(found, count, "{service}: level={level} vs the ground truth");
            }
        }
    }

    // A phrase and a boolean query on the access log, checked against grep.
    let access = data.join("logs/other/apache-access/apache_logs");
    let get_and_404 = app.total(&[("service", "apache-access"), ("q", "GET AND attributes.status:404")]).await;
    let grep_404 = std::process::Command::new("grep")
        .args(["-c", "-E", "\"GET [^\"]*\" 404 "])
        .arg(&access)
        .output()
        .expect("grep");
    let grep_404: u64 = String::from_utf8_lossy(&grep_404.stdout).trim().parse().expect("number");
    assert_eq!(get_and_404, grep_404, "GET requests answered 404");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn histogram_context_and_errors_answer_as_documented() {
    let Some(data) = vigil_testkit::shared_data() else { return };
    let app = TestApp::up().await;
    let path = data.join("logs/loghub/Zookeeper/Zookeeper_2k.log");
    let bytes = std::fs::read(&path).expect("zookeeper sample");
    let lines = lines_of(&bytes);
    app.ingest_lines("zk", "/var/log/zk.log", &lines).await;
    app.wait_total(&[], lines.len() as u64).await;

    let (status, histogram) = app.get("/api/v1/logs/histogram", &[("interval", "1h")]).await;
    assert_eq!(status, 200, "{histogram}");
    let bucket_sum: u64 =
        histogram["buckets"].as_array().expect("buckets").iter().map(|b| b["count"].as_u64().expect("count")).sum();
    assert_eq!(bucket_sum, lines.len() as u64, "every line falls in a bucket");

    // Line 100 of the file and its neighbours, in file order.
    let offset = crate::helpers::with_offsets(&lines)[100].0.to_string();
    let (status, context) = app
        .get(
            "/api/v1/logs/context",
            &[("source", "/var/log/zk.log"), ("offset", &offset), ("before", "2"), ("after", "2")],
        )
        .await;
    assert_eq!(status, 200, "{context}");
    assert_eq!(context["line"]["message"].as_str(), std::str::from_utf8(lines[100]).ok());
    assert_eq!(context["before"][1]["message"].as_str(), std::str::from_utf8(lines[99]).ok());
    assert_eq!(context["after"][0]["message"].as_str(), std::str::from_utf8(lines[101]).ok());

    for (params, needle) in [
        (vec![("q", "message:\"unclosed")], "position"),
        (vec![("q", "colour:red")], "colour"),
        (vec![("limit", "100"), ("offset", "20000")], "result window"),
        (vec![("start", "yesterday")], "start"),
        (vec![("servce", "zk")], "servce"),
    ] {
        let (status, body) = app.get("/api/v1/logs/search", &params).await;
        assert_eq!(status, 400, "{params:?} -> {body}");
        assert_eq!(body["error"]["code"], "bad_request");
        let message = body["error"]["message"].as_str().expect("message");
        assert!(message.contains(needle), "{params:?}: {message}");
    }
}
