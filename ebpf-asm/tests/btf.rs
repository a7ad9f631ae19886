//! The BTF reader and writer against real BTF: clang-19's `.BTF` and
//! `.BTF.ext` (from `bpf-src/redirect.bpf.c` and `tests/data/btf_samples.bpf.c`
//! at every `-mcpu`) and this host's `/sys/kernel/btf/vmlinux` parse and
//! re-encode byte for byte. clang-19 is required (CI installs it).

use ebpf_asm::btf::ext::BtfExt;
use ebpf_asm::btf::{Btf, Kind, TypeData};

mod btf_common;

use btf_common::{clang, repo, section};

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

/// `bpftool btf dump file F` (libbpf's reading of a blob) as text.
fn bpftool_dump(path: &std::path::Path) -> Option<String> {
    let o = std::process::Command::new("bpftool")
        .args(["btf", "dump", "file"])
        .arg(path)
        .output()
        .ok()?;
    assert!(o.status.success(), "bpftool btf dump {}", path.display());
    Some(String::from_utf8(o.stdout).expect("UTF-8"))
}

fn assert_same_dump(what: &str, ours: &str, theirs: &str) {
    for (i, (a, b)) in ours.lines().zip(theirs.lines()).enumerate() {
        assert_eq!(a, b, "{what}: line {} differs from bpftool", i + 1);
    }
    assert_eq!(ours.lines().count(), theirs.lines().count(), "{what}");
}

#[test]
fn our_dump_is_bpftools_on_clang_objects_and_vmlinux() {
    let dir = std::env::temp_dir();
    for (what, elf) in objects().into_iter().step_by(2) {
        let f = object::File::parse(&*elf).expect("ELF");
        let btf = Btf::parse(section(&f, ".BTF")).expect("BTF");
        let path = dir.join(format!("btf-dump-{}.o", std::process::id()));
        std::fs::write(&path, &elf).unwrap();
        let theirs = bpftool_dump(&path);
        let _ = std::fs::remove_file(&path);
        let Some(theirs) = theirs else {
            eprintln!("no bpftool: skipped");
            return;
        };
        assert_same_dump(&what, &btf.to_string(), &theirs);
    }
    let vmlinux = std::path::Path::new("/sys/kernel/btf/vmlinux");
    if let Ok(raw) = std::fs::read(vmlinux) {
        let btf = Btf::parse(&raw).expect("vmlinux");
        let theirs = bpftool_dump(vmlinux).expect("bpftool");
        assert_same_dump("vmlinux", &btf.to_string(), &theirs);
    }
}

#[test]
fn our_dump_is_bpftools_on_objects_we_write() {
    let src = std::fs::read_to_string(repo().join("bpf-src/redirect.s")).unwrap();
    let opts = ebpf_asm::AsmOptions {
        file_name: "bpf-src/redirect.s".into(),
        ..Default::default()
    };
    let prog = ebpf_asm::assemble(&src, &opts).expect("assembles");
    let elf = ebpf_asm::elf::write_object(&prog).expect("ELF");
    let f = object::File::parse(&*elf).expect("ELF");
    let btf = Btf::parse(section(&f, ".BTF")).expect("our BTF parses");
    let ext = BtfExt::parse(section(&f, ".BTF.ext")).expect("our .BTF.ext parses");
    let lines = &ext.line_info.as_ref().unwrap()[0].records;
    assert_eq!(lines.len(), prog.instructions().unwrap().len());
    let path = std::env::temp_dir().join(format!("btf-ours-{}.o", std::process::id()));
    std::fs::write(&path, &elf).unwrap();
    let theirs = bpftool_dump(&path);
    let _ = std::fs::remove_file(&path);
    if let Some(theirs) = theirs {
        assert_same_dump("redirect.s", &btf.to_string(), &theirs);
        assert!(theirs.contains("FUNC 'redirect'"));
    }
}

