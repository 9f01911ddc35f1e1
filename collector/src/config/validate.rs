//! Validation of an [`AgentConfig`] beyond what serde checks: every error names the key to
//! fix, as written in the file (`agent.inputs[0].service: must name the service ...`).

use std::fmt;

use super::AgentConfig;
use crate::multiline::compile_pattern;

/// One problem with a config value, naming its key.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{key}: {message}")]
pub struct ConfigError {
    /// Dotted path of the key, as in the file: `agent.inputs[0].paths`.
    pub key: String,
    pub message: String,
}

/// Every problem found in a config, one per line when displayed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub struct ConfigErrors(pub Vec<ConfigError>);

impl fmt::Display for ConfigErrors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let lines: Vec<String> = self.0.iter().map(ToString::to_string).collect();
        write!(f, "{}", lines.join("\n"))
    }
}

impl AgentConfig {
    /// Checks what deserialization cannot; every error names the key to fix.
    pub fn validate(&self) -> Result<(), ConfigErrors> {
        let mut errors = Vec::new();
        let mut fail = |key: String, message: &str| errors.push(ConfigError { key, message: message.to_string() });
        if self.data_dir.as_os_str().is_empty() {
            fail("agent.data_dir".into(), "must name a directory");
        }
        for (key, what) in [
            ("agent.scan_interval", self.scan_interval),
            ("agent.poll_interval", self.poll_interval),
            ("agent.checkpoint_interval", self.checkpoint_interval),
            ("agent.batch.linger", self.batch.linger),
            ("agent.output.retry_initial_delay", self.output.retry_initial_delay),
        ] {
            if what.is_zero() {
                fail(key.into(), "must be longer than 0s");
            }
        }
        if self.spool.max_bytes > 0 && self.spool.after.is_zero() {
            fail("agent.spool.after".into(), "must be longer than 0s (or set max_bytes = 0 to turn the spool off)");
        }
        if self.max_line_bytes == 0 {
            fail("agent.max_line_bytes".into(), "must be at least 1");
        }
        if self.batch.max_lines == 0 {
            fail("agent.batch.max_lines".into(), "must be at least 1");
        }
        if self.batch.max_bytes == 0 {
            fail("agent.batch.max_bytes".into(), "must be at least 1");
        }
        if self.output.retry_max_delay < self.output.retry_initial_delay {
            fail("agent.output.retry_max_delay".into(), "must not be shorter than retry_initial_delay");
        }
        if self.listen.as_deref().is_some_and(|listen| !listen.contains(':')) {
            fail("agent.listen".into(), "must be host:port, e.g. 127.0.0.1:9101");
        }
        for key in self.labels.keys().filter(|key| key.is_empty()) {
            fail(format!("agent.labels.{key:?}"), "label names must not be empty");
        }
        if self.host_metrics.is_some_and(|interval| interval.is_zero()) {
            fail("agent.host_metrics".into(), "must be more than 0s, e.g. \"15s\"");
        }
        if self.inputs.is_empty()
            && self.scrape.is_empty()
            && self.host_metrics.is_none()
            && self.textfile_directory.is_none()
        {
            fail(
                "agent.inputs".into(),
                "nothing to do: give at least one [[agent.inputs]] (paths and service), an [[agent.scrape]] target, or host_metrics",
            );
        }
        for (index, target) in self.scrape.iter().enumerate() {
            let at = format!("agent.scrape[{index}]");
            if !(target.url.starts_with("http://") || target.url.starts_with("https://"))
                || target.instance().is_empty()
            {
                fail(format!("{at}.url"), "must be an http(s) URL such as http://127.0.0.1:9100/metrics");
            }
            if target.interval.is_zero() {
                fail(format!("{at}.interval"), "must be more than 0s");
            }
            if target.timeout.is_zero() || target.timeout > target.interval {
                fail(format!("{at}.timeout"), "must be more than 0s and at most the interval");
            }
            if target.job.is_empty() {
                fail(format!("{at}.job"), "must not be empty");
            }
        }
        for (index, input) in self.inputs.iter().enumerate() {
            let at = format!("agent.inputs[{index}]");
            if input.paths.is_empty() {
                fail(format!("{at}.paths"), "must list at least one glob");
            }
            for (field, patterns) in [("paths", &input.paths), ("exclude", &input.exclude)] {
                for pattern in patterns {
                    if pattern.is_empty() {
                        fail(format!("{at}.{field}"), "patterns must not be empty");
                    } else if let Err(error) = glob::Pattern::new(pattern) {
                        fail(format!("{at}.{field}"), &format!("{pattern:?} is not a valid glob: {error}"));
                    }
                }
            }
            if input.service.trim().is_empty() {
                fail(format!("{at}.service"), "must name the service these files belong to");
            }
            if input.labels.keys().any(String::is_empty) {
                fail(format!("{at}.labels"), "label names must not be empty");
            }
            if let Some(multiline) = &input.multiline {
                let at = format!("{at}.multiline");
                let given = [multiline.preset.is_some(), multiline.start.is_some(), multiline.continuation.is_some()];
                if given.iter().filter(|given| **given).count() != 1 {
                    fail(at.clone(), "give exactly one of preset, start or continuation");
                }
                for (key, pattern) in [("start", &multiline.start), ("continuation", &multiline.continuation)] {
                    if let Some(Err(error)) = pattern.as_deref().map(|pattern| compile_pattern(key, pattern)) {
                        fail(format!("{at}.{key}"), &error.to_string());
                    }
                }
                if multiline.flush_timeout.is_zero() {
                    fail(format!("{at}.flush_timeout"), "must be longer than 0s");
                }
                if multiline.max_lines == 0 {
                    fail(format!("{at}.max_lines"), "must be at least 1");
                }
                if multiline.max_bytes == 0 {
                    fail(format!("{at}.max_bytes"), "must be at least 1");
                }
            }
        }
        match (&self.output.http, &self.output.kafka) {
            (None, None) => fail("agent.output".into(), "set either http = { url = ... } or kafka = { brokers = ... }"),
            (Some(_), Some(_)) => fail("agent.output".into(), "set only one of http and kafka"),
            (Some(http), None) => {
                if http.url.starts_with("https://") {
                    fail("agent.output.http.url".into(), "https is not supported: use http:// (TLS via a local proxy)");
                } else if !http.url.starts_with("http://") || http.url.len() <= "http://".len() {
                    fail("agent.output.http.url".into(), "must be an http:// URL such as http://vigil:7280");
                }
                if http.timeout.is_zero() {
                    fail("agent.output.http.timeout".into(), "must be longer than 0s");
                }
            }
            (None, Some(kafka)) => {
                if kafka.brokers.split(',').any(|broker| !broker.trim().contains(':')) {
                    fail("agent.output.kafka.brokers".into(), "must be host:port[,host:port...]");
                }
                if kafka.topic.is_empty() {
                    fail("agent.output.kafka.topic".into(), "must not be empty");
                }
                if !["lz4", "zstd", "gzip", "snappy", "none"].contains(&kafka.compression.as_str()) {
                    fail("agent.output.kafka.compression".into(), "must be one of lz4, zstd, gzip, snappy, none");
                }
                if !(1..=super::MAX_IN_FLIGHT).contains(&kafka.in_flight) {
                    fail("agent.output.kafka.in_flight".into(), &format!("must be 1 to {}", super::MAX_IN_FLIGHT));
                }
            }
        }
        if errors.is_empty() {
            Ok(())
        } else {
            Err(ConfigErrors(errors))
        }
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;
    use crate::config::{AgentFile, BatchConfig, HttpOutput, LongLines, Preset, ReadFrom};

    fn parse(text: &str) -> Result<AgentConfig, String> {
        let file: AgentFile = toml::from_str(text).map_err(|error| error.to_string())?;
        file.agent.validate().map_err(|errors| errors.to_string())?;
        Ok(file.agent)
    }

    const MINIMAL: &str = r#"
        [agent]
        data_dir = "/tmp/agent"
        [[agent.inputs]]
        paths = ["/var/log/app/*.log"]
        service = "api"
        [agent.output]
        http = { url = "http://vigil:7280" }
    "#;

    #[test]
    fn minimal_file_gets_defaults() {
        let config = parse(MINIMAL).expect("minimal config is valid");
        assert_eq!(config.batch, BatchConfig::default());
        assert_eq!(config.batch.max_lines, 2000);
        assert_eq!(config.batch.max_bytes, 1 << 20);
        assert_eq!(config.batch.linger, Duration::from_millis(200));
        assert_eq!(config.scan_interval, Duration::from_secs(1));
        assert_eq!(config.output.http, Some(HttpOutput::new("http://vigil:7280")));
        assert_eq!(config.read_from, ReadFrom::Beginning);
    }

    #[test]
    fn durations_are_humantime() {
        let text = MINIMAL.replace("[agent.output]", "[agent.batch]\nlinger = \"5s\"\n[agent.output]");
        assert_eq!(parse(&text).expect("valid").batch.linger, Duration::from_secs(5));
    }

    #[test]
    fn errors_name_the_key() {
        let cases: &[(&str, &str)] = &[
            (r#"service = "api""#, "agent.inputs[0].service"),
            (r#"paths = ["/var/log/app/*.log"]"#, "agent.inputs[0].paths"),
            (r#"http = { url = "http://vigil:7280" }"#, "agent.output"),
            (r#"url = "http://vigil:7280""#, "url"),
        ];
        for (remove, key) in cases {
            let text = MINIMAL.replace(remove, "");
            let error = parse(&text).expect_err("config with a key removed is invalid");
            assert!(error.contains(key), "removing {remove:?}: {error:?} does not name {key}");
        }
        let replaced: &[(&str, &str, &str)] = &[
            ("http://vigil:7280", "https://vigil", "agent.output.http.url"),
            (r#"paths = ["#, r#"paths = ["[", "#, "agent.inputs[0].paths"),
            ("service = ", "servise = ", "servise"),
            ("data_dir = ", "max_line_bytes = 0\ndata_dir = ", "agent.max_line_bytes"),
        ];
        for (from, to, key) in replaced {
            let error = parse(&MINIMAL.replace(from, to)).expect_err("invalid");
            assert!(error.contains(key), "{from:?} -> {to:?}: {error:?} does not name {key}");
        }
    }

    #[test]
    fn multiline_and_long_lines_parse_and_bad_patterns_name_their_key() {
        let with = |table: &str| {
            MINIMAL.replace("[agent.output]", &format!("[agent.inputs.multiline]\n{table}\n[agent.output]"))
        };
        let config = parse(&with("preset = \"java\"\nflush_timeout = \"2s\"")).expect("valid");
        let multiline = config.inputs[0].multiline.clone().expect("set");
        assert_eq!(
            (multiline.preset, multiline.flush_timeout, multiline.max_lines),
            (Some(Preset::Java), Duration::from_secs(2), 500)
        );
        assert_eq!(config.long_lines, LongLines::Truncate);
        let split = parse(&MINIMAL.replace("data_dir = ", "long_lines = \"split\"\ndata_dir = ")).expect("valid");
        assert_eq!(split.long_lines, LongLines::Split);

        let cases: &[(&str, &str)] = &[
            (r"start = '^\d{4'", r"agent.inputs[0].multiline.start: '^\d{4' is not a valid regex: "),
            ("continuation = '('", "agent.inputs[0].multiline.continuation: '(' is not a valid regex: "),
            ("preset = \"java\"\nstart = '^x'", "agent.inputs[0].multiline: give exactly one"),
            ("flush_timeout = \"1s\"", "agent.inputs[0].multiline: give exactly one"),
            ("preset = \"go\"\nmax_lines = 0", "agent.inputs[0].multiline.max_lines: must be at least 1"),
            ("preset = \"go\"\nflush_timeout = \"0s\"", "agent.inputs[0].multiline.flush_timeout:"),
            ("preset = \"ruby\"", "unknown variant `ruby`"),
            ("preset = \"go\"\nnegate = true", "unknown field `negate`"),
        ];
        for (table, expected) in cases {
            let error = parse(&with(table)).expect_err("invalid");
            assert!(error.contains(expected), "{table:?}: {error:?} does not contain {expected:?}");
        }
    }

    #[test]
    fn no_inputs_and_no_output_report_both() {
        let error = parse("[agent]\n").expect_err("empty config is invalid");
        assert!(error.contains("agent.inputs:"), "{error}");
        assert!(error.contains("agent.output:"), "{error}");
    }

    #[test]
    fn kafka_output_checks_compression() {
        let text = MINIMAL.replace(
            r#"http = { url = "http://vigil:7280" }"#,
            r#"kafka = { brokers = "k1:9092", compression = "lzma" }"#,
        );
        let error = parse(&text).expect_err("lzma is not a kafka codec");
        assert!(error.contains("agent.output.kafka.compression"), "{error}");
    }

    #[test]
    fn example_file_is_valid() {
        let text = include_str!("../../agent.example.toml");
        let config = parse(text).expect("agent.example.toml is valid");
        assert!(!config.inputs.is_empty());
    }
}
