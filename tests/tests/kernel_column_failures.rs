//! One broken kernel fails its own column, with a one-line reason, and the
//! other columns still run. Complements `kernel_vm_failures.rs` (panic,
//! hang) and the unit tests of `lab_tests::kernels` (a failed download, a
//! truncated package): here a module that `finit_module(2)` refuses, booted
//! for real, and a kernel that cannot be fetched at all, beside the real 6.1
//! column, through the `kernel-matrix` binary itself.
//!
//! Needs root, QEMU and the network (or a cached 6.1 kernel); CI has all.

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
    std::fs::copy(cache.join("6.1/ready"), bad.join("ready")).unwrap();
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
