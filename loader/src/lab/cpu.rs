//! CPU time of a traffic path, from procfs: the scheduler's per-thread
//! runtime (`/proc/thread-self/schedstat`, Documentation/scheduler/sched-stats.rst)
//! of the sender and receiver threads plus the `ksoftirqd/N` threads.
//! Shared by `redirect-lab compare` and `make bench`.

/// Nanoseconds the calling thread has run on a CPU (the scheduler's
/// `sum_exec_runtime`, first field of /proc/thread-self/schedstat; see
/// Documentation/scheduler/sched-stats.rst). Without IRQ time accounting
/// (this kernel: CONFIG_IRQ_TIME_ACCOUNTING unset) it includes the softirq
/// work done in the thread's context, which is where a veth path forwards:
/// veth_xmit queues to the peer's backlog and the softirq runs when the
/// sender re-enables bottom halves.
pub fn thread_cpu_ns() -> u64 {
    schedstat_ns("/proc/thread-self/schedstat")
}

fn schedstat_ns(path: &str) -> u64 {
    std::fs::read_to_string(path)
        .ok()
        .and_then(|s| s.split_whitespace().next().and_then(|v| v.parse().ok()))
        .unwrap_or(0)
}

/// CPU time of the path under test: the sender thread, the receiver thread,
/// and the `ksoftirqd/N` threads, which take over softirq work when it runs
/// long. Wall-clock rates move with whatever else the machine is doing; CPU
/// per packet moves much less, so both are reported.
pub struct CpuMeter {
    ksoftirqd: Vec<String>,
    start: u64,
}

impl CpuMeter {
    /// Starts counting the ksoftirqd threads (the sender and receiver
    /// measure their own threads and add them with [`CpuMeter::finish`]).
    pub fn start() -> CpuMeter {
        let ksoftirqd: Vec<String> = std::fs::read_dir("/proc")
            .map(|d| {
                d.filter_map(Result::ok)
                    .filter(|e| {
                        e.file_name()
                            .to_string_lossy()
                            .bytes()
                            .all(|b| b.is_ascii_digit())
                    })
                    .filter(|e| {
                        std::fs::read_to_string(e.path().join("comm"))
                            .is_ok_and(|c| c.starts_with("ksoftirqd/"))
                    })
                    .map(|e| e.path().join("schedstat").to_string_lossy().into_owned())
                    .collect()
            })
            .unwrap_or_default();
        let start = ksoftirqd.iter().map(|p| schedstat_ns(p)).sum();
        CpuMeter { ksoftirqd, start }
    }

    /// The ksoftirqd time since [`CpuMeter::start`] plus the threads' own.
    pub fn finish(&self, threads_ns: u64) -> u64 {
        let now: u64 = self.ksoftirqd.iter().map(|p| schedstat_ns(p)).sum();
        now.saturating_sub(self.start) + threads_ns
    }
}