/// Split BTF (a module's, over vmlinux), made here by cutting this host's
/// vmlinux in two, since the host has no module BTF: the second part's
/// strings are its own, at offsets after the base's, as pahole writes them.
#[test]
fn split_btf_over_a_base_reads_like_the_whole() {
    let Ok(raw) = std::fs::read("/sys/kernel/btf/vmlinux") else {
        eprintln!("no vmlinux BTF: skipped");
        return;
    };
    let full = Btf::parse(&raw).expect("vmlinux");
    let cut = full.types.len() * 3 / 4;
    let mut base = full.clone();
    base.types.truncate(cut);
    let base_len = base.strings.len() as u32;
    // The split part: the remaining types, every name moved into a string
    // section of its own (offsets from base_len).
    let mut split = Btf {
        flags: 0,
        types: Vec::new(),
        strings: vec![0],
    };
    let mut names = std::collections::HashMap::new();
    let mut move_name = |split: &mut Btf, off: u32| -> u32 {
        let name = full.str_at(off).unwrap_or("").to_string();
        if name.is_empty() {
            return 0;
        }
        *names.entry(name.clone()).or_insert_with(|| {
            let at = base_len + split.strings.len() as u32;
            split.strings.extend_from_slice(name.as_bytes());
            split.strings.push(0);
            at
        })
    };
    for t in &full.types[cut..] {
        let mut t = t.clone();
        t.name_off = move_name(&mut split, t.name_off);
        match &mut t.data {
            TypeData::Struct { members, .. } | TypeData::Union { members, .. } => {
                for m in members {
                    m.name_off = move_name(&mut split, m.name_off);
                }
            }
            TypeData::Enum { values, .. } | TypeData::Enum64 { values, .. } => {
                for v in values {
                    v.name_off = move_name(&mut split, v.name_off);
                }
            }
            TypeData::FuncProto { params, .. } => {
                for p in params {
                    p.name_off = move_name(&mut split, p.name_off);
                }
            }
            _ => {}
        }
        split.types.push(t);
    }
    let base_bytes = base.encode();
    let split_bytes = split.encode();
    let parsed = Btf::parse_split(&split_bytes, &base).expect("split parses");
    assert_eq!(parsed.encode(), split_bytes);
    // Standalone, its names point outside its own strings.
    assert!(Btf::parse(&split_bytes).is_err());
    let merged = Btf::merge(&base, &parsed);
    assert_eq!(merged.types.len(), full.types.len());
    for (i, (a, b)) in merged.types.iter().zip(&full.types).enumerate().step_by(97) {
        assert_eq!(
            merged.dump_type(i as u32 + 1, a),
            full.dump_type(i as u32 + 1, b)
        );
    }
    use ebpf_asm::btf::vmlinux::Vmlinux;
    let vm = Vmlinux::parse_with_module(&base_bytes, &split_bytes).expect("index");
    let whole = Vmlinux::new(full.clone());
    assert_eq!(vm.skb_functions(), whole.skb_functions());
    assert_eq!(
        vm.member("sk_buff.pkt_type").unwrap(),
        whole.member("sk_buff.pkt_type").unwrap()
    );
    // Searched alone, the module gives every FUNC of its part the id the
    // whole gives it, and knows none of the base's.
    use ebpf_asm::btf::vmlinux::ModuleBtf;
    let module = ModuleBtf::parse(&split_bytes, &Vmlinux::new(base.clone())).expect("module");
    let mut funcs = 0;
    for (i, t) in full.types.iter().enumerate().skip(cut) {
        if t.kind() == ebpf_asm::btf::Kind::Func {
            let name = full.name(t);
            assert_eq!(
                module.type_id(ebpf_asm::btf::Kind::Func, name),
                whole
                    .type_id(ebpf_asm::btf::Kind::Func, name)
                    .filter(|&id| id as usize > cut),
                "{name} (id {})",
                i + 1
            );
            funcs += 1;
        }
    }
    assert!(funcs > 100, "the split part has FUNCs: {funcs}");
    let base_func = full.types[..cut]
        .iter()
        .find(|t| t.kind() == ebpf_asm::btf::Kind::Func)
        .map(|t| full.name(t).to_string())
        .unwrap();
    assert_eq!(module.type_id(ebpf_asm::btf::Kind::Func, &base_func), None);
}
