//! Differential test against clang + libbpf: the C reference
//! `bpf-src/redirect.bpf.c`, built by clang with and without `bpf_printk`
//! (-DTRACE), must give the same return values and output packets when run
//! by this project's loader as when loaded and run by `bpftool prog run`
//! (libbpf) on the same objects; and our hand-written `redirect.s` must
//! agree with both; and, for the lab (issue #5), `redirect.s` must match
//! clang on 40+ varied packets for flags 0 and `BPF_F_INGRESS`, in no more
//! instructions. clang and bpftool are required (CI installs them): if
//! either is missing the test fails and says so.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicU32, Ordering};

use loader::pin::{ensure_bpffs, unpin, BPFFS_ROOT};
use loader::{AsmLoad, ProgType, Program, TestRun};

static COUNTER: AtomicU32 = AtomicU32::new(0);

/// A scratch path (temp file or bpffs pin) removed on drop.
struct Scratch(PathBuf);

impl Scratch {
    fn new(dir: &str, what: &str) -> Scratch {
        let n = COUNTER.fetch_add(1, Ordering::Relaxed);
        Scratch(PathBuf::from(format!(
            "{dir}/loader_diff_{}_{n}_{what}",
            std::process::id()
        )))
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = unpin(&self.0);
    }
}

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn tool(name: &str) -> Command {
    let found = Command::new("sh")
        .arg("-c")
        .arg(format!("command -v {name}"))
        .output()
        .map(|o| o.status.success())
        .unwrap_or(false);
    assert!(
        found,
        "{name} is required for the differential test and is not installed \
         (apt-get install clang bpftool)"
    );
    Command::new(name)
}

fn clang(defines: &[&str]) -> Scratch {
    let out = Scratch::new(&std::env::temp_dir().display().to_string(), "obj.o");
    let st = tool("clang")
        .args(["-O2", "-g", "-target", "bpf"])
        .arg(lab_tests::clang::multiarch_include())
        .args(defines)
        .arg("-c")
        .arg(repo().join("bpf-src/redirect.bpf.c"))
        .arg("-o")
        .arg(&out.0)
        .status()
        .expect("run clang");
    assert!(st.success(), "clang failed for {defines:?}");
    out
}

/// (retval, data_out) from `bpftool prog run`.
fn bpftool_run(pin: &Path, packet: &[u8]) -> (u32, Vec<u8>) {
    let tmp = std::env::temp_dir().display().to_string();
    let din = Scratch::new(&tmp, "in.bin");
    let dout = Scratch::new(&tmp, "out.bin");
    std::fs::write(&din.0, packet).unwrap();
    let out = tool("bpftool")
        .args(["prog", "run", "pinned"])
        .arg(pin)
        .arg("data_in")
        .arg(&din.0)
        .arg("data_out")
        .arg(&dout.0)
        .args(["repeat", "1"])
        .output()
        .expect("run bpftool");
    let text =
        String::from_utf8_lossy(&out.stdout).to_string() + &String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "bpftool prog run failed: {text}");
    // "Return value: 7, duration: 46ns"
    let rv = text
        .split("Return value: ")
        .nth(1)
        .and_then(|r| r.split(|c: char| !c.is_ascii_digit()).next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("no return value in bpftool output: {text}"));
    (rv, std::fs::read(&dout.0).unwrap())
}

