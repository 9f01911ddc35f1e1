//! `/proc/diskstats`: `node_disk_*{device}` for whole disks (partitions, loop and ram devices
//! are left out, as node_exporter does).

use super::HostSample;

/// Bytes per sector in `/proc/diskstats`, whatever the device's own sector size.
const SECTOR_BYTES: f64 = 512.0;

fn ignored(device: &str) -> bool {
    let prefix_then_digits = |prefix: &str| {
        device.strip_prefix(prefix).is_some_and(|rest| !rest.is_empty() && rest.chars().all(|c| c.is_ascii_digit()))
    };
    // loopN, ramN, zramN, fdN; sda1, vdb2, xvda1, hda1; nvme0n1p1.
    if ["loop", "ram", "zram", "fd"].iter().any(|p| prefix_then_digits(p)) {
        return true;
    }
    let classic = ["sd", "vd", "hd", "xvd"].iter().any(|p| {
        device.strip_prefix(p).is_some_and(|rest| {
            let letters = rest.trim_end_matches(|c: char| c.is_ascii_digit());
            letters.len() < rest.len() && !letters.is_empty() && letters.chars().all(|c| c.is_ascii_lowercase())
        })
    });
    let nvme_partition = device.starts_with("nvme")
        && device.contains('p')
        && device.rsplit('p').next().is_some_and(|n| !n.is_empty() && n.chars().all(|c| c.is_ascii_digit()));
    classic || nvme_partition
}

pub fn parse(text: &str) -> Vec<HostSample> {
    let mut samples = Vec::new();
    for line in text.lines() {
        let fields: Vec<&str> = line.split_whitespace().collect();
        if fields.len() < 14 || ignored(fields[2]) {
            continue;
        }
        let device = fields[2];
        let value = |i: usize| fields[i].parse::<f64>().unwrap_or(0.0);
        let metrics = [
            ("node_disk_reads_completed_total", value(3)),
            ("node_disk_reads_merged_total", value(4)),
            ("node_disk_read_bytes_total", value(5) * SECTOR_BYTES),
            ("node_disk_read_time_seconds_total", value(6) / 1000.0),
            ("node_disk_writes_completed_total", value(7)),
            ("node_disk_writes_merged_total", value(8)),
            ("node_disk_written_bytes_total", value(9) * SECTOR_BYTES),
            ("node_disk_write_time_seconds_total", value(10) / 1000.0),
            ("node_disk_io_now", value(11)),
            ("node_disk_io_time_seconds_total", value(12) / 1000.0),
            ("node_disk_io_time_weighted_seconds_total", value(13) / 1000.0),
        ];
        for (name, value) in metrics {
            samples.push(HostSample::new(name, value).with("device", device));
        }
    }
    samples
}

#[cfg(test)]
mod tests {
    #[test]
    fn partitions_and_virtual_devices_are_left_out() {
        for device in ["sda1", "vdb2", "xvda1", "nvme0n1p1", "loop0", "ram3", "zram0"] {
            assert!(super::ignored(device), "{device}");
        }
        for device in ["sda", "vdb", "nvme0n1", "dm-0", "md0", "mmcblk0"] {
            assert!(!super::ignored(device), "{device}");
        }
    }
}
