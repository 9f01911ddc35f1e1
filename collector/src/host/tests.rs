use std::collections::{BTreeMap, BTreeSet};

use super::*;

#[test]
fn proc_text_becomes_node_exporter_samples() {
    let stat = "cpu  10 0 5 100 1 0 0 0 0 0\ncpu0 1000 20 300 40000 5 0 7 0 0 0\nbtime 1700000000\n";
    let samples = stat::parse(stat);
    assert!(samples.contains(&HostSample::new("node_cpu_seconds_total", 10.0).with("cpu", "0").with("mode", "user")));
    assert!(samples.contains(&HostSample::new("node_cpu_seconds_total", 400.0).with("cpu", "0").with("mode", "idle")));
    assert!(samples.contains(&HostSample::new("node_boot_time_seconds", 1_700_000_000.0)));
    assert_eq!(samples.iter().filter(|s| s.name == "node_cpu_seconds_total").count(), 8, "the total line is left out");

    let memory = meminfo::parse("MemTotal:       16384 kB\nActive(anon):     100 kB\nHugePages_Total:       0\n");
    assert_eq!(memory[0], HostSample::new("node_memory_MemTotal_bytes", 16_777_216.0));
    assert_eq!(memory[1].name, "node_memory_Active_anon_bytes");
    assert_eq!(memory[2], HostSample::new("node_memory_HugePages_Total", 0.0));

    assert_eq!(loadavg::parse("0.21 0.37 0.39 1/80 123")[2], HostSample::new("node_load15", 0.39));

    let psi =
        "some avg10=0.00 avg60=0.00 avg300=0.00 total=1500000\nfull avg10=0.00 avg60=0.00 avg300=0.00 total=250000\n";
    assert_eq!(
        pressure::parse("io", psi),
        [
            HostSample::new("node_pressure_io_waiting_seconds_total", 1.5),
            HostSample::new("node_pressure_io_stalled_seconds_total", 0.25)
        ]
    );
    assert_eq!(pressure::parse("cpu", psi).len(), 1, "cpu has no stalled series");

    let net = "Inter-|   Receive |  Transmit\n face |bytes packets\n  eth0: 100 2 0 0 0 0 0 0 300 4 0 0 0 0 0 0\n";
    let samples = netdev::parse(net);
    assert!(samples.contains(&HostSample::new("node_network_receive_bytes_total", 100.0).with("device", "eth0")));
    assert!(samples.contains(&HostSample::new("node_network_transmit_bytes_total", 300.0).with("device", "eth0")));

    let disks = "   8       0 sda 10 1 80 5 20 2 160 30 0 40 50 0 0 0 0\n   8       1 sda1 1 1 1 1 1 1 1 1 0 1 1\n";
    let samples = diskstats::parse(disks);
    assert!(samples.contains(&HostSample::new("node_disk_read_bytes_total", 80.0 * 512.0).with("device", "sda")));
    assert!(samples.iter().all(|s| s.labels[0].1 == "sda"), "partitions are left out");
}

/// What this machine reports uses node_exporter's metric names and label names: every family
/// of node_exporter's own Linux end-to-end output that we emit has the same labels there.
#[test]
fn this_host_reports_under_node_exporter_names_and_labels() {
    let (samples, errors) = collect(Path::new("/proc"));
    assert!(samples.iter().any(|s| s.name == "node_cpu_seconds_total"), "errors: {errors:?}");
    assert!(samples.iter().any(|s| s.name == "node_memory_MemTotal_bytes"));
    assert!(samples.iter().any(|s| s.name == "node_filesystem_size_bytes"), "the root filesystem at least");
    let Some(data) = vigil_testkit::shared_data() else { return };
    let reference = std::fs::read_to_string(data.join("metrics/node_exporter/e2e-output.txt")).expect("fixture");
    let parsed = vigil_exposition::parse(&reference, vigil_exposition::Format::Text);
    // Families are known from their # TYPE lines (a few have no sample in the fixture) and
    // their label names from their samples.
    let known: BTreeSet<String> = parsed.metadata.keys().cloned().collect();
    let mut reference_labels: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for sample in parsed.samples {
        reference_labels.entry(sample.name).or_default().extend(sample.labels.into_iter().map(|(n, _)| n));
    }
    let mut checked = 0;
    for sample in &samples {
        // The fixture was made without the filesystem and time collectors, and on a machine
        // whose /proc/meminfo had fewer fields.
        if sample.name.starts_with("node_filesystem_")
            || sample.name == "node_time_seconds"
            || sample.name.starts_with("node_memory_")
        {
            continue;
        }
        assert!(known.contains(&sample.name), "{} is not a node_exporter metric", sample.name);
        let names: BTreeSet<String> = sample.labels.iter().map(|(n, _)| n.clone()).collect();
        if let Some(expected) = reference_labels.get(&sample.name) {
            assert!(names.is_subset(expected), "{}: labels {names:?}, node_exporter has {expected:?}", sample.name);
        }
        checked += 1;
    }
    assert!(checked > 20, "{checked}");
}
