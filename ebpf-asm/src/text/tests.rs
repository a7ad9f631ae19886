//! Unit tests of the text syntax: every error case names line:column, shows
//! the line with a caret and says what was expected; and the accepted forms.

use super::{assemble, AsmError, AsmOptions};
use crate::insn::Insn;

fn err(src: &str) -> AsmError {
    match assemble(src, &AsmOptions::default()) {
        Ok(p) => panic!("{src:?} assembled to {:?}", p.insns()),
        Err(e) => e,
    }
}

/// Assert an error at `line:col` whose message contains `needle`.
fn check(src: &str, line: u32, col: u32, needle: &str) {
    let e = err(src);
    assert_eq!((e.line, e.column), (line, col), "{e}");
    assert!(
        e.message.contains(needle),
        "message {:?} lacks {needle:?}",
        e.message
    );
}

fn one(src: &str) -> Insn {
    let p = assemble(src, &AsmOptions::default()).unwrap_or_else(|e| panic!("{e}"));
    p.insns()[0]
}

fn bytes(src: &str) -> Vec<u8> {
    assemble(src, &AsmOptions::default())
        .unwrap_or_else(|e| panic!("{e}"))
        .to_bytes()
}

#[test]
fn register_out_of_range() {
    check(
        "r0 = 0\n  r11 = 1\n",
        2,
        3,
        "register `r11` out of range; eBPF has r0..r10",
    );
    check("w1 = w12", 1, 6, "register `w12` out of range");
    check("r1 = *(u32 *)(r16 +0)", 1, 15, "`r16` out of range");
}

#[test]
fn unknown_mnemonic() {
    check("exit\nmov r1, 2\n", 2, 1, "unknown mnemonic `mov`");
    let e = err("\tfoo");
    assert!(e.message.contains("expected an instruction"), "{e}");
}

#[test]
fn immediate_or_offset_out_of_range() {
    check(
        "w1 = 0x100000000",
        1,
        6,
        "immediate 4294967296 out of range for a 32-bit field",
    );
    check("r1 += -2147483649", 1, 7, "out of range for a 32-bit field");
    check("r1 = 0x100000000", 1, 6, "write `r1 = 4294967296 ll`");
    check(
        "r0 = *(u32 *)(r1 +32768)",
        1,
        18,
        "offset 32768 out of range for a 16-bit field",
    );
    check(
        "*(u8 *)(r1 -32769) = 1",
        1,
        12,
        "offset -32769 out of range",
    );
    check(
        "goto pc+40000",
        1,
        6,
        "offset 40000 out of range for a 16-bit field",
    );
    check("r1 = 0x10000000000000000 ll", 1, 6, "too large for 64 bits");
}

#[test]
fn unknown_or_duplicate_label() {
    check("goto nowhere\nexit", 1, 6, "unknown label `nowhere`");
    check("if r1 == 0 goto out\nexit\n", 1, 17, "unknown label `out`");
    check(
        "a:\nexit\n a:\nexit",
        3,
        2,
        "duplicate label `a` (first defined at line 1)",
    );
    check(
        "call not_a_helper",
        1,
        6,
        "unknown helper or label `not_a_helper`",
    );
    let mut far = String::from("goto far\n");
    for _ in 0..33000 {
        far.push_str("exit\n");
    }
    far.push_str("far: exit\n");
    check(&far, 1, 6, "out of range for a 16-bit jump offset");
}

#[test]
fn mixed_widths() {
    check(
        "r1 += w2",
        1,
        7,
        "mixed register widths: `r1` is 64-bit but `w2` is 32-bit",
    );
    check("if w1 > r2 goto +1", 1, 9, "mixed register widths");
    check("w1 = (s8)r2", 1, 10, "mixed register widths");
    check("r0 = *(u64 *)(w1 +0)", 1, 15, "needs a 64-bit register");
    check("*(u64 *)(r1 +0) = w2", 1, 19, "a 64-bit store needs `r2`");
}

