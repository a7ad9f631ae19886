//! `redirect-lab trace`: prints what the `--trace` program reports through
//! `bpf_trace_printk`.
//!
//! Follows Documentation/trace/ftrace.rst: the helper writes into the top-level
//! ring buffer of tracefs, read line by line (and consumed) from
//! `trace_pipe`. tracefs is mounted at `/sys/kernel/tracing` when it is not
//! there yet, as `bpftool prog tracelog` does.

use crate::error::io_text;
use std::fs::{self, File, OpenOptions};
use std::io::{self, Read, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;
use std::time::{Duration, Instant};

use super::sys;

/// Where tracefs lives on current kernels.
pub const TRACEFS: &str = "/sys/kernel/tracing";
/// The older place, under debugfs, used when it is already there.
pub const DEBUGFS_TRACING: &str = "/sys/kernel/debug/tracing";

/// Returns a `trace_pipe` path, mounting tracefs if no mounted one is found.
pub fn trace_pipe_path() -> Result<String, String> {
    for dir in [TRACEFS, DEBUGFS_TRACING] {
        let pipe = format!("{dir}/trace_pipe");
        if Path::new(&pipe).exists() {
            return Ok(pipe);
        }
    }
    sys::mount_tracefs(TRACEFS).map_err(|e| {
        format!(
            "tracefs is not mounted and mounting it on {TRACEFS} failed: {}. \
             Run as root, or mount it yourself: mount -t tracefs nodev {TRACEFS}",
            io_text(&e)
        )
    })?;
    let pipe = format!("{TRACEFS}/trace_pipe");
    if Path::new(&pipe).exists() {
        Ok(pipe)
    } else {
        Err(format!(
            "mounted tracefs on {TRACEFS} but {pipe} does not exist"
        ))
    }
}

/// When to stop printing.
#[derive(Clone, Copy, Debug, Default)]
pub struct TraceLimits {
    /// Stop after this many lines; `None` runs until Ctrl-C.
    pub count: Option<u64>,
    /// Stop after this long; `None` runs until Ctrl-C.
    pub timeout: Option<Duration>,
    /// Keep only lines that contain this text (e.g. "redirect:").
    pub only: Option<&'static str>,
    /// Stop after the first line that contains this text.
    pub until: Option<&'static str>,
}

/// Copies `trace_pipe` lines to `out` until a limit is reached. The pipe is
/// opened non-blocking and polled, so a timeout is honoured even when no
/// line ever comes; Ctrl-C ends the process the usual way. Returns the
/// number of lines written.
pub fn follow(limits: TraceLimits, out: &mut dyn Write) -> Result<u64, String> {
    let path = trace_pipe_path()?;
    let mut pipe = OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NONBLOCK)
        .open(&path)
        .map_err(|e| format!("cannot open {path}: {}", io_text(&e)))?;
    let start = Instant::now();
    let mut pending = Vec::new();
    let mut lines = 0u64;
    let mut buf = [0u8; 4096];
    loop {
        if limits.count.is_some_and(|c| lines >= c) {
            return Ok(lines);
        }
        if limits.timeout.is_some_and(|t| start.elapsed() >= t) {
            return Ok(lines);
        }
        match read_some(&mut pipe, &mut buf) {
            Ok(0) => std::thread::sleep(Duration::from_millis(50)),
            Ok(n) => {
                pending.extend_from_slice(&buf[..n]);
                while let Some(pos) = pending.iter().position(|b| *b == b'\n') {
                    let line: Vec<u8> = pending.drain(..=pos).collect();
                    let text = String::from_utf8_lossy(&line);
                    if limits.only.is_some_and(|needle| !text.contains(needle)) {
                        continue;
                    }
                    out.write_all(text.as_bytes())
                        .and_then(|_| out.flush())
                        .map_err(|e| format!("writing the trace: {}", io_text(&e)))?;
                    lines += 1;
                    if limits.until.is_some_and(|needle| text.contains(needle)) {
                        return Ok(lines);
                    }
                    if limits.count.is_some_and(|c| lines >= c) {
                        return Ok(lines);
                    }
                }
            }
            Err(e) => return Err(format!("reading {path}: {}", io_text(&e))),
        }
    }
}

fn read_some(f: &mut File, buf: &mut [u8]) -> io::Result<usize> {
    match f.read(buf) {
        Ok(n) => Ok(n),
        Err(e)
            if e.kind() == io::ErrorKind::WouldBlock || e.kind() == io::ErrorKind::Interrupted =>
        {
            Ok(0)
        }
        Err(e) => Err(e),
    }
}

/// Whether tracefs is currently mounted (from `/proc/self/mountinfo`).
pub fn tracefs_mounted() -> bool {
    fs::read_to_string("/proc/self/mountinfo")
        .map(|m| m.lines().any(|l| l.contains(" - tracefs ")))
        .unwrap_or(false)
}
