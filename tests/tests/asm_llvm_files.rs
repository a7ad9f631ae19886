//! LLVM's own assembly files, assembled by us and by llvm-mc-19: for every
//! `.s` that `clang-19 -O2 -g -target bpf -mcpu=v1..v4 -S` writes from the
//! C programs of this repository (`bpf-src/redirect.bpf.c`,
//! `tests/bench/seed-redirect.bpf.c`) and of `tests/corpus/`, the object
//! `ebpf_asm::text::assemble_object` makes and the one
//! `llvm-mc-19 -triple bpf -mcpu=vN -filetype=obj` makes from the same text
//! must have the same sections (bytes, type, flags, alignment, entry size),
//! the same relocations (offset, type, symbol) and the same symbols (name,
//! type, binding, section, value, size). That covers the program sections,
//! `.rodata*`/`.data`/`.bss`, `.maps`, `license`, `.BTF` and `.BTF.ext`.
//!
//! Left out of the comparison, as the README says: DWARF (`.debug_*`, whose
//! `.debug_line` llvm-mc builds from `.loc`), `.llvm_addrsig` (from
//! `.addrsig`), and `STT_FILE` symbols (from `.file`).
//!
//! A second corpus, `tests/corpus/inline_asm.s`, is text written the way
//! the kernel selftests write naked functions (`;` separators, numeric
//! labels, `.8byte`, calls to kfuncs), compared the same way.
//!
//! Skips, saying so, when clang-19 or llvm-mc-19 is missing (CI installs
//! both).

use object::{Object, ObjectSection, ObjectSymbol, RelocationTarget, SectionIndex};
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::Command;

fn have(tool: &str) -> bool {
    Command::new(tool)
        .arg("--version")
        .output()
        .map(|o| o.status.success())
        .unwrap_or(false)
}

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("workspace")
        .to_path_buf()
}

fn tmpdir(tag: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("asm-llvm-{tag}-{}", std::process::id()));
    std::fs::create_dir_all(&d).expect("temp dir");
    d
}

/// One section as compared.
#[derive(Debug, PartialEq, Eq, PartialOrd, Ord)]
struct Sec {
    name: String,
    sh_type: u32,
    flags: u64,
    align: u64,
    entsize: u64,
    size: u64,
    data: Vec<u8>,
    relocs: Vec<(u64, u32, String)>,
}

fn skipped(name: &str) -> bool {
    name.is_empty()
        || name.starts_with(".debug_")
        || name.starts_with(".rel")
        || matches!(name, ".symtab" | ".strtab" | ".shstrtab" | ".llvm_addrsig")
}

fn elf_header(f: &object::File, s: &object::Section) -> (u32, u64, u64) {
    match s.flags() {
        object::SectionFlags::Elf { sh_flags, .. } => {
            let (ty, entsize) = match &f {
                object::File::Elf64(e) => {
                    let hdr = e.elf_section_table().section(s.index()).expect("section");
                    let endian = object::Endianness::Little;
                    use object::read::elf::SectionHeader;
                    (hdr.sh_type(endian).0, hdr.sh_entsize(endian))
                }
                _ => (0, 0),
            };
            (ty, sh_flags.0, entsize)
        }
        _ => (0, 0, 0),
    }
}

fn target_name(f: &object::File, t: RelocationTarget) -> String {
    match t {
        RelocationTarget::Symbol(i) => {
            let s = f.symbol_by_index(i).expect("symbol");
            if s.kind() == object::SymbolKind::Section {
                let idx: SectionIndex = s.section_index().expect("section symbol's section");
                format!(
                    "section {}",
                    f.section_by_index(idx)
                        .and_then(|x| x.name().map(str::to_string))
                        .unwrap_or_default()
                )
            } else {
                s.name().unwrap_or("?").to_string()
            }
        }
        _ => "?".to_string(),
    }
}

