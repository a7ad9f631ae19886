//! The external check: `bpftool prog loadall OUR.o /sys/fs/bpf/X`
//! (libbpf) loads an object *we* assembled, with two programs (`tc`,
//! `xdp`), a ring buffer map and a devmap declared in `.maps`, and a
//! `.rodata` string passed to `bpf_trace_printk`; `bpftool map show` lists
//! the maps with the types and sizes declared. Our own `redirect-lab load`
//! loads the same file, and both loaders' programs give the same test-run
//! results.
//!
//! The object is made with `ebpf_asm`'s assembler (one `.s` text per
//! program) and object model (`ebpf_asm::object`: sections, symbols,
//! relocations, written by `Object::to_elf`), with the BTF of
//! `ebpf_asm::btf::gen` (FUNCs, line info, the `.maps` definitions, the
//! `.rodata` DATASEC). Needs root, bpffs and bpftool.

mod lab_common;

use std::path::{Path, PathBuf};
use std::process::Command;

use ebpf_asm::btf::gen::{self, DataSection, DataVar, Input, MapDecl};
use ebpf_asm::object::{
    Binding, Object, RelocType, Relocation, Section, SectionKind, Symbol, SymbolType,
};
use ebpf_asm::{assemble, AsmOptions};
use lab_common::*;
use loader::{MapType, Program, TestRun};

const TC: &str = "\
.section tc
.name tc_log
    r6 = *(u32 *)(r1 +0)        # skb->len
    r1 = msg ll                 # the .rodata string
    r2 = 16                     # its size, NUL included
    r3 = r6
    call bpf_trace_printk
    *(u32 *)(r10 -8) = r6
    r1 = events ll
    r2 = r10
    r2 += -8
    r3 = 4
    r4 = 0
    call bpf_ringbuf_output
    r0 = 0
    exit
";

const XDP: &str = "\
.section xdp
.name xdp_fwd
    r1 = ports ll
    r2 = 0                      # slot 0
    r3 = 2                      # empty slot: XDP_PASS
    call bpf_redirect_map
    exit
";

const MSG: &[u8] = b"ours: %u bytes\n\0";

fn maps() -> Vec<MapDecl> {
    vec![
        MapDecl {
            name: "events".into(),
            map_type: MapType::RingBuf.raw(),
            key_size: 0,
            value_size: 0,
            max_entries: 4096,
            map_flags: 0,
            offset: 0,
        },
        MapDecl {
            name: "ports".into(),
            map_type: MapType::Devmap.raw(),
            key_size: 4,
            value_size: 4,
            max_entries: 8,
            map_flags: 0,
            offset: 16,
        },
    ]
}

fn symbol(name: &str, section: usize, value: u64, size: u64, kind: SymbolType) -> Symbol {
    Symbol {
        name: name.into(),
        section: Some(section),
        value,
        size,
        kind,
        binding: Binding::Global,
    }
}

/// Our object: two program sections, `.rodata`, `.maps`, `license`,
/// `.BTF`, `.BTF.ext`, every `lddw` relocated against its symbol.
fn our_object() -> Vec<u8> {
    let opts = AsmOptions {
        file_name: "ours.s".into(),
        ..AsmOptions::default()
    };
    let progs = [
        assemble(TC, &opts).expect("tc assembles"),
        assemble(XDP, &opts).expect("xdp assembles"),
    ];
    let mut obj = Object::new();
    let maps = maps();
    let m = obj.add_section(Section::new(".maps", SectionKind::Maps));
    let maps_size: u32 = maps.iter().map(|d| d.size()).sum();
    obj.sections[m].reserve(u64::from(maps_size));
    for d in &maps {
        obj.symbols.push(symbol(
            &d.name,
            m,
            u64::from(d.offset),
            u64::from(d.size()),
            SymbolType::Object,
        ));
    }
    let ro = obj.add_section(Section::new(".rodata", SectionKind::Rodata));
    obj.sections[ro].push_bytes(MSG);
    let mut msg = symbol("msg", ro, 0, MSG.len() as u64, SymbolType::Object);
    msg.binding = Binding::Local;
    obj.symbols.push(msg);
    for p in &progs {
        let s = obj.add_section(Section::new(p.section(), SectionKind::Program));
        let code = p.to_bytes();
        obj.sections[s].push_bytes(&code);
        obj.symbols
            .push(symbol(p.name(), s, 0, code.len() as u64, SymbolType::Func));
        for r in p.relocations() {
            let symbol = obj.symbol_index(&r.symbol).expect("defined symbol");
            obj.sections[s].relocations.push(Relocation {
                offset: (r.slot * 8) as u64,
                symbol,
                kind: RelocType::Ld64,
            });
        }
    }
    let lic = obj.add_section(Section::new("license", SectionKind::License));
    obj.sections[lic].push_bytes(b"GPL\0");
    obj.symbols
        .push(symbol("_license", lic, 0, 4, SymbolType::Object));

    let mut input = Input::from_program(&progs[0], "ours.s");
    input
        .functions
        .extend(Input::from_program(&progs[1], "ours.s").functions);
    input.maps = maps;
    input.data_sections = vec![DataSection {
        name: ".rodata".into(),
        size: MSG.len() as u32,
        vars: vec![DataVar {
            name: "msg".into(),
            offset: 0,
            size: MSG.len() as u32,
            global: false,
        }],
    }];
    let btf = gen::generate(&input);
    for (name, data) in [(".BTF", btf.btf_bytes()), (".BTF.ext", btf.ext_bytes())] {
        let mut s = Section::new(name, SectionKind::Other);
        s.push_bytes(&data);
        s.align = 4;
        obj.add_section(s);
    }
    obj.to_elf().expect("ELF")
}

