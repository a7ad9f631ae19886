//! One broken kernel fails its own column, with a one-line reason, and the
//! other columns still run. Complements `kernel_vm_failures.rs` (panic,
//! hang) and the unit tests of `lab_tests::kernels` (a failed or short
//! download in `fetch_deb`): here, through the `kernel-matrix` binary itself,
//! a module that `finit_module(2)` refuses, booted for real; a series that
//! cannot be fetched at all beside the real 6.1 column; a download that
//! fails (a mirror on a closed loopback port) beside a booted 6.1; and a
//! truncated package, served by a loopback proxy to the real apt.
//!
//! Needs root, QEMU and the network once (or the 5.10 and 6.1 kernels
//! cached in `target/kernels/`); CI has all. The failure cases send nothing
//! off the machine.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use lab_tests::kernels;
use lab_tests::report::{parse_run, RunStatus};
use lab_tests::vm;

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .to_path_buf()
}

/// The static lab-init and behaviour-suite, built the way `make kernels`
/// builds them (same target dir, so nothing is built twice).
fn static_bins() -> PathBuf {
    let dir = match std::env::var_os("CARGO_TARGET_DIR") {
        Some(d) => PathBuf::from(d).join("static"),
        None => root().join("target/static"),
    };
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let st = Command::new(cargo)
        .current_dir(root())
        .env("RUSTFLAGS", "-C target-feature=+crt-static")
        .env("CARGO_TARGET_DIR", &dir)
        .args(["build", "--release", "--target", "x86_64-unknown-linux-gnu"])
        .args([
            "-p",
            "lab-tests",
            "--bin",
            "lab-init",
            "--bin",
            "behaviour-suite",
        ])
        .status()
        .expect("cargo runs");
    assert!(st.success(), "static build failed");
    dir.join("x86_64-unknown-linux-gnu/release")
}

/// A module file that is not an ELF: finit_module(2) refuses it (ENOEXEC),
/// lab-init says so, skips the suite, and the run fails with that reason.
#[test]
fn a_module_that_fails_to_load_fails_the_column_with_its_reason() {
    let k = kernels::prepare("6.1", &root().join("target/kernels"))
        .unwrap_or_else(|e| panic!("cannot prepare the 6.1 kernel: {e}"));
    let bins = static_bins();
    let tmp = std::env::temp_dir().join(format!("lab-badmod-{}", std::process::id()));
    std::fs::create_dir_all(&tmp).unwrap();
    let bad = tmp.join("veth.ko");
    std::fs::write(&bad, b"this is not an ELF module").unwrap();
    let image = vm::build_initramfs(
        &bins.join("lab-init"),
        &bins.join("behaviour-suite"),
        &[bad],
    )
    .unwrap();
    let rd = tmp.join("initrd.cpio");
    std::fs::write(&rd, image).unwrap();
    let boot = vm::boot(&k.vmlinuz, &rd, Duration::from_secs(90)).unwrap();
    let _ = std::fs::remove_dir_all(&tmp);
    assert!(!boot.timed_out, "{}", boot.output);
    let run = parse_run(&boot.output, boot.timed_out);
    match &run.status {
        RunStatus::Failed(why) => {
            assert!(
                why.starts_with("module veth.ko failed to load:") && !why.contains('\n'),
                "{why}"
            );
        }
        other => panic!("expected a failed run, got {other:?}\n{}", boot.output),
    }
    assert!(
        run.verdicts.is_empty(),
        "the suite must not run without its modules"
    );
}

