//! CO-RE relocations resolved by `ebpf_asm::btf::core` against clang-19's
//! own answers. `tests/corpus/core/fields.bpf.c` is compiled three ways:
//! the object (CO-RE, local layout), the same accesses against the
//! "kernel" layout (`-DTARGET`: clang computes every relocation's value for
//! that layout itself) and plain loads against the kernel layout
//! (`-DTARGET -DNO_CORE`). Each of the object's relocations, resolved
//! against the `-DTARGET` object's `.BTF` and patched in, must give the
//! instruction clang wrote for the kernel layout, and the plain loads'
//! offsets and widths. Skipped (with a message) only when clang-19 is
//! missing; CI installs it.

use ebpf_asm::btf::core::{patch, resolve, CoreReloKind};
use ebpf_asm::btf::ext::CoreRelo;
use ebpf_asm::btf::vmlinux::Vmlinux;
use ebpf_asm::btf::Btf;
use ebpf_asm::object::Object;
use std::collections::BTreeMap;
use std::process::Command;

mod btf_common;

fn have_clang() -> bool {
    let ok = Command::new("clang-19")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success());
    if !ok {
        eprintln!("clang-19 is not installed: skipping the CO-RE differential test");
    }
    ok
}

/// The fixture built with `defines`, parsed.
fn build(defines: &[&str]) -> (Object, Btf) {
    let src = btf_common::repo().join("tests/corpus/core/fields.bpf.c");
    let elf = btf_common::clang(&src, "v3", defines);
    let obj = Object::from_elf(&elf).expect("our ELF reader reads clang's object");
    let btf = obj.btf().expect(".BTF").expect("parses");
    (obj, btf)
}

/// A relocation and the bytes of its instruction (16 for lddw).
struct Site {
    relo: CoreRelo,
    insn: Vec<u8>,
}

/// Each program's CO-RE relocations, in order.
fn sites(obj: &Object, btf: &Btf) -> BTreeMap<String, Vec<Site>> {
    let ext = obj.btf_ext().expect(".BTF.ext").expect("parses");
    let mut out: BTreeMap<String, Vec<Site>> = BTreeMap::new();
    let progs = obj.programs();
    for sec in ext.core_relo.unwrap_or_default() {
        let name = btf.str_at(sec.sec_name_off).expect("section name");
        let data = &obj.section(name).expect("relocated section").data;
        for r in sec.records {
            let off = r.insn_off as u64;
            let p = progs
                .iter()
                .find(|p| p.section == name && p.offset <= off && off < p.offset + p.size)
                .unwrap_or_else(|| panic!("no program holds {name}+{off}"));
            let at = r.insn_off as usize;
            let end = (at + 16).min(data.len());
            out.entry(p.name.clone()).or_default().push(Site {
                relo: r,
                insn: data[at..end].to_vec(),
            });
        }
    }
    out
}

/// The first load of a program (plain object: no relocations to find it by).
fn first_load(obj: &Object, prog: &str) -> [u8; 8] {
    let p = obj.program(prog).unwrap_or_else(|| panic!("no {prog}"));
    let data = &obj.sections[p.section_index].data;
    let code = &data[p.offset as usize..(p.offset + p.size) as usize];
    let insn = code
        .chunks(8)
        .find(|i| i[0] & 0x07 == 0x01)
        .unwrap_or_else(|| panic!("{prog} has no load"));
    insn.try_into().unwrap()
}

/// The value a relocated instruction carries (imm, off, or the 64-bit imm).
fn value(insn: &[u8]) -> u64 {
    match insn[0] & 0x07 {
        0x01..=0x03 => i16::from_le_bytes([insn[2], insn[3]]) as i64 as u64,
        0x00 => {
            u32::from_le_bytes(insn[4..8].try_into().unwrap()) as u64
                | (u32::from_le_bytes(insn[12..16].try_into().unwrap()) as u64) << 32
        }
        _ => i32::from_le_bytes(insn[4..8].try_into().unwrap()) as i64 as u64,
    }
}

