//! `Btf::fixup_datasecs` against libbpf: clang-19's object of
//! `ebpf-asm/tests/data/btf_samples.bpf.c` (DATASECs `.maps`, `.rodata`,
//! `.bss`, `license`, all written with size 0) is loaded with `bpftool prog
//! loadall`; the BTF the kernel then holds (`bpftool btf dump id N`, libbpf's
//! fixed-up copy) must equal, line for line, our own dump of clang's `.BTF`
//! fixed up from the same ELF's section sizes and symbols.
//!
//! Needs root, bpffs, bpftool and clang-19; skips without them.

use ebpf_asm::btf::Btf;
use object::{Object, ObjectSection, ObjectSymbol};
use std::path::{Path, PathBuf};
use std::process::Command;

fn ready() -> bool {
    let root = std::fs::read_to_string("/proc/self/status")
        .map(|s| {
            s.lines()
                .any(|l| l.starts_with("Uid:") && l.split_whitespace().nth(1) == Some("0"))
        })
        .unwrap_or(false);
    root && Path::new("/sys/fs/bpf").is_dir()
        && Command::new("bpftool").arg("version").output().is_ok()
        && Command::new("clang-19").arg("--version").output().is_ok()
}

struct Cleanup(PathBuf, PathBuf);

impl Drop for Cleanup {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
        let _ = std::fs::remove_dir_all(&self.1);
    }
}

fn run(cmd: &mut Command) -> String {
    let o = cmd.output().expect("runs");
    assert!(
        o.status.success(),
        "{cmd:?}: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    String::from_utf8(o.stdout).expect("UTF-8")
}

#[test]
fn our_datasec_fixup_is_libbpfs() {
    if !ready() {
        eprintln!("needs root, bpffs, bpftool and clang-19: skipped");
        return;
    }
    let id = format!("btf-fixup-{}", std::process::id());
    let c = Cleanup(
        std::env::temp_dir().join(format!("{id}.o")),
        PathBuf::from("/sys/fs/bpf").join(&id),
    );
    let src =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../ebpf-asm/tests/data/btf_samples.bpf.c");
    run(Command::new("clang-19")
        .args([
            "-O2",
            "-g",
            "-target",
            "bpf",
            "-mcpu=v4",
            "-I/usr/include/x86_64-linux-gnu",
            "-c",
        ])
        .arg(&src)
        .arg("-o")
        .arg(&c.0));
    let elf = std::fs::read(&c.0).unwrap();
    let f = object::File::parse(&*elf).expect("ELF");
    let mut btf = Btf::parse(f.section_by_name(".BTF").unwrap().data().unwrap()).expect("BTF");
    let size = |name: &str| f.section_by_name(name).map(|s| s.size() as u32);
    let offset = |sec: &str, var: &str| {
        f.symbols()
            .find(|s| {
                s.name() == Ok(var)
                    && s.section_index()
                        .and_then(|i| f.section_by_index(i).ok())
                        .is_some_and(|s| s.name() == Ok(sec))
            })
            .map(|s| s.address() as u32)
    };
    let before = btf.to_string();
    btf.fixup_datasecs(&size, &offset).expect("fixup");
    assert_ne!(
        before,
        btf.to_string(),
        "clang's DATASECs needed no fixing?"
    );

    run(Command::new("bpftool")
        .arg("prog")
        .arg("loadall")
        .arg(&c.0)
        .arg(&c.1));
    let show = run(Command::new("bpftool")
        .args(["-j", "prog", "show", "pinned"])
        .arg(c.1.join("tc_prog")));
    let btf_id = show
        .split("\"btf_id\":")
        .nth(1)
        .and_then(|s| s.split([',', '}']).next())
        .expect("btf_id");
    let theirs = run(Command::new("bpftool").args(["btf", "dump", "id", btf_id.trim()]));
    let ours = btf.to_string();
    for (i, (a, b)) in ours.lines().zip(theirs.lines()).enumerate() {
        assert_eq!(a, b, "line {} differs from the kernel's copy", i + 1);
    }
    assert_eq!(ours.lines().count(), theirs.lines().count());

    // A DATASEC the ELF does not have is an error, named.
    let mut again = Btf::parse(f.section_by_name(".BTF").unwrap().data().unwrap()).unwrap();
    let e = again.fixup_datasecs(&|_| None, &offset).unwrap_err();
    assert!(e.to_string().contains("has no ELF section"), "{e}");
}