#[test]
fn bad_access_size() {
    check("r0 = *(u24 *)(r1 +0)", 1, 8, "bad access size `u24`");
    check(
        "*(s32 *)(r1 +0) = r2",
        1,
        3,
        "bad access size: signed types",
    );
    check(
        "lock *(u16 *)(r1 +0) += r2",
        1,
        8,
        "bad access size for an atomic operation",
    );
    check(
        "r0 = *(u64 *)skb[1]",
        1,
        8,
        "bad access size for a packet load",
    );
    check("r0 = *(s64 *)(r1 +0)", 1, 8, "bad access size `s64`");
}

#[test]
fn write_to_r10() {
    // Writes to r10 are encoded as llvm-mc encodes them, with a warning at
    // the register: the verifier is the one that refuses them.
    for (src, line, col, want) in [
        ("r10 = 0", 1, 1, vec![0xb7, 0x0a, 0, 0, 0, 0, 0, 0]),
        (
            "exit\n\tw10 += 1",
            2,
            2,
            vec![0x95, 0, 0, 0, 0, 0, 0, 0, 0x04, 0x0a, 0, 0, 1, 0, 0, 0],
        ),
        (
            "r10 = *(u64 *)(r1 +0)",
            1,
            1,
            vec![0x79, 0x1a, 0, 0, 0, 0, 0, 0],
        ),
    ] {
        let p = assemble(src, &AsmOptions::default()).expect("encoded");
        assert_eq!(p.to_bytes(), want, "{src}");
        let w = &p.warnings()[0];
        assert_eq!((w.line, w.column), (line, col), "{src}");
        assert!(w
            .as_warning()
            .contains("warning: r10 is the read-only frame pointer"));
    }
    // Reading it, and storing through it, is what it is for.
    assert_eq!(one("r1 = r10").to_bytes(), [0xbf, 0xa1, 0, 0, 0, 0, 0, 0]);
    assert_eq!(bytes("*(u64 *)(r10 -8) = r1")[..2], [0x7b, 0x1a]);
}

#[test]
fn other_errors_point_at_the_problem() {
    check("r1 = FOO", 1, 6, "unknown name `FOO`");
    check("r1 = 1 / 0", 1, 8, "division by zero");
    check("r1 = htons(0x12345)", 1, 12, "does not fit in 16 bits");
    check(
        "call bpf_redirect#24",
        1,
        6,
        "helper `bpf_redirect` has id 23, not 24",
    );
    check(".ifdef X\nexit\n", 1, 1, "no matching .endif");
    check(".endif", 1, 1, ".endif without .ifdef");
    check(".bogus 1", 1, 1, "unknown directive `.bogus`");
    check("r1 = be24 r1", 1, 6, "unknown name `be24`");
    check("r1 = r2 r3", 1, 9, "expected end of line");
    check(
        "r1 = -r2",
        1,
        7,
        "negation works in place: write `r1 = -r1`",
    );
    check("w3 = -r3", 1, 7, "mixed register widths");
    check(
        "r1 = be16 r2",
        1,
        11,
        "byte swaps work in place: write `r1 = be16 r1`",
    );
    check("w1 = bswap32 w2", 1, 14, "write `w1 = bswap32 w1`");
    check(
        "12: (b7) r1 = r2",
        1,
        6,
        "pasted opcode (b7) does not match",
    );
    check("if r1 >> r2 goto +1", 1, 7, "expected a comparison");
    check(
        "r0 = atomic_fetch_add((u64 *)(r1 +0), r2)",
        1,
        39,
        "returns the old value",
    );
    check("r1 = 0x1234 ll ll", 1, 16, "expected end of line");
}

#[test]
fn error_display_has_caret_under_the_column() {
    let e = assemble(
        "exit\n\tr1 = *(u7 *)(r1 +0)\n",
        &AsmOptions {
            file_name: "x.s".into(),
            defines: vec![],
        },
    )
    .unwrap_err();
    assert_eq!(
        e.to_string(),
        "x.s:2:9: error: bad access size `u7`; expected u8, u16, u32 or u64 (s8, s16, s32 for sign-extending loads)\n\tr1 = *(u7 *)(r1 +0)\n\t       ^"
    );
}

