//! `btf::gen` on an object with a program and a subprogram in `.text`, the
//! layout clang writes for `static __noinline` functions: libbpf appends the
//! subprogram, merges both sections' func_info and line_info, and the kernel
//! accepts them (it refuses a program whose subprograms lack a func_info).
//! `bpftool prog dump xlated linum` then names both functions and quotes the
//! `.s` lines of each, and `BPF_PROG_TEST_RUN` (`bpftool prog run`) returns
//! the subprogram's value.
//!
//! The ELF is assembled here with the `object` crate until the object model
//! writes several sections itself. Needs root, bpffs and bpftool.

use ebpf_asm::btf::gen::{self, Input};
use ebpf_asm::{assemble, AsmOptions};
use object::write::{Object, Relocation, Symbol, SymbolSection};
use object::{
    elf, Architecture, BinaryFormat, Endianness, RelocationFlags, SectionKind, SymbolFlags,
    SymbolKind, SymbolScope,
};
use std::path::{Path, PathBuf};
use std::process::Command;

const MAIN: &str = ".section tc\n.name main_prog\n    r6 = r1\n    call pc-1\n    exit\n";
/// In the same file, after MAIN's lines: the subprogram's source.
const SUB: &str = "\n\n\n\n    r0 = 7\n    r0 += 35\n    exit\n";

fn is_root() -> bool {
    std::fs::read_to_string("/proc/self/status")
        .map(|s| {
            s.lines()
                .any(|l| l.starts_with("Uid:") && l.split_whitespace().nth(1) == Some("0"))
        })
        .unwrap_or(false)
}

struct Cleanup(PathBuf, PathBuf);

impl Drop for Cleanup {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
        let _ = std::fs::remove_file(&self.1);
    }
}

fn object() -> Vec<u8> {
    let opts = AsmOptions {
        file_name: "sub.s".into(),
        ..AsmOptions::default()
    };
    let main = assemble(MAIN, &opts).expect("main");
    let sub = assemble(&format!(".section .text\n.name sub_fn\n{SUB}"), &opts).expect("sub");
    let mut input = Input::from_program(&main, "sub.s");
    // Alone, `call pc-1` would be a call to slot 1 of main_prog; here the
    // relocation below makes it a call to sub_fn, so main_prog has no
    // subprogram of its own.
    let rest = input.functions.split_off(1);
    input.functions[0]
        .lines
        .extend(rest.into_iter().flat_map(|f| f.lines));
    input
        .functions
        .extend(Input::from_program(&sub, "sub.s").functions);
    let btf = gen::generate(&input);

    let mut obj = Object::new(BinaryFormat::Elf, Architecture::Bpf, Endianness::Little);
    let add = |obj: &mut Object, p: &ebpf_asm::Program, scope| {
        let s = obj.add_section(
            Vec::new(),
            p.section().as_bytes().to_vec(),
            SectionKind::Text,
        );
        let code = p.to_bytes();
        obj.set_section_data(s, code.clone(), 8);
        let sym = obj.add_symbol(Symbol {
            name: p.name().as_bytes().to_vec(),
            value: 0,
            size: code.len() as u64,
            kind: SymbolKind::Text,
            scope,
            weak: false,
            section: SymbolSection::Section(s),
            flags: SymbolFlags::None,
        });
        (s, sym)
    };
    let (main_sec, _) = add(&mut obj, &main, SymbolScope::Dynamic);
    let (_, sub_sym) = add(&mut obj, &sub, SymbolScope::Compilation);
    // `call pc-1` against the function symbol: libbpf resolves the target as
    // the symbol's offset plus imm + 1, as for clang's calls.
    obj.add_relocation(
        main_sec,
        Relocation {
            offset: 8,
            symbol: sub_sym,
            addend: 0,
            flags: RelocationFlags::Elf {
                r_type: elf::R_BPF_64_32,
            },
        },
    )
    .expect("relocation");
    let lic = obj.add_section(Vec::new(), b"license".to_vec(), SectionKind::Data);
    obj.set_section_data(lic, b"GPL\0".to_vec(), 1);
    for (name, data) in [(".BTF", btf.btf_bytes()), (".BTF.ext", btf.ext_bytes())] {
        let s = obj.add_section(Vec::new(), name.as_bytes().to_vec(), SectionKind::Other);
        obj.set_section_data(s, data, 4);
    }
    obj.write().expect("ELF")
}

fn bpftool(args: &[&str]) -> (bool, String) {
    let o = Command::new("bpftool")
        .args(args)
        .output()
        .expect("bpftool runs");
    let mut s = String::from_utf8_lossy(&o.stdout).into_owned();
    s += &String::from_utf8_lossy(&o.stderr);
    (o.status.success(), s)
}

#[test]
fn kernel_takes_func_info_for_a_text_subprogram() {
    if !is_root()
        || !Path::new("/sys/fs/bpf").is_dir()
        || Command::new("bpftool").arg("version").output().is_err()
    {
        eprintln!("needs root, bpffs and bpftool: skipped");
        return;
    }
    let id = format!("btf-subprog-{}", std::process::id());
    let c = Cleanup(
        std::env::temp_dir().join(format!("{id}.o")),
        PathBuf::from("/sys/fs/bpf").join(&id),
    );
    std::fs::write(&c.0, object()).unwrap();
    let (ok, out) = bpftool(&[
        "prog",
        "load",
        c.0.to_str().unwrap(),
        c.1.to_str().unwrap(),
        "type",
        "tc",
    ]);
    assert!(ok, "bpftool prog load:\n{out}");
    let (ok, xl) = bpftool(&[
        "prog",
        "dump",
        "xlated",
        "pinned",
        c.1.to_str().unwrap(),
        "linum",
    ]);
    assert!(ok, "{xl}");
    assert!(
        xl.contains("int main_prog(struct __sk_buff * ctx):"),
        "{xl}"
    );
    assert!(xl.contains("int sub_fn(unsigned long long * ctx):"), "{xl}");
    assert!(xl.contains("; r0 += 35 [file:sub.s line_num:8"), "{xl}");
    assert!(xl.contains("; call pc-1 [file:sub.s line_num:4"), "{xl}");
    // The subprogram really runs: 7 + 35.
    let data = std::env::temp_dir().join(format!("{id}.pkt"));
    std::fs::write(&data, [0u8; 64]).unwrap();
    let (ok, run) = bpftool(&[
        "prog",
        "run",
        "pinned",
        c.1.to_str().unwrap(),
        "data_in",
        data.to_str().unwrap(),
    ]);
    let _ = std::fs::remove_file(&data);
    assert!(ok, "{run}");
    assert!(run.contains("Return value: 42"), "{run}");
}
