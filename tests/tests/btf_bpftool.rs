//! The BTF we write for hand-written `.s`, judged by libbpf and the kernel:
//! `bpftool` (libbpf) reads our `.BTF`/`.BTF.ext`, loads them with
//! `BPF_BTF_LOAD` and passes func_info/line_info to `BPF_PROG_LOAD`. Then:
//!
//! - `bpftool btf dump file redirect.o` lists `FUNC 'redirect'`;
//! - `bpftool prog dump xlated ... linum` quotes the lines of
//!   `bpf-src/redirect.s`, with their file name and line numbers;
//! - the kernel's own verifier log of a rejected program shows the
//!   offending `.s` line (`; TEXT @ FILE:LINE`).
//!
//! Needs root, bpffs and bpftool (CI has them); without them it says so and
//! passes. Pins live under a per-process name and are removed on drop.

use ebpf_asm::{assemble, AsmOptions};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn bpftool(args: &[&str]) -> Output {
    Command::new("bpftool")
        .args(args)
        .output()
        .expect("bpftool runs (apt-get install bpftool)")
}

fn usable() -> bool {
    let ok = Command::new("bpftool").arg("version").output().is_ok()
        && is_root()
        && Path::new("/sys/fs/bpf").is_dir();
    if !ok {
        eprintln!("needs root, bpftool and /sys/fs/bpf: skipped");
    }
    ok
}

fn is_root() -> bool {
    std::fs::read_to_string("/proc/self/status")
        .map(|s| {
            s.lines()
                .any(|l| l.starts_with("Uid:") && l.split_whitespace().nth(1) == Some("0"))
        })
        .unwrap_or(false)
}

/// A temporary object file and bpffs pin, both removed on drop.
struct Scratch {
    obj: PathBuf,
    pin: PathBuf,
}

impl Scratch {
    fn new(tag: &str) -> Scratch {
        let id = format!("btf-test-{}-{tag}", std::process::id());
        Scratch {
            obj: std::env::temp_dir().join(format!("{id}.o")),
            pin: PathBuf::from("/sys/fs/bpf").join(id),
        }
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.obj);
        let _ = std::fs::remove_file(&self.pin);
    }
}

fn write_object(src: &str, file_name: &str, obj: &Path) {
    let opts = AsmOptions {
        file_name: file_name.into(),
        ..AsmOptions::default()
    };
    let prog = assemble(src, &opts).unwrap_or_else(|e| panic!("{e}"));
    std::fs::write(obj, ebpf_asm::elf::write_object(&prog).expect("ELF")).expect("write");
}

#[test]
fn redirect_o_btf_lists_the_function_and_xlated_quotes_the_s_lines() {
    if !usable() {
        return;
    }
    let s = Scratch::new("redirect");
    let src = std::fs::read_to_string(repo().join("bpf-src/redirect.s")).unwrap();
    write_object(&src, "bpf-src/redirect.s", &s.obj);

    let dump = bpftool(&["btf", "dump", "file", s.obj.to_str().unwrap()]);
    let text = String::from_utf8_lossy(&dump.stdout);
    assert!(dump.status.success(), "bpftool btf dump: {text}");
    assert!(text.contains("FUNC 'redirect' type_id="), "{text}");
    assert!(text.contains("'ctx' type_id="), "{text}");
    assert!(text.contains("STRUCT '__sk_buff' size=192"), "{text}");

    let load = bpftool(&[
        "-d",
        "prog",
        "load",
        s.obj.to_str().unwrap(),
        s.pin.to_str().unwrap(),
        "type",
        "tc",
    ]);
    let log = String::from_utf8_lossy(&load.stderr);
    assert!(load.status.success(), "bpftool prog load: {log}");
    // The context typed struct __sk_buff *: no UNKNOWN in the verifier log.
    assert!(log.contains("func#0 @0"), "no verifier log: {log}");
    assert!(!log.contains("UNKNOWN"), "{log}");
    let show = bpftool(&["prog", "show", "pinned", s.pin.to_str().unwrap()]);
    assert!(
        String::from_utf8_lossy(&show.stdout).contains("btf_id"),
        "prog show has no btf_id"
    );
    let x = bpftool(&[
        "prog",
        "dump",
        "xlated",
        "pinned",
        s.pin.to_str().unwrap(),
        "linum",
    ]);
    let xl = String::from_utf8_lossy(&x.stdout);
    assert!(x.status.success(), "dump xlated: {xl}");
    assert!(
        xl.starts_with("int redirect(struct __sk_buff * ctx):"),
        "{xl}"
    );
    // Every `; TEXT [file:F line_num:N line_col:C]` line quotes line N of
    // redirect.s, and there is one per source instruction the kernel kept.
    let lines: Vec<&str> = src.lines().collect();
    let mut quoted = 0;
    for l in xl.lines().filter(|l| l.starts_with("; ")) {
        let (text, rest) = l[2..]
            .rsplit_once(" [file:")
            .unwrap_or_else(|| panic!("no [file: in {l}"));
        let rest = rest.strip_prefix("bpf-src/redirect.s line_num:").expect(l);
        let n: usize = rest.split_whitespace().next().unwrap().parse().unwrap();
        assert_eq!(text, lines[n - 1].trim(), "line {n}");
        quoted += 1;
    }
    assert!(quoted >= 5, "only {quoted} source lines in:\n{xl}");
}

