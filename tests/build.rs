//! Compiles the C programs the kernel-behaviour suite carries into the
//! guests, which have no compiler: `clang-19 -O2 -g -target bpf -mcpu=v3`,
//! as `lab_tests::clang` compiles the corpus for the host's tests. Each
//! object lands in `OUT_DIR` for `include_bytes!`. Without clang-19 (CI
//! installs it) the object is left empty and the behaviour that needs it
//! fails saying so; the build itself goes on.

use std::path::Path;
use std::process::Command;

/// The corpus files the suite embeds.
const EMBEDDED: &[&str] = &["corpus/objload/ct_lookup.bpf.c"];

fn main() {
    let out = std::env::var("OUT_DIR").expect("cargo sets OUT_DIR");
    let triple = Command::new("gcc")
        .arg("-print-multiarch")
        .output()
        .ok()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| "x86_64-linux-gnu".into());
    for src in EMBEDDED {
        println!("cargo:rerun-if-changed={src}");
        let stem = Path::new(src)
            .file_name()
            .and_then(|n| n.to_str())
            .and_then(|n| n.strip_suffix(".bpf.c"))
            .expect("corpus files end in .bpf.c");
        let obj = Path::new(&out).join(format!("{stem}.o"));
        let status = Command::new("clang-19")
            .args(["-O2", "-g", "-target", "bpf", "-mcpu=v3"])
            .arg(format!("-I/usr/include/{triple}"))
            .arg("-c")
            .arg(src)
            .arg("-o")
            .arg(&obj)
            .status();
        if !matches!(status, Ok(s) if s.success()) {
            println!("cargo:warning=clang-19 could not compile {src}; its behaviour will fail");
            std::fs::write(&obj, b"").expect("writing an empty object");
        }
    }
}
