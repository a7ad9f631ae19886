use super::*;
use crate::text::{assemble, AsmOptions};

/// Two programs in one section, a subprogram in `.text`, a string in
/// `.rodata`, a map in `.maps`, and every relocation type.
fn sample() -> Object {
    let mut o = Object::new();
    let tc = o.add_section(Section::new("tc", SectionKind::Program));
    let text = o.add_section(Section::named(".text"));
    let ro = o.add_section(Section::named(".rodata.str1.1"));
    o.sections[ro].entsize = 1;
    o.sections[ro].sh_flags |= (object::elf::SHF_MERGE.0) | object::elf::SHF_STRINGS.0;
    let maps = o.add_section(Section::named(".maps"));
    let bss = o.add_section(Section::named(".bss"));
    let btf = o.add_section(Section::named(".BTF"));
    for (n, _) in [(0, ()), (1, ())] {
        // r0 = n; exit
        o.sections[tc].push_bytes(&[0xb7, 0, 0, 0, n, 0, 0, 0, 0x95, 0, 0, 0, 0, 0, 0, 0]);
    }
    // call sub (pseudo call) ; lddw r1, .rodata ; exit
    o.sections[text].push_bytes(&[0x95, 0, 0, 0, 0, 0, 0, 0]);
    o.sections[ro].push_bytes(b"hi\0");
    let decl = MapDecl {
        name: "events".into(),
        offset: 0,
        fields: vec![
            MapField {
                name: "type".into(),
                value: 27,
            },
            MapField {
                name: "max_entries".into(),
                value: 4096,
            },
        ],
        ..Default::default()
    };
    o.sections[maps].reserve(decl.entry_size());
    o.sections[bss].reserve(16);
    o.sections[btf].push_bytes(&[0; 8]);
    o.maps.push(decl);
    let func = |name: &str, section, value, binding| Symbol {
        name: name.into(),
        section: Some(section),
        value,
        size: 16,
        kind: SymbolType::Func,
        binding,
        visibility: Visibility::Default,
    };
    o.symbols.push(func("first", tc, 0, Binding::Global));
    o.symbols.push(func("second", tc, 16, Binding::Global));
    o.symbols.push(Symbol {
        size: 8,
        ..func("sub", text, 0, Binding::Local)
    });
    o.symbols.push(Symbol {
        name: "events".into(),
        section: Some(maps),
        value: 0,
        size: 16,
        kind: SymbolType::Object,
        binding: Binding::Global,
        visibility: Visibility::Default,
    });
    let ro_sym = o.section_symbol(ro);
    let kfunc = o.symbol_or_undefined("bpf_kfunc");
    o.sections[tc].relocations.push(Relocation {
        offset: 0,
        symbol: ro_sym,
        kind: RelocType::Ld64,
    });
    o.sections[tc].relocations.push(Relocation {
        offset: 8,
        symbol: kfunc,
        kind: RelocType::Call32,
    });
    o.sections[btf].relocations.push(Relocation {
        offset: 0,
        symbol: 3,
        kind: RelocType::NoDyld32,
    });
    o.sections[btf].relocations.push(Relocation {
        offset: 4,
        symbol: 0,
        kind: RelocType::Abs32,
    });
    o
}

/// The object as the reader sees it: names, kinds, bytes, relocations by
/// symbol name, symbols sorted (the writer puts locals first).
fn summary(o: &Object) -> (Vec<String>, Vec<String>) {
    let secs = o
        .sections
        .iter()
        .map(|s| {
            let relocs: Vec<String> = s
                .relocations
                .iter()
                .map(|r| {
                    format!(
                        "{}:{}:{}",
                        r.offset,
                        r.kind.name(),
                        o.symbols[r.symbol].name
                    )
                })
                .collect();
            format!(
                "{} {:?} {} {:#x} {} {:?} {:?}",
                s.name, s.kind, s.sh_type, s.sh_flags, s.size, s.data, relocs
            )
        })
        .collect();
    let mut syms: Vec<String> = o
        .symbols
        .iter()
        .map(|y| {
            let sec = y.section.map(|s| o.sections[s].name.clone());
            format!(
                "{} {:?} {:?} {sec:?} {} {}",
                y.name, y.kind, y.binding, y.value, y.size
            )
        })
        .collect();
    syms.sort();
    (secs, syms)
}