#[test]
fn verifier_log_of_a_rejected_program_shows_the_s_line() {
    if !usable() {
        return;
    }
    let s = Scratch::new("bad");
    // Line 4 reads past the end of struct __sk_buff: the verifier refuses it.
    let src = ".section tc\nr0 = 0\n\n    r0 = *(u32 *)(r1 + 1000)\nexit\n";
    write_object(src, "bad.s", &s.obj);
    let load = bpftool(&[
        "prog",
        "load",
        s.obj.to_str().unwrap(),
        s.pin.to_str().unwrap(),
        "type",
        "tc",
    ]);
    assert!(
        !load.status.success(),
        "the verifier accepted a bad program"
    );
    let log = String::from_utf8_lossy(&load.stderr);
    // The kernel's verbose_linfo(): "; LINE TEXT @ FILE:LINE".
    assert!(
        log.contains("; r0 = *(u32 *)(r1 + 1000) @ bad.s:4"),
        "the verifier log does not quote the .s line:\n{log}"
    );
    assert!(log.contains("invalid bpf_context access"), "{log}");
}

#[test]
fn every_lab_program_loads_through_libbpf_with_the_btf_we_write() {
    if !usable() {
        return;
    }
    let mut n = 0;
    for entry in std::fs::read_dir(repo().join("bpf-src")).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().and_then(|e| e.to_str()) != Some("s") {
            continue;
        }
        let src = std::fs::read_to_string(&path).unwrap();
        let stem = path.file_stem().unwrap().to_string_lossy().to_string();
        let ty = if stem.starts_with("xdp") { "xdp" } else { "tc" };
        for defines in [vec![], vec![("TRACE".to_string(), 1)]] {
            let s = Scratch::new(&format!("{stem}-{}", defines.len()));
            let opts = AsmOptions {
                file_name: format!("bpf-src/{stem}.s"),
                defines,
            };
            // A file that declares its map (`.map`) or keeps strings in
            // `.rodata` is an object: libbpf makes its maps from our BTF.
            let a = loader::file::assemble_text(&opts.file_name, &src, &opts.defines)
                .unwrap_or_else(|e| panic!("{e}"));
            if a.object.is_none() && !a.relocations().is_empty() {
                eprintln!("{stem}: references maps it does not declare, skipped for libbpf");
                continue;
            }
            std::fs::write(&s.obj, a.object().to_elf().unwrap()).unwrap();
            let ty = if a.section() == "xdp" { "xdp" } else { ty };
            let load = bpftool(&[
                "prog",
                "load",
                s.obj.to_str().unwrap(),
                s.pin.to_str().unwrap(),
                "type",
                ty,
            ]);
            assert!(
                load.status.success(),
                "{stem}: {}",
                String::from_utf8_lossy(&load.stderr)
            );
            n += 1;
        }
    }
    assert!(n >= 6, "only {n} programs");
}

/// The path tracer's kind of program: `tp_btf` (BPF_PROG_TYPE_TRACING),
/// whose context is the tracepoint's arguments as u64s. Typed so, the
/// verifier's log has no "arg#0 reference type('UNKNOWN ')" line, which a
/// `void *` context gets.
#[test]
fn a_tp_btf_program_loads_with_our_btf_and_quotes_its_lines() {
    if !usable() {
        return;
    }
    let s = Scratch::new("tp_btf");
    let src = ".section tp_btf/net_dev_queue\n.name on_queue\n.license \"GPL\"\n    r2 = *(u64 *)(r1 + 0)\n    r0 = 0\n    exit\n";
    write_object(src, "tp.s", &s.obj);
    // -d: libbpf asks for the verifier's log and prints it.
    let load = bpftool(&[
        "-d",
        "prog",
        "load",
        s.obj.to_str().unwrap(),
        s.pin.to_str().unwrap(),
    ]);
    let log = String::from_utf8_lossy(&load.stderr);
    assert!(load.status.success(), "tp_btf load: {log}");
    assert!(log.contains("func#0 @0"), "no verifier log: {log}");
    assert!(!log.contains("UNKNOWN"), "{log}");
    let x = bpftool(&[
        "prog",
        "dump",
        "xlated",
        "pinned",
        s.pin.to_str().unwrap(),
        "linum",
    ]);
    let xl = String::from_utf8_lossy(&x.stdout);
    assert!(
        xl.starts_with("int on_queue(unsigned long long * ctx):"),
        "{xl}"
    );
    assert!(
        xl.contains("; r2 = *(u64 *)(r1 + 0) [file:tp.s line_num:4 line_col:5]"),
        "{xl}"
    );
}