#[test]
fn required_example_lines() {
    let src = "
        .equ DEST_IP, 0x0a00020b
        .equ DEST_MAC, 0x020000000000
        .equ TARGET_IFINDEX, 3
        if w4 != htonl(DEST_IP) goto pass
        *(u32 *)(r2 +0) = htonl(DEST_MAC >> 16)
        r1 = TARGET_IFINDEX
        call bpf_redirect
        call bpf_redirect#23
        call 23
        r1 = 0x6863726174736e69 ll
    pass:
        exit
    ";
    let p = assemble(src, &AsmOptions::default()).unwrap_or_else(|e| panic!("{e}"));
    let i = p.insns();
    assert_eq!(i[0], Insn::new(0x56, 4, 0, 7, 0x0b02000a));
    assert_eq!(i[1], Insn::new(0x62, 2, 0, 0, 2));
    assert_eq!(i[2], Insn::new(0xb7, 1, 0, 0, 3));
    for call in &i[3..6] {
        assert_eq!(*call, Insn::new(0x85, 0, 0, 0, 23));
    }
    assert_eq!(i[6].imm as u32, 0x74736e69);
    assert_eq!(i[7].imm as u32, 0x68637261);
    assert_eq!(p.source_of(7).map(|s| s.line), Some(11));
    assert_eq!(
        p.source_of(0).map(|s| s.text.trim().to_string()),
        Some("if w4 != htonl(DEST_IP) goto pass".into())
    );
}

#[test]
fn expressions_and_defines() {
    assert_eq!(one("r1 = htons(0x0800)").imm, 0x0008);
    assert_eq!(one("r1 = (1 + 2) * 3 - 10 % 4").imm, 7);
    // C precedence: (~0 & 0xff) | ((1 << 8) ^ 3)
    assert_eq!(one("r1 = ~0 & 0xff | 1 << 8 ^ 3").imm, 0x1ff);
    assert_eq!(one("r1 = -(4 >> 1)").imm, -2);
    assert_eq!(one("r1 = bswap16(0x1234)").imm, 0x3412);
    assert_eq!(one("r1 = 0b101 + 0o7 + 1_000").imm, 1012);
    // A leading zero is octal, as in C and llvm-mc; a lone 0 is zero.
    assert_eq!(one("r1 = 017").imm, 15);
    assert_eq!(one("r1 = 0").imm, 0);
    assert_eq!(one("r1 = *(u32 *)(r2 +010)").off, 8);
    check("r1 = 08", 1, 6, "a leading 0 means octal");
    assert_eq!(
        assemble("r1 = bswap64(1) ll", &AsmOptions::default())
            .unwrap()
            .insns()[1]
            .imm,
        0x0100_0000
    );
    let opts = AsmOptions {
        file_name: String::new(),
        defines: vec![("X".into(), 9)],
    };
    let p = assemble(".equ X, 1\n.equ Y, X + 1\nr1 = Y\n", &opts).unwrap();
    assert_eq!(p.insns()[0].imm, 10, "-D overrides .equ");
    let p = assemble(".set X, 4\nr1 = X", &AsmOptions::default()).unwrap();
    assert_eq!(p.insns()[0].imm, 4);
}

#[test]
fn unused_defines_are_reported() {
    let opts = AsmOptions {
        file_name: String::new(),
        defines: vec![
            ("USED".into(), 1),
            ("TYPO".into(), 2),
            ("FLAG".into(), 0),
            ("EQUD".into(), 3),
            ("SKIPPED".into(), 4),
        ],
    };
    let src = ".equ EQUD, 5\n.ifdef FLAG\nr1 = USED\n.else\nr1 = SKIPPED\n.endif\nexit\n";
    let p = assemble(src, &opts).unwrap();
    assert_eq!(p.unused_defines(), ["TYPO", "SKIPPED"]);
    let p = assemble("exit", &AsmOptions::default()).unwrap();
    assert!(p.unused_defines().is_empty());
}

