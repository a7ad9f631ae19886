//! Loading hand-encoded instructions against the running kernel (root).

use loader::{Error, LoadOptions, ProgType, Program, TestRun};

/// `struct bpf_insn` encoding, by hand (include/uapi/linux/bpf.h).
fn insn(code: u8, dst: u8, src: u8, off: i16, imm: i32) -> [u8; 8] {
    let mut b = [0u8; 8];
    b[0] = code;
    b[1] = (src << 4) | (dst & 0xf);
    b[2..4].copy_from_slice(&off.to_le_bytes());
    b[4..8].copy_from_slice(&imm.to_le_bytes());
    b
}

fn prog(insns: &[[u8; 8]]) -> Vec<u8> {
    insns.concat()
}

const MOV64_IMM: u8 = 0xb7; // BPF_ALU64 | BPF_MOV | BPF_K
const EXIT: u8 = 0x95; // BPF_JMP | BPF_EXIT
const LDXW: u8 = 0x61; // BPF_LDX | BPF_MEM | BPF_W
const LDXB: u8 = 0x71; // BPF_LDX | BPF_MEM | BPF_B

#[test]
fn loads_and_runs_a_sched_cls_program() {
    let bytes = prog(&[insn(MOV64_IMM, 0, 0, 0, 7), insn(EXIT, 0, 0, 0, 0)]);
    let p = Program::load(ProgType::SchedCls, &bytes, "GPL", "ret7").expect("load");
    let info = p.info().expect("info");
    assert_eq!(info.name, "ret7");
    assert_eq!(info.prog_type, ProgType::SchedCls.raw());
    assert_eq!(info.xlated_len, 16);
    assert!(info.id > 0);
    let packet = [0xaau8; 60];
    let r = p
        .test_run(&TestRun {
            data_in: &packet,
            repeat: 3,
            ..Default::default()
        })
        .expect("test run");
    assert_eq!(r.retval, 7);
    assert_eq!(r.data_out, packet);
    assert!(Program::ids().unwrap().contains(&info.id));
    let again = Program::from_id(info.id).unwrap();
    assert_eq!(again.info().unwrap().tag, info.tag);
}

#[test]
fn rejection_carries_the_verifier_log() {
    // r2 = skb->data; r0 = *(u8 *)(r2 + 12) without a bounds check.
    let bytes = prog(&[
        insn(LDXW, 2, 1, 76, 0),
        insn(LDXB, 0, 2, 12, 0),
        insn(EXIT, 0, 0, 0, 0),
    ]);
    let e = Program::load(ProgType::SchedCls, &bytes, "GPL", "nocheck").unwrap_err();
    let Error::Verifier(v) = &e else {
        panic!("expected a verifier error, got {e}")
    };
    assert!(v.message.contains("invalid access to packet"), "{e}");
    assert_eq!(v.insn, Some(1), "{e}");
    assert!(v.log.contains("1: (71) r0 = *(u8 *)(r2 +12)"), "{}", v.log);
    assert!(e.to_string().contains("EACCES"), "{e}");
}

#[test]
fn verbose_load_keeps_the_level2_log_and_stats() {
    let bytes = prog(&[insn(MOV64_IMM, 0, 0, 0, 0), insn(EXIT, 0, 0, 0, 0)]);
    let mut opts = LoadOptions::new(ProgType::SchedCls, "verbose");
    opts.verbose = true;
    let p = Program::load_with(&bytes, &opts).expect("load");
    let log = p.verifier_log().expect("log");
    assert!(log.contains("0: (b7) r0 = 0"), "{log}");
    assert!(
        p.verifier_stats()
            .unwrap_or("")
            .starts_with("processed 2 insns"),
        "{log}"
    );
}

#[test]
fn too_short_test_data_is_a_clear_error() {
    let bytes = prog(&[insn(MOV64_IMM, 0, 0, 0, 0), insn(EXIT, 0, 0, 0, 0)]);
    let p = Program::load(ProgType::SchedCls, &bytes, "GPL", "short").unwrap();
    let e = p
        .test_run(&TestRun {
            data_in: &[0u8; 10],
            ..Default::default()
        })
        .unwrap_err();
    let s = e.to_string();
    assert!(s.starts_with("BPF_PROG_TEST_RUN failed: EINVAL"), "{s}");
    assert!(s.contains("at least 14 bytes"), "{s}");
}

