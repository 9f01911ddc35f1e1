//! `/proc/loadavg`: `node_load1`, `node_load5`, `node_load15`.

use super::HostSample;

pub fn parse(text: &str) -> Vec<HostSample> {
    ["node_load1", "node_load5", "node_load15"]
        .iter()
        .zip(text.split_whitespace())
        .filter_map(|(name, value)| Some(HostSample::new(*name, value.parse().ok()?)))
        .collect()
}
