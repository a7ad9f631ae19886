//! Differential test against LLVM: a generated corpus in LLVM's syntax,
//! assembled by `llvm-mc-19 -triple bpfel -mcpu=v4` and by us, must give the
//! same bytes; our disassembly (both syntaxes) must assemble back to them; and
//! our LLVM-syntax listing must match `llvm-objdump-19 -d` line by line.
//!
//! This test needs llvm-19 (CI installs it) and FAILS without it.

mod corpus;

use ebpf_asm::disasm::{self, DisasmOptions, Syntax};
use ebpf_asm::{assemble, AsmOptions};
use object::{Object, ObjectSection, ObjectSymbol};
use std::collections::BTreeSet;
use std::path::PathBuf;
use std::process::Command;

const SEEDS: [u64; 4] = [1, 2, 0x5eed, 20261126];
const LINES: usize = 4000;

fn tool(name: &str) -> String {
    match Command::new(name).arg("--version").output() {
        Ok(o) if o.status.success() => name.to_string(),
        _ => panic!(
            "{name} is not installed: this differential test compares our assembler with LLVM's and \
             cannot run without it. Install it with `apt-get install llvm-19` (.ci/run does)."
        ),
    }
}

struct TempFile(PathBuf);
impl Drop for TempFile {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

fn temp(tag: &str, seed: u64, ext: &str) -> TempFile {
    TempFile(std::env::temp_dir().join(format!(
        "ebpf-asm-diff-{}-{tag}-{seed}.{ext}",
        std::process::id()
    )))
}

/// Assemble with llvm-mc; returns the object path and the `.text` bytes.
fn llvm_assemble(src: &str, seed: u64) -> (TempFile, Vec<u8>) {
    let mc = tool("llvm-mc-19");
    let s = temp("in", seed, "s");
    let o = temp("out", seed, "o");
    std::fs::write(&s.0, src).expect("write corpus");
    let out = Command::new(mc)
        .args(["-triple", "bpfel", "-mcpu=v4", "-filetype=obj", "-o"])
        .arg(&o.0)
        .arg(&s.0)
        .output()
        .expect("run llvm-mc-19");
    assert!(
        out.status.success(),
        "llvm-mc-19 rejected the corpus (seed {seed}): {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let data = std::fs::read(&o.0).expect("read object");
    let f = object::File::parse(&*data).expect("parse llvm's object");
    let text = f
        .section_by_name(".text")
        .expect(".text section")
        .data()
        .expect(".text data")
        .to_vec();
    (o, text)
}

fn ours(src: &str) -> Vec<u8> {
    match assemble(src, &AsmOptions::default()) {
        Ok(p) => p.to_bytes(),
        Err(e) => panic!("our assembler rejected a line llvm-mc accepts:\n{e}"),
    }
}

fn first_difference(src: &str, a: &[u8], b: &[u8]) -> String {
    let slot = a
        .chunks(8)
        .zip(b.chunks(8))
        .position(|(x, y)| x != y)
        .unwrap_or(a.len().min(b.len()) / 8);
    // Find the source line for the slot by assembling line by line.
    let p = assemble(src, &AsmOptions::default()).expect("assembles");
    format!(
        "first difference at slot {slot} (source: {:?})\n ours: {:02x?}\n llvm: {:02x?}",
        p.source_of(slot),
        a.chunks(8).nth(slot),
        b.chunks(8).nth(slot)
    )
}

fn normalize(s: &str) -> String {
    let s = match s.find(" <") {
        Some(i) => &s[..i],
        None => s,
    };
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}

#[test]
fn llvm_mc_and_ebpf_asm_agree() {
    let objdump = tool("llvm-objdump-19");
    let mut all_codes = BTreeSet::new();
    for seed in SEEDS {
        let src = corpus::program(seed, LINES);
        let (obj, theirs) = llvm_assemble(&src, seed);
        let mine = ours(&src);
        assert!(
            mine == theirs,
            "seed {seed}: {}",
            first_difference(&src, &mine, &theirs)
        );
        // Each corpus reaches nearly every opcode, all seeds together every
        // one of the 127 (roundtrip.rs lists them).
        let codes: BTreeSet<u8> = ebpf_asm::encode::decode_bytes(&mine)
            .expect("decodes")
            .iter()
            .map(|(slot, _)| mine[slot * 8])
            .collect();
        assert!(codes.len() >= 120, "seed {seed}: {} opcodes", codes.len());
        all_codes.extend(codes);
        // Map references: the same slots and symbols as llvm's R_BPF_64_64s.
        let data = std::fs::read(&obj.0).expect("read object");
        let f = object::File::parse(&*data).expect("parse llvm's object");
        let text = f.section_by_name(".text").expect(".text");
        let mut theirs_relocs = Vec::new();
        for (offset, r) in text.relocations() {
            let object::RelocationTarget::Symbol(idx) = r.target() else {
                panic!("unexpected relocation target");
            };
            let name = f
                .symbol_by_index(idx)
                .ok()
                .and_then(|s| s.name().ok().map(str::to_string));
            theirs_relocs.push((offset as usize / 8, name.expect("symbol name")));
        }
        let p = assemble(&src, &AsmOptions::default()).expect("assembles");
        let mine_relocs: Vec<_> = p
            .relocations()
            .iter()
            .map(|r| (r.slot, r.symbol.clone()))
            .collect();
        assert!(!mine_relocs.is_empty());
        assert_eq!(mine_relocs, theirs_relocs, "seed {seed}: relocations");

        // Our listings, in both syntaxes, with and without labels, assemble back.
        for syntax in [Syntax::Kernel, Syntax::Llvm] {
            // (labels, verifier-style `N: (xx)` prefix, objdump-style bytes)
            for (labels, slot_numbers, bytes) in [
                (true, false, false),
                (false, false, false),
                (true, true, false),
                (false, false, true),
            ] {
                let o = DisasmOptions {
                    syntax,
                    labels,
                    slot_numbers,
                    bytes,
                };
                let listing = disasm::disassemble(&mine, &o).expect("our bytes decode");
                let again = assemble(&listing, &AsmOptions::default()).unwrap_or_else(|e| {
                    panic!("seed {seed} {syntax:?}: listing does not reassemble:\n{e}")
                });
                assert!(
                    again.to_bytes() == mine,
                    "seed {seed} {syntax:?} labels={labels}: {}",
                    first_difference(&listing, &again.to_bytes(), &mine)
                );
            }
        }

        // Our LLVM-syntax text matches llvm-objdump's, slot by slot.
        let out = Command::new(&objdump)
            .args(["-d", "--no-print-imm-hex", "--mcpu=v4"])
            .arg(&obj.0)
            .output()
            .expect("run llvm-objdump-19");
        assert!(out.status.success(), "llvm-objdump-19 failed");
        let text = String::from_utf8_lossy(&out.stdout);
        let decoded = ebpf_asm::encode::decode_bytes(&mine).expect("decodes");
        let mut by_slot = std::collections::HashMap::new();
        for (slot, ins) in &decoded {
            // LLVM prints a local call as `call N`, which reads back as helper
            // N; we print `call pc+N`. That one form is not compared as text.
            let local = matches!(
                ins,
                ebpf_asm::Instruction::Call(ebpf_asm::CallKind::Local(_))
            );
            by_slot.insert(
                *slot,
                (!local).then(|| disasm::format_instruction(ins, Syntax::Llvm)),
            );
        }
        let (mut compared, mut skipped) = (0, 0);
        for line in text.lines() {
            let mut parts = line.splitn(3, '\t');
            let (Some(head), Some(_bytes), Some(insn)) = (parts.next(), parts.next(), parts.next())
            else {
                continue;
            };
            let Ok(slot) = head.trim().trim_end_matches(':').parse::<usize>() else {
                continue;
            };
            let ours = by_slot
                .get(&slot)
                .unwrap_or_else(|| panic!("no instruction of ours at slot {slot}"));
            match ours {
                Some(ours) => {
                    assert_eq!(normalize(ours), normalize(insn), "seed {seed} slot {slot}");
                    compared += 1;
                }
                None => {
                    assert!(insn.starts_with("call "), "seed {seed} slot {slot}: {insn}");
                    skipped += 1;
                }
            }
        }
        assert_eq!(
            compared + skipped,
            decoded.len(),
            "seed {seed}: every instruction seen"
        );
        assert!(skipped * 50 < compared, "seed {seed}: {skipped} skipped");
    }
    assert_eq!(all_codes.len(), 127, "opcodes covered by all seeds");
}

/// LLVM's statement syntax as the selftests' naked inline asm writes it:
/// `;` between statements, C integer suffixes, block comments. Same bytes
/// as llvm-mc-19, and no statement lost (each `;` counts).
#[test]
fn selftest_style_statements_match_llvm_mc() {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/naked_style.s");
    let src = std::fs::read_to_string(&path).expect("tests/data/naked_style.s");
    let (_obj, theirs) = llvm_assemble(&src, 0x5e1f);
    let mine = ours(&src);
    assert!(mine == theirs, "{}", first_difference(&src, &mine, &theirs));
    // 20 instructions, two of them lddw: 22 slots.
    assert_eq!(mine.len(), 22 * 8);
}