/// Sections (except DWARF and the tables) and symbols (except section and
/// file symbols) of an ELF file, in comparable form.
fn summary(bytes: &[u8]) -> (BTreeSet<Sec>, BTreeSet<String>) {
    let f = object::File::parse(bytes).expect("ELF parses");
    let mut secs = BTreeSet::new();
    for s in f.sections() {
        let name = s.name().unwrap_or("").to_string();
        if skipped(&name) {
            continue;
        }
        let (sh_type, flags, entsize) = elf_header(&f, &s);
        let mut relocs: Vec<(u64, u32, String)> = s
            .relocations()
            .map(|(off, r)| {
                let ty = match r.flags() {
                    object::RelocationFlags::Elf { r_type } => r_type.0,
                    _ => 0,
                };
                (off, ty, target_name(&f, r.target()))
            })
            .collect();
        relocs.sort();
        let data = if sh_type == object::elf::SHT_NOBITS.0 {
            Vec::new()
        } else {
            s.data().expect("data").to_vec()
        };
        // llvm-mc always writes `.text`; an empty one says nothing.
        if name == ".text" && s.size() == 0 && relocs.is_empty() {
            continue;
        }
        secs.insert(Sec {
            name,
            sh_type,
            flags,
            align: s.align(),
            entsize,
            size: s.size(),
            data,
            relocs,
        });
    }
    let mut syms = BTreeSet::new();
    for y in f.symbols() {
        if matches!(
            y.kind(),
            object::SymbolKind::Section | object::SymbolKind::File
        ) {
            continue;
        }
        let name = y.name().unwrap_or("");
        if name.is_empty() {
            continue;
        }
        let sec = y
            .section_index()
            .and_then(|i| f.section_by_index(i).ok())
            .and_then(|s| s.name().ok().map(str::to_string))
            .unwrap_or_else(|| "UND".to_string());
        // st_other carries the visibility (`.hidden`, `.protected`).
        let st_other = match y.flags() {
            object::SymbolFlags::Elf { st_other, .. } => st_other.0,
            _ => 0,
        };
        syms.insert(format!(
            "{name} {:?} global={} weak={} st_other={st_other} {sec}+{:#x} size {}",
            y.kind(),
            y.is_global(),
            y.is_weak(),
            y.address(),
            y.size()
        ));
    }
    (secs, syms)
}

/// llvm-mc-19's object for `text`, or its complaint.
fn llvm_mc(text: &str, mcpu: &str, dir: &Path, tag: &str) -> Result<Vec<u8>, String> {
    let s_path = dir.join(format!("{tag}.s"));
    let o_path = dir.join(format!("{tag}.o"));
    std::fs::write(&s_path, text).expect("write .s");
    let out = Command::new("llvm-mc-19")
        .args([
            "-triple",
            "bpf",
            &format!("-mcpu={mcpu}"),
            "-filetype=obj",
            "-o",
        ])
        .arg(&o_path)
        .arg(&s_path)
        .output()
        .expect("llvm-mc-19 runs");
    if !out.status.success() {
        return Err(String::from_utf8_lossy(&out.stderr).into_owned());
    }
    Ok(std::fs::read(&o_path).expect("llvm-mc output"))
}

/// Our object for `text` against `theirs`; every difference, described.
fn compare(text: &str, theirs: &[u8], tag: &str) -> Vec<String> {
    let opts = ebpf_asm::AsmOptions {
        file_name: format!("{tag}.s"),
        ..Default::default()
    };
    let ours = match ebpf_asm::text::assemble_object(text, &opts) {
        Ok(o) => o.to_elf().expect("our object writes"),
        Err(e) => return vec![format!("{tag}: our assembler refused it:\n{e}")],
    };
    let (ts, ty) = summary(theirs);
    let (os, oy) = summary(&ours);
    let mut diffs = Vec::new();
    for s in ts.difference(&os) {
        let mine = os.iter().find(|o| o.name == s.name);
        diffs.push(match mine {
            None => format!("{tag}: section {} missing from ours", s.name),
            Some(m) => describe(tag, s, m),
        });
    }
    for s in os.difference(&ts) {
        if !ts.iter().any(|t| t.name == s.name) {
            diffs.push(format!("{tag}: section {} only in ours", s.name));
        }
    }
    for y in ty.difference(&oy) {
        diffs.push(format!("{tag}: symbol only in the reference: {y}"));
    }
    for y in oy.difference(&ty) {
        diffs.push(format!("{tag}: symbol only in ours: {y}"));
    }
    diffs
}

