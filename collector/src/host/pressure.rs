//! `/proc/pressure/{cpu,io,memory}` (PSI): `node_pressure_<resource>_waiting_seconds_total`
//! from the `some` line and `..._stalled_seconds_total` from `full` (cpu has no stalled,
//! as node_exporter reports it).

use super::HostSample;

pub fn parse(resource: &str, text: &str) -> Vec<HostSample> {
    let mut samples = Vec::new();
    for line in text.lines() {
        let mut fields = line.split_whitespace();
        let kind = match fields.next() {
            Some("some") => "waiting",
            Some("full") if resource != "cpu" => "stalled",
            _ => continue,
        };
        let total = fields.find_map(|f| f.strip_prefix("total=")).and_then(|v| v.parse::<f64>().ok());
        if let Some(micros) = total {
            samples.push(HostSample::new(format!("node_pressure_{resource}_{kind}_seconds_total"), micros / 1e6));
        }
    }
    samples
}
