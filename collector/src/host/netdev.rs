//! `/proc/net/dev`: `node_network_{receive,transmit}_*_total{device}`.

use super::HostSample;

const RECEIVE: [&str; 8] = ["bytes", "packets", "errs", "drop", "fifo", "frame", "compressed", "multicast"];
const TRANSMIT: [&str; 8] = ["bytes", "packets", "errs", "drop", "fifo", "colls", "carrier", "compressed"];

pub fn parse(text: &str) -> Vec<HostSample> {
    let mut samples = Vec::new();
    for line in text.lines().skip(2) {
        let Some((device, counters)) = line.split_once(':') else { continue };
        let device = device.trim();
        let values: Vec<f64> = counters.split_whitespace().filter_map(|v| v.parse().ok()).collect();
        if values.len() < 16 {
            continue;
        }
        for (i, field) in RECEIVE.iter().enumerate() {
            samples
                .push(HostSample::new(format!("node_network_receive_{field}_total"), values[i]).with("device", device));
        }
        for (i, field) in TRANSMIT.iter().enumerate() {
            samples.push(
                HostSample::new(format!("node_network_transmit_{field}_total"), values[8 + i]).with("device", device),
            );
        }
    }
    samples
}
