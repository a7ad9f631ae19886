//! clang-19 as the tests' reference compiler: `clang-19 -O2 -g -target bpf
//! -mcpu=vN` with the host's multiarch include directory, so `<linux/bpf.h>`
//! resolves as it does for the programs in `bpf-src/`. One invocation for
//! every test that builds a C program of `tests/corpus/`, and for
//! `tests/build.rs`, which builds the objects the guests' suite carries (CI
//! installs clang-19; a missing compiler is a failure, not a skip).

use std::path::Path;
use std::process::Command;

/// `-I/usr/include/<multiarch>`, where Debian keeps `asm/types.h`.
pub fn multiarch_include() -> String {
    let triple = Command::new("gcc")
        .arg("-print-multiarch")
        .output()
        .ok()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| "x86_64-linux-gnu".into());
    format!("-I/usr/include/{triple}")
}

/// Compiles `src` to `out` (`-c`, or `-S` when `asm`), or says why not.
pub fn clang_bpf(src: &Path, out: &Path, mcpu: &str, asm: bool) -> Result<(), String> {
    let o = Command::new("clang-19")
        .args(["-O2", "-g", "-target", "bpf", &format!("-mcpu={mcpu}")])
        .arg(multiarch_include())
        .arg(if asm { "-S" } else { "-c" })
        .arg(src)
        .arg("-o")
        .arg(out)
        .output()
        .map_err(|e| format!("clang-19 does not run ({e}); CI installs it"))?;
    if !o.status.success() {
        return Err(format!(
            "clang-19 failed on {}:\n{}",
            src.display(),
            String::from_utf8_lossy(&o.stderr)
        ));
    }
    Ok(())
}

/// The `-mcpu=v3` object of `src`, compiled in a temporary file.
pub fn object_of(src: &Path) -> Vec<u8> {
    let stem = src.file_stem().and_then(|s| s.to_str()).unwrap_or("obj");
    let out = std::env::temp_dir().join(format!("{stem}-{}.o", std::process::id()));
    let r = clang_bpf(src, &out, "v3", false)
        .and_then(|()| std::fs::read(&out).map_err(|e| format!("reading {}: {e}", out.display())));
    let _ = std::fs::remove_file(&out);
    r.unwrap_or_else(|e| panic!("{e}"))
}

/// The `-mcpu=v3` assembly text of `src`, as clang writes it.
pub fn assembly_of(src: &Path) -> String {
    let stem = src.file_stem().and_then(|s| s.to_str()).unwrap_or("obj");
    let out = std::env::temp_dir().join(format!("{stem}-{}.s", std::process::id()));
    let r = clang_bpf(src, &out, "v3", true).and_then(|()| {
        std::fs::read_to_string(&out).map_err(|e| format!("reading {}: {e}", out.display()))
    });
    let _ = std::fs::remove_file(&out);
    r.unwrap_or_else(|e| panic!("{e}"))
}

/// The `-mcpu=v3` object of C source `text` (a corpus file edited by a
/// test), compiled through a temporary file named after `stem`.
pub fn object_of_text(stem: &str, text: &str) -> Vec<u8> {
    let src = std::env::temp_dir().join(format!("{stem}-{}.bpf.c", std::process::id()));
    std::fs::write(&src, text).unwrap_or_else(|e| panic!("writing {}: {e}", src.display()));
    let elf = object_of(&src);
    let _ = std::fs::remove_file(&src);
    elf
}
