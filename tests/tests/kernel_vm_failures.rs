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

/// The smallest static x86-64 ELF executable that never exits: one
/// PT_LOAD segment whose entry is `jmp .` (eb fe). As PID 1 it is a real
/// hang, however fast the machine boots (an init that merely fails to run
/// makes the kernel panic, which a fast boot reaches before any deadline).
fn spinning_init() -> Vec<u8> {
    const BASE: u64 = 0x40_0000;
    const CODE: u64 = 64 + 56; // after the ELF header and one program header
    let mut e = Vec::new();
    e.extend_from_slice(b"\x7fELF\x02\x01\x01\0\0\0\0\0\0\0\0\0");
    e.extend_from_slice(&2u16.to_le_bytes()); // ET_EXEC
    e.extend_from_slice(&0x3eu16.to_le_bytes()); // EM_X86_64
    e.extend_from_slice(&1u32.to_le_bytes()); // EV_CURRENT
    e.extend_from_slice(&(BASE + CODE).to_le_bytes()); // e_entry
    e.extend_from_slice(&64u64.to_le_bytes()); // e_phoff
    e.extend_from_slice(&0u64.to_le_bytes()); // e_shoff
    e.extend_from_slice(&0u32.to_le_bytes()); // e_flags
    for v in [64u16, 56, 1, 64, 0, 0] {
        // e_ehsize, e_phentsize, e_phnum, e_shentsize, e_shnum, e_shstrndx
        e.extend_from_slice(&v.to_le_bytes());
    }
    e.extend_from_slice(&1u32.to_le_bytes()); // PT_LOAD
    e.extend_from_slice(&5u32.to_le_bytes()); // PF_R | PF_X
    e.extend_from_slice(&0u64.to_le_bytes()); // p_offset
    e.extend_from_slice(&BASE.to_le_bytes()); // p_vaddr
    e.extend_from_slice(&BASE.to_le_bytes()); // p_paddr
    e.extend_from_slice(&(CODE + 2).to_le_bytes()); // p_filesz
    e.extend_from_slice(&(CODE + 2).to_le_bytes()); // p_memsz
    e.extend_from_slice(&0x1000u64.to_le_bytes()); // p_align
    assert_eq!(e.len() as u64, CODE);
    e.extend_from_slice(&[0xeb, 0xfe]); // jmp .
    e
}

/// A kernel still running at the deadline is killed and its run failed:
/// its init spins forever, so this is a real hang.
#[test]
fn a_hanging_kernel_is_killed_and_failed() {
    let kernel = kernel();
    let init = spinning_init();
    let rd = initrd("hang", Some(&init));
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
