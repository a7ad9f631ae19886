//! The ELF object we write for the lab's program: `llvm-objdump-19 -d`
//! disassembles it to the instructions we assembled, and (as root)
//! `bpftool prog load` and `tc filter add ... bpf da obj FILE sec tc` load it,
//! with a verifier log whose instruction lines are our kernel-syntax listing.
//!
//! Needs llvm-19, bpftool and iproute2 (CI installs them) and fails without.

use ebpf_asm::disasm::{format_instruction, Syntax};
use ebpf_asm::{assemble, elf, AsmOptions};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::atomic::{AtomicU32, Ordering};

static COUNTER: AtomicU32 = AtomicU32::new(0);

fn unique(tag: &str) -> String {
    format!(
        "ebpfasm{tag}{}x{}",
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::Relaxed)
    )
}

/// Removes a file (or bpffs pin) when dropped, even if the test fails.
struct Removed(PathBuf);
impl Drop for Removed {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

/// Deletes a network namespace when dropped.
struct Netns(String);
impl Drop for Netns {
    fn drop(&mut self) {
        let _ = Command::new("ip").args(["netns", "del", &self.0]).output();
    }
}

fn run(cmd: &str, args: &[&str]) -> Output {
    Command::new(cmd)
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("cannot run {cmd} ({e}); install it (.ci/run does)"))
}

/// The lab's TRACE variant as one object (its strings are in `.rodata`, so
/// it is assembled whole, with its BTF): the `tc` section's instructions,
/// the slots a relocation patches at load time, and the written ELF file.
fn lab_object() -> (ebpf_asm::Program, Vec<usize>, Removed) {
    let src_path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../bpf-src/redirect.s");
    let src = std::fs::read_to_string(&src_path).expect("bpf-src/redirect.s");
    let opts = AsmOptions {
        file_name: src_path.display().to_string(),
        defines: vec![("TRACE".into(), 1)],
    };
    let asm = ebpf_asm::text::assemble_full(&src, &opts).unwrap_or_else(|e| panic!("{e}"));
    let obj = asm.object_with_btf();
    let tc = obj.section("tc").expect("a tc section");
    let prog = ebpf_asm::Program::from_bytes(&tc.data).expect("decodes");
    let relocated: Vec<usize> = tc
        .relocations
        .iter()
        .map(|r| (r.offset / 8) as usize)
        .collect();
    assert!(
        !relocated.is_empty(),
        "the TRACE variant references .rodata"
    );
    let path = std::env::temp_dir().join(format!("{}.o", unique("obj")));
    std::fs::write(&path, obj.to_elf().expect("ELF")).expect("write object");
    (prog, relocated, Removed(path))
}

#[test]
fn llvm_objdump_reads_our_object() {
    let (prog, _, obj) = lab_object();
    let out = Command::new("llvm-objdump-19")
        .args(["-d", "--no-print-imm-hex", "--mcpu=v4"])
        .arg(&obj.0)
        .output()
        .expect("llvm-objdump-19 (apt-get install llvm-19)");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("Disassembly of section tc:"), "{text}");
    assert!(text.contains("<redirect>:"), "{text}");
    let theirs: Vec<String> = text
        .lines()
        .filter_map(|l| l.splitn(3, '\t').nth(2))
        .map(|s| {
            s.split(" <")
                .next()
                .unwrap_or(s)
                .split_whitespace()
                .collect::<Vec<_>>()
                .join(" ")
        })
        .collect();
    let ours: Vec<String> = prog
        .instructions()
        .expect("decodes")
        .iter()
        .map(|(_, i)| format_instruction(i, Syntax::Llvm))
        .collect();
    assert_eq!(ours, theirs);
    assert!(
        ours.len() > 30,
        "the TRACE variant has {} instructions",
        ours.len()
    );
}

fn require_root() {
    // The effective uid is the third field of `Uid:` in /proc/self/status.
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let euid = status
        .lines()
        .find(|l| l.starts_with("Uid:"))
        .and_then(|l| l.split_whitespace().nth(2))
        .unwrap_or("?");
    assert_eq!(
        euid, "0",
        "this test loads a BPF program into the kernel and needs root (CI runs tests as root)"
    );
}