#[test]
fn huge_logs_grow_the_buffer_and_keep_the_error() {
    // 6000 straight-line instructions, each printed by the level-1 log (well
    // over the first 64 KiB buffer), then an unchecked packet read.
    let mut insns = vec![insn(LDXW, 2, 1, 76, 0)];
    for i in 0..6000 {
        insns.push(insn(MOV64_IMM, 3, 0, 0, i));
    }
    insns.push(insn(LDXB, 0, 2, 0, 0));
    insns.push(insn(EXIT, 0, 0, 0, 0));
    let e = Program::load(ProgType::SchedCls, &prog(&insns), "GPL", "huge_log").unwrap_err();
    let Error::Verifier(v) = &e else {
        panic!("expected a verifier error, got {e}")
    };
    assert!(v.log.len() > 64 << 10, "log is {} bytes", v.log.len());
    assert!(!v.log_truncated);
    assert_eq!(v.insn, Some(6001), "{}", v.message);
    assert!(
        v.message.contains("invalid access to packet"),
        "{}",
        v.message
    );
    assert!(
        v.log.contains("\n0: (61) r2 = *(u32 *)(r1 +76)"),
        "the log starts at the beginning"
    );
}

#[test]
fn test_run_passes_the_context_in_and_out() {
    // r0 = skb->mark (struct __sk_buff offset 8); exit
    let bytes = prog(&[insn(LDXW, 0, 1, 8, 0), insn(EXIT, 0, 0, 0, 0)]);
    let p = Program::load(ProgType::SchedCls, &bytes, "GPL", "ctx_mark").unwrap();
    // struct __sk_buff up to and including `mark` (len, pkt_type, mark).
    let mut ctx = vec![0u8; 12];
    ctx[8..12].copy_from_slice(&0x1234_5678u32.to_ne_bytes());
    // ctx_out must hold the kernel's whole struct __sk_buff.
    let e = p
        .test_run(&TestRun {
            data_in: &[0u8; 64],
            ctx_in: &ctx,
            ctx_out_size: 12,
            ..Default::default()
        })
        .unwrap_err();
    assert_eq!(e.errno(), Some(libc::ENOSPC), "{e}");
    assert!(
        e.to_string()
            .contains("larger than the 12-byte ctx_out buffer"),
        "{e}"
    );
    let r = p
        .test_run(&TestRun {
            data_in: &[0u8; 64],
            ctx_in: &ctx,
            ctx_out_size: 1024,
            ..Default::default()
        })
        .unwrap();
    assert_eq!(r.retval, 0x1234_5678);
    assert!(
        r.ctx_out.len() >= 12 && r.ctx_out.len() < 1024,
        "{}",
        r.ctx_out.len()
    );
    assert_eq!(&r.ctx_out[8..12], &0x1234_5678u32.to_ne_bytes());
    // A field the kernel does not let user space set is refused.
    let mut bad = vec![0u8; 12];
    bad[4] = 1; // pkt_type
    let e = p
        .test_run(&TestRun {
            data_in: &[0u8; 64],
            ctx_in: &bad,
            ..Default::default()
        })
        .unwrap_err();
    assert_eq!(e.errno(), Some(libc::EINVAL), "{e}");
}

#[test]
fn gpl_only_helpers_need_a_gpl_license() {
    // bpf_trace_printk (6) is GPL-only: a non-GPL license is refused, and
    // the verifier's message says so.
    let bytes = prog(&[
        insn(MOV64_IMM, 1, 0, 0, 0),
        insn(MOV64_IMM, 2, 0, 0, 0),
        insn(0x85, 0, 0, 0, 6),
        insn(MOV64_IMM, 0, 0, 0, 0),
        insn(EXIT, 0, 0, 0, 0),
    ]);
    let e = Program::load(ProgType::SchedCls, &bytes, "Proprietary", "nongpl").unwrap_err();
    assert!(e.to_string().contains("GPL"), "{e}");
}