#[test]
fn conditional_assembly_nests() {
    let src = ".equ A, 1\n.ifdef A\n.ifndef B\nr0 = 1\n.else\nr0 = 2\n.endif\n.else\nr0 = 3\n.ifdef A\nr0 = 4\n.endif\n.endif\nexit";
    let p = assemble(src, &AsmOptions::default()).unwrap();
    assert_eq!(p.insns().len(), 2);
    assert_eq!(p.insns()[0].imm, 1);
    // Lines in a skipped block are not even parsed.
    assert!(assemble(
        ".ifdef NOPE\ngarbage here\n.endif\nexit",
        &AsmOptions::default()
    )
    .is_ok());
}

#[test]
fn directives() {
    let p = assemble(
        "\t.section classifier/ingress\n\t.license \"Dual BSD/GPL\"\nexit",
        &AsmOptions::default(),
    )
    .unwrap();
    assert_eq!(p.section(), "classifier/ingress");
    assert_eq!(p.license(), "Dual BSD/GPL");
    assert_eq!(p.name(), "ingress");
    let p = assemble(".name redirect\nexit", &AsmOptions::default()).unwrap();
    assert_eq!(
        (p.section(), p.name(), p.license()),
        ("tc", "redirect", "GPL")
    );
}

#[test]
fn both_syntaxes_and_pasted_lines() {
    let same = [
        ("r0 = *(u32 *)(r1 +76)", "r0 = *(u32 *)(r1 + 76)"),
        ("w0 = *(u32 *)(r1 +76)", "r0 = *(u32 *)(r1 + 76)"),
        ("if r1 > r2 goto pc+3", "if r1 > r2 goto +3"),
        ("if r1 > 0xffffffff goto pc-1", "if r1 > -1 goto -1"),
        ("lock *(u64 *)(r1 +8) += r2", "lock *(u64 *)(r1 + 8) += r2"),
        (
            "r0 = atomic64_fetch_add((u64 *)(r1 +0), r0)",
            "r0 = atomic_fetch_add((u64 *)(r1 + 0), r0)",
        ),
        (
            "r0 = atomic64_xchg((u64 *)(r1 +0), r0)",
            "r0 = xchg_64(r1 + 0, r0)",
        ),
        (
            "r0 = atomic_xchg((u32 *)(r1 +0), r0)",
            "w0 = xchg32_32(r1 + 0, w0)",
        ),
        (
            "r0 = atomic64_cmpxchg((u64 *)(r1 -8), r0, r2)",
            "r0 = cmpxchg_64(r1 - 8, r0, r2)",
        ),
        ("12: (b7) r0 = 0", "r0 = 0 # comment"),
        (
            "     4:\t2d 72 0a 00 00 00 00 00\tif r2 > r7 goto +10 <redirect+0x78>",
            "if r2 > r7 goto +10",
        ),
        ("3: (18) r1 = 0x5", "r1 = 5 ll // comment"),
        ("r0 = *(u16 *)skb[r1 + 0]", "r0 = *(u16 *)skb[r1]"),
        ("r1 = map[fd:3] ll", "ld_pseudo r1, 1, 3"),
        ("call bpf_trace_printk#6", "call bpf_trace_printk"),
    ];
    for (kernel, llvm) in same {
        assert_eq!(bytes(kernel), bytes(llvm), "{kernel} vs {llvm}");
    }
    assert_eq!(one("gotol pc+100000").imm, 100000);
    assert_eq!(one("call pc+5"), Insn::new(0x85, 0, 1, 0, 5));
    assert_eq!(one("call kfunc#77[2]"), Insn::new(0x85, 0, 2, 2, 77));
    assert_eq!(one("may_goto pc+2"), Insn::new(0xe5, 0, 0, 2, 0));
    let p = assemble("r1 = my_map ll\nr2 = my_val + 8 ll", &AsmOptions::default()).unwrap();
    assert_eq!(p.relocations().len(), 2);
    assert_eq!(p.relocations()[1].slot, 2);
    assert_eq!(
        p.relocations()[1].kind,
        crate::program::RelocKind::MapValue { offset: 8 }
    );
    // `+ 0` is still the map-value form (a pointer to the value's start).
    let p = assemble("r1 = lost + 0 ll\nr2 = lost ll", &AsmOptions::default()).unwrap();
    assert_eq!(
        p.relocations()[0].kind,
        crate::program::RelocKind::MapValue { offset: 0 }
    );
    assert_eq!(p.relocations()[1].kind, crate::program::RelocKind::MapFd);
    // Local calls to labels resolve like jumps.
    let p = assemble("call f\nexit\nf: r0 = 1\nexit", &AsmOptions::default()).unwrap();
    assert_eq!(p.insns()[0], Insn::new(0x85, 0, 1, 0, 1));
}

