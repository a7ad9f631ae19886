//! The ring buffer reader against the running kernel (root): a SCHED_CLS
//! program writes records with `bpf_ringbuf_output` and with
//! `bpf_ringbuf_reserve` + `submit`/`discard`, run by `BPF_PROG_TEST_RUN`
//! often enough that the 4096-byte buffer wraps many times.

use std::os::fd::AsFd;
use std::time::{Duration, Instant};

use loader::ringbuf::{record_span, RingBuf};
use loader::{AsmLoad, Error, Map, MapSpec, MapType, ProgType, Program, TestRun};

/// The sequence number arrives in `skb->mark` (set through `ctx_in`).
/// seq % 3 == 0: bpf_ringbuf_output of 16 bytes {seq, MAGIC};
/// seq % 3 == 1: reserve 40 bytes, fill with seq, submit;
/// seq % 3 == 2: reserve 16 bytes, write seq, discard.
/// Returns 1 if a helper failed (a full buffer), else 0.
const WRITER: &str = "\
\t.section tc
\t.license \"GPL\"
\t.equ MAGIC, 0x1122334455667788
\tr6 = *(u32 *)(r1 +8)\t\t# __sk_buff.mark: the sequence number
\tr7 = r6
\tr7 %= 3
\tif r7 == 0 goto output
\tif r7 == 1 goto submit
\tr1 = rb ll
\tr2 = 16
\tr3 = 0
\tcall bpf_ringbuf_reserve
\tif r0 == 0 goto fail
\t*(u64 *)(r0 +0) = r6
\tr1 = r0
\tr2 = 0
\tcall bpf_ringbuf_discard
\tgoto done
output:
\t*(u64 *)(r10 -16) = r6
\tr1 = MAGIC ll
\t*(u64 *)(r10 -8) = r1
\tr1 = rb ll
\tr2 = r10
\tr2 += -16
\tr3 = 16
\tr4 = 0
\tcall bpf_ringbuf_output
\tif r0 != 0 goto fail
\tgoto done
submit:
\tr1 = rb ll
\tr2 = 40
\tr3 = 0
\tcall bpf_ringbuf_reserve
\tif r0 == 0 goto fail
\t*(u64 *)(r0 +0) = r6
\t*(u64 *)(r0 +8) = r6
\t*(u64 *)(r0 +16) = r6
\t*(u64 *)(r0 +24) = r6
\t*(u64 *)(r0 +32) = r6
\tr1 = r0
\tr2 = 0
\tcall bpf_ringbuf_submit
done:
\tr0 = 0
\texit
fail:
\tr0 = 1
\texit
";

const MAGIC: u64 = 0x1122334455667788;
const SIZE: u32 = 4096;

fn writer(rb: &RingBuf) -> Program {
    let prog = ebpf_asm::assemble(
        WRITER,
        &ebpf_asm::AsmOptions {
            file_name: "rbwriter.s".into(),
            defines: Vec::new(),
        },
    )
    .unwrap_or_else(|e| panic!("{e}"));
    Program::load_asm(
        &prog,
        &AsmLoad {
            prog_type: ProgType::SchedCls,
            file_name: "rbwriter.s",
            maps: &[("rb", rb.map().as_fd())],
            verbose: false,
        },
    )
    .unwrap_or_else(|e| panic!("{e}"))
}

/// One run with `skb->mark = seq`.
fn run(p: &Program, seq: u32) {
    let packet = [0u8; 64];
    // struct __sk_buff: mark is at offset 8; the kernel takes the fields
    // it allows (mark among them) and requires the rest to be zero.
    let mut ctx = [0u8; 192];
    ctx[8..12].copy_from_slice(&seq.to_ne_bytes());
    let r = p
        .test_run(&TestRun {
            data_in: &packet,
            ctx_in: &ctx,
            ..Default::default()
        })
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(r.retval, 0, "a ring buffer helper failed at seq {seq}");
}

/// The record seq must produce, or None for a discarded one.
fn expected(seq: u32) -> Option<Vec<u8>> {
    let s = u64::from(seq).to_ne_bytes();
    match seq % 3 {
        0 => Some([s, MAGIC.to_ne_bytes()].concat()),
        1 => Some(s.repeat(5)),
        _ => None,
    }
}

#[test]
fn records_wrap_around_and_none_is_lost_duplicated_or_discarded_in() {
    let mut rb = RingBuf::create("rbtest", SIZE).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(rb.size(), u64::from(SIZE));
    let p = writer(&rb);

    let total = 1500u32;
    let batch = 40; // at most 40 * 48 bytes per batch: fits in 4096
    let mut got: Vec<Vec<u8>> = Vec::new();
    let mut seq = 0;
    while seq < total {
        for _ in 0..batch {
            if seq == total {
                break;
            }
            run(&p, seq);
            seq += 1;
        }
        let n = rb.consume(|r| got.push(r.to_vec())).unwrap();
        assert!(n > 0);
        assert_eq!(rb.pending(), 0);
    }
    let want: Vec<Vec<u8>> = (0..total).filter_map(expected).collect();
    assert_eq!(got.len(), want.len());
    for (i, (g, w)) in got.iter().zip(&want).enumerate() {
        assert_eq!(g, w, "record {i}");
    }

    // The same positions the kernel used: discarded records take space too.
    // Check that the run really wrapped, with records straddling the end
    // (read contiguously through the double mapping).
    let mut pos = 0u64;
    let mut straddles = 0;
    for s in 0..total {
        let span = record_span(if s % 3 == 1 { 40 } else { 16 });
        if pos % u64::from(SIZE) + span > u64::from(SIZE) {
            straddles += 1;
        }
        pos += span;
    }
    assert!(pos > 8 * u64::from(SIZE), "only {pos} bytes written");
    assert!(straddles > 3, "{straddles} records straddled the end");
}

#[test]
fn poll_waits_on_epoll_and_returns_records() {
    let mut rb = RingBuf::create("rbpoll", SIZE).unwrap_or_else(|e| panic!("{e}"));
    let p = writer(&rb);

    let t = Instant::now();
    assert!(rb.poll_vec(Duration::from_millis(100)).unwrap().is_empty());
    assert!(
        t.elapsed() >= Duration::from_millis(90),
        "{:?}",
        t.elapsed()
    );

    run(&p, 3);
    run(&p, 5); // discarded
    run(&p, 7);
    let mut got = Vec::new();
    let t = Instant::now();
    while got.len() < 2 && t.elapsed() < Duration::from_secs(5) {
        got.extend(rb.poll_vec(Duration::from_secs(1)).unwrap());
    }
    assert_eq!(got, vec![expected(3).unwrap(), expected(7).unwrap()]);
    // The first submit to a caught-up reader wakes epoll.
    run(&p, 9);
    assert!(rb.wait(Duration::from_secs(2)).unwrap());
    assert_eq!(rb.consume_vec().unwrap(), vec![expected(9).unwrap()]);
}

#[test]
fn bad_sizes_and_types_are_refused_before_the_kernel() {
    let e = RingBuf::create("rbbad", 5000).unwrap_err();
    assert!(matches!(e, Error::Input(_)), "{e}");
    assert!(e.to_string().contains("try 8192"), "{e}");
    let hash = Map::create(&MapSpec {
        map_type: MapType::Hash,
        key_size: 4,
        value_size: 4,
        max_entries: 4,
        flags: 0,
        name: "notrb",
    })
    .unwrap();
    let e = RingBuf::from_map(hash).unwrap_err();
    assert!(e.to_string().contains("not BPF_MAP_TYPE_RINGBUF"), "{e}");
}