/// The packets: the interesting cases plus seeded random IPv4 frames.
fn packets() -> Vec<(String, Vec<u8>)> {
    fn frame(ethertype: u16, daddr: [u8; 4], len: usize) -> Vec<u8> {
        let mut p = vec![0u8; len];
        p[0..6].copy_from_slice(&[0x02, 0, 0, 0, 1, 1]);
        p[6..12].copy_from_slice(&[0x02, 0, 0, 0, 1, 2]);
        p[12..14].copy_from_slice(&ethertype.to_be_bytes());
        if len >= 34 {
            p[14] = 0x45;
            p[22] = 64;
            p[23] = 17;
            p[26..30].copy_from_slice(&[10, 0, 1, 10]);
            p[30..34].copy_from_slice(&daddr);
        }
        p
    }
    let mut v = vec![
        (
            "IPv4 to 10.0.2.11".to_string(),
            frame(0x0800, [10, 0, 2, 11], 64),
        ),
        (
            "IPv4 to 10.0.2.11, 34 bytes".into(),
            frame(0x0800, [10, 0, 2, 11], 34),
        ),
        (
            "IPv4 to 10.0.2.12".into(),
            frame(0x0800, [10, 0, 2, 12], 64),
        ),
        (
            "IPv4 to 192.168.2.11".into(),
            frame(0x0800, [192, 168, 2, 11], 64),
        ),
        ("ARP".into(), frame(0x0806, [10, 0, 2, 11], 42)),
        ("IPv6".into(), frame(0x86dd, [0; 4], 62)),
        ("14-byte frame".into(), frame(0x88b5, [0; 4], 14)),
        ("33-byte frame".into(), frame(0x88b5, [0; 4], 33)),
    ];
    let mut rng = fastrand::Rng::with_seed(9669);
    for i in 0..24 {
        let len = rng.usize(34..200);
        let mut p: Vec<u8> = (0..len).map(|_| rng.u8(..)).collect();
        p[12..14].copy_from_slice(&[0x08, 0x00]);
        if i % 2 == 0 {
            p[30..34].copy_from_slice(&[10, 0, 2, 11]);
        }
        v.push((format!("random IPv4 frame #{i} ({len} bytes)"), p));
    }
    v
}

/// Loads an assembly of bpf-src/redirect.s as a TC (`sched_cls`) program.
fn load_redirect_s(asm: &ebpf_asm::Program) -> Program {
    Program::load_asm(
        asm,
        &AsmLoad {
            prog_type: ProgType::SchedCls,
            file_name: "bpf-src/redirect.s",
            maps: &[],
            verbose: false,
        },
    )
    .unwrap_or_else(|e| panic!("{e}"))
}

fn ours(p: &Program, packet: &[u8]) -> (u32, Vec<u8>) {
    let r = p
        .test_run(&TestRun {
            data_in: packet,
            ..Default::default()
        })
        .expect("our test run");
    (r.retval, r.data_out)
}

#[test]
fn our_loader_matches_bpftool_and_our_assembly_matches_clang() {
    ensure_bpffs().unwrap();
    let src_path = repo().join("bpf-src/redirect.s");
    let text = std::fs::read_to_string(&src_path).unwrap();
    let asm = loader::file::assemble(&src_path, &text, &[]).unwrap_or_else(|e| panic!("{e}"));
    let ours_s = load_redirect_s(&asm);

    for (variant, defines) in [("plain", &[][..]), ("bpf_printk", &["-DTRACE"][..])] {
        let obj = clang(defines);
        let bytes = std::fs::read(&obj.0).unwrap();
        let loaded = loader::load::load_elf(&bytes, &Default::default())
            .unwrap_or_else(|e| panic!("{variant}: {e}"));
        if variant == "bpf_printk" {
            assert_eq!(
                loaded.maps.len(),
                1,
                "the printk variant keeps its strings in .rodata"
            );
        }

        let pin = Scratch::new(BPFFS_ROOT, variant);
        let st = tool("bpftool")
            .args(["prog", "load"])
            .arg(&obj.0)
            .arg(&pin.0)
            .status()
            .expect("run bpftool");
        assert!(st.success(), "bpftool prog load failed for {variant}");

        let mut redirected = 0;
        for (what, pkt) in packets() {
            let theirs = bpftool_run(&pin.0, &pkt);
            let mine = ours(&loaded.programs[0].program, &pkt);
            assert_eq!(mine, theirs, "{variant}, {what}: our loader vs bpftool");
            let asm_result = ours(&ours_s, &pkt);
            assert_eq!(
                asm_result, theirs,
                "{variant}, {what}: redirect.s vs clang's object"
            );
            if theirs.0 == 7 {
                redirected += 1;
            }
        }
        assert!(
            redirected >= 10,
            "{variant}: the packet set must exercise the redirect path"
        );
    }
}