/// `kernel-matrix --kernels 9.9,6.1`: the unknown series fails its column
/// in one line, and 6.1 is still booted and reported.
#[test]
fn an_unavailable_kernel_fails_only_its_column() {
    let out = std::env::temp_dir().join(format!("lab-colfail-{}.md", std::process::id()));
    let st = Command::new(env!("CARGO_BIN_EXE_kernel-matrix"))
        .args(["--kernels", "9.9,6.1", "--no-host", "--out"])
        .arg(&out)
        .output()
        .unwrap();
    let md = std::fs::read_to_string(&out).unwrap_or_default();
    let json = std::fs::read_to_string(out.with_extension("json")).unwrap_or_default();
    let _ = std::fs::remove_file(&out);
    let _ = std::fs::remove_file(out.with_extension("json"));
    assert_eq!(st.status.code(), Some(1), "a failed column exits 1\n{md}");
    let reason = md
        .lines()
        .find(|l| l.starts_with("- 9.9:"))
        .unwrap_or_else(|| panic!("no 9.9 status line\n{md}"));
    assert!(
        reason.contains("FAILED: kernel not available: unknown kernel series \"9.9\""),
        "{reason}"
    );
    assert!(
        md.lines()
            .any(|l| l.starts_with("- 6.1: 6.1.") && l.ends_with("run complete")),
        "the 6.1 column must still run\n{md}"
    );
    // Every 6.1 cell passed or is n/a; every 9.9 cell is the one failure.
    let cells_99 = json.matches(r#""kernel":"9.9""#).count();
    let fails_99 = json
        .lines()
        .filter(|l| l.contains(r#""kernel":"9.9""#) && l.contains(r#""verdict":"fail""#))
        .count();
    assert_eq!(cells_99, fails_99, "{json}");
    assert!(cells_99 > 0, "{json}");
    let fails_61 = json
        .lines()
        .filter(|l| l.contains(r#""kernel":"6.1""#) && l.contains(r#""verdict":"fail""#))
        .count();
    assert_eq!(fails_61, 0, "{json}");
    assert!(json.contains(r#""kernel":"6.1""#), "{json}");
}

/// A download that fails (the mirror is a closed loopback port, and the
/// scratch `--cache` holds nothing for 5.10) fails the 5.10 column with
/// apt's one-line reason; the 6.1 column beside it, cached with a truncated
/// `veth.ko`, is still booted and fails with its own reason. Nothing here
/// leaves the machine.
#[test]
fn a_failed_download_fails_only_its_column() {
    let cache = root().join("target/kernels");
    let k = kernels::prepare("6.1", &cache)
        .unwrap_or_else(|e| panic!("cannot prepare the 6.1 kernel: {e}"));
    let scratch = std::env::temp_dir().join(format!("lab-dlfail-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&scratch);
    let bad = scratch.join("6.1");
    std::fs::create_dir_all(bad.join("modules")).unwrap();
    std::fs::copy(&k.vmlinuz, bad.join("vmlinuz")).unwrap();
    for m in &k.modules {
        let bytes = std::fs::read(m).unwrap();
        let keep = if m.ends_with("veth.ko") {
            bytes.len() / 3
        } else {
            bytes.len()
        };
        std::fs::write(
            bad.join("modules").join(m.file_name().unwrap()),
            &bytes[..keep],
        )
        .unwrap();
    }
    let ready = lab_tests::kernels::READY;
    std::fs::copy(cache.join("6.1").join(ready), bad.join(ready)).unwrap();
    let out = scratch.join("m.md");
    let st = Command::new(env!("CARGO_BIN_EXE_kernel-matrix"))
        .args([
            "--kernels",
            "5.10,6.1",
            "--no-host",
            "--timeout",
            "90",
            "--cache",
        ])
        .arg(&scratch)
        .arg("--out")
        .arg(&out)
        // Port 9 on loopback: refused at once.
        .env("LAB_DEBIAN_MIRROR", "http://127.0.0.1:9/debian")
        .output()
        .unwrap();
    let md = std::fs::read_to_string(&out).unwrap_or_default();
    let _ = std::fs::remove_dir_all(&scratch);
    let stderr = String::from_utf8_lossy(&st.stderr);
    assert_eq!(st.status.code(), Some(1), "{md}\n{stderr}");
    let status = |label: &str| {
        md.lines()
            .find(|l| l.starts_with(&format!("- {label}: ")))
            .unwrap_or_else(|| panic!("no {label} status line\n{md}\n{stderr}"))
            .to_string()
    };
    let s510 = status("5.10");
    assert!(
        s510.contains("FAILED: kernel not available: apt-get update for bullseye failed")
            && s510.contains("127.0.0.1"),
        "{s510}\n{stderr}"
    );
    let s61 = status("6.1");
    assert!(
        s61.starts_with("- 6.1: 6.1.") && s61.contains("FAILED: module veth.ko failed to load"),
        "{s61}\n{stderr}"
    );
}

/// A truncated package: a loopback HTTP proxy (`http_proxy`, so nothing
/// leaves the machine) answers every `.deb` request with the first 64 KiB of
/// the real 5.10 package and everything else with 404. apt refuses the short
/// file against the signed index's size and hash, and the 5.10 column fails
/// with that one-line reason (the lists are the real signed bullseye lists,
/// copied into a scratch `--cache`).
#[test]
fn a_truncated_package_fails_its_column_with_the_reason() {
    use std::io::{Read, Write};
    use std::net::{TcpListener, TcpStream};
    use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
    use std::sync::Arc;

    let cache = root().join("target/kernels");
    kernels::prepare("5.10", &cache)
        .unwrap_or_else(|e| panic!("cannot prepare the 5.10 kernel: {e}"));
    let deb = std::fs::read_dir(cache.join("5.10/debs"))
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .find(|p| p.extension().is_some_and(|x| x == "deb"))
        .expect("the 5.10 .deb stays in target/kernels/5.10/debs");
    let body: Vec<u8> = std::fs::read(&deb).unwrap()[..64 * 1024].to_vec();

    let scratch = std::env::temp_dir().join(format!("lab-trunc-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&scratch);
    let (from, to) = (cache.join("apt/bullseye"), scratch.join("apt/bullseye"));
    std::fs::create_dir_all(to.join("lists")).unwrap();
    for f in ["sources.list", "updated"] {
        std::fs::copy(from.join(f), to.join(f)).unwrap();
    }
    for e in std::fs::read_dir(from.join("lists")).unwrap().flatten() {
        if e.path().is_file() && e.file_name() != "lock" {
            std::fs::copy(e.path(), to.join("lists").join(e.file_name())).unwrap();
        }
    }
    // The lists are the real mirror's: name the same mirror, so they are used.
    let sources = std::fs::read_to_string(to.join("sources.list")).unwrap();
    let mirror = lab_tests::apt::mirror_in(&sources).expect("a mirror in sources.list");

    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let stop = Arc::new(AtomicBool::new(false));
    let debs_served = Arc::new(AtomicUsize::new(0));
    let proxy = {
        let (stop, served) = (stop.clone(), debs_served.clone());
        std::thread::spawn(move || {
            for conn in listener.incoming() {
                if stop.load(Ordering::SeqCst) {
                    break;
                }
                let Ok(mut c) = conn else { continue };
                let _ = c.set_read_timeout(Some(Duration::from_secs(5)));
                let mut req = Vec::new();
                let mut buf = [0u8; 4096];
                while !req.windows(4).any(|w| w == b"\r\n\r\n") {
                    match c.read(&mut buf) {
                        Ok(0) | Err(_) => break,
                        Ok(n) => req.extend_from_slice(&buf[..n]),
                    }
                }
                let line = String::from_utf8_lossy(&req)
                    .lines()
                    .next()
                    .unwrap_or("")
                    .to_string();
                let reply = if line.contains(".deb ") {
                    served.fetch_add(1, Ordering::SeqCst);
                    let mut r = format!(
                        "HTTP/1.1 200 OK\r\nContent-Type: application/vnd.debian.binary-package\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                        body.len()
                    )
                    .into_bytes();
                    r.extend_from_slice(&body);
                    r
                } else {
                    b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
                        .to_vec()
                };
                let _ = c.write_all(&reply);
            }
        })
    };

    let out = scratch.join("m.md");
    let st = Command::new(env!("CARGO_BIN_EXE_kernel-matrix"))
        .args([
            "--kernels",
            "5.10",
            "--no-host",
            "--timeout",
            "60",
            "--cache",
        ])
        .arg(&scratch)
        .arg("--out")
        .arg(&out)
        .env("LAB_DEBIAN_MIRROR", &mirror)
        .env("http_proxy", format!("http://127.0.0.1:{port}"))
        // Nothing may bypass the proxy.
        .env_remove("HTTP_PROXY")
        .env_remove("no_proxy")
        .env_remove("NO_PROXY")
        .output()
        .unwrap();
    stop.store(true, Ordering::SeqCst);
    let _ = TcpStream::connect(("127.0.0.1", port));
    let _ = proxy.join();
    let md = std::fs::read_to_string(&out).unwrap_or_default();
    let _ = std::fs::remove_dir_all(&scratch);
    let stderr = String::from_utf8_lossy(&st.stderr);
    assert_eq!(st.status.code(), Some(1), "{md}\n{stderr}");
    assert!(
        debs_served.load(Ordering::SeqCst) > 0,
        "apt never asked the proxy for a .deb\n{stderr}"
    );
    let line = md
        .lines()
        .find(|l| l.starts_with("- 5.10: "))
        .unwrap_or_else(|| panic!("no 5.10 status line\n{md}\n{stderr}"));
    eprintln!("{line}");
    assert!(line.contains("FAILED: kernel not available"), "{line}");
    assert!(
        ["unexpected size", "Hash Sum mismatch", "truncated"]
            .iter()
            .any(|w| line.contains(w)),
        "the reason must say the package was short: {line}\n{stderr}"
    );
}