/// A hostile line nests parentheses or unary operators far beyond any real
/// program: it gets an error at the first level too deep, not a stack
/// overflow, even on a thread with a quarter of the default 2 MiB stack in a
/// debug build.
#[test]
fn deeply_nested_expressions_are_refused_not_overflowed() {
    let deep_parens = format!("r0 = {}1{}", "(".repeat(100_000), ")".repeat(100_000));
    let deep_minus = format!("r0 = {}1", "-".repeat(200_000));
    let ok = format!("r0 = {}1{}", "(".repeat(60), ")".repeat(60));
    std::thread::Builder::new()
        .stack_size(512 * 1024)
        .spawn(move || {
            check(&deep_parens, 1, 70, "nested more than 64 levels deep");
            check(&deep_minus, 1, 70, "nested more than 64 levels deep");
            assert_eq!(one(&ok).imm, 1);
        })
        .unwrap()
        .join()
        .unwrap();
}

#[test]
fn semicolon_separates_statements_as_in_llvm() {
    // The selftests' naked inline asm: nothing after a `;` may be dropped.
    assert_eq!(
        bytes("r0 = 1; r1 = 2; exit\n"),
        bytes("r0 = 1\nr1 = 2\nexit\n")
    );
    assert_eq!(bytes("\tr0 = 1 ;\t;exit;\n"), bytes("r0 = 1\nexit\n"));
    assert_eq!(bytes("out: r0 = 0; exit\n").len(), 16);
    // The source map gives both statements the same line.
    let p = assemble("r0 = 0; exit\n", &AsmOptions::default()).expect("assembles");
    assert_eq!(p.source_of(1).map(|l| l.line), Some(1));
    // Columns count from the start of the line, not of the statement.
    check("r0 = 0; r11 = 1\n", 1, 9, "r11");
    check("r0 = 0 exit; exit\n", 1, 8, "exit");
}

#[test]
fn comments_hash_slashes_blocks_and_semicolon_lines() {
    let want = bytes("r0 = 0\nexit\n");
    assert_eq!(
        bytes("; a verifier-log style comment line\n\tr0 = 0\t# why\nexit // done\n"),
        want
    );
    assert_eq!(
        bytes("  ; indented comment line\n/* lead */ r0 = /* mid */ 0\nexit\n"),
        want
    );
    check("r0 = 0 /* never closed\nexit\n", 1, 8, "`/*` with no `*/`");
}

#[test]
fn c_integer_suffixes_are_skipped_as_llvm_mc_does() {
    assert_eq!(
        bytes("r1 = 0xffffffff00000000LL ll\n"),
        bytes("r1 = 0xffffffff00000000 ll\n")
    );
    assert_eq!(
        bytes("r0 = 5ull\nr0 = 7U\nr0 = 16UL\n"),
        bytes("r0 = 5\nr0 = 7\nr0 = 16\n")
    );
    // Not a suffix llvm-mc knows: still a malformed number.
    check("r0 = 5LU\n", 1, 6, "malformed number");
}

