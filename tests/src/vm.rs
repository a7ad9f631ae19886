//! Boots a kernel in QEMU with our initramfs and collects its serial console.
//!
//! The initramfs is a newc archive (`crate::cpio`) holding `/init` (the static
//! `lab-init`), `/behaviour-suite` (the static suite) and `/modules/*.ko` with
//! `/modules/order`. QEMU runs with TCG (`-accel tcg -cpu max`), since KVM is
//! not available to us, `-no-reboot` so the guest's power-off or panic ends
//! the process, and a hard timeout after which the process is killed.

use std::io::{self, Read};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::cpio::CpioWriter;

/// Builds the initramfs bytes.
pub fn build_initramfs(init: &Path, suite: &Path, modules: &[PathBuf]) -> io::Result<Vec<u8>> {
    let read = |p: &Path| {
        std::fs::read(p).map_err(|e| io::Error::new(e.kind(), format!("{}: {e}", p.display())))
    };
    let mut w = CpioWriter::new(Vec::new());
    for d in ["dev", "proc", "sys", "run", "tmp", "modules"] {
        w.dir(d, 0o755)?;
    }
    // The kernel opens /dev/console for init's stdio before anything is
    // mounted; without this node PID 1 would have no output at all.
    w.char_device("dev/console", 0o600, 5, 1)?;
    w.file("init", 0o755, &read(init)?)?;
    w.file("behaviour-suite", 0o755, &read(suite)?)?;
    let mut order = String::new();
    for m in modules {
        let name = m.file_name().and_then(|n| n.to_str()).ok_or_else(|| {
            io::Error::new(io::ErrorKind::InvalidInput, "module path without a name")
        })?;
        w.file(&format!("modules/{name}"), 0o644, &read(m)?)?;
        order.push_str(name);
        order.push('\n');
    }
    w.file("modules/order", 0o644, order.as_bytes())?;
    w.finish()
}

/// What a boot produced.
pub struct Boot {
    /// Serial console and QEMU's own messages.
    pub output: String,
    pub timed_out: bool,
    pub elapsed: Duration,
}

/// Boots `kernel` with `initrd`; kills QEMU after `timeout`.
pub fn boot(kernel: &Path, initrd: &Path, timeout: Duration) -> io::Result<Boot> {
    boot_with_args(kernel, initrd, timeout, &[])
}

/// [`boot`], handing `init_args` to `/init` (lab-init passes them on to the
/// suite): the kernel gives init every command-line word after `--`
/// (Documentation/admin-guide/kernel-parameters.rst).
pub fn boot_with_args(
    kernel: &Path,
    initrd: &Path,
    timeout: Duration,
    init_args: &[&str],
) -> io::Result<Boot> {
    let mut append = String::from("console=ttyS0 panic=-1 quiet loglevel=4 rdinit=/init");
    if !init_args.is_empty() {
        append.push_str(" -- ");
        append.push_str(&init_args.join(" "));
    }
    let start = Instant::now();
    let mut child = Command::new("qemu-system-x86_64")
        .args(["-accel", "tcg", "-cpu", "max", "-m", "1G", "-smp", "1"])
        .args([
            "-nographic",
            "-no-reboot",
            "-nodefaults",
            "-serial",
            "stdio",
        ])
        .arg("-kernel")
        .arg(kernel)
        .arg("-initrd")
        .arg(initrd)
        // panic=-1: reboot at once on a panic, which -no-reboot turns into
        // QEMU exiting, so a panic costs seconds, not the whole timeout.
        .arg("-append")
        .arg(&append)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| {
            io::Error::new(
                e.kind(),
                format!("cannot start qemu-system-x86_64 (apt-get install qemu-system-x86): {e}"),
            )
        })?;
    let mut stdout = child
        .stdout
        .take()
        .ok_or_else(|| io::Error::other("no qemu stdout"))?;
    let mut stderr = child
        .stderr
        .take()
        .ok_or_else(|| io::Error::other("no qemu stderr"))?;
    let out_thread = std::thread::spawn(move || {
        let mut buf = Vec::new();
        let _ = stdout.read_to_end(&mut buf);
        buf
    });
    let err_thread = std::thread::spawn(move || {
        let mut buf = Vec::new();
        let _ = stderr.read_to_end(&mut buf);
        buf
    });
    let mut timed_out = false;
    loop {
        if child.try_wait()?.is_some() {
            break;
        }
        if start.elapsed() >= timeout {
            timed_out = true;
            // Kill our own child by its handle, then reap it.
            let _ = child.kill();
            let _ = child.wait();
            break;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let out = out_thread.join().unwrap_or_default();
    let err = err_thread.join().unwrap_or_default();
    let mut output = String::from_utf8_lossy(&out).into_owned();
    if !err.is_empty() {
        output.push_str("\n[qemu stderr]\n");
        output.push_str(&String::from_utf8_lossy(&err));
    }
    Ok(Boot {
        output,
        timed_out,
        elapsed: start.elapsed(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn initramfs_holds_init_suite_console_and_module_order() {
        let dir = std::env::temp_dir().join(format!("lab-vm-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let init = dir.join("init");
        let suite = dir.join("suite");
        let m1 = dir.join("a.ko");
        let m2 = dir.join("b.ko");
        for (p, d) in [(&init, "I"), (&suite, "S"), (&m1, "A"), (&m2, "B")] {
            std::fs::write(p, d).unwrap();
        }
        let img = build_initramfs(&init, &suite, &[m1, m2]).unwrap();
        let text = String::from_utf8_lossy(&img);
        for name in [
            "dev/console",
            "init\0",
            "behaviour-suite",
            "modules/a.ko",
            "modules/order",
            "TRAILER!!!",
        ] {
            assert!(text.contains(name), "{name} missing");
        }
        assert!(
            text.contains("a.ko\nb.ko\n"),
            "order must list dependencies first"
        );
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn missing_input_files_are_named() {
        let e = build_initramfs(Path::new("/nonexistent/init"), Path::new("/x"), &[])
            .err()
            .unwrap();
        assert!(e.to_string().contains("/nonexistent/init"));
    }
}