/// A varied packet set for the lab's own comparison (issue #5): the kinds a
/// veth really carries, and the malformed and random ones it might. Each
/// entry is built from the ground up so a reader sees what makes it special.
fn varied_packets() -> Vec<(String, Vec<u8>)> {
    const DST: [u8; 6] = [0x8a, 0x2a, 0x27, 0x45, 0x81, 0x9e];
    const SRC: [u8; 6] = [0x32, 0xa0, 0x8d, 0xb6, 0xfb, 0x52];
    let eth = |ethertype: u16| -> Vec<u8> {
        let mut p = Vec::with_capacity(128);
        p.extend_from_slice(&DST);
        p.extend_from_slice(&SRC);
        p.extend_from_slice(&ethertype.to_be_bytes());
        p
    };
    // An IPv4 header (with `options` after the fixed 20 bytes) and a UDP
    // payload; checksums are left zero, which the program never reads.
    let ipv4 = |daddr: [u8; 4], options: &[u8], payload: usize| -> Vec<u8> {
        let ihl = 5 + options.len() / 4;
        let total = 4 * ihl + 8 + payload;
        let mut h = vec![(0x40 | ihl) as u8, 0];
        h.extend_from_slice(&(total as u16).to_be_bytes());
        h.extend_from_slice(&[0, 1, 0x40, 0, 64, 17, 0, 0, 10, 0, 1, 10]);
        h.extend_from_slice(&daddr);
        h.extend_from_slice(options);
        h.extend_from_slice(&[0x9c, 0x40, 0x1e, 0x61]); // UDP 40000 -> 7777
        h.extend_from_slice(&((8 + payload) as u16).to_be_bytes());
        h.extend_from_slice(&[0, 0]);
        h.resize(h.len() + payload, b'x');
        h
    };
    let mut v: Vec<(String, Vec<u8>)> = Vec::new();
    let mut add = |what: String, p: Vec<u8>| v.push((what, p));
    for payload in [0, 5, 18, 64, 1400] {
        add(
            format!("IPv4 UDP to 10.0.2.11, {payload}-byte payload"),
            [eth(0x0800), ipv4([10, 0, 2, 11], &[], payload)].concat(),
        );
    }
    for daddr in [
        [10, 0, 2, 10],
        [10, 0, 2, 12],
        [10, 0, 1, 11],
        [11, 0, 2, 10],
        [11, 2, 0, 10],
        [10, 0, 2, 200],
        [255, 255, 255, 255],
        [224, 0, 0, 251],
    ] {
        add(
            format!("IPv4 UDP to {daddr:?}"),
            [eth(0x0800), ipv4(daddr, &[], 18)].concat(),
        );
    }
    // IP options: the program reads daddr at its fixed offset, whatever the IHL.
    for options in [&[1u8, 1, 1, 1][..], &[0x94, 4, 0, 0][..], &[1; 40][..]] {
        add(
            format!(
                "IPv4 to 10.0.2.11 with {} bytes of IP options",
                options.len()
            ),
            [eth(0x0800), ipv4([10, 0, 2, 11], options, 18)].concat(),
        );
    }
    // VLAN tags put the IPv4 ethertype 4 bytes later: not the program's case.
    for (tpid, name) in [(0x8100u16, "802.1Q"), (0x88a8, "802.1ad")] {
        let mut p = eth(tpid);
        p.extend_from_slice(&[0x00, 0x2a, 0x08, 0x00]);
        p.extend(ipv4([10, 0, 2, 11], &[], 18));
        add(format!("{name} VLAN-tagged IPv4 to 10.0.2.11"), p);
    }
    // ARP who-has 10.0.2.11 and its reply.
    for op in [1u8, 2] {
        let mut p = eth(0x0806);
        p.extend_from_slice(&[0, 1, 8, 0, 6, 4, 0, op]);
        p.extend_from_slice(&SRC);
        p.extend_from_slice(&[10, 0, 1, 10]);
        p.extend_from_slice(&[0; 6]);
        p.extend_from_slice(&[10, 0, 2, 11]);
        add(format!("ARP op {op} for 10.0.2.11"), p);
    }
    // IPv6 to ::ffff:10.0.2.11, whose last 4 address bytes sit where an IPv4
    // daddr would not: no confusion either way.
    let mut p = eth(0x86dd);
    p.extend_from_slice(&[0x60, 0, 0, 0, 0, 8, 17, 64]);
    p.extend_from_slice(&[0; 16]);
    p.extend_from_slice(&[0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 10, 0, 2, 11]);
    p.extend_from_slice(&[0x9c, 0x40, 0x1e, 0x61, 0, 8, 0, 0]);
    add("IPv6 UDP to ::ffff:10.0.2.11".into(), p);
    // Short frames: a bare Ethernet header, and IPv4 frames cut before daddr
    // (the kernel may refuse these; both programs must then see the same).
    add("bare 14-byte Ethernet header".into(), eth(0x88b5));
    for len in [20, 30, 33] {
        let mut p = [eth(0x0800), ipv4([10, 0, 2, 11], &[], 18)].concat();
        p.truncate(len);
        add(format!("IPv4 to 10.0.2.11 cut to {len} bytes"), p);
    }
    let mut rng = fastrand::Rng::with_seed(5_2024);
    for i in 0..20 {
        let len = rng.usize(14..300);
        let mut p: Vec<u8> = (0..len).map(|_| rng.u8(..)).collect();
        if i % 2 == 0 && len >= 34 {
            p[12..14].copy_from_slice(&[0x08, 0x00]);
            p[30..34].copy_from_slice(&[10, 0, 2, 11]);
        }
        add(format!("random frame #{i} ({len} bytes)"), p);
    }
    v
}