fn describe(tag: &str, t: &Sec, o: &Sec) -> String {
    let mut d = format!("{tag}: section {} differs:", t.name);
    if (t.sh_type, t.flags, t.align, t.entsize, t.size)
        != (o.sh_type, o.flags, o.align, o.entsize, o.size)
    {
        d += &format!(
            " header llvm-mc (type {} flags {:#x} align {} entsize {} size {}) ours (type {} flags {:#x} align {} entsize {} size {})",
            t.sh_type, t.flags, t.align, t.entsize, t.size, o.sh_type, o.flags, o.align, o.entsize, o.size
        );
    }
    if t.data != o.data {
        let at = t
            .data
            .iter()
            .zip(&o.data)
            .position(|(a, b)| a != b)
            .unwrap_or(t.data.len().min(o.data.len()));
        d += &format!(" bytes differ from offset {at:#x}");
    }
    if t.relocs != o.relocs {
        let a: BTreeSet<_> = t.relocs.iter().collect();
        let b: BTreeSet<_> = o.relocs.iter().collect();
        d += &format!(
            " relocations: llvm-mc only {:?}; ours only {:?}",
            a.difference(&b).take(4).collect::<Vec<_>>(),
            b.difference(&a).take(4).collect::<Vec<_>>()
        );
    }
    d
}

/// `clang-19 -O2 -g -target bpf -mcpu=vN -S` of `c` with `-I` dirs.
fn clang_s(c: &Path, mcpu: &str, includes: &[&Path], out: &Path) -> Option<String> {
    let mut cmd = Command::new("clang-19");
    cmd.args([
        "-O2",
        "-g",
        "-target",
        "bpf",
        &format!("-mcpu={mcpu}"),
        "-S",
        "-o",
    ])
    .arg(out)
    .arg(c);
    for i in includes {
        cmd.arg("-I").arg(i);
    }
    let o = cmd.output().expect("clang-19 runs");
    if !o.status.success() {
        eprintln!(
            "clang-19 -mcpu={mcpu} {}: {}",
            c.display(),
            String::from_utf8_lossy(&o.stderr)
        );
        return None;
    }
    std::fs::read_to_string(out).ok()
}

/// `rX = wY` lines as `wX = wY`, and how many there were.
fn respell_mov32(text: &str) -> (String, usize) {
    let mut n = 0;
    let mut out = String::with_capacity(text.len());
    for line in text.lines() {
        let t = line.trim();
        let parts: Vec<&str> = t.split_whitespace().collect();
        let reg = |p: &str, c: char| {
            p.strip_prefix(c)
                .is_some_and(|d| !d.is_empty() && d.bytes().all(|b| b.is_ascii_digit()))
        };
        if parts.len() == 3 && reg(parts[0], 'r') && parts[1] == "=" && reg(parts[2], 'w') {
            n += 1;
            out.push_str(&format!("\tw{} = {}\n", &parts[0][1..], parts[2]));
        } else {
            out.push_str(line);
            out.push('\n');
        }
    }
    (out, n)
}

