//! Every valid (opcode, src, off/imm class) form: decoding then encoding
//! gives back the same slot, and printing it in either syntax then
//! assembling the text gives back the same bytes.

use ebpf_asm::disasm::{format_instruction, Syntax};
use ebpf_asm::encode::{decode, encode};
use ebpf_asm::{assemble, AsmOptions, Insn};
use std::collections::BTreeSet;

const DSTS: [u8; 4] = [0, 1, 10, 11];
const SRCS: [u8; 10] = [0, 1, 2, 3, 4, 5, 6, 10, 11, 15];
const OFFS: [i16; 9] = [0, 1, -1, 8, 16, 32, 7, i16::MIN, i16::MAX];
const IMMS: [i32; 18] = [
    0,
    1,
    -1,
    16,
    32,
    64,
    24,
    0x40,
    0x41,
    0x50,
    0x51,
    0xa0,
    0xa1,
    0xe1,
    0xf1,
    23,
    i32::MIN,
    i32::MAX,
];

/// The opcodes RFC 9669 and Linux define, counted by class.
fn expected_opcodes() -> BTreeSet<u8> {
    let mut s = BTreeSet::new();
    // ALU/ALU64: 12 two-operand ops with K and X; NEG (K); END.
    for class in [0x04u8, 0x07] {
        for op in [
            0x00u8, 0x10, 0x20, 0x30, 0x40, 0x50, 0x60, 0x70, 0x90, 0xa0, 0xb0, 0xc0,
        ] {
            s.insert(class | op);
            s.insert(class | op | 0x08);
        }
        s.insert(class | 0x80);
        s.insert(class | 0xd0);
    }
    s.insert(0x04 | 0xd0 | 0x08); // be16/32/64
                                  // JMP/JMP32: 11 conditions with K and X; JA (ja / gotol).
    for class in [0x05u8, 0x06] {
        for op in [
            0x10u8, 0x20, 0x30, 0x40, 0x50, 0x60, 0x70, 0xa0, 0xb0, 0xc0, 0xd0,
        ] {
            s.insert(class | op);
            s.insert(class | op | 0x08);
        }
        s.insert(class);
    }
    s.extend([0x85, 0x8d, 0x95, 0xe5]); // call, callx, exit, may_goto
                                        // LD: ABS and IND in W/H/B; lddw.
    for size in [0x00u8, 0x08, 0x10] {
        s.insert(0x20 | size);
        s.insert(0x40 | size);
    }
    s.insert(0x18);
    for size in [0x00u8, 0x08, 0x10, 0x18] {
        s.insert(0x61 | size); // LDX MEM
        s.insert(0x62 | size); // ST MEM
        s.insert(0x63 | size); // STX MEM
    }
    for size in [0x00u8, 0x08, 0x10] {
        s.insert(0x81 | size); // LDX MEMSX
    }
    s.insert(0xc3); // STX ATOMIC W
    s.insert(0xdb); // STX ATOMIC DW
    s
}

#[test]
fn every_valid_form_round_trips() {
    let mut valid_codes = BTreeSet::new();
    let mut forms = Vec::new();
    for code in 0..=255u8 {
        for dst in DSTS {
            for src in SRCS {
                for off in OFFS {
                    for imm in IMMS {
                        let i = Insn::new(code, dst, src, off, imm);
                        let slots: &[Insn] = if code == 0x18 {
                            &[i, Insn::new(0, 0, 0, 0, imm.wrapping_mul(3))]
                        } else {
                            &[i]
                        };
                        let Ok((ins, used)) = decode(slots) else {
                            continue;
                        };
                        let e = encode(&ins);
                        assert_eq!(e.as_slice(), &slots[..used], "{ins:?}");
                        valid_codes.insert(code);
                        forms.push(ins);
                    }
                }
            }
        }
    }
    assert_eq!(valid_codes, expected_opcodes());
    assert_eq!(valid_codes.len(), 127);
    // Every form through text, in both syntaxes, at once. Writes to r10
    // are encoded (as llvm-mc does) with a warning, checked apart.
    let (r10, forms): (Vec<_>, Vec<_>) = forms
        .into_iter()
        .partition(|f| f.written_reg() == Some(ebpf_asm::Reg::R10));
    assert!(!r10.is_empty());
    for f in r10.iter().take(500) {
        let text = format_instruction(f, Syntax::Kernel);
        let p = assemble(&text, &AsmOptions::default()).expect("r10 write encoded");
        let want: Vec<u8> = ebpf_asm::encode(f)
            .as_slice()
            .iter()
            .flat_map(|i| i.to_bytes())
            .collect();
        assert_eq!(p.to_bytes(), want, "{text}");
        assert!(
            p.warnings()[0].message.contains("read-only frame pointer"),
            "{text}"
        );
    }
    let bytes: Vec<u8> = forms
        .iter()
        .flat_map(|i| {
            encode(i)
                .as_slice()
                .iter()
                .flat_map(|s| s.to_bytes())
                .collect::<Vec<_>>()
        })
        .collect();
    for syntax in [Syntax::Kernel, Syntax::Llvm] {
        let mut text = String::new();
        for f in &forms {
            text.push_str(&format_instruction(f, syntax));
            text.push('\n');
        }
        let p = assemble(&text, &AsmOptions::default())
            .unwrap_or_else(|e| panic!("{syntax:?} listing does not assemble:\n{e}"));
        let got = p.to_bytes();
        if got != bytes {
            let slot = got.chunks(8).zip(bytes.chunks(8)).position(|(a, b)| a != b);
            panic!(
                "{syntax:?}: first difference at slot {slot:?}: {:?}",
                slot.and_then(|s| p.source_of(s))
            );
        }
    }
    assert!(forms.len() > 10_000, "{} forms", forms.len());
}