/// (retval, data_out), or the errno of a refused test run.
fn try_run(p: &Program, packet: &[u8]) -> Result<(u32, Vec<u8>), Option<i32>> {
    p.test_run(&TestRun {
        data_in: packet,
        ..Default::default()
    })
    .map(|r| (r.retval, r.data_out))
    .map_err(|e| e.errno())
}

/// Issue #5: for flags 0 and `BPF_F_INGRESS`, our hand-written `redirect.s`
/// gives the same verdict and output packet as clang -O2's build of the C
/// reference on 40+ varied packets, in no more instructions.
#[test]
fn redirect_s_matches_clang_for_both_flags_on_varied_packets() {
    let packets = varied_packets();
    assert!(packets.len() >= 40, "only {} packets", packets.len());
    let src_path = repo().join("bpf-src/redirect.s");
    let text = std::fs::read_to_string(&src_path).unwrap();
    for flags in [0, loader::retval::BPF_F_INGRESS] {
        let obj = clang(&[&format!("-DREDIRECT_FLAGS={flags}")]);
        let bytes = std::fs::read(&obj.0).unwrap();
        let theirs = loader::load::load_elf(&bytes, &Default::default())
            .unwrap_or_else(|e| panic!("clang's object, flags {flags}: {e}"));
        let object = ebpf_asm::object::Object::from_elf(&bytes).unwrap();
        let code = &object.section("tc").expect("tc section").data;
        let defines = [("REDIRECT_FLAGS".to_string(), flags as i64)];
        let asm =
            loader::file::assemble(&src_path, &text, &defines).unwrap_or_else(|e| panic!("{e}"));
        assert!(
            asm.insns().len() <= code.len() / 8,
            "redirect.s has {} instructions, clang -O2 {}",
            asm.insns().len(),
            code.len() / 8
        );
        let ours = load_redirect_s(&asm);

        let (mut redirected, mut passed, mut refused) = (0, 0, 0);
        for (what, pkt) in &packets {
            let mine = try_run(&ours, pkt);
            let clangs = try_run(&theirs.programs[0].program, pkt);
            assert_eq!(mine, clangs, "flags {flags}, {what}: redirect.s vs clang");
            match mine {
                Ok((7, _)) => redirected += 1,
                Ok((0, ref out)) => {
                    assert_eq!(out, pkt, "flags {flags}, {what}: passed but changed");
                    passed += 1
                }
                Ok((rv, _)) => panic!("flags {flags}, {what}: unexpected verdict {rv}"),
                Err(_) => refused += 1,
            }
        }
        // The set must exercise every path, or agreement proves little.
        assert!(
            redirected >= 8 && passed >= 20 && refused >= 1,
            "flags {flags}: {redirected} redirected, {passed} passed, {refused} refused"
        );
    }
}