#[test]
fn elf_round_trip_keeps_sections_symbols_relocations() {
    let o = sample();
    let bytes = o.to_elf().expect("writes");
    let back = Object::from_elf(&bytes).expect("reads");
    assert_eq!(summary(&back), summary(&o));
    let progs = back.programs();
    let names: Vec<_> = progs
        .iter()
        .map(|p| (p.name.as_str(), p.offset, p.size))
        .collect();
    assert_eq!(names, [("first", 0, 16), ("second", 16, 16)]);
    assert_eq!(back.section(".rodata.str1.1").map(|s| s.entsize), Some(1));
    assert!(back.to_string().contains("R_BPF_64_32 bpf_kfunc"));
}

#[test]
fn from_program_matches_the_old_writer() {
    let p = assemble(
        ".section classifier/x\n.license \"Dual MIT/GPL\"\n.name prog1\nr1 = counters ll\nr0 = 0\nexit\n",
        &AsmOptions::default(),
    )
    .expect("assembles");
    let o = Object::from_program(&p);
    let back = Object::from_elf(&o.to_elf().expect("writes")).expect("reads");
    assert_eq!(back.license(), Some("Dual MIT/GPL"));
    let progs = back.programs();
    assert_eq!(progs.len(), 1);
    assert_eq!((progs[0].name.as_str(), progs[0].size), ("prog1", 32));
    let s = back.section("classifier/x").expect("section");
    assert_eq!(s.data, p.to_bytes());
    assert_eq!(s.relocations.len(), 1);
    assert_eq!(back.symbols[s.relocations[0].symbol].name, "counters");
    assert!(!back.symbols[s.relocations[0].symbol].is_defined());
}

#[test]
fn unnamed_section_gets_the_default_name() {
    let mut o = Object::new();
    let s = o.add_section(Section::new("xdp.frags", SectionKind::Program));
    o.sections[s].push_bytes(&[0x95, 0, 0, 0, 0, 0, 0, 0]);
    assert_eq!(o.programs()[0].name, "prog");
}

#[test]
fn errors_name_section_and_offset() {
    let mut o = sample();
    o.sections[0].relocations.push(Relocation {
        offset: 64,
        symbol: 0,
        kind: RelocType::Ld64,
    });
    let bytes = o.to_elf().expect("writes");
    let e = Object::from_elf(&bytes).expect_err("past the end");
    assert_eq!(e.section.as_deref(), Some(".reltc"));
    assert!(e.offset.is_some());
    assert!(e.to_string().contains("past the end of tc"), "{e}");
    let e = Object::from_elf(b"\x7fELF").expect_err("truncated");
    assert!(e.to_string().contains("not a 64-bit ELF"), "{e}");
}

#[test]
fn mutated_objects_never_panic() {
    let good = sample().to_elf().expect("writes");
    let mut rng = fastrand::Rng::with_seed(11);
    for _ in 0..20_000 {
        let mut b = good.clone();
        for _ in 0..rng.usize(1..8) {
            let i = rng.usize(..b.len());
            b[i] = rng.u8(..);
        }
        if rng.u8(..8) == 0 {
            b.truncate(rng.usize(..b.len()));
        }
        let _ = Object::from_elf(&b);
    }
}

#[test]
fn visibility_directives_reach_st_other_and_come_back() {
    let text = "\t.text\n\t.hidden\tf\n\t.globl\tf\n\t.type\tf,@function\nf:\n\tr0 = 0\n\texit\n\
                \t.protected g\n\t.globl g\ng:\n\texit\n\t.internal h\n\t.weak h\nh:\n\texit\n";
    let obj = crate::text::assemble_object(text, &Default::default()).unwrap();
    let elf = obj.to_elf().unwrap();
    let back = Object::from_elf(&elf).unwrap();
    let vis = |n: &str| {
        let y = back.symbols.iter().find(|y| y.name == n).unwrap();
        (y.binding, y.visibility)
    };
    assert_eq!(vis("f"), (Binding::Global, Visibility::Hidden));
    assert_eq!(vis("g"), (Binding::Global, Visibility::Protected));
    assert_eq!(vis("h"), (Binding::Weak, Visibility::Internal));
    for v in [
        Visibility::Default,
        Visibility::Internal,
        Visibility::Hidden,
        Visibility::Protected,
    ] {
        assert_eq!(Visibility::from_st_other(v.st_other()), v);
    }
}
