//! `bpf-src/redirect.s`, assembled by ebpf-asm and loaded by the loader, run
//! with `BPF_PROG_TEST_RUN` on hand-built frames (root).
//!
//! The redirect logic: an IPv4 frame to DEST_IP (10.0.2.11) gets its
//! destination MAC rewritten to DEST_MAC and TC_ACT_REDIRECT (7); everything
//! else passes untouched with TC_ACT_OK (0).

use std::path::{Path, PathBuf};

use loader::{AsmLoad, ProgType, Program, TestRun};

const TC_ACT_OK: u32 = loader::retval::TC_ACT_OK as u32;
const TC_ACT_REDIRECT: u32 = loader::retval::TC_ACT_REDIRECT as u32;

fn source_path() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../bpf-src/redirect.s")
}

fn load(defines: &[(&str, i64)]) -> Program {
    let path = source_path();
    let text = std::fs::read_to_string(&path).expect("read bpf-src/redirect.s");
    let defines: Vec<(String, i64)> = defines.iter().map(|(n, v)| (n.to_string(), *v)).collect();
    let prog = loader::file::assemble(&path, &text, &defines).unwrap_or_else(|e| panic!("{e}"));
    Program::load_asm(
        &prog,
        &AsmLoad {
            prog_type: ProgType::SchedCls,
            file_name: "bpf-src/redirect.s",
            maps: &[],
            verbose: false,
        },
    )
    .unwrap_or_else(|e| panic!("{e}"))
}

const SRC_MAC: [u8; 6] = [0x02, 0x00, 0x00, 0x00, 0x01, 0x02];
const DST_MAC: [u8; 6] = [0x02, 0x00, 0x00, 0x00, 0x01, 0x01];

fn ether(ethertype: u16, payload: &[u8]) -> Vec<u8> {
    let mut f = Vec::new();
    f.extend_from_slice(&DST_MAC);
    f.extend_from_slice(&SRC_MAC);
    f.extend_from_slice(&ethertype.to_be_bytes());
    f.extend_from_slice(payload);
    f
}

