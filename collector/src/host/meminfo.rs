//! `/proc/meminfo`: `node_memory_<Field>_bytes` (kB values in bytes), or `node_memory_<Field>`
//! for counts such as `HugePages_Total`; `Active(anon)` becomes `Active_anon`.

use super::HostSample;

pub fn parse(text: &str) -> Vec<HostSample> {
    text.lines()
        .filter_map(|line| {
            let (field, rest) = line.split_once(':')?;
            let mut parts = rest.split_whitespace();
            let value: f64 = parts.next()?.parse().ok()?;
            let field = field.trim().replace('(', "_").replace(')', "");
            Some(match parts.next() {
                Some("kB") => HostSample::new(format!("node_memory_{field}_bytes"), value * 1024.0),
                _ => HostSample::new(format!("node_memory_{field}"), value),
            })
        })
        .collect()
}
