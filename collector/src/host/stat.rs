//! `/proc/stat`: `node_cpu_seconds_total{cpu,mode}` and `node_boot_time_seconds`.

use super::HostSample;

/// Kernel clock ticks per second of `/proc/stat` (USER_HZ, 100 on every Linux platform).
const TICKS_PER_SECOND: f64 = 100.0;
const MODES: [&str; 8] = ["user", "nice", "system", "idle", "iowait", "irq", "softirq", "steal"];

pub fn parse(text: &str) -> Vec<HostSample> {
    let mut samples = Vec::new();
    for line in text.lines() {
        let mut fields = line.split_whitespace();
        let Some(key) = fields.next() else { continue };
        if let Some(cpu) = key.strip_prefix("cpu").filter(|n| !n.is_empty()) {
            for (mode, ticks) in MODES.iter().zip(fields) {
                if let Ok(ticks) = ticks.parse::<f64>() {
                    samples.push(
                        HostSample::new("node_cpu_seconds_total", ticks / TICKS_PER_SECOND)
                            .with("cpu", cpu)
                            .with("mode", *mode),
                    );
                }
            }
        } else if key == "btime" {
            if let Some(Ok(boot)) = fields.next().map(str::parse::<f64>) {
                samples.push(HostSample::new("node_boot_time_seconds", boot));
            }
        }
    }
    samples
}
