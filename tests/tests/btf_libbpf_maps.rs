//! The map-definition BTF of `btf::gen`, judged by libbpf: an object with
//! two programs (`tc`, `xdp`), an ARRAY and a RINGBUF declared in `.maps`,
//! and a `.rodata` string, whose only BTF is what `btf::gen::generate`
//! writes. `bpftool prog loadall` (libbpf, which reads `.maps` definitions
//! only from BTF) must load both programs, and `bpftool map show` must list
//! the maps with the declared types and sizes.
//!
//! The ELF is assembled here with the `object` crate until the object model
//! writes `.maps` itself. Needs root, bpffs and bpftool; skips without them.

use ebpf_asm::btf::gen::{self, DataSection, DataVar, Input, MapDecl};
use ebpf_asm::{assemble, AsmOptions};
use object::write::{Object, Relocation, Symbol, SymbolSection};
use object::{
    elf, Architecture, BinaryFormat, Endianness, RelocationFlags, SectionKind, SymbolFlags,
    SymbolKind, SymbolScope,
};
use std::path::{Path, PathBuf};
use std::process::Command;

use loader::MapType;

fn is_root() -> bool {
    std::fs::read_to_string("/proc/self/status")
        .map(|s| {
            s.lines()
                .any(|l| l.starts_with("Uid:") && l.split_whitespace().nth(1) == Some("0"))
        })
        .unwrap_or(false)
}

struct Pins(PathBuf, PathBuf);

impl Drop for Pins {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
        let _ = std::fs::remove_file(&self.1);
    }
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

fn object_with_maps() -> Vec<u8> {
    let opts = |f: &str| AsmOptions {
        file_name: f.into(),
        ..AsmOptions::default()
    };
    let tc = assemble(
        ".section tc\n.name tc_prog\nr1 = counters ll\nr0 = 0\nexit\n",
        &opts("maps.s"),
    )
    .expect("tc");
    let xdp = assemble(
        ".section xdp\n.name xdp_prog\nr1 = events ll\nr0 = 2\nexit\n",
        &opts("maps.s"),
    )
    .expect("xdp");
    let maps = vec![
        MapDecl {
            name: "counters".into(),
            map_type: MapType::Array.raw(),
            key_size: 4,
            value_size: 8,
            max_entries: 4,
            map_flags: 0,
            offset: 0,
        },
        MapDecl {
            name: "events".into(),
            map_type: MapType::RingBuf.raw(),
            key_size: 0,
            value_size: 0,
            max_entries: 4096,
            map_flags: 0,
            offset: 32,
        },
    ];
    let msg = b"hello\0".to_vec();
    let mut input = Input::from_program(&tc, "maps.s");
    input
        .functions
        .extend(Input::from_program(&xdp, "maps.s").functions);
    input.maps = maps.clone();
    input.data_sections = vec![DataSection {
        name: ".rodata".into(),
        size: msg.len() as u32,
        vars: vec![DataVar {
            name: "msg".into(),
            offset: 0,
            size: msg.len() as u32,
            global: false,
        }],
    }];
    let btf = gen::generate(&input);

    let mut obj = Object::new(BinaryFormat::Elf, Architecture::Bpf, Endianness::Little);
    let sym = |obj: &mut Object, name: &str, section, value, size, kind, scope| {
        obj.add_symbol(Symbol {
            name: name.as_bytes().to_vec(),
            value,
            size,
            kind,
            scope,
            weak: false,
            section: SymbolSection::Section(section),
            flags: SymbolFlags::None,
        })
    };
    let maps_sec = obj.add_section(Vec::new(), b".maps".to_vec(), SectionKind::Data);
    obj.set_section_data(maps_sec, vec![0u8; 48], 8);
    let mut map_syms = Vec::new();
    for m in &maps {
        map_syms.push(sym(
            &mut obj,
            &m.name,
            maps_sec,
            m.offset as u64,
            m.size() as u64,
            SymbolKind::Data,
            SymbolScope::Dynamic,
        ));
    }
    for (p, map_sym) in [(&tc, map_syms[0]), (&xdp, map_syms[1])] {
        let s = obj.add_section(
            Vec::new(),
            p.section().as_bytes().to_vec(),
            SectionKind::Text,
        );
        let code = p.to_bytes();
        obj.set_section_data(s, code.clone(), 8);
        sym(
            &mut obj,
            p.name(),
            s,
            0,
            code.len() as u64,
            SymbolKind::Text,
            SymbolScope::Dynamic,
        );
        obj.add_relocation(
            s,
            Relocation {
                offset: 0,
                symbol: map_sym,
                addend: 0,
                flags: RelocationFlags::Elf {
                    r_type: elf::R_BPF_64_64,
                },
            },
        )
        .expect("relocation");
    }
    let ro = obj.add_section(Vec::new(), b".rodata".to_vec(), SectionKind::ReadOnlyData);
    obj.set_section_data(ro, msg.clone(), 1);
    sym(
        &mut obj,
        "msg",
        ro,
        0,
        msg.len() as u64,
        SymbolKind::Data,
        SymbolScope::Compilation,
    );
    let lic = obj.add_section(Vec::new(), b"license".to_vec(), SectionKind::Data);
    obj.set_section_data(lic, b"GPL\0".to_vec(), 1);
    for (name, data) in [(".BTF", btf.btf_bytes()), (".BTF.ext", btf.ext_bytes())] {
        let s = obj.add_section(Vec::new(), name.as_bytes().to_vec(), SectionKind::Other);
        obj.set_section_data(s, data, 4);
    }
    obj.write().expect("ELF")
}

