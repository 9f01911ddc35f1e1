//! `[[agent.scrape]]`: Prometheus endpoints the agent scrapes (static targets).

use std::{collections::BTreeMap, time::Duration};

use serde::Deserialize;

#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ScrapeConfig {
    /// The endpoint, e.g. `http://127.0.0.1:9100/metrics`.
    pub url: String,
    /// The `job` label of its series.
    #[serde(default = "default_job")]
    pub job: String,
    /// How often it is scraped.
    #[serde(default = "default_interval", with = "humantime_serde")]
    pub interval: Duration,
    /// How long a scrape may take (at most the interval).
    #[serde(default = "default_timeout", with = "humantime_serde")]
    pub timeout: Duration,
    /// On a clash between a scraped label and `job` / `instance` / `labels`: keep the
    /// scraped one (true) or keep ours and rename the scraped one `exported_<name>` (false,
    /// Prometheus's default).
    #[serde(default)]
    pub honor_labels: bool,
    /// Labels added to every series of this target.
    #[serde(default)]
    pub labels: BTreeMap<String, String>,
}

fn default_job() -> String {
    "scrape".into()
}

fn default_interval() -> Duration {
    Duration::from_secs(15)
}

fn default_timeout() -> Duration {
    Duration::from_secs(10)
}

impl ScrapeConfig {
    pub fn new(url: impl Into<String>) -> ScrapeConfig {
        ScrapeConfig {
            url: url.into(),
            job: default_job(),
            interval: default_interval(),
            timeout: default_timeout(),
            honor_labels: false,
            labels: BTreeMap::new(),
        }
    }

    /// `host:port` of the URL: the `instance` label, as Prometheus sets it.
    pub fn instance(&self) -> String {
        let rest = self.url.split_once("://").map_or(self.url.as_str(), |(_, rest)| rest);
        rest.split('/').next().unwrap_or(rest).to_string()
    }
}
