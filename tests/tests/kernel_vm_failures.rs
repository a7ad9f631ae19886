//! A kernel that panics or hangs is reported as failed, within a bounded
//! time, by the real QEMU path (`lab_tests::vm::boot`). Uses the 6.1 kernel
//! that `make kernels` caches in `target/kernels/6.1/`, fetching it first
//! when the cache is empty.

use std::path::{Path, PathBuf};
use std::sync::OnceLock;
use std::time::Duration;

use lab_tests::cpio::CpioWriter;
use lab_tests::kernels;
use lab_tests::report::{parse_run, RunStatus};
use lab_tests::vm;

/// The Debian 6.1 kernel, fetched and cached by the same code `make kernels`
/// uses (so on a fresh clone this test downloads it once). Without QEMU or the
/// package the test fails: CI installs both, and a skipped check proves nothing.
fn kernel() -> PathBuf {
    static KERNEL: OnceLock<PathBuf> = OnceLock::new();
    KERNEL
        .get_or_init(|| {
            assert!(
                Path::new("/usr/bin/qemu-system-x86_64").exists(),
                "qemu-system-x86_64 is missing: apt-get install qemu-system-x86 (.ci/run does)"
            );
            let cache = Path::new(env!("CARGO_MANIFEST_DIR")).join("../target/kernels");
            match kernels::prepare("6.1", &cache) {
                Ok(k) => k.vmlinuz,
                Err(e) => panic!("cannot prepare the 6.1 kernel: {}", e.0),
            }
        })
        .clone()
}

fn initrd(name: &str, init: Option<&[u8]>) -> PathBuf {
    let mut w = CpioWriter::new(Vec::new());
    w.dir("dev", 0o755).unwrap();
    w.char_device("dev/console", 0o600, 5, 1).unwrap();
    if let Some(bytes) = init {
        w.file("init", 0o755, bytes).unwrap();
    }
    let p = std::env::temp_dir().join(format!("lab-vmfail-{}-{name}.cpio", std::process::id()));
    std::fs::write(&p, w.finish().unwrap()).unwrap();
    p
}

/// No /init: the kernel finds no root file system and panics; with
/// `panic=-1 -no-reboot` QEMU exits at once and the run is a failure.
#[test]
fn a_panicking_kernel_is_failed_quickly() {
    let kernel = kernel();
    let rd = initrd("panic", None);
    let boot = vm::boot(&kernel, &rd, Duration::from_secs(90)).unwrap();
    let _ = std::fs::remove_file(&rd);
    assert!(!boot.timed_out, "a panic must end QEMU before the timeout");
    let run = parse_run(&boot.output, boot.timed_out);
    assert_eq!(
        run.status,
        RunStatus::Failed("kernel panic".into()),
        "{}",
        boot.output
    );
}

/// A kernel still running at the deadline is killed and its run failed.
/// A 2-second limit is shorter than any boot under TCG, so this is a real
/// hang as far as the runner can tell.
#[test]
fn a_hanging_kernel_is_killed_and_failed() {
    let kernel = kernel();
    let rd = initrd("hang", Some(b"not an executable"));
    let boot = vm::boot(&kernel, &rd, Duration::from_secs(2)).unwrap();
    let _ = std::fs::remove_file(&rd);
    assert!(boot.timed_out);
    assert!(
        boot.elapsed < Duration::from_secs(10),
        "killed in {:?}",
        boot.elapsed
    );
    let run = parse_run(&boot.output, boot.timed_out);
    assert!(
        matches!(run.status, RunStatus::Failed(_)),
        "{:?}",
        run.status
    );
}
