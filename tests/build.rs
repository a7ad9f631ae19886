//! Compiles the C programs the kernel-behaviour suite carries into the
//! guests, which have no compiler: `clang-19 -O2 -g -target bpf -mcpu=v3`,
//! as `lab_tests::clang` compiles the corpus for the host's tests. Each
//! object lands in `OUT_DIR` for `include_bytes!`. Without clang-19 (CI
//! installs it) the object is left empty and the behaviour that needs it
//! fails saying so; the build itself goes on.

use std::path::Path;

// The same invocation the host's tests use, `lab_tests::clang`.
#[allow(dead_code)]
#[path = "src/clang.rs"]
mod clang;

/// The corpus files the suite embeds.
const EMBEDDED: &[&str] = &["corpus/objload/ct_lookup.bpf.c"];

fn main() {
    let out = std::env::var("OUT_DIR").expect("cargo sets OUT_DIR");
    println!("cargo:rerun-if-changed=src/clang.rs");
    for src in EMBEDDED {
        println!("cargo:rerun-if-changed={src}");
        let stem = Path::new(src)
            .file_name()
            .and_then(|n| n.to_str())
            .and_then(|n| n.strip_suffix(".bpf.c"))
            .expect("corpus files end in .bpf.c");
        let obj = Path::new(&out).join(format!("{stem}.o"));
        if let Err(e) = clang::clang_bpf(Path::new(src), &obj, "v3", false) {
            println!("cargo:warning={e}; its behaviour will fail");
            std::fs::write(&obj, b"").expect("writing an empty object");
        }
    }
}