#[test]
fn a_64_bit_move_of_0xffffffff_is_sign_extended_as_llvm_mc_encodes_it() {
    // llvm-mc-19: `r1 = 0xffffffff` -> b7 01 00 00 ff ff ff ff (r1 = -1).
    let p = assemble("r1 = 0xffffffff\n", &AsmOptions::default()).expect("encoded");
    assert_eq!(p.to_bytes(), [0xb7, 0x01, 0, 0, 0xff, 0xff, 0xff, 0xff]);
    let w = &p.warnings()[0];
    assert_eq!((w.line, w.column), (1, 6));
    assert!(
        w.message.contains("becomes 0xffffffffffffffff"),
        "{}",
        w.message
    );
    // 32-bit moves and values that fit carry no warning.
    assert!(
        assemble("w1 = 0xffffffff\nr1 = 7\n", &AsmOptions::default())
            .expect("assembles")
            .warnings()
            .is_empty()
    );
}

// ---- the object path (assemble_object): LLVM's file syntax ----

use crate::object::{Binding, Object, RelocType, SymbolType};

fn obj(src: &str) -> Object {
    super::assemble_object(src, &AsmOptions::default()).unwrap_or_else(|e| panic!("{e}"))
}

fn obj_err(src: &str) -> AsmError {
    match super::assemble_object(src, &AsmOptions::default()) {
        Ok(o) => panic!("{src:?} assembled to {o}"),
        Err(e) => e,
    }
}

/// (offset, type, target name) of section `sec`'s relocations; a section
/// symbol is named `[section]`.
fn relocs(o: &Object, sec: &str) -> Vec<(u64, RelocType, String)> {
    let s = o.section(sec).expect("section");
    s.relocations
        .iter()
        .map(|r| {
            let y = &o.symbols[r.symbol];
            let name = if y.kind == SymbolType::Section {
                format!("[{}]", y.name)
            } else {
                y.name.clone()
            };
            (r.offset, r.kind, name)
        })
        .collect()
}

#[test]
fn sections_symbols_and_llvm_mc_relocations() {
    let o = obj(concat!(
        "\t.text\n\t.type helper,@function\nhelper:\n\tr0 = 1\n\texit\n",
        "\t.section xdp,\"ax\",@progbits\n\t.globl prog\n\t.p2align 3\n\t.type prog,@function\nprog:\n",
        "\tcall helper\n\tcall kfunc_x\n\tcall local\n\tr1 = gvar ll\n\tr2 = .L.str+2 ll\n\tr3 = bv ll\n",
        "local:\n\texit\n.Lend:\n\t.size prog, .Lend-prog\n",
        "\t.section .rodata.str1.1,\"aMS\",@progbits,1\n.L.str:\n\t.asciz \"hi\\n\\303\"\n",
        "\t.data\n\t.globl gvar\ngvar:\n\t.long 5, .L.str, .Lend-prog\n\t.quad prog\n\t.long .Lend\n",
        "\t.section .bss,\"aw\",@nobits\nbv:\n\t.zero 4\n",
    ));
    let x = relocs(&o, "xdp");
    assert_eq!(
        x,
        vec![
            (0, RelocType::Call32, "[.text]".into()),
            (8, RelocType::Call32, "kfunc_x".into()),
            (24, RelocType::Ld64, "gvar".into()),
            (40, RelocType::Ld64, "[.rodata.str1.1]".into()),
            (56, RelocType::Ld64, "[.bss]".into()),
        ]
    );
    let xdp = &o.section("xdp").unwrap().data;
    // call helper: imm = helper's offset / 8 - 1 = -1; call local: pc-relative.
    assert_eq!(i32::from_le_bytes(xdp[4..8].try_into().unwrap()), -1);
    assert_eq!(i32::from_le_bytes(xdp[20..24].try_into().unwrap()), 6);
    // r2 = .L.str+2: the addend sits in the first imm.
    assert_eq!(i32::from_le_bytes(xdp[44..48].try_into().unwrap()), 2);
    let d = relocs(&o, ".data");
    assert_eq!(
        d,
        vec![
            (4, RelocType::Abs32, "[.rodata.str1.1]".into()),
            (12, RelocType::Abs64, "prog".into()),
            (20, RelocType::NoDyld32, "[xdp]".into()),
        ]
    );
    let data = &o.section(".data").unwrap().data;
    assert_eq!(
        &data[8..12],
        &80u32.to_le_bytes(),
        ".Lend-prog is a constant"
    );
    assert_eq!(
        &data[20..24],
        &80u32.to_le_bytes(),
        ".Lend's offset is the addend"
    );
    let s = o.section(".rodata.str1.1").unwrap();
    assert_eq!(s.data, b"hi\n\xc3\0");
    assert_eq!((s.entsize, s.sh_flags), (1, 0x32));
    assert!(o.section(".bss").unwrap().is_nobits());
    let prog = &o.symbols[o.symbol_index("prog").unwrap()];
    assert_eq!(
        (prog.kind, prog.binding, prog.size),
        (SymbolType::Func, Binding::Global, 80)
    );
    let helper = &o.symbols[o.symbol_index("helper").unwrap()];
    assert_eq!(
        (helper.kind, helper.binding),
        (SymbolType::Func, Binding::Local)
    );
    assert!(
        o.symbol_index(".L.str").is_none(),
        ".L names stay out of the table"
    );
    assert!(
        o.symbol_index("local").is_some(),
        "other labels are local symbols"
    );
    let names: Vec<String> = o.programs().into_iter().map(|p| p.name).collect();
    assert_eq!(names, ["prog"]);
}