/// A UDP/IPv4 frame from 10.0.1.10 to `dst`.
fn ipv4_udp(dst: [u8; 4]) -> Vec<u8> {
    let payload = b"hello";
    let total = 20 + 8 + payload.len();
    let mut ip = vec![0u8; 20];
    ip[0] = 0x45;
    ip[2..4].copy_from_slice(&(total as u16).to_be_bytes());
    ip[8] = 64;
    ip[9] = 17;
    ip[12..16].copy_from_slice(&[10, 0, 1, 10]);
    ip[16..20].copy_from_slice(&dst);
    let mut sum: u32 = ip
        .chunks(2)
        .map(|c| u32::from(u16::from_be_bytes([c[0], c[1]])))
        .sum();
    while sum > 0xffff {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    ip[10..12].copy_from_slice(&(!(sum as u16)).to_be_bytes());
    let mut udp = vec![0u8; 8];
    udp[0..2].copy_from_slice(&40000u16.to_be_bytes());
    udp[2..4].copy_from_slice(&9000u16.to_be_bytes());
    udp[4..6].copy_from_slice(&((8 + payload.len()) as u16).to_be_bytes());
    ip.extend_from_slice(&udp);
    ip.extend_from_slice(payload);
    ether(0x0800, &ip)
}

fn arp_request() -> Vec<u8> {
    let mut a = vec![0u8; 28];
    a[0..2].copy_from_slice(&1u16.to_be_bytes()); // Ethernet
    a[2..4].copy_from_slice(&0x0800u16.to_be_bytes());
    a[4] = 6;
    a[5] = 4;
    a[6..8].copy_from_slice(&1u16.to_be_bytes()); // request
    a[8..14].copy_from_slice(&SRC_MAC);
    a[14..18].copy_from_slice(&[10, 0, 1, 10]);
    a[24..28].copy_from_slice(&[10, 0, 2, 11]); // who-has our destination
    ether(0x0806, &a)
}

fn ipv6_udp() -> Vec<u8> {
    let mut ip = vec![0u8; 40 + 8];
    ip[0] = 0x60;
    ip[4..6].copy_from_slice(&8u16.to_be_bytes());
    ip[6] = 17;
    ip[7] = 64;
    ip[8] = 0xfd;
    ip[23] = 1;
    ip[24] = 0xfd;
    ip[39] = 2;
    ether(0x86dd, &ip)
}

fn run(p: &Program, data: &[u8]) -> loader::Result<loader::TestRunResult> {
    p.test_run(&TestRun {
        data_in: data,
        ..Default::default()
    })
}

#[test]
fn ipv4_to_dest_ip_is_redirected_with_the_mac_rewritten() {
    let p = load(&[]);
    let pkt = ipv4_udp([10, 0, 2, 11]);
    let r = run(&p, &pkt).expect("test run");
    assert_eq!(r.retval, TC_ACT_REDIRECT);
    assert_eq!(
        &r.data_out[0..6],
        &[0x02, 0, 0, 0, 0, 0],
        "destination MAC = DEST_MAC default"
    );
    assert_eq!(
        &r.data_out[6..],
        &pkt[6..],
        "nothing but the destination MAC changes"
    );
}

#[test]
fn defines_override_destination_and_mac() {
    let p = load(&[("DEST_IP", 0x0a00020c), ("DEST_MAC", 0xaabbccddeeff)]);
    let r = run(&p, &ipv4_udp([10, 0, 2, 12])).unwrap();
    assert_eq!(r.retval, TC_ACT_REDIRECT);
    assert_eq!(&r.data_out[0..6], &[0xaa, 0xbb, 0xcc, 0xdd, 0xee, 0xff]);
    let pkt = ipv4_udp([10, 0, 2, 11]);
    let r = run(&p, &pkt).unwrap();
    assert_eq!((r.retval, r.data_out), (TC_ACT_OK, pkt));
}

#[test]
fn everything_else_passes_unchanged() {
    let p = load(&[]);
    let mut cases = vec![
        ("ARP", arp_request()),
        ("IPv6", ipv6_udp()),
        ("other IPv4 destination", ipv4_udp([10, 0, 2, 12])),
        ("address with the top bit set", ipv4_udp([192, 168, 2, 11])),
        ("byte-swapped destination", ipv4_udp([11, 2, 0, 10])),
        // Short frames the kernel accepts: Ethernet header and a little more,
        // not IPv4, so the program's 34-byte bounds check fails and it passes.
        ("short ARP-typed frame (20 bytes)", ether(0x0806, &[0u8; 6])),
        (
            "short unknown-type frame (33 bytes)",
            ether(0x88b5, &[0u8; 19]),
        ),
        ("bare Ethernet header (14 bytes)", ether(0x88b5, &[])),
    ];
    // An IPv4 frame one byte short of the program's bounds: refused by
    // recent kernels before the program runs (see the next test), passed by
    // older ones.
    let short_ip = ipv4_udp([10, 0, 2, 11])[..33].to_vec();
    if run(&p, &short_ip).is_ok() {
        cases.push(("IPv4 frame of 33 bytes", short_ip));
    }
    for (what, pkt) in cases {
        let r = run(&p, &pkt).unwrap_or_else(|e| panic!("{what}: {e}"));
        assert_eq!(r.retval, TC_ACT_OK, "{what}");
        assert_eq!(r.data_out, pkt, "{what}: packet must be unchanged");
    }
}

#[test]
fn too_short_data_is_a_clear_error() {
    let p = load(&[]);
    for len in [0usize, 1, 13] {
        let e = run(&p, &ipv4_udp([10, 0, 2, 11])[..len]).unwrap_err();
        let s = e.to_string();
        assert_eq!(e.errno(), Some(libc::EINVAL), "{len} bytes: {s}");
        assert!(
            s.starts_with("BPF_PROG_TEST_RUN failed: EINVAL (Invalid argument): "),
            "{s}"
        );
        assert!(
            s.contains(&format!("({len} bytes of data)")) && s.contains("at least 14 bytes"),
            "{s}"
        );
    }
    // On the host's 6.18 an IPv4 frame must hold the whole 20-byte IPv4
    // header (34 bytes with Ethernet).
    if loader::error::kernel_version().is_some_and(|v| v >= (6, 18)) {
        for len in [14usize, 20, 33] {
            let e = run(&p, &ipv4_udp([10, 0, 2, 11])[..len]).unwrap_err();
            assert_eq!(e.errno(), Some(libc::EINVAL), "{len} bytes: {e}");
            assert!(e.to_string().contains("full IPv4 header (34 bytes)"), "{e}");
        }
        let r = run(&p, &ipv4_udp([10, 0, 2, 11])[..34]).unwrap();
        assert_eq!(r.retval, TC_ACT_REDIRECT);
    }
}

#[test]
fn repeat_reports_a_duration() {
    let p = load(&[]);
    let r = p
        .test_run(&TestRun {
            data_in: &ipv4_udp([10, 0, 2, 11]),
            repeat: 1000,
            ..Default::default()
        })
        .unwrap();
    assert_eq!(r.retval, TC_ACT_REDIRECT);
    assert!(
        r.duration_ns > 0,
        "the kernel measures a mean over 1000 runs"
    );
}