#[test]
fn bpftool_loads_our_object() {
    require_root();
    let (_, _, obj) = lab_object();
    let fs = std::fs::read_to_string("/proc/mounts").unwrap_or_default();
    if !fs
        .lines()
        .any(|l| l.split_whitespace().nth(1) == Some("/sys/fs/bpf"))
    {
        let out = run("mount", &["-t", "bpf", "bpf", "/sys/fs/bpf"]);
        assert!(
            out.status.success(),
            "mount bpffs: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let pin = Removed(PathBuf::from(format!("/sys/fs/bpf/{}", unique("pin"))));
    let obj_path = obj.0.to_string_lossy().into_owned();
    let pin_path = pin.0.to_string_lossy().into_owned();
    let out = run("bpftool", &["prog", "load", &obj_path, &pin_path]);
    assert!(
        out.status.success(),
        "bpftool prog load failed:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let out = run("bpftool", &["prog", "show", "pinned", &pin_path]);
    let show = String::from_utf8_lossy(&out.stdout);
    assert!(
        show.contains("sched_cls") && show.contains("name redirect"),
        "{show}"
    );
}

#[test]
fn tc_loads_our_object_in_a_private_netns() {
    require_root();
    let (_, _, obj) = lab_object();
    let ns = Netns(unique("ns"));
    let out = run("ip", &["netns", "add", &ns.0]);
    assert!(
        out.status.success(),
        "ip netns add: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let obj_path = obj.0.to_string_lossy().into_owned();
    let tc = |args: &[&str]| {
        let mut all = vec!["netns", "exec", &ns.0, "tc"];
        all.extend_from_slice(args);
        run("ip", &all)
    };
    let out = tc(&["qdisc", "add", "dev", "lo", "clsact"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let out = tc(&[
        "filter", "add", "dev", "lo", "ingress", "bpf", "da", "obj", &obj_path, "sec", "tc",
    ]);
    assert!(
        out.status.success(),
        "tc filter add ... bpf da obj FILE sec tc failed:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let out = tc(&["filter", "show", "dev", "lo", "ingress"]);
    let show = String::from_utf8_lossy(&out.stdout);
    assert!(show.contains("direct-action"), "{show}");
}

/// Load `prog` with `bpftool -d` (which prints the verifier log) and compare
/// every instruction line the verifier printed, `N: (xx) text`, with our
/// kernel-syntax listing of the same slot. With `object`, that file is
/// loaded instead, and its relocated slots (an `lddw` libbpf points at a
/// map, which the verifier prints as `map[id:N]`) are left out.
fn compare_with_verifier_log(
    prog: &ebpf_asm::Program,
    object: Option<(&Path, &[usize])>,
    tag: &str,
) {
    let written = Removed(std::env::temp_dir().join(format!("{}.o", unique(tag))));
    let (obj_path, relocated): (&Path, &[usize]) = match object {
        Some(o) => o,
        None => {
            std::fs::write(&written.0, elf::write_object(prog).expect("ELF"))
                .expect("write object");
            (&written.0, &[])
        }
    };
    let pin = Removed(PathBuf::from(format!("/sys/fs/bpf/{}", unique(tag))));
    let out = run(
        "bpftool",
        &[
            "-d",
            "prog",
            "load",
            &obj_path.to_string_lossy(),
            &pin.0.to_string_lossy(),
        ],
    );
    let log =
        String::from_utf8_lossy(&out.stderr).into_owned() + &String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "bpftool prog load failed:\n{log}");
    let o = ebpf_asm::disasm::DisasmOptions {
        slot_numbers: true,
        labels: false,
        ..Default::default()
    };
    let listing = ebpf_asm::disasm::disassemble(&prog.to_bytes(), &o).expect("decodes");
    // Ours keeps LLVM's ` ll` on lddw so that it reassembles; the kernel does not.
    let ours: std::collections::HashMap<&str, &str> = listing
        .lines()
        .filter_map(|l| l.split_once(": "))
        .map(|(slot, text)| (slot, text.strip_suffix(" ll").unwrap_or(text)))
        .collect();
    let mut seen = std::collections::HashSet::new();
    for line in log.lines() {
        let Some((slot, rest)) = line.split_once(": (") else {
            continue;
        };
        if slot.is_empty() || !slot.bytes().all(|b| b.is_ascii_digit()) {
            continue;
        }
        // The verifier appends register state after `;`.
        if slot.parse::<usize>().is_ok_and(|n| relocated.contains(&n)) {
            continue;
        }
        let text = format!("({}", rest.split(" ;").next().unwrap_or(rest).trim_end());
        let mine = ours
            .get(slot)
            .unwrap_or_else(|| panic!("verifier printed slot {slot}, we did not"));
        assert_eq!(*mine, text, "{tag} slot {slot}");
        seen.insert(slot.to_string());
    }
    assert!(
        (seen.len() + relocated.len()) * 10 >= ours.len() * 9,
        "the verifier log showed only {} of {} instructions:\n{log}",
        seen.len(),
        ours.len()
    );
}

/// Our kernel-syntax listing of the lab's TRACE variant is the verifier's text.
#[test]
fn our_kernel_listing_matches_the_verifier_log() {
    require_root();
    let (prog, relocated, obj) = lab_object();
    compare_with_verifier_log(&prog, Some((&obj.0, &relocated)), "vlog");
}

/// The same for a program using every instruction class the verifier accepts
/// in a TC program (ALU/ALU64 K and X, sdiv/smod, movsx, neg, le/be/bswap,
/// stores, sign-extending loads, every atomic, lddw, every jump condition in
/// both widths, ja, gotol, may_goto, call, exit).
#[test]
fn every_verifiable_form_prints_like_the_verifier() {
    require_root();
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/verifier_forms.s");
    let src = std::fs::read_to_string(&path).expect("tests/data/verifier_forms.s");
    let opts = AsmOptions {
        file_name: path.display().to_string(),
        defines: vec![],
    };
    let prog = assemble(&src, &opts).unwrap_or_else(|e| panic!("{e}"));
    assert!(prog.insns().len() > 130);
    compare_with_verifier_log(&prog, None, "vforms");
}