fn bpftool(args: &[&str]) -> (bool, String) {
    let o = Command::new("bpftool")
        .args(args)
        .output()
        .expect("bpftool runs");
    let mut s = String::from_utf8_lossy(&o.stdout).into_owned();
    s += &String::from_utf8_lossy(&o.stderr);
    (o.status.success(), s)
}

/// The `"key":value` of a bpftool JSON object, as text.
fn json_field<'a>(json: &'a str, key: &str) -> Option<&'a str> {
    let at = json.find(&format!("\"{key}\":"))? + key.len() + 3;
    let rest = &json[at..];
    let end = rest.find([',', '}']).unwrap_or(rest.len());
    Some(rest[..end].trim_matches('"'))
}

struct Scratch(Vec<PathBuf>);

impl Drop for Scratch {
    fn drop(&mut self) {
        for p in &self.0 {
            if p.is_dir() {
                let _ = std::fs::remove_dir_all(p);
            } else {
                let _ = std::fs::remove_file(p);
            }
        }
    }
}

/// (type, key, value, max_entries) of each map `pin`'s program uses, by
/// name, as `bpftool map show` prints them.
fn maps_of(pin: &Path) -> Vec<(String, String, String, String, String)> {
    let (ok, show) = bpftool(&["-j", "prog", "show", "pinned", pin.to_str().unwrap()]);
    assert!(ok, "{} not pinned: {show}", pin.display());
    assert!(show.contains("\"btf_id\":"), "{show}");
    let ids = show
        .split("\"map_ids\":[")
        .nth(1)
        .and_then(|s| s.split(']').next())
        .unwrap_or_else(|| panic!("{} uses no map: {show}", pin.display()));
    ids.split(',')
        .map(|m| {
            let (ok, map) = bpftool(&["-j", "map", "show", "id", m.trim()]);
            assert!(ok, "{map}");
            let f = |k| json_field(&map, k).unwrap_or("").to_string();
            (
                f("name"),
                f("type"),
                f("bytes_key"),
                f("bytes_value"),
                f("max_entries"),
            )
        })
        .collect()
}

#[test]
fn libbpf_and_our_loader_both_load_an_object_we_assembled() {
    require_root();
    loader::pin::ensure_bpffs().unwrap();
    let prefix = unique_prefix("objb");
    let file = std::env::temp_dir().join(format!("{prefix}.o"));
    let theirs = PathBuf::from(loader::pin::BPFFS_ROOT).join(format!("{prefix}-libbpf"));
    let ours = PathBuf::from(loader::pin::BPFFS_ROOT).join(format!("{prefix}-ours"));
    let _scratch = Scratch(vec![file.clone(), theirs.clone(), ours.clone()]);
    std::fs::write(&file, our_object()).unwrap();
    let files = file.to_str().unwrap();

    let (ok, dump) = bpftool(&["btf", "dump", "file", files]);
    assert!(ok, "{dump}");
    assert!(dump.contains("DATASEC '.maps' size=48 vlen=2"), "{dump}");
    assert!(dump.contains("DATASEC '.rodata' size=16 vlen=1"), "{dump}");

    // libbpf.
    let (ok, out) = bpftool(&["prog", "loadall", files, theirs.to_str().unwrap()]);
    assert!(ok, "bpftool prog loadall refused our object:\n{out}");
    let mut seen = maps_of(&theirs.join("tc_log"));
    seen.extend(maps_of(&theirs.join("xdp_fwd")));
    let find = |n: &str| {
        seen.iter()
            .find(|m| m.0 == n || m.0.ends_with(n))
            .unwrap_or_else(|| panic!("no map {n} in {seen:?}"))
            .clone()
    };
    let e = find("events");
    assert_eq!(
        (e.1.as_str(), e.2.as_str(), e.3.as_str(), e.4.as_str()),
        ("ringbuf", "0", "0", "4096")
    );
    let p = find("ports");
    assert_eq!(
        (p.1.as_str(), p.2.as_str(), p.3.as_str(), p.4.as_str()),
        ("devmap", "4", "4", "8")
    );
    let r = find(".rodata");
    assert_eq!(
        (r.1.as_str(), r.2.as_str(), r.3.as_str(), r.4.as_str()),
        ("array", "4", "16", "1")
    );

    // Ours, on the same file.
    let o = Command::new(redirect_lab_binary())
        .args(["load", files, "--pin", ours.to_str().unwrap()])
        .output()
        .expect("redirect-lab runs");
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(
        o.status.success(),
        "{out}{}",
        String::from_utf8_lossy(&o.stderr)
    );
    assert!(out.contains("2 program(s), 3 map(s), BTF loaded"), "{out}");
    let mine = maps_of(&ours.join("tc_log"));
    assert!(
        mine.iter().any(|m| m.0 == "events" && m.1 == "ringbuf"),
        "{mine:?}"
    );
    assert!(
        mine.iter().any(|m| m.0 == ".rodata" && m.3 == "16"),
        "{mine:?}"
    );

    // Both loaders' programs do the same thing.
    let pkt = [0u8; 64];
    for (prog, want) in [("tc_log", 0), ("xdp_fwd", 2)] {
        for dir in [&theirs, &ours] {
            let p = Program::from_pin(dir.join(prog)).unwrap();
            let r = p
                .test_run(&TestRun {
                    data_in: &pkt,
                    ..Default::default()
                })
                .unwrap();
            assert_eq!(r.retval, want, "{prog} loaded into {}", dir.display());
        }
    }
}
