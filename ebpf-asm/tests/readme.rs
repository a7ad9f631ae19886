//! The README's side-by-side table of the two syntaxes is checked, not just
//! written: for each row, the kernel text and the LLVM text assemble to the
//! bytes shown, and our disassembler prints each text back in its syntax.

use ebpf_asm::disasm::{self, Syntax};
use ebpf_asm::encode::decode_bytes;
use ebpf_asm::{assemble, AsmOptions};

fn bytes_of(text: &str) -> Vec<u8> {
    match assemble(text, &AsmOptions::default()) {
        Ok(p) => p.to_bytes(),
        Err(e) => panic!("README example does not assemble:\n{e}"),
    }
}

fn hex_bytes(s: &str) -> Vec<u8> {
    s.split_whitespace()
        .map(|b| u8::from_str_radix(b, 16).unwrap_or_else(|_| panic!("bad hex {b:?}")))
        .collect()
}

#[test]
fn the_two_syntaxes_table_is_true() {
    let readme = include_str!("../README.md");
    let section = readme
        .split("## Two syntaxes")
        .nth(1)
        .expect("README has a '## Two syntaxes' section");
    let mut rows = 0;
    for line in section.lines().take_while(|l| !l.starts_with("## ")) {
        // | `kernel` | `llvm` | `bytes` |
        let cells: Vec<&str> = line
            .split('|')
            .map(str::trim)
            .filter(|c| c.starts_with('`') && c.ends_with('`') && c.len() > 1)
            .map(|c| &c[1..c.len() - 1])
            .collect();
        let [kernel, llvm, bytes] = cells[..] else {
            continue;
        };
        let want = hex_bytes(bytes);
        assert_eq!(bytes_of(kernel), want, "kernel text {kernel:?}");
        assert_eq!(bytes_of(llvm), want, "LLVM text {llvm:?}");
        let decoded = decode_bytes(&want).unwrap_or_else(|e| panic!("{bytes}: {e}"));
        let [(0, ins)] = &decoded[..] else {
            panic!("{bytes}: not one instruction: {decoded:?}")
        };
        assert_eq!(
            disasm::format_instruction(ins, Syntax::Kernel),
            kernel,
            "our kernel listing of {bytes}"
        );
        assert_eq!(
            disasm::format_instruction(ins, Syntax::Llvm),
            llvm,
            "our LLVM listing of {bytes}"
        );
        rows += 1;
    }
    assert_eq!(rows, 10, "the table has ten instructions");
}
