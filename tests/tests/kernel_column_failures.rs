//! One broken kernel fails only its own column, with a one-line reason, and
//! the other columns still run: the real `kernel-matrix` binary, real QEMU,
//! a scratch kernel cache (`--cache`) and a mirror that cannot be reached
//! (`LAB_DEBIAN_MIRROR` on a closed loopback port), so nothing here touches
//! the network:
//!
//! - 5.10 has nothing cached, so its download fails;
//! - 6.1 is cached with a truncated `veth.ko`, so `lab-init`'s
//!   `finit_module` fails and the VM stops before the suite;
//! - 6.12 is cached whole and must run the whole suite and pass.
//!
//! The 6.1 and 6.12 kernels come from `target/kernels/`, prepared by the same
//! code `make kernels` uses (downloaded once on a fresh clone). Panics and
//! hangs are tested in `kernel_vm_failures.rs`; a truncated `.deb` and a
//! failed `apt-get download` in `kernels.rs`'s unit tests.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

use lab_tests::kernels;

fn copy_prepared(series: &str, to: &Path) -> PathBuf {
    let cache = Path::new(env!("CARGO_MANIFEST_DIR")).join("../target/kernels");
    let k = kernels::prepare(series, &cache)
        .unwrap_or_else(|e| panic!("cannot prepare the {series} kernel: {}", e.0));
    let dst = to.join(series);
    fs::create_dir_all(dst.join("modules")).unwrap();
    fs::copy(&k.vmlinuz, dst.join("vmlinuz")).unwrap();
    for m in &k.modules {
        fs::copy(m, dst.join("modules").join(m.file_name().unwrap())).unwrap();
    }
    fs::copy(cache.join(series).join("ready"), dst.join("ready")).unwrap();
    dst
}

/// Removes the scratch cache even when an assertion fails.
struct Scratch(PathBuf);
impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.0);
    }
}

#[test]
fn a_failed_download_and_a_module_that_does_not_load_fail_only_their_columns() {
    assert!(
        Path::new("/usr/bin/qemu-system-x86_64").exists(),
        "qemu-system-x86_64 is missing: apt-get install qemu-system-x86 (.ci/run does)"
    );
    let scratch = Scratch(std::env::temp_dir().join(format!("lab-colfail-{}", std::process::id())));
    let root = &scratch.0;
    let _ = fs::remove_dir_all(root);
    fs::create_dir_all(root).unwrap();

    let bad = copy_prepared("6.1", root);
    let veth = bad.join("modules/veth.ko");
    let bytes = fs::read(&veth).unwrap();
    fs::write(&veth, &bytes[..bytes.len() / 3]).unwrap();
    copy_prepared("6.12", root);

    let out = root.join("m.md");
    let run = Command::new(env!("CARGO_BIN_EXE_kernel-matrix"))
        .args(["--kernels", "5.10,6.1,6.12", "--no-host", "--slots", "2"])
        .args(["--timeout", "120", "--cache"])
        .arg(root)
        .arg("--out")
        .arg(&out)
        // Port 9 (discard) on loopback: refused at once, never leaves the host.
        .env("LAB_DEBIAN_MIRROR", "http://127.0.0.1:9/debian")
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&run.stderr);
    let md = fs::read_to_string(&out).unwrap_or_default();
    let json = fs::read_to_string(out.with_extension("json")).unwrap_or_default();
    assert_eq!(run.status.code(), Some(1), "{md}\n{stderr}");

    let status = |label: &str| -> String {
        md.lines()
            .find(|l| l.starts_with(&format!("- {label}: ")))
            .unwrap_or_else(|| panic!("no status line for {label}:\n{md}\n{stderr}"))
            .to_string()
    };
    let s510 = status("5.10");
    assert!(
        s510.contains("FAILED: kernel not available") && s510.contains("127.0.0.1"),
        "{s510}\n{stderr}"
    );
    let s61 = status("6.1");
    assert!(
        s61.contains("FAILED: module veth.ko failed to load"),
        "{s61}\n{stderr}"
    );
    let s612 = status("6.12");
    assert!(s612.ends_with("run complete"), "{s612}\n{stderr}");

    // Every 6.12 cell is a pass or a probed n/a; every 5.10 and 6.1 cell
    // carries its column's reason.
    let cells: Vec<&str> = json
        .lines()
        .filter(|l| l.contains("\"behaviour\":"))
        .collect();
    assert!(!cells.is_empty(), "{json}");
    for c in &cells {
        if c.contains("\"kernel\":\"6.12\"") {
            assert!(!c.contains("\"verdict\":\"fail\""), "{c}\n{md}");
        } else {
            assert!(c.contains("\"verdict\":\"fail\""), "{c}");
        }
    }
    assert!(json.contains("\"run_error\":\"module veth.ko failed to load"));
}
