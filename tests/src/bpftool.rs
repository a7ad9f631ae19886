//! bpftool as the tests' oracle for loading: `bpftool prog loadall` is
//! libbpf's loader, so what it accepts, refuses or makes is what a
//! libbpf-based tool would. CI installs bpftool; a missing one is a
//! failure, not a skip.

use std::process::Command;

/// `bpftool prog loadall OBJ DIR [EXTRA...]` on the object bytes `elf`
/// (written to a temporary file first): its stdout, or its stderr when it
/// refuses. The pins under `DIR` are the caller's to remove.
pub fn loadall(elf: &[u8], dir: &str, extra: &[&str]) -> Result<String, String> {
    let stem = dir.rsplit('/').next().unwrap_or("obj");
    let obj = std::env::temp_dir().join(format!("{stem}-{}.o", std::process::id()));
    std::fs::write(&obj, elf).map_err(|e| format!("writing {}: {e}", obj.display()))?;
    let o = Command::new("bpftool")
        .args(["prog", "loadall"])
        .arg(&obj)
        .arg(dir)
        .args(extra)
        .output();
    let _ = std::fs::remove_file(&obj);
    let o = o.unwrap_or_else(|e| panic!("bpftool does not run ({e}); CI installs it"));
    if o.status.success() {
        Ok(String::from_utf8_lossy(&o.stdout).into_owned())
    } else {
        Err(String::from_utf8_lossy(&o.stderr).into_owned())
    }
}
