//! `lab-init`: PID 1 of the kernel-matrix VMs.
//!
//! The kernel unpacks our initramfs (see `lab_tests::cpio`) and runs `/init`.
//! This init mounts the pseudo file systems the suite needs, loads the
//! modules listed in `/modules/order` with `finit_module(2)`, brings `lo` up,
//! runs `/behaviour-suite` (whose `LABTEST` lines go straight to the serial
//! console) with this init's own arguments (what follows `--` on the kernel
//! command line, see `vm::boot_with_args`), and powers the machine off. PID 1 must never exit: the kernel
//! would panic, so every failure is printed and we still power off.

use std::fs::File;
use std::process::Command;

use lab_tests::sys;

fn main() {
    println!("LABINIT start");
    for (src, target, fstype) in [
        ("proc", "/proc", "proc"),
        ("sysfs", "/sys", "sysfs"),
        ("devtmpfs", "/dev", "devtmpfs"),
        ("tmpfs", "/run", "tmpfs"),
        ("tmpfs", "/tmp", "tmpfs"),
        ("bpf", "/sys/fs/bpf", "bpf"),
        ("tracefs", "/sys/kernel/tracing", "tracefs"),
    ] {
        let _ = std::fs::create_dir_all(target);
        if let Err(e) = sys::mount(src, target, fstype, None) {
            // devtmpfs may already be mounted by CONFIG_DEVTMPFS_MOUNT.
            if e.raw_os_error() != Some(libc::EBUSY) {
                println!("LABINIT mount {fstype} on {target} failed: {e}");
            }
        }
    }
    // /run/netns is where named namespaces are bind-mounted.
    let _ = std::fs::create_dir_all("/run/netns");

    let order = std::fs::read_to_string("/modules/order").unwrap_or_default();
    let mut modules_ok = true;
    for name in order.lines().filter(|l| !l.is_empty()) {
        let path = format!("/modules/{name}");
        match File::open(&path).and_then(|f| sys::finit_module(&f)) {
            Ok(()) => println!("LABINIT module {name} loaded"),
            Err(e) if e.raw_os_error() == Some(libc::EEXIST) => {
                println!("LABINIT module {name} already loaded")
            }
            Err(e) => {
                // The runner turns this line into the column's reason.
                println!("LABINIT module {name} FAILED to load: {e}");
                modules_ok = false;
            }
        }
    }
    if let Err(e) = sys::set_link_up("lo") {
        println!("LABINIT cannot bring lo up: {e}");
    }

    let kernel = std::fs::read_to_string("/proc/sys/kernel/osrelease").unwrap_or_default();
    println!("LABINIT kernel {}", kernel.trim());
    // Without its modules every behaviour would fail for the same reason;
    // the column says it once instead.
    if modules_ok {
        match Command::new("/behaviour-suite")
            .args(std::env::args().skip(1))
            .status()
        {
            Ok(st) => println!("LABINIT suite exited: {st}"),
            Err(e) => println!("LABINIT cannot run /behaviour-suite: {e}"),
        }
    } else {
        println!("LABINIT suite skipped: a module failed to load");
    }
    let e = sys::power_off();
    println!("LABINIT power off failed: {e}");
    // Never return from PID 1.
    loop {
        std::thread::sleep(std::time::Duration::from_secs(3600));
    }
}
