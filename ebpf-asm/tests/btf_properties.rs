//! Property tests with fixed seeds for the BTF readers: 1,000,000 inputs
//! for `Btf::parse` (and the vmlinux index on what parses) and 1,000,000 for
//! `BtfExt::parse`, random and mutated from real BTF: clang-19's objects and
//! pieces of this host's `/sys/kernel/btf/vmlinux`. Nothing may panic, every
//! error must point inside the input, and whatever parses must re-encode to
//! exactly the same bytes.

mod btf_common;

use btf_common::{btf_sections, clang, repo};
use ebpf_asm::btf::ext::BtfExt;
use ebpf_asm::btf::vmlinux::Vmlinux;
use ebpf_asm::btf::{Btf, Kind, Type, TypeData};
use fastrand::Rng;
use std::collections::HashMap;
use std::panic::{catch_unwind, AssertUnwindSafe};

const N: u32 = 1_000_000;

/// A small, self-contained BTF cut from vmlinux: the types reachable from
/// `roots` (at most `limit`), renumbered, with their strings only.
fn subset(full: &Btf, roots: &[u32], limit: usize) -> Btf {
    let mut order = Vec::new();
    let mut map: HashMap<u32, u32> = HashMap::new();
    let mut queue: Vec<u32> = roots.to_vec();
    while let Some(id) = queue.pop() {
        if id == 0 || map.contains_key(&id) || order.len() >= limit {
            continue;
        }
        let Some(t) = full.type_by_id(id) else {
            continue;
        };
        map.insert(id, order.len() as u32 + 1);
        order.push(id);
        let mut refs = Vec::new();
        match &t.data {
            TypeData::Struct { members, .. } | TypeData::Union { members, .. } => {
                refs.extend(members.iter().map(|m| m.ty))
            }
            TypeData::FuncProto { ret, params } => {
                refs.push(*ret);
                refs.extend(params.iter().map(|p| p.ty));
            }
            TypeData::Array { ty, index_ty, .. } => refs.extend([*ty, *index_ty]),
            _ => refs.extend(t.referenced()),
        }
        queue.extend(refs.into_iter().rev());
    }
    let mut out = Btf::new();
    let remap = |id: u32| map.get(&id).copied().unwrap_or(0);
    for id in order {
        let t = full.type_by_id(id).unwrap();
        let s = |off: u32| out_string(full, off);
        let mut data = t.data.clone();
        let mut names = Vec::new();
        match &mut data {
            TypeData::Struct { members, .. } | TypeData::Union { members, .. } => {
                for m in members.iter_mut() {
                    m.ty = remap(m.ty);
                    names.push(s(m.name_off));
                }
            }
            TypeData::FuncProto { ret, params } => {
                *ret = remap(*ret);
                for p in params.iter_mut() {
                    p.ty = remap(p.ty);
                    names.push(s(p.name_off));
                }
            }
            TypeData::Enum { values, .. } | TypeData::Enum64 { values, .. } => {
                for v in values.iter() {
                    names.push(s(v.name_off));
                }
            }
            TypeData::Array { ty, index_ty, .. } => {
                *ty = remap(*ty);
                *index_ty = remap(*index_ty);
            }
            TypeData::Ptr { ty }
            | TypeData::Typedef { ty }
            | TypeData::Volatile { ty }
            | TypeData::Const { ty }
            | TypeData::Restrict { ty }
            | TypeData::TypeTag { ty }
            | TypeData::Var { ty, .. }
            | TypeData::DeclTag { ty, .. } => *ty = remap(*ty),
            TypeData::Func { proto, .. } => *proto = remap(*proto),
            _ => {}
        }
        let offs: Vec<u32> = names.iter().map(|n| out.add_string(n)).collect();
        match &mut data {
            TypeData::Struct { members, .. } | TypeData::Union { members, .. } => {
                for (m, o) in members.iter_mut().zip(&offs) {
                    m.name_off = *o;
                }
            }
            TypeData::FuncProto { params, .. } => {
                for (p, o) in params.iter_mut().zip(&offs) {
                    p.name_off = *o;
                }
            }
            TypeData::Enum { values, .. } | TypeData::Enum64 { values, .. } => {
                for (v, o) in values.iter_mut().zip(&offs) {
                    v.name_off = *o;
                }
            }
            _ => {}
        }
        let name_off = out.add_string(&out_string(full, t.name_off));
        out.add_type(Type {
            name_off,
            kind_flag: t.kind_flag,
            data,
        });
    }
    out
}