/// The `"key":value` of a bpftool JSON object, as text.
fn json_field<'a>(json: &'a str, key: &str) -> Option<&'a str> {
    let at = json.find(&format!("\"{key}\":"))? + key.len() + 3;
    let rest = &json[at..];
    let end = rest.find([',', '}']).unwrap_or(rest.len());
    Some(rest[..end].trim_matches('"'))
}

#[test]
fn libbpf_reads_our_map_btf_and_loads_both_programs() {
    if !is_root()
        || !Path::new("/sys/fs/bpf").is_dir()
        || Command::new("bpftool").arg("version").output().is_err()
    {
        eprintln!("needs root, bpffs and bpftool: skipped");
        return;
    }
    let id = format!("btf-maps-{}", std::process::id());
    let pins = Pins(
        PathBuf::from("/sys/fs/bpf").join(&id),
        std::env::temp_dir().join(format!("{id}.o")),
    );
    std::fs::write(&pins.1, object_with_maps()).unwrap();

    let (ok, dump) = bpftool(&["btf", "dump", "file", pins.1.to_str().unwrap()]);
    assert!(ok, "{dump}");
    assert!(dump.contains("DATASEC '.maps' size=48 vlen=2"), "{dump}");
    assert!(dump.contains("VAR 'counters'"), "{dump}");
    assert!(dump.contains("DATASEC '.rodata' size=6 vlen=1"), "{dump}");

    let (ok, out) = bpftool(&[
        "prog",
        "loadall",
        pins.1.to_str().unwrap(),
        pins.0.to_str().unwrap(),
    ]);
    assert!(ok, "bpftool prog loadall refused our object:\n{out}");
    let mut seen = Vec::new();
    for prog in ["tc_prog", "xdp_prog"] {
        let pin = pins.0.join(prog);
        let (ok, show) = bpftool(&["-j", "prog", "show", "pinned", pin.to_str().unwrap()]);
        assert!(ok, "{prog} not pinned: {show}");
        assert!(show.contains("\"btf_id\":"), "{show}");
        let ids = show
            .split("\"map_ids\":[")
            .nth(1)
            .and_then(|s| s.split(']').next())
            .unwrap_or_else(|| panic!("{prog} uses no map: {show}"));
        for m in ids.split(',') {
            let (ok, map) = bpftool(&["-j", "map", "show", "id", m.trim()]);
            assert!(ok, "{map}");
            seen.push((
                json_field(&map, "name").unwrap_or("").to_string(),
                json_field(&map, "type").unwrap_or("").to_string(),
                json_field(&map, "bytes_key").unwrap_or("").to_string(),
                json_field(&map, "bytes_value").unwrap_or("").to_string(),
                json_field(&map, "max_entries").unwrap_or("").to_string(),
            ));
        }
    }
    let find = |n: &str| {
        seen.iter()
            .find(|m| m.0 == n)
            .unwrap_or_else(|| panic!("no map {n} in {seen:?}"))
            .clone()
    };
    let c = find("counters");
    assert_eq!(
        (c.1.as_str(), c.2.as_str(), c.3.as_str(), c.4.as_str()),
        ("array", "4", "8", "4")
    );
    let e = find("events");
    assert_eq!((e.1.as_str(), e.4.as_str()), ("ringbuf", "4096"));
}
