//! Mounted filesystems (`/proc/mounts` + `statvfs`): `node_filesystem_{size,free,avail}_bytes`,
//! `node_filesystem_files`, `node_filesystem_files_free` and `node_filesystem_readonly`, with
//! `device`, `fstype` and `mountpoint` labels. Pseudo filesystems are left out, as
//! node_exporter leaves them out by default.

use std::ffi::CString;

use super::HostSample;

const PSEUDO: [&str; 24] = [
    "autofs",
    "binfmt_misc",
    "bpf",
    "cgroup",
    "cgroup2",
    "configfs",
    "debugfs",
    "devpts",
    "devtmpfs",
    "fusectl",
    "hugetlbfs",
    "iso9660",
    "mqueue",
    "nsfs",
    "overlay",
    "proc",
    "procfs",
    "pstore",
    "rpc_pipefs",
    "securityfs",
    "selinuxfs",
    "squashfs",
    "sysfs",
    "tracefs",
];

pub fn collect(mounts: &str) -> Vec<HostSample> {
    let mut samples = Vec::new();
    let mut seen = std::collections::BTreeSet::new();
    for line in mounts.lines() {
        let fields: Vec<&str> = line.split_whitespace().collect();
        let [device, mountpoint, fstype, options, ..] = fields.as_slice() else { continue };
        let mountpoint = unescape(mountpoint);
        if PSEUDO.contains(fstype) || mountpoint.starts_with("/proc") || mountpoint.starts_with("/sys") {
            continue;
        }
        if !seen.insert(mountpoint.clone()) {
            continue;
        }
        let Some(stats) = statvfs(&mountpoint) else { continue };
        let block = stats.f_frsize as f64;
        let readonly = options.split(',').any(|o| o == "ro");
        let values = [
            ("node_filesystem_size_bytes", stats.f_blocks as f64 * block),
            ("node_filesystem_free_bytes", stats.f_bfree as f64 * block),
            ("node_filesystem_avail_bytes", stats.f_bavail as f64 * block),
            ("node_filesystem_files", stats.f_files as f64),
            ("node_filesystem_files_free", stats.f_ffree as f64),
            ("node_filesystem_readonly", if readonly { 1.0 } else { 0.0 }),
        ];
        for (name, value) in values {
            samples.push(
                HostSample::new(name, value)
                    .with("device", *device)
                    .with("fstype", *fstype)
                    .with("mountpoint", mountpoint.as_str()),
            );
        }
    }
    samples
}

/// `/proc/mounts` writes spaces and tabs in paths as octal escapes (`\040`).
fn unescape(path: &str) -> String {
    path.replace("\\040", " ").replace("\\011", "\t").replace("\\012", "\n").replace("\\134", "\\")
}

fn statvfs(path: &str) -> Option<libc::statvfs> {
    let path = CString::new(path).ok()?;
    let mut stats = std::mem::MaybeUninit::<libc::statvfs>::uninit();
    // SAFETY: `path` is a valid C string and `stats` is written by statvfs before it is read.
    let result = unsafe { libc::statvfs(path.as_ptr(), stats.as_mut_ptr()) };
    // SAFETY: statvfs returned 0, so it filled `stats`.
    (result == 0).then(|| unsafe { stats.assume_init() })
}
