//! What the benches read about processes from Linux `/proc`: CPU time, resident memory
//! and its peak, and the load average. Every reader returns `None` (or `?`) where `/proc`
//! is not there, so a bench prints "-" rather than failing.

use std::process::Command;

/// The 1, 5 and 15 minute load averages, as `/proc/loadavg` gives them.
pub fn loadavg() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .ok()
        .map(|l| l.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_else(|| "?".into())
}

/// Clock ticks per second of `/proc/*/stat` times.
pub fn clock_ticks() -> f64 {
    Command::new("getconf")
        .arg("CLK_TCK")
        .output()
        .ok()
        .and_then(|o| String::from_utf8_lossy(&o.stdout).trim().parse().ok())
        .unwrap_or(100.0)
}

/// User + system CPU time of the process whose `stat` file is `path`, seconds.
pub fn cpu_seconds(path: &str, tick: f64) -> Option<f64> {
    let stat = std::fs::read_to_string(path).ok()?;
    // the fields after the command name, which is in parentheses and may hold spaces
    let rest = &stat[stat.rfind(')')? + 1..];
    let f: Vec<&str> = rest.split_whitespace().collect();
    // utime and stime are fields 14 and 15 of the whole line, 12th and 13th after ')'
    let user: f64 = f.get(11)?.parse().ok()?;
    let system: f64 = f.get(12)?.parse().ok()?;
    Some((user + system) / tick)
}

/// A `status` field in kB (`VmRSS`, `VmHWM`) of the process whose status file is `path`,
/// in MB.
fn status_mb(path: &str, field: &str) -> Option<f64> {
    let status = std::fs::read_to_string(path).ok()?;
    let kb: f64 = status
        .lines()
        .find_map(|l| l.strip_prefix(field)?.strip_prefix(':'))?
        .split_whitespace()
        .next()?
        .parse()
        .ok()?;
    Some(kb / 1024.0)
}

/// Resident memory of process `pid` now, MB.
pub fn rss_mb(pid: u32) -> Option<f64> {
    status_mb(&format!("/proc/{pid}/status"), "VmRSS")
}

/// Peak resident memory of process `pid` since it started or since the last
/// [`reset_peak`], MB.
pub fn peak_rss_mb(pid: u32) -> Option<f64> {
    status_mb(&format!("/proc/{pid}/status"), "VmHWM")
}

/// Starts the peak resident memory of process `pid` over from what it holds now (writing
/// 5 to its `clear_refs`, Linux 4.0 and later; allowed for one's own processes). False
/// where that is refused: the peak then counts from the process's start.
pub fn reset_peak(pid: u32) -> bool {
    std::fs::write(format!("/proc/{pid}/clear_refs"), "5").is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cpu_time_is_read_past_a_command_name_with_spaces() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("stat");
        std::fs::write(
            &p,
            "42 (xiaoan serve) S 1 42 42 0 -1 4194560 100 0 0 0 250 50 0 0 20 0 3 0 100 0 0",
        )
        .unwrap();
        assert_eq!(cpu_seconds(p.to_str().unwrap(), 100.0), Some(3.0));
    }

    #[test]
    fn memory_fields_are_read_in_megabytes() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("status");
        std::fs::write(
            &p,
            "Name:\txiaoan\nVmPeak:\t  900000 kB\nVmHWM:\t  409600 kB\nVmRSS:\t  204800 kB\n",
        )
        .unwrap();
        let p = p.to_str().unwrap();
        assert_eq!(status_mb(p, "VmHWM"), Some(400.0));
        assert_eq!(status_mb(p, "VmRSS"), Some(200.0));
        assert_eq!(status_mb(p, "VmSwap"), None);
    }

    #[test]
    fn this_process_has_a_peak_at_least_its_resident_memory() {
        let me = std::process::id();
        let (Some(rss), Some(peak)) = (rss_mb(me), peak_rss_mb(me)) else {
            return; // no /proc here
        };
        assert!(rss > 1.0 && peak >= rss, "rss {rss} MB, peak {peak} MB");
        if reset_peak(me) {
            // after a reset the peak is what is held now, not the old high-water mark
            let after = peak_rss_mb(me).unwrap();
            assert!(
                after <= peak + 1.0,
                "peak {peak} MB, after reset {after} MB"
            );
        }
    }
}
