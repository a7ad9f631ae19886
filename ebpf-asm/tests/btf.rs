//! The BTF reader and writer against real BTF: clang-19's `.BTF` and
//! `.BTF.ext` (from `bpf-src/redirect.bpf.c` and `tests/data/btf_samples.bpf.c`
//! at every `-mcpu`) and this host's `/sys/kernel/btf/vmlinux` parse and
//! re-encode byte for byte. clang-19 is required (CI installs it).

use ebpf_asm::btf::ext::BtfExt;
use ebpf_asm::btf::{Btf, Kind, TypeData};
use object::{Object, ObjectSection};
use std::path::{Path, PathBuf};
use std::process::Command;

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// clang-19 `-O2 -g -target bpf -mcpu=CPU` of `src`, returned as ELF bytes.
fn clang(src: &Path, cpu: &str, defines: &[&str]) -> Vec<u8> {
    let out = std::env::temp_dir().join(format!(
        "btf-{}-{}-{}-{}.o",
        std::process::id(),
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

fn section<'a>(f: &'a object::File<'a>, name: &str) -> &'a [u8] {
    f.section_by_name(name)
        .unwrap_or_else(|| panic!("no {name} section"))
        .data()
        .expect("section data")
}

fn objects() -> Vec<(String, Vec<u8>)> {
    let mut v = Vec::new();
    for cpu in ["v1", "v2", "v3", "v4"] {
        let samples = repo().join("ebpf-asm/tests/data/btf_samples.bpf.c");
        v.push((format!("btf_samples {cpu}"), clang(&samples, cpu, &[])));
        let redirect = repo().join("bpf-src/redirect.bpf.c");
        v.push((format!("redirect {cpu}"), clang(&redirect, cpu, &[])));
        v.push((
            format!("redirect TRACE {cpu}"),
            clang(&redirect, cpu, &["TRACE"]),
        ));
    }
    v
}

#[test]
fn clang_btf_and_ext_reencode_byte_identically() {
    for (what, elf) in objects() {
        let f = object::File::parse(&*elf).expect("ELF");
        let raw = section(&f, ".BTF");
        let btf = Btf::parse(raw).unwrap_or_else(|e| panic!("{what}: {e}"));
        assert_eq!(btf.encode(), raw, "{what}: .BTF re-encodes differently");
        let raw_ext = section(&f, ".BTF.ext");
        let ext = BtfExt::parse(raw_ext).unwrap_or_else(|e| panic!("{what}: {e}"));
        assert_eq!(
            ext.encode(),
            raw_ext,
            "{what}: .BTF.ext re-encodes differently"
        );

        // The content is read, not only copied: every func_info names a
        // FUNC, every line_info a file and a line of text.
        let funcs = ext.func_info.as_ref().expect("func_info");
        assert!(!funcs.is_empty(), "{what}");
        for sec in funcs {
            assert!(btf.str_at(sec.sec_name_off).is_some_and(|s| !s.is_empty()));
            for fi in &sec.records {
                let t = btf.type_by_id(fi.type_id).expect("func_info type");
                assert_eq!(t.kind(), Kind::Func, "{what}");
            }
        }
        for sec in ext.line_info.as_ref().expect("line_info") {
            for li in &sec.records {
                let file = btf.str_at(li.file_name_off).expect("file name");
                assert!(file.ends_with(".c"), "{what}: {file}");
                assert!(li.line() > 0, "{what}");
                assert!(btf.str_at(li.line_off).is_some(), "{what}");
            }
        }
    }
}

#[test]
fn samples_cover_every_kind_clang_writes() {
    let elf = clang(
        &repo().join("ebpf-asm/tests/data/btf_samples.bpf.c"),
        "v4",
        &[],
    );
    let f = object::File::parse(&*elf).expect("ELF");
    let btf = Btf::parse(section(&f, ".BTF")).expect("BTF");
    let mut kinds: Vec<Kind> = btf.types.iter().map(|t| t.kind()).collect();
    kinds.sort();
    kinds.dedup();
    assert_eq!(kinds.len(), 19, "kinds seen: {kinds:?}");
    // The bitfields a:3 and b:5 of struct bits, decoded with kind_flag.
    let bits = btf.find(Kind::Struct, "bits");
    let t = btf.type_by_id(bits[0]).unwrap();
    assert!(t.kind_flag);
    let TypeData::Struct { members, .. } = &t.data else {
        panic!()
    };
    let b = ebpf_asm::btf::MemberOffset::decode(t.kind_flag, members[1].offset);
    assert_eq!((b.bit_offset, b.bitfield_size), (3, 5));
}

#[test]
fn vmlinux_reencodes_byte_identically() {
    let Ok(raw) = std::fs::read("/sys/kernel/btf/vmlinux") else {
        eprintln!("no /sys/kernel/btf/vmlinux on this host: skipped");
        return;
    };
    let btf = Btf::parse(&raw).expect("vmlinux BTF parses");
    assert!(btf.types.len() > 10_000);
    assert_eq!(btf.encode(), raw);
    assert_eq!(btf.find(Kind::Struct, "sk_buff").len(), 1);
}