#[test]
fn numeric_labels_and_pasted_listing_lines() {
    let o = obj("\t.text\n1:\tr0 += 1; if r0 < 5 goto 1b; goto 1f\n\tr0 = 9\n1:\texit\n");
    let t = &o.section(".text").unwrap().data;
    // `if r0 < 5 goto 1b` at slot 1 jumps back to slot 0: off -2.
    assert_eq!(i16::from_le_bytes(t[10..12].try_into().unwrap()), -2);
    // `goto 1f` at slot 2 skips one slot.
    assert_eq!(i16::from_le_bytes(t[18..20].try_into().unwrap()), 1);
    // A pasted verifier line defines no label; `0:` before an instruction
    // (llvm-objdump --no-show-raw-insn) is a label that changes nothing.
    let p = bytes("0: (b7) r0 = 1\n1: exit\n");
    assert_eq!(p, bytes("r0 = 1\nexit\n"));
    let e = obj_err("\t.text\ngoto 2b\n");
    assert!(e.message.contains("no `2:` before"), "{e}");
    let e = obj_err("\t.text\ngoto 3f\nexit\n");
    assert!(e.message.contains("numeric label `3:`"), "{e}");
}

#[test]
fn data_directives_and_their_errors() {
    let o = obj(concat!(
        "\t.section .rodata,\"a\",@progbits\n",
        "\t.byte 1, 255, -1\n\t.short 0xeb9f\n\t.long 4294967295\n\t.ascii \"ab\", \"c\"\n",
        "\t.string \"d\"\n\t.space 2, 0x41\n\t.balign 4\n\t.uleb128 300\n\t.sleb128 -2\n\t.p2align 3\n",
    ));
    let r = &o.section(".rodata").unwrap();
    assert_eq!(
        r.data,
        [
            1, 255, 255, 0x9f, 0xeb, 255, 255, 255, 255, b'a', b'b', b'c', b'd', 0, b'A', b'A',
            0xac, 0x02, 0x7e, 0, 0, 0, 0, 0
        ]
    );
    assert_eq!(r.align, 8);
    let e = obj_err("\t.data\n\t.byte 256\n");
    assert_eq!((e.line, e.column), (2, 8), "{e}");
    let e = obj_err("\t.bss\n\t.byte 1\n");
    assert!(e.message.contains("@nobits"), "{e}");
    let e = obj_err("\t.data\n\t.short sym\n");
    assert!(e.message.contains("4 (`.long`) and 8 (`.quad`)"), "{e}");
    let e = obj_err("\t.data\n\t.long a-b\n\t.text\na:\n\t.data\nb:\n");
    assert!(e.message.contains("same section"), "{e}");
    let e = obj_err("\t.section x,\"az\",@progbits\n");
    assert_eq!((e.line, e.column), (1, 15), "{e}");
    let e = obj_err("\t.data\n\tr0 = 1\n");
    assert!(e.message.contains("not executable"), "{e}");
    let e = obj_err("\t.ascii \"\\q\"\n");
    assert!(e.message.contains("unknown escape"), "{e}");
}

