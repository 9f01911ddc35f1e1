use super::*;

#[test]
fn samples_labels_timestamps_and_metadata() {
    let page = "# HELP http_requests_total The total.\n# TYPE http_requests_total counter\n\
        http_requests_total{method=\"post\",code=\"200\"} 1027 1395066363000\n\
        http_requests_total{method=\"post\",code=\"400\"}    3 1395066363000\n\
        msdos_file_access_time_seconds{path=\"C:\\\\DIR\\\\FILE.TXT\",error=\"Cannot find file:\\n\\\"FILE.TXT\\\"\"} 1.458255915e9\n\
        metric_without_timestamp_and_labels 12.47\n\
        something_weird{problem=\"division by zero\"} +Inf -3982045\n";
    let parsed = parse(page, Format::Text);
    assert!(parsed.errors.is_empty(), "{:?}", parsed.errors);
    assert_eq!(parsed.samples.len(), 5);
    assert_eq!(parsed.samples[0].labels, [("method".to_string(), "post".to_string()), ("code".into(), "200".into())]);
    assert_eq!(parsed.samples[0].timestamp_ms, Some(1_395_066_363_000));
    assert_eq!(parsed.samples[2].labels[0].1, "C:\\DIR\\FILE.TXT");
    assert_eq!(parsed.samples[2].labels[1].1, "Cannot find file:\n\"FILE.TXT\"");
    assert_eq!(parsed.samples[4].value, f64::INFINITY);
    assert_eq!(parsed.samples[4].timestamp_ms, Some(-3_982_045));
    assert_eq!(parsed.metadata["http_requests_total"].kind.as_deref(), Some("counter"));
}

#[test]
fn bad_lines_are_reported_with_their_number_and_the_rest_is_kept() {
    let page = "up 1\nbroken{a=\"x\" 2\nfine 3\nnot_a_number abc\n";
    let parsed = parse(page, Format::Text);
    assert_eq!(parsed.samples.iter().map(|s| s.name.as_str()).collect::<Vec<_>>(), ["up", "fine"]);
    assert_eq!(parsed.errors.iter().map(|e| e.line).collect::<Vec<_>>(), [2, 4]);
    assert!(parsed.errors[1].to_string().contains("invalid value \"abc\""), "{}", parsed.errors[1]);
}

#[test]
fn openmetrics_timestamps_exemplars_created_and_eof() {
    let page = "# TYPE foo counter\nfoo_total 17.0 1520879607.789 # {trace_id=\"oHg5SJYRHA0\"} 9.8 1520879607.789\n\
        foo_created 1520430000.123\n# EOF\n";
    let parsed = parse(page, Format::OpenMetrics);
    assert!(parsed.errors.is_empty(), "{:?}", parsed.errors);
    assert_eq!(parsed.samples.len(), 1, "the _created sample is left out");
    assert_eq!(parsed.samples[0].timestamp_ms, Some(1_520_879_607_789));
    assert_eq!(parse("a 1\n# EOF\nb 2\n", Format::OpenMetrics).errors[0].line, 3);
}

/// Every exposition file of the shared data reads without an error, as Prometheus reads it.
#[test]
fn the_shared_exposition_samples_parse() {
    let Some(data) = vigil_testkit::shared_data() else { return };
    let mut files = Vec::new();
    let mut dirs = vec![data.join("metrics")];
    while let Some(dir) = dirs.pop() {
        for entry in std::fs::read_dir(&dir).expect("dir").flatten() {
            let path = entry.path();
            if path.is_dir() {
                dirs.push(path);
            } else if path.extension().is_some_and(|e| e == "txt" || e == "prom" || e == "out")
                // node_exporter's fixture of a file its textfile collector must ignore.
                && !path.to_string_lossy().contains("non_matching_file")
            {
                files.push(path);
            }
        }
    }
    assert!(files.len() > 20, "{files:?}");
    let mut samples = 0;
    for path in files {
        let text = std::fs::read_to_string(&path).expect("text");
        let format = if text.contains("# EOF") { Format::OpenMetrics } else { Format::Text };
        let parsed = parse(&text, format);
        assert!(parsed.errors.is_empty(), "{}: {:?}", path.display(), &parsed.errors[..parsed.errors.len().min(3)]);
        samples += parsed.samples.len();
    }
    assert!(samples > 5_000, "{samples}");
}
