//! Differential test against clang + libbpf: the C reference
//! `bpf-src/redirect.bpf.c`, built by clang with and without `bpf_printk`
//! (-DTRACE), must give the same return values and output packets when run
//! by this project's loader as when loaded and run by `bpftool prog run`
//! (libbpf) on the same objects; and our hand-written `redirect.s` must
//! agree with both. clang and bpftool are required (CI installs them): if
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
    let multiarch = Command::new("gcc")
        .arg("-print-multiarch")
        .output()
        .ok()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| "x86_64-linux-gnu".into());
    let st = tool("clang")
        .args(["-O2", "-g", "-target", "bpf"])
        .arg(format!("-I/usr/include/{multiarch}"))
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
    let ours_s = Program::load_asm(
        &asm,
        &AsmLoad {
            prog_type: ProgType::SchedCls,
            file_name: "bpf-src/redirect.s",
            maps: &[],
            verbose: false,
        },
    )
    .unwrap_or_else(|e| panic!("{e}"));

    for (variant, defines) in [("plain", &[][..]), ("bpf_printk", &["-DTRACE"][..])] {
        let obj = clang(defines);
        let bytes = std::fs::read(&obj.0).unwrap();
        let loaded = loader::elf::load(&bytes, None, None, false)
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
            let mine = ours(&loaded.program, &pkt);
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
