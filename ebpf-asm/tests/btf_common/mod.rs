//! Shared by the BTF tests: clang-19 objects as seeds and oracles.
// Each test binary uses a part of these helpers.
#![allow(dead_code)]

use object::{Object, ObjectSection};
use std::path::{Path, PathBuf};
use std::process::Command;

pub fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// clang-19 `-O2 -g -target bpf -mcpu=CPU` of `src`, returned as ELF bytes.
pub fn clang(src: &Path, cpu: &str, defines: &[&str]) -> Vec<u8> {
    // Tests run in parallel threads of one process: a counter keeps their
    // outputs apart.
    static N: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
    let out = std::env::temp_dir().join(format!(
        "btf-{}-{}-{}-{}-{}.o",
        std::process::id(),
        N.fetch_add(1, std::sync::atomic::Ordering::Relaxed),
        src.file_stem().unwrap().to_string_lossy(),
        cpu,
        defines.join("_")
    ));
    let multiarch = Command::new("gcc")
        .arg("-print-multiarch")
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
        .unwrap_or_else(|_| "x86_64-linux-gnu".into());
    let st = Command::new("clang-19")
        .args(["-O2", "-g", "-target", "bpf"])
        .arg(format!("-mcpu={cpu}"))
        .arg(format!("-I/usr/include/{multiarch}"))
        .args(defines.iter().map(|d| format!("-D{d}")))
        .arg("-c")
        .arg(src)
        .arg("-o")
        .arg(&out)
        .status()
        .expect("clang-19 runs (apt-get install clang-19)");
    assert!(st.success(), "clang-19 failed on {}", src.display());
    let bytes = std::fs::read(&out).expect("reads the object");
    let _ = std::fs::remove_file(&out);
    bytes
}

pub fn section<'a>(f: &'a object::File<'a>, name: &str) -> &'a [u8] {
    f.section_by_name(name)
        .unwrap_or_else(|| panic!("no {name} section"))
        .data()
        .expect("section data")
}

/// The `.BTF` and `.BTF.ext` of an ELF object.
pub fn btf_sections(elf: &[u8]) -> (Vec<u8>, Vec<u8>) {
    let f = object::File::parse(elf).expect("ELF");
    (
        section(&f, ".BTF").to_vec(),
        section(&f, ".BTF.ext").to_vec(),
    )
}