#[test]
fn kernel_syntax_files_still_make_one_program_and_more_is_refused() {
    // `.section` after instructions names their section, as before.
    let p = assemble("r0 = 0\n.section xdp\nexit\n", &AsmOptions::default()).unwrap();
    assert_eq!((p.section(), p.insns().len()), ("xdp", 2));
    let e = err(".section xdp\nexit\n.section tc\nexit\n");
    assert!(e.message.contains("assemble_object"), "{e}");
    assert_eq!(e.line, 4, "{e}");
    let e = err(".section .rodata\n.asciz \"x\"\n.section tc\nexit\n");
    assert!(e.message.contains("holds data"), "{e}");
    assert_eq!(e.line, 2, "{e}");
    // The same file as an object: an executable `xdp` with a `.name`d
    // global function and `.license`.
    let o = obj(".section xdp\n.name pass\n.license \"GPL\"\nr0 = 2\nexit\n");
    assert_eq!(o.programs()[0].name, "pass");
    assert_eq!(o.license(), Some("GPL"));
}

#[test]
fn addr_space_cast_assembles_as_llvm_mc_encodes_it() {
    // llvm-mc-19 -mcpu=v4: bf 10 01 00 01 00 00 00, bf 32 01 00 00 00 01 00.
    assert_eq!(
        bytes("r0 = addr_space_cast(r1, 0, 1)\nr2 = addr_space_cast(r3, 1, 0)\n"),
        [0xbf, 0x10, 1, 0, 1, 0, 0, 0, 0xbf, 0x32, 1, 0, 0, 0, 1, 0]
    );
    let text = crate::disasm::disassemble(
        &bytes("r0 = addr_space_cast(r1, 0, 1)\n"),
        &crate::disasm::DisasmOptions::default(),
    )
    .unwrap();
    assert_eq!(text.trim(), "r0 = addr_space_cast(r1, 0, 1)");
    check("w0 = addr_space_cast(r1, 0, 1)", 1, 1, "64-bit register");
    check(
        "r0 = addr_space_cast(r1, 0, 70000)",
        1,
        29,
        "address space 70000",
    );
}

#[test]
fn map_directive_writes_the_maps_entry() {
    let o = obj(".map events, BPF_MAP_TYPE_RINGBUF, max_entries=4096\n.map h, hash, key=4, value=8, max_entries=16\n\t.text\n\tr1 = h ll\n\texit\n");
    let m = o.section(".maps").unwrap();
    assert_eq!((m.size, m.align, m.sh_flags), (16 + 32, 8, 3));
    assert_eq!(o.maps.len(), 2);
    assert_eq!(o.maps[1].offset, 16);
    assert_eq!(o.maps[1].key_size(), Some(4));
    assert_eq!(o.maps[0].map_type(), Some(27));
    let h = &o.symbols[o.symbol_index("h").unwrap()];
    assert_eq!(
        (h.kind, h.binding, h.size, h.value),
        (SymbolType::Object, Binding::Global, 32, 16)
    );
    assert_eq!(relocs(&o, ".text"), vec![(0, RelocType::Ld64, "h".into())]);
    let e = obj_err(".map m, nope, max_entries=1\n");
    assert_eq!((e.line, e.column), (1, 9), "{e}");
    let e = obj_err(".map m, array, colour=1\n");
    assert!(e.message.contains("unknown map field"), "{e}");
}