#[test]
fn clang_s_files_assemble_like_llvm_mc() {
    if !have("clang-19") || !have("llvm-mc-19") {
        eprintln!("SKIP: clang-19 or llvm-mc-19 is not installed (CI installs both)");
        return;
    }
    let root = repo();
    let dir = tmpdir("clang");
    let mut inputs: Vec<(PathBuf, Vec<PathBuf>)> = vec![
        (
            root.join("bpf-src/redirect.bpf.c"),
            vec![PathBuf::from("/usr/include/x86_64-linux-gnu")],
        ),
        (root.join("tests/corpus/maps_and_data.bpf.c"), vec![]),
        (root.join("tests/corpus/tracing.bpf.c"), vec![]),
        (
            root.join("tests/corpus/objload/hidden.bpf.c"),
            vec![PathBuf::from("/usr/include/x86_64-linux-gnu")],
        ),
        (
            root.join("tests/corpus/objload/externs.bpf.c"),
            vec![PathBuf::from("/usr/include/x86_64-linux-gnu")],
        ),
    ];
    // The seed's program includes a vmlinux.h dumped from the running
    // kernel's BTF, as tests/bench/seed-up.sh makes it.
    let vmlinux_h = dir.join("vmlinux.h");
    let dumped = Command::new("bpftool")
        .args([
            "btf",
            "dump",
            "file",
            "/sys/kernel/btf/vmlinux",
            "format",
            "c",
        ])
        .output()
        .ok()
        .filter(|o| o.status.success());
    match dumped {
        Some(o) => {
            std::fs::write(&vmlinux_h, o.stdout).expect("vmlinux.h");
            inputs.push((root.join("tests/bench/seed-redirect.bpf.c"), vec![dir.clone()]));
        }
        None => eprintln!(
            "note: no bpftool or /sys/kernel/btf/vmlinux: tests/bench/seed-redirect.bpf.c is left out"
        ),
    }
    let mut files = 0;
    let mut sections = 0;
    let mut respelt_files = 0;
    let mut diffs = Vec::new();
    for (c, inc) in &inputs {
        let stem = c
            .file_stem()
            .and_then(|s| s.to_str())
            .unwrap_or("x")
            .to_string();
        for v in ["v1", "v2", "v3", "v4"] {
            let tag = format!("{stem}.{v}");
            let incs: Vec<&Path> = inc.iter().map(PathBuf::as_path).collect();
            let Some(text) = clang_s(c, v, &incs, &dir.join(format!("{tag}.clang.s"))) else {
                diffs.push(format!("{tag}: clang-19 failed"));
                continue;
            };
            // llvm-mc-19 refuses one line clang-19 prints: `r1 = w1`, its
            // spelling of the zero-extending 32-bit move it encodes as
            // `w1 = w1`. llvm-mc then gets that spelling; we get clang's.
            let theirs = match llvm_mc(&text, v, &dir, &tag) {
                Ok(o) => o,
                Err(why) => {
                    let (respelt, n) = respell_mov32(&text);
                    assert!(n > 0, "llvm-mc-19 refused {tag}: {why}");
                    eprintln!("{tag}: {n} `rX = wY` lines respelt `wX = wY` for llvm-mc-19");
                    respelt_files += 1;
                    llvm_mc(&respelt, v, &dir, &tag)
                        .unwrap_or_else(|e| panic!("llvm-mc-19 refused {tag}: {e}"))
                }
            };
            let d = compare(&text, &theirs, &tag);
            if d.is_empty() {
                files += 1;
                sections += summary(&theirs).0.len();
            }
            diffs.extend(d);
        }
    }
    eprintln!(
        "{files} .s files identical to llvm-mc-19's objects in all {sections} compared sections ({respelt_files} with `rX = wY` respelt for llvm-mc)"
    );
    let _ = std::fs::remove_dir_all(&dir);
    assert!(diffs.is_empty(), "{}", diffs.join("\n"));
    assert!(files >= 12, "only {files} files compared");
}

#[test]
fn selftest_style_inline_asm_assembles_like_llvm_mc() {
    if !have("llvm-mc-19") {
        eprintln!("SKIP: llvm-mc-19 is not installed (CI installs it)");
        return;
    }
    let dir = tmpdir("inline");
    let text = std::fs::read_to_string(repo().join("tests/corpus/inline_asm.s")).expect("corpus");
    let theirs = llvm_mc(&text, "v4", &dir, "inline_asm").expect("llvm-mc-19 assembles the corpus");
    let diffs = compare(&text, &theirs, "inline_asm");
    let _ = std::fs::remove_dir_all(&dir);
    assert!(diffs.is_empty(), "{}", diffs.join("\n"));
}
