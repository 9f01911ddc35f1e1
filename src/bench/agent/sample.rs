//! What /proc says about a process: CPU time used and resident memory. Threads are included
//! (the process's own figures, not one thread's).

/// User + system CPU seconds the process has used so far; 0 once it is gone.
pub fn cpu_seconds(pid: u32) -> f64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    // The fields after the command name (which may hold spaces) start after ") ".
    let fields: Vec<&str> = stat.rsplit_once(") ").map(|(_, rest)| rest.split(' ').collect()).unwrap_or_default();
    let ticks = |i: usize| fields.get(i).and_then(|v| v.parse::<f64>().ok()).unwrap_or(0.0);
    // utime and stime (fields 14 and 15 of stat) are at 11 and 12 after the name; the kernel
    // reports them in USER_HZ, 100 on Linux.
    (ticks(11) + ticks(12)) / 100.0
}

/// Resident memory now (`VmRSS`), in bytes.
pub fn rss_bytes(pid: u32) -> Option<u64> {
    status_kib(pid, "VmRSS:").map(|kib| kib * 1024)
}

/// The most resident memory the process has had (`VmHWM`), in bytes.
pub fn peak_rss_bytes(pid: u32) -> Option<u64> {
    status_kib(pid, "VmHWM:").map(|kib| kib * 1024)
}

fn status_kib(pid: u32, field: &str) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    parse_kib(&status, field)
}

fn parse_kib(status: &str, field: &str) -> Option<u64> {
    let line = status.lines().find(|line| line.starts_with(field))?;
    line[field.len()..].split_whitespace().next()?.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_kib_fields_of_status() {
        let status = "Name:\tvigil-agent\nVmHWM:\t   20480 kB\nVmRSS:\t   12288 kB\n";
        assert_eq!(parse_kib(status, "VmRSS:"), Some(12288));
        assert_eq!(parse_kib(status, "VmHWM:"), Some(20480));
        assert_eq!(parse_kib(status, "VmSwap:"), None);
    }

    #[test]
    fn this_process_uses_memory() {
        let pid = std::process::id();
        let rss = rss_bytes(pid).expect("VmRSS of a live process");
        let peak = peak_rss_bytes(pid).expect("VmHWM of a live process");
        assert!(rss > 0 && peak > 0);
        assert_eq!(rss_bytes(u32::MAX), None, "no such process");
    }
}