fn out_string(full: &Btf, off: u32) -> String {
    full.str_at(off).unwrap_or("").to_string()
}

/// Real BTF blobs and `.BTF.ext` sections to mutate.
fn seeds() -> (Vec<Vec<u8>>, Vec<Vec<u8>>) {
    let mut btfs = Vec::new();
    let mut exts = Vec::new();
    for (src, defs) in [
        ("ebpf-asm/tests/data/btf_samples.bpf.c", &[][..]),
        ("bpf-src/redirect.bpf.c", &["TRACE"][..]),
    ] {
        let (b, e) = btf_sections(&clang(&repo().join(src), "v4", defs));
        btfs.push(b);
        exts.push(e);
    }
    if let Ok(raw) = std::fs::read("/sys/kernel/btf/vmlinux") {
        let full = Btf::parse(&raw).expect("vmlinux parses");
        let vm = Vmlinux::new(full.clone());
        let mut roots = Vec::new();
        for (k, n) in [
            (Kind::Struct, "sk_buff"),
            (Kind::Struct, "net_device"),
            (Kind::Struct, "net"),
            (Kind::Enum, "skb_drop_reason"),
            (Kind::Typedef, "btf_trace_kfree_skb"),
            (Kind::Func, "ip_rcv"),
            (Kind::Func, "skb_do_redirect"),
        ] {
            roots.extend(vm.type_id(k, n));
        }
        for limit in [40, 150, 400] {
            btfs.push(subset(&full, &roots, limit).encode());
        }
    } else {
        eprintln!("no vmlinux BTF: mutating clang's BTF only");
    }
    (btfs, exts)
}

/// A u32 worth writing into a field: boundaries, small counts, valid infos.
fn interesting(rng: &mut Rng, len: usize) -> u32 {
    match rng.u8(0..8) {
        0 => 0,
        1 => u32::MAX,
        2 => rng.u32(0..64),
        3 => len as u32 + rng.u32(0..16),
        4 => (rng.u32(0..21) << 24) | rng.u32(0..6) | if rng.bool() { 1 << 31 } else { 0 },
        5 => 0x7fff_ffff,
        _ => rng.u32(..),
    }
}

fn mutate(rng: &mut Rng, seed: &[u8], buf: &mut Vec<u8>, hdr_fix: &dyn Fn(&mut [u8])) {
    buf.clear();
    buf.extend_from_slice(seed);
    for _ in 0..rng.usize(1..4) {
        match rng.u8(0..6) {
            0 if !buf.is_empty() => {
                let i = rng.usize(..buf.len());
                buf[i] ^= 1 << rng.u8(0..8);
            }
            1 if buf.len() >= 4 => {
                let i = rng.usize(..buf.len() / 4) * 4;
                let v = interesting(rng, buf.len());
                buf[i..i + 4].copy_from_slice(&v.to_le_bytes());
            }
            2 => {
                let n = rng.usize(..=buf.len());
                buf.truncate(n);
            }
            3 if buf.len() > 40 => {
                // Cut a 4-byte-aligned chunk out and fix the header, so the
                // reader gets past the header checks.
                let i = 24 + rng.usize(..(buf.len() - 24) / 4) * 4;
                let n = (rng.usize(1..5) * 4).min(buf.len() - i);
                buf.drain(i..i + n);
                hdr_fix(buf);
            }
            4 if buf.len() > 40 => {
                let i = 24 + rng.usize(..(buf.len() - 24) / 4) * 4;
                let n = rng.usize(1..4) * 4;
                let chunk: Vec<u8> = (0..n).map(|_| rng.u8(..)).collect();
                buf.splice(i..i, chunk);
                hdr_fix(buf);
            }
            _ => {
                let n = rng.usize(0..12);
                buf.extend((0..n).map(|_| rng.u8(..)));
            }
        }
    }
}

fn le32(b: &[u8], o: usize) -> u32 {
    u32::from_le_bytes(b[o..o + 4].try_into().unwrap())
}

