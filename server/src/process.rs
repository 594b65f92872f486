//! The process's own CPU time and resident memory, read from `/proc` (Linux); `None` elsewhere.

/// CPU and memory of this process at one moment.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct ProcessSample {
    /// User plus system CPU time since the process started, in seconds.
    pub cpu_seconds: f64,
    /// Resident set size in bytes.
    pub resident_bytes: u64,
}

/// Reads this process's CPU time and RSS.
#[must_use]
pub fn sample() -> Option<ProcessSample> {
    sample_pid("self")
}

/// Reads another process's CPU time and RSS (`pid` as a number, or `self`).
#[must_use]
pub fn sample_pid(pid: &str) -> Option<ProcessSample> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // Fields after the parenthesised command name; utime and stime are the 14th and 15th fields.
    let rest = &stat[stat.rfind(')')? + 2..];
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let ticks = |i: usize| fields.get(i).and_then(|v| v.parse::<f64>().ok());
    let cpu_ticks = ticks(11)? + ticks(12)?;
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let rss_kb: u64 = status.lines().find_map(|l| l.strip_prefix("VmRSS:"))?.split_whitespace().next()?.parse().ok()?;
    // The kernel's clock tick is 100 Hz on every Linux platform Arena targets.
    Some(ProcessSample { cpu_seconds: cpu_ticks / 100.0, resident_bytes: rss_kb * 1024 })
}

#[cfg(test)]
mod tests {
    #[test]
    #[cfg(target_os = "linux")]
    fn this_process_has_memory_and_cpu() {
        let s = super::sample().expect("/proc/self is readable on Linux");
        assert!(s.resident_bytes > 1 << 20, "a test process holds more than a MiB");
        assert!(s.cpu_seconds >= 0.0);
    }
}
