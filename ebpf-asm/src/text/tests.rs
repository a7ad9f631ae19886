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