/// After a splice, move the string section's offset so the header covers
/// the blob again (types then strings, no gap).
fn fix_btf_header(b: &mut [u8]) {
    if b.len() < 24 {
        return;
    }
    let str_len = le32(b, 20) as usize;
    let body = b.len() - 24;
    let type_len = body.saturating_sub(str_len) as u32 & !3;
    let str_len = body as u32 - type_len;
    b[12..16].copy_from_slice(&type_len.to_le_bytes());
    b[16..20].copy_from_slice(&type_len.to_le_bytes());
    b[20..24].copy_from_slice(&str_len.to_le_bytes());
}

/// After a splice in `.BTF.ext`, put the whole body in line_info.
fn fix_ext_header(b: &mut [u8]) {
    if b.len() < 32 {
        return;
    }
    let func_len = le32(b, 12) as usize;
    let body = b.len() - le32(b, 4).min(b.len() as u32) as usize;
    let func_len = func_len.min(body) as u32;
    b[16..20].copy_from_slice(&func_len.to_le_bytes());
    b[20..24].copy_from_slice(&(body as u32 - func_len).to_le_bytes());
    b[24..28].copy_from_slice(&(body as u32).to_le_bytes());
    b[28..32].copy_from_slice(&0u32.to_le_bytes());
}

/// A random blob with a valid header and a body of plausible words.
fn random_btf(rng: &mut Rng, buf: &mut Vec<u8>) {
    buf.clear();
    let words = rng.usize(0..40);
    let strs: Vec<u8> = (0..rng.usize(0..24))
        .map(|i| {
            if i == 0 || rng.u8(0..4) == 0 {
                0
            } else {
                b'a' + rng.u8(0..26)
            }
        })
        .chain(std::iter::once(0))
        .collect();
    buf.extend_from_slice(&[0x9f, 0xeb, 1, 0]);
    for v in [24, 0, words as u32 * 4, words as u32 * 4, strs.len() as u32] {
        buf.extend_from_slice(&v.to_le_bytes());
    }
    for _ in 0..words {
        let v = interesting(rng, strs.len());
        buf.extend_from_slice(&v.to_le_bytes());
    }
    buf.extend_from_slice(&strs);
}

fn exercise_index(btf: Btf) {
    let vm = Vmlinux::new(btf);
    let _ = vm.skb_functions();
    let _ = vm.tracepoint("kfree_skb");
    let _ = vm.tracepoint_names();
    for p in [
        "sk_buff.pkt_type",
        "sk_buff.dev",
        "net_device.nd_net.net",
        "net.ns.inum",
    ] {
        if let Ok(f) = vm.member(p) {
            let _ = f.byte_offset();
        }
    }
    let _ = vm.enum_value("SKB_DROP_REASON_OTHERHOST");
    let _ = vm.enum_values("skb_drop_reason");
    let n = vm.btf().types.len().min(64) as u32;
    for id in 0..=n + 1 {
        let _ = vm.c_type(id);
        let _ = vm.size_of(id);
        let _ = vm.btf().skip_modifiers(id);
    }
}

#[test]
fn btf_reader_never_panics_and_reencodes_what_it_accepts() {
    let (seeds, _) = seeds();
    let mut rng = Rng::with_seed(0xb7f);
    let mut buf = Vec::new();
    let mut accepted = 0u32;
    for n in 0..N {
        if n % 4 == 0 {
            random_btf(&mut rng, &mut buf);
        } else {
            let seed = &seeds[rng.usize(..seeds.len())];
            mutate(&mut rng, seed, &mut buf, &fix_btf_header);
        }
        let r = catch_unwind(AssertUnwindSafe(|| match Btf::parse(&buf) {
            Ok(btf) => {
                assert_eq!(btf.encode(), buf, "accepted bytes re-encode differently");
                if n % 32 == 0 {
                    exercise_index(btf);
                }
                true
            }
            Err(e) => {
                assert!(e.offset <= buf.len(), "{e} is outside {} bytes", buf.len());
                false
            }
        }));
        match r {
            Ok(ok) => accepted += ok as u32,
            Err(_) => panic!("input #{n} panicked: {:02x?}", &buf[..buf.len().min(256)]),
        }
    }
    // Both outcomes are exercised: the mutations are not all fatal.
    assert!(accepted > N / 50, "only {accepted} inputs parsed");
    assert!(
        accepted < N - N / 50,
        "{accepted} inputs parsed: mutations too weak"
    );
}

