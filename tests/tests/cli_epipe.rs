//! `redirect-lab CMD | head`: when the reader of stdout has gone, the write
//! fails with EPIPE (Rust ignores SIGPIPE), and every command must stop
//! quietly with status 0 instead of panicking ("failed printing to stdout")
//! or printing an error. Each command here runs with stdout on a pipe whose
//! read end is closed before the command writes, so the first write fails.

mod lab_common;

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use lab_common::*;

/// A temporary directory, removed on drop.
struct TempDir(PathBuf);

impl TempDir {
    fn new(tag: &str) -> TempDir {
        let d = std::env::temp_dir().join(unique_prefix(tag));
        std::fs::create_dir_all(&d).expect("create temp dir");
        TempDir(d)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn redirect_s() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../bpf-src/redirect.s")
}

/// Runs redirect-lab with stdout to a pipe nobody reads; returns the exit
/// code and stderr.
fn run_into_closed_pipe(args: &[&str]) -> (Option<i32>, String) {
    let mut child = Command::new(redirect_lab_binary())
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn redirect-lab");
    // Closing the only read end makes every write to the pipe fail with EPIPE.
    drop(child.stdout.take());
    let mut err = String::new();
    if let Some(mut e) = child.stderr.take() {
        let _ = e.read_to_string(&mut err);
    }
    let st = child.wait().expect("wait for redirect-lab");
    (st.code(), err)
}

fn assert_quiet_stop(args: &[&str]) {
    let (code, err) = run_into_closed_pipe(args);
    assert!(!err.contains("panicked"), "{args:?} panicked: {err}");
    assert!(!err.contains("Broken pipe"), "{args:?}: {err}");
    assert!(!err.contains("EPIPE"), "{args:?}: {err}");
    assert_eq!(code, Some(0), "{args:?}: {err}");
}

/// A packet for `run`: Ethernet + IPv4 to 10.0.2.11, padded to `len`.
fn packet(len: usize) -> Vec<u8> {
    let mut p = vec![0u8; len];
    p[12] = 0x08; // ETH_P_IP
    p[14] = 0x45;
    p[30..34].copy_from_slice(&[10, 0, 2, 11]);
    p
}

#[test]
fn asm_disasm_and_run_stop_quietly_on_a_closed_pipe() {
    let dir = TempDir::new("pipe");
    let src = redirect_s();
    let obj = dir.0.join("redirect.o");
    let st = Command::new(redirect_lab_binary())
        .arg("asm")
        .arg(&src)
        .arg("-o")
        .arg(&obj)
        .status()
        .expect("assemble");
    assert!(st.success());
    let src = src.to_str().expect("UTF-8 path");
    let obj = obj.to_str().expect("UTF-8 path");
    assert_quiet_stop(&["disasm", obj]);
    assert_quiet_stop(&["disasm", "--syntax", "llvm", "--bytes", obj]);
    assert_quiet_stop(&["asm", src, "-f", "hex", "-o", "-"]);
    assert_quiet_stop(&["asm", src, "-f", "raw", "-o", "-"]);

    require_root();
    let data = dir.0.join("pkt.bin");
    std::fs::write(&data, packet(1000)).expect("write packet");
    let data = data.to_str().expect("UTF-8 path");
    assert_quiet_stop(&["run", src, "--data", data, "-v"]);
    assert_quiet_stop(&["run", obj, "--data", data, "--json"]);
    assert_quiet_stop(&["prog", "list"]);
    assert_quiet_stop(&["prog", "list", "--json"]);
}
