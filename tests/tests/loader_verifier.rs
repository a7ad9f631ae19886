//! Verifier rejections carry the verifier's own words and the assembly
//! source line of the refused instruction (root).

use loader::{AsmLoad, Error, ProgType, Program};

const NO_BOUNDS_CHECK: &str = "\
; reads the EtherType without proving the packet is long enough
\t.section tc
\t.license \"GPL\"
\tr6 = *(u32 *)(r1 +76)\t\t# skb->data
\tr7 = *(u32 *)(r1 +80)\t\t# skb->data_end (unused: that is the bug)
\tr0 = *(u16 *)(r6 +12)\t\t# h_proto, unchecked
\tr0 = 0
\texit
";

fn load(src: &str, verbose: bool) -> Result<Program, Error> {
    let prog = ebpf_asm::assemble(
        src,
        &ebpf_asm::AsmOptions {
            file_name: "nocheck.s".into(),
            defines: Vec::new(),
        },
    )
    .unwrap_or_else(|e| panic!("{e}"));
    Program::load_asm(
        &prog,
        &AsmLoad {
            prog_type: ProgType::SchedCls,
            file_name: "nocheck.s",
            maps: &[],
            verbose,
        },
    )
}

#[test]
fn unchecked_packet_read_is_refused_with_its_source_line() {
    let e = load(NO_BOUNDS_CHECK, false).unwrap_err();
    let Error::Verifier(v) = &e else {
        panic!("expected a verifier rejection, got: {e}")
    };
    assert!(v.message.contains("invalid access to packet"), "{e}");
    assert_eq!(v.insn, Some(2), "{e}");
    let src = v
        .source
        .as_ref()
        .expect("source line of the refused instruction");
    assert_eq!((src.file.as_str(), src.line), ("nocheck.s", 6), "{e}");
    assert!(src.text.starts_with("r0 = *(u16 *)(r6 +12)"), "{e}");
    let shown = e.to_string();
    assert!(
        shown.contains("at instruction 2: nocheck.s:6: r0 = *(u16 *)(r6 +12)"),
        "{shown}"
    );
    // The log itself is annotated line by line.
    assert!(shown.contains("2: (69) r0 = *(u16 *)(r6 +12)"), "{shown}");
    assert!(shown.contains("; nocheck.s:6:"), "{shown}");
    assert!(
        shown.contains("hint: compare the packet pointer"),
        "{shown}"
    );
    // The same with the verbose (level 2) log.
    let e = load(NO_BOUNDS_CHECK, true).unwrap_err();
    assert!(e.to_string().contains("invalid access to packet"), "{e}");
}

#[test]
fn unknown_helper_is_named_with_its_id() {
    // Helper ids past the kernel's last one: "invalid func unknown#N".
    let e = load("\tcall 100000\n\tr0 = 0\n\texit\n", false).unwrap_err();
    let Error::Verifier(v) = &e else {
        panic!("expected a verifier rejection, got: {e}")
    };
    assert_eq!(v.unknown_helper.as_ref().map(|h| h.0), Some(100000), "{e}");
    assert!(e.to_string().contains("id 100000"), "{e}");
}

#[test]
fn helper_not_allowed_for_the_type_is_named() {
    // bpf_xdp_adjust_head (44) exists, but only for XDP programs.
    let e = load("\tcall bpf_xdp_adjust_head\n\tr0 = 0\n\texit\n", false).unwrap_err();
    let Error::Verifier(v) = &e else {
        panic!("expected a verifier rejection, got: {e}")
    };
    assert_eq!(
        v.unknown_helper,
        Some((44, Some("bpf_xdp_adjust_head".to_string()))),
        "{e}"
    );
    assert!(
        e.to_string()
            .contains("BPF_PROG_TYPE_SCHED_CLS programs may not call it"),
        "{e}"
    );
}

#[test]
fn accepted_program_has_stats_in_verbose_mode() {
    let p = load("\tr0 = 0\n\texit\n", true).unwrap();
    assert!(p
        .verifier_stats()
        .unwrap_or("")
        .starts_with("processed 2 insns"));
    assert!(
        p.verifier_log()
            .unwrap()
            .contains("    ; nocheck.s:1: r0 = 0"),
        "{:?}",
        p.verifier_log()
    );
}