#[test]
fn btf_ext_reader_never_panics_and_reencodes_what_it_accepts() {
    let (_, seeds) = seeds();
    let mut rng = Rng::with_seed(0xe87);
    let mut buf = Vec::new();
    let mut accepted = 0u32;
    for n in 0..N {
        if n % 8 == 0 {
            buf.clear();
            let len = rng.usize(0..80);
            buf.extend((0..len).map(|i| match i {
                0 => 0x9f,
                1 => 0xeb,
                2 => 1,
                _ => rng.u8(..),
            }));
        } else {
            let seed = &seeds[rng.usize(..seeds.len())];
            mutate(&mut rng, seed, &mut buf, &fix_ext_header);
        }
        let r = catch_unwind(AssertUnwindSafe(|| match BtfExt::parse(&buf) {
            Ok(ext) => {
                assert_eq!(ext.encode(), buf, "accepted bytes re-encode differently");
                true
            }
            Err(e) => {
                assert!(e.offset <= buf.len(), "{e} is outside {} bytes", buf.len());
                false
            }
        }));
        match r {
            Ok(ok) => accepted += ok as u32,
            Err(_) => panic!("input #{n} panicked: {:02x?}", &buf[..buf.len().min(256)]),
        }
    }
    assert!(accepted > N / 50, "only {accepted} inputs parsed");
    assert!(accepted < N - N / 50, "{accepted} inputs parsed");
}

/// The generator on random inputs: its output always reads back, equal, and
/// its func_info and line_info are sorted by insn_off in each section, as
/// the kernel requires.
#[test]
fn generated_btf_always_reads_back() {
    use ebpf_asm::btf::gen::{generate, DataSection, DataVar, Function, Input, InsnLine, MapDecl};
    let mut rng = Rng::with_seed(0x9e4);
    let sections = ["tc", "xdp", "tp_btf/kfree_skb", ".text", "classifier/x"];
    let name = |rng: &mut Rng| -> String {
        let n = rng.usize(0..8);
        (0..n)
            .map(|_| [b'a', b'Z', b'_', b'.', b'1', b'/'][rng.usize(..6)] as char)
            .collect()
    };
    for _ in 0..20_000 {
        let mut input = Input {
            file_name: name(&mut rng),
            ..Input::default()
        };
        for _ in 0..rng.usize(0..4) {
            let offset = rng.u32(0..64) * 8;
            input.functions.push(Function {
                name: name(&mut rng),
                section: sections[rng.usize(..sections.len())].into(),
                offset,
                global: rng.bool(),
                lines: (0..rng.u32(0..6))
                    .map(|i| InsnLine {
                        insn_off: offset + i * 8,
                        line: rng.u32(..),
                        col: rng.u32(..),
                        text: name(&mut rng).into(),
                    })
                    .collect(),
            });
        }
        for i in 0..rng.u32(0..3) {
            input.maps.push(MapDecl {
                name: name(&mut rng),
                map_type: rng.u32(0..40),
                key_size: rng.u32(0..3) * 4,
                value_size: rng.u32(0..3) * 8,
                max_entries: rng.u32(..),
                map_flags: rng.u32(0..2),
                offset: i * 40,
            });
        }
        if rng.bool() {
            input.data_sections.push(DataSection {
                name: ".rodata".into(),
                size: 64,
                vars: (0..rng.u32(0..3))
                    .map(|i| DataVar {
                        name: name(&mut rng),
                        offset: i * 8,
                        size: rng.u32(0..9),
                        global: rng.bool(),
                    })
                    .collect(),
            });
        }
        let out = generate(&input);
        let btf = Btf::parse(&out.btf_bytes()).expect("generated BTF parses");
        assert_eq!(btf, out.btf);
        let ext = BtfExt::parse(&out.ext_bytes()).expect("generated .BTF.ext parses");
        assert_eq!(ext, out.ext);
        for sec in ext.func_info.iter().flatten() {
            assert!(sec
                .records
                .windows(2)
                .all(|w| w[0].insn_off <= w[1].insn_off));
        }
        for sec in ext.line_info.iter().flatten() {
            assert!(sec
                .records
                .windows(2)
                .all(|w| w[0].insn_off < w[1].insn_off));
        }
    }
}
