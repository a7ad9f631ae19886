//! Shared support for the lab's end-to-end tests (`tests/tests/lab_*.rs`):
//! isolated labs with unique prefixes, torn down on drop even when a test
//! fails (`lab_tests::topology`'s, which the behaviour suite uses too), and
//! bounded traffic helpers.
#![allow(dead_code)]

use std::net::UdpSocket;
use std::path::PathBuf;
use std::sync::OnceLock;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use loader::lab::traffic::{listen_on, Datagram};
use loader::lab::{Lab, ListenOptions, Side};

// Each test file uses its own part of these.
#[allow(unused_imports)]
pub use lab_tests::topology::{require_root, unique_prefix, LabGuard};

/// How long a test waits for a datagram that should arrive.
pub const DELIVERY_TIMEOUT: Duration = Duration::from_secs(3);
/// How long a test waits to be sure a datagram does not arrive.
pub const SILENCE: Duration = Duration::from_millis(1500);

/// A listener in netns_2 collecting up to `count` datagrams on a thread,
/// for at most `timeout`.
pub fn spawn_listener(
    lab: &Lab,
    count: u64,
    timeout: Duration,
    echo: bool,
) -> JoinHandle<Vec<Datagram>> {
    let sock: UdpSocket = lab.udp_listener().expect("listener in netns_2");
    std::thread::spawn(move || {
        let mut got = Vec::new();
        let options = ListenOptions {
            count: Some(count),
            timeout: Some(timeout),
            echo,
        };
        listen_on(&sock, options, &mut |d| got.push(d.clone())).expect("listen");
        got
    })
}

/// A device's counters, read from `/proc/net/dev` inside its namespace.
pub fn counters(lab: &Lab, side: Side, dev: &str) -> loader::lab::procfs::DevCounters {
    lab.dev_counters(side, dev)
        .unwrap_or_else(|e| panic!("counters of {dev}: {e}"))
}

/// An `Ip:` counter of `/proc/net/snmp` in a side.
pub fn ip_counter(lab: &Lab, side: Side, field: &str) -> u64 {
    lab.ip_counter(side, field)
        .unwrap_or_else(|e| panic!("Ip {field}: {e}"))
}

/// Sends `n` datagrams `prefix-0`, `prefix-1`... from the host side.
pub fn send_n(lab: &Lab, prefix: &str, n: usize) -> Vec<String> {
    (0..n)
        .map(|i| {
            let msg = format!("{prefix}-{i}");
            lab.send(msg.as_bytes(), None).expect("send");
            msg
        })
        .collect()
}

/// Waits until `f` holds, for at most `timeout`.
pub fn eventually(timeout: Duration, mut f: impl FnMut() -> bool) -> bool {
    let start = Instant::now();
    loop {
        if f() {
            return true;
        }
        if start.elapsed() > timeout {
            return false;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// The `redirect-lab` binary of this workspace, freshly built: `cargo
/// build` runs once per test process (a no-op when the binary is current),
/// so a test never runs a stale binary when only `lab-tests` is tested.
pub fn redirect_lab_binary() -> PathBuf {
    static BUILT: OnceLock<PathBuf> = OnceLock::new();
    BUILT
        .get_or_init(|| {
            let exe = std::env::current_exe().expect("current_exe");
            // target/<profile>/deps/lab_x-HASH -> target/<profile>/redirect-lab
            let profile_dir = exe
                .parent()
                .and_then(|d| d.parent())
                .expect("test binary in target/<profile>/deps")
                .to_path_buf();
            let mut cmd = std::process::Command::new(env!("CARGO"));
            cmd.args(["build", "--quiet", "-p", "loader", "--bin", "redirect-lab"]);
            if profile_dir.file_name().is_some_and(|n| n == "release") {
                cmd.arg("--release");
            }
            if let Some(target) = profile_dir.parent() {
                cmd.env("CARGO_TARGET_DIR", target);
            }
            let status = cmd.status().expect("run cargo build");
            assert!(status.success(), "cargo build --bin redirect-lab failed");
            let bin = profile_dir.join("redirect-lab");
            assert!(bin.exists(), "no redirect-lab binary at {}", bin.display());
            bin
        })
        .clone()
}
