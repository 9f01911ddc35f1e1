//! `[metrics]`: how the metric store keeps samples (block length, late samples, retention,
//! downsampling) and how often it tidies up.

use std::time::Duration;

use serde::Deserialize;
use vigil_metricstore::{HeadOptions, StoreOptions};

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct MetricsConfig {
    /// Length of the blocks cut from memory (Prometheus: 2h).
    #[serde(with = "humantime_serde")]
    pub block_duration: Duration,
    /// Samples older than a series' last one are still accepted up to this far behind the
    /// newest sample (a sender's retries, a spooling agent); 0 refuses them all.
    #[serde(with = "humantime_serde")]
    pub out_of_order_window: Duration,
    /// How long raw samples are kept (0: forever).
    #[serde(with = "humantime_serde")]
    pub retention: Duration,
    /// How long the 5-minute tier is kept (0: forever).
    #[serde(with = "humantime_serde")]
    pub retention_5m: Duration,
    /// How long the 1-hour tier is kept (0: forever).
    #[serde(with = "humantime_serde")]
    pub retention_1h: Duration,
    /// Write the 5-minute and 1-hour tiers, which long-range queries read.
    pub downsample: bool,
    /// How often blocks are cut, compacted, downsampled and expired.
    #[serde(with = "humantime_serde")]
    pub maintenance_interval: Duration,
}

impl Default for MetricsConfig {
    fn default() -> Self {
        let store = StoreOptions::default();
        let ms = |ms: i64| Duration::from_millis(ms as u64);
        MetricsConfig {
            block_duration: ms(store.head.block_ms),
            out_of_order_window: Duration::from_secs(10 * 60),
            retention: ms(store.raw_retention_ms),
            retention_5m: ms(store.downsampled_retention_ms[0]),
            retention_1h: ms(store.downsampled_retention_ms[1]),
            downsample: store.downsample,
            maintenance_interval: Duration::from_secs(60),
        }
    }
}

impl MetricsConfig {
    /// The store's options, or what is wrong with the settings.
    pub fn store_options(&self) -> anyhow::Result<StoreOptions> {
        let ms = |duration: Duration| i64::try_from(duration.as_millis()).unwrap_or(i64::MAX);
        let block_ms = ms(self.block_duration);
        anyhow::ensure!(
            block_ms >= 60_000 && 86_400_000 % block_ms == 0,
            "metrics.block_duration = {:?}: use at least 1m, dividing a day evenly (such as 2h)",
            self.block_duration
        );
        anyhow::ensure!(
            ms(self.out_of_order_window) <= block_ms / 2,
            "metrics.out_of_order_window = {:?} must be at most half of block_duration ({:?}): late samples must still be in memory",
            self.out_of_order_window,
            self.block_duration
        );
        Ok(StoreOptions {
            head: HeadOptions { block_ms, out_of_order_window_ms: ms(self.out_of_order_window) },
            raw_retention_ms: ms(self.retention),
            downsampled_retention_ms: [ms(self.retention_5m), ms(self.retention_1h)],
            downsample: self.downsample,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_valid_and_bad_windows_are_named() {
        assert!(MetricsConfig::default().store_options().is_ok());
        let late = MetricsConfig { out_of_order_window: Duration::from_secs(7200), ..MetricsConfig::default() };
        let error = late.store_options().unwrap_err().to_string();
        assert!(error.contains("metrics.out_of_order_window"), "{error}");
        let odd = MetricsConfig { block_duration: Duration::from_secs(7 * 60), ..MetricsConfig::default() };
        assert!(odd.store_options().unwrap_err().to_string().contains("metrics.block_duration"));
    }
}
