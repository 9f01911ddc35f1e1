//! The textfile collector, as node_exporter's: every `*.prom` file of a directory (written by
//! cron jobs and scripts) is read each interval. A file that cannot be read, has a malformed
//! line or carries timestamps is left out whole and `node_textfile_scrape_error` is 1; each
//! file read gives `node_textfile_mtime_seconds{file}`.

use std::path::Path;

use vigil_exposition::{parse, Format};

use super::HostSample;

pub fn collect(dir: &Path) -> Vec<HostSample> {
    let mut samples = Vec::new();
    let mut failed = false;
    let mut files: Vec<_> = match std::fs::read_dir(dir) {
        Ok(entries) => {
            entries.flatten().map(|e| e.path()).filter(|p| p.extension().is_some_and(|e| e == "prom")).collect()
        }
        Err(error) => {
            tracing::warn!(dir = %dir.display(), %error, "failed to read the textfile directory");
            return vec![HostSample::new("node_textfile_scrape_error", 1.0)];
        }
    };
    files.sort();
    for path in files {
        match read(&path) {
            Ok((file_samples, mtime)) => {
                samples.extend(file_samples);
                samples.push(
                    HostSample::new("node_textfile_mtime_seconds", mtime).with("file", path.display().to_string()),
                );
            }
            Err(reason) => {
                tracing::warn!(file = %path.display(), %reason, "textfile left out");
                failed = true;
            }
        }
    }
    samples.push(HostSample::new("node_textfile_scrape_error", if failed { 1.0 } else { 0.0 }));
    samples
}

fn read(path: &Path) -> Result<(Vec<HostSample>, f64), String> {
    let text = std::fs::read_to_string(path).map_err(|error| error.to_string())?;
    let mtime = std::fs::metadata(path)
        .and_then(|m| m.modified())
        .map_err(|error| error.to_string())?
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0.0, |d| d.as_secs_f64());
    let parsed = parse(&text, Format::Text);
    if let Some(error) = parsed.errors.first() {
        return Err(error.to_string());
    }
    if parsed.samples.iter().any(|s| s.timestamp_ms.is_some()) {
        return Err("textfile samples must not carry timestamps".into());
    }
    let samples =
        parsed.samples.into_iter().map(|s| HostSample { name: s.name, labels: s.labels, value: s.value }).collect();
    Ok((samples, mtime))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn value(samples: &[HostSample], name: &str) -> Option<f64> {
        samples.iter().find(|s| s.name == name).map(|s| s.value)
    }

    #[test]
    fn node_exporter_fixtures_read_as_node_exporter_reads_them() {
        let Some(data) = vigil_testkit::shared_data() else { return };
        let fixtures = data.join("metrics/node_exporter/textfile");
        let two = collect(&fixtures.join("two_metric_files"));
        assert_eq!(value(&two, "node_textfile_scrape_error"), Some(0.0));
        assert_eq!(value(&two, "testmetric1_1"), Some(10.0));
        assert_eq!(value(&two, "testmetric2_2"), Some(40.0));
        assert_eq!(
            two.iter().filter(|s| s.name == "node_textfile_mtime_seconds").count(),
            2,
            "the .txt file is ignored"
        );
        let stamped = collect(&fixtures.join("client_side_timestamp"));
        assert_eq!(value(&stamped, "node_textfile_scrape_error"), Some(1.0));
        assert_eq!(value(&stamped, "normal_metric"), None, "a file with timestamps is left out whole");
        let missing = collect(&fixtures.join("no_such_directory"));
        assert_eq!(value(&missing, "node_textfile_scrape_error"), Some(1.0));
    }
}