#[test]
fn core_relocations_agree_with_clang() {
    if !have_clang() {
        return;
    }
    let (lobj, lbtf) = build(&[]);
    let (tobj, tbtf) = build(&["TARGET"]);
    let (pobj, _) = build(&["TARGET", "NO_CORE"]);
    let kernel = Vmlinux::new(tbtf.clone());
    let local = sites(&lobj, &lbtf);
    let target = sites(&tobj, &tbtf);
    let mut kinds = BTreeMap::new();
    let mut compared = 0;
    let mut bitfields = BTreeMap::new();
    for (prog, tsites) in &target {
        let lsites = &local[prog];
        assert_eq!(lsites.len(), tsites.len(), "{prog}: relocation counts");
        for (l, t) in lsites.iter().zip(tsites) {
            assert_eq!(l.relo.kind, t.relo.kind, "{prog}: kinds in order");
            let res = resolve(&lbtf, &kernel, &l.relo).unwrap_or_else(|e| panic!("{prog}: {e}"));
            let mut insn = l.insn.clone();
            // patch() first checks the instruction holds res.local: our value
            // for the local layout is clang's (bitfield units aside).
            let warn = patch(&mut insn, &res).unwrap_or_else(|e| panic!("{prog}: {e}"));
            assert_eq!(warn, None, "{prog}: {}", res.spec);
            *kinds.entry(res.kind.name()).or_insert(0) += 1;
            compared += 1;
            if !res.validate && res.kind != CoreReloKind::TypeIdTarget {
                // A bitfield's load unit is a choice: libbpf (and we) take
                // the smallest aligned one from the member's type, clang
                // may take a wider one. Compared below by what is read.
                let ours = value(&insn);
                bitfields.insert((prog.clone(), res.kind), (ours, value(&t.insn)));
                continue;
            }
            // What clang computed for the kernel layout.
            assert_eq!(
                value(&insn),
                value(&t.insn),
                "{prog}: {} patched to {:02x?}, clang wrote {:02x?}",
                res.spec,
                &insn[..8],
                &t.insn[..8]
            );
            assert_eq!(res.target, Some(value(&t.insn)), "{prog}: {}", res.spec);
            // Same opcode: a load's width follows the kernel's field.
            assert_eq!(insn[0], t.insn[0], "{prog}: opcode after {}", res.spec);
            // Plain loads against the kernel layout: same offset and width.
            if res.kind == CoreReloKind::FieldByteOffset && prog.starts_with("get_") {
                let plain = first_load(&pobj, prog);
                assert_eq!(
                    (insn[0], &insn[2..4]),
                    (plain[0], &plain[2..4]),
                    "{prog}: {} vs the non-CO-RE load {plain:02x?}",
                    res.spec
                );
            }
        }
    }
    for k in [
        "BPF_CORE_FIELD_BYTE_OFFSET",
        "BPF_CORE_FIELD_BYTE_SIZE",
        "BPF_CORE_FIELD_EXISTS",
        "BPF_CORE_FIELD_SIGNED",
        "BPF_CORE_FIELD_LSHIFT_U64",
        "BPF_CORE_FIELD_RSHIFT_U64",
        "BPF_CORE_TYPE_ID_TARGET",
        "BPF_CORE_TYPE_EXISTS",
        "BPF_CORE_TYPE_SIZE",
        "BPF_CORE_TYPE_MATCHES",
        "BPF_CORE_ENUMVAL_EXISTS",
        "BPF_CORE_ENUMVAL_VALUE",
    ] {
        assert!(kinds.contains_key(k), "{k} was not compared: {kinds:?}");
    }
    assert!(compared >= 20, "{compared} relocations compared");

    // g's (byte offset, byte size, left shift) from us and from clang must
    // read the same bits: the field starts at byte_off * 8 + 64 - lshift -
    // width (little-endian, loaded into the low bits of a u64), and the
    // load must cover it. The right shift (64 - width) was compared exactly.
    let bf = |k| bitfields[&("g_info".to_string(), k)];
    let (off, sz, lsh) = (
        bf(CoreReloKind::FieldByteOffset),
        bf(CoreReloKind::FieldByteSize),
        bf(CoreReloKind::FieldLshiftU64),
    );
    let width = 7; // `unsigned int g : 7` in the TARGET layout
    let start = |o: u64, l: u64| o * 8 + 64 - l - width;
    assert_eq!(
        start(off.0, lsh.0),
        start(off.1, lsh.1),
        "g: ours (off {}, lshift {}) vs clang's (off {}, lshift {})",
        off.0,
        lsh.0,
        off.1,
        lsh.1
    );
    for (o, z, l) in [(off.0, sz.0, lsh.0), (off.1, sz.1, lsh.1)] {
        assert!(
            start(o, l) + width <= (o + z) * 8,
            "load at {o}, {z} bytes misses g"
        );
    }
    assert_eq!(
        start(off.0, lsh.0),
        332,
        "g's bit offset in the TARGET layout"
    );

    // What only the object has: a field the kernel lacks, a flavor.
    let only = &local["local_only"];
    let r = resolve(&lbtf, &kernel, &only[0].relo).unwrap();
    assert_eq!(
        (r.kind, r.local, r.target),
        (CoreReloKind::FieldExists, 1, Some(0))
    );
    let r = resolve(&lbtf, &kernel, &only[1].relo).unwrap();
    let plain_b = first_load(&pobj, "get_b");
    assert_eq!(
        r.target,
        Some(value(&plain_b)),
        "s___v2.b is s.b: {}",
        r.spec
    );
    let gone = &local["get_gone"][0];
    let r = resolve(&lbtf, &kernel, &gone.relo).unwrap();
    assert_eq!(r.target, None);
    let mut insn = gone.insn.clone();
    assert!(patch(&mut insn, &r).unwrap().is_some());
    assert_eq!(insn[0], 0x85, "poisoned into a call");
}
