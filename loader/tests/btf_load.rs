//! Programs we assemble load with their BTF (root), checked with bpftool as
//! the oracle: a `btf_id`, `dump xlated linum` quoting the `.s` lines, and
//! the kernel's verifier log quoting the refused line.

use std::path::{Path, PathBuf};
use std::process::Command;

use loader::btf::LoadedBtf;
use loader::{AsmLoad, Error, ProgType, Program};

fn redirect_s() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../bpf-src/redirect.s")
}

fn load(path: &Path, text: &str, file_name: &str) -> Result<Program, Error> {
    let prog = loader::file::assemble(path, text, &[]).unwrap_or_else(|e| panic!("{e}"));
    Program::load_asm(
        &prog,
        &AsmLoad {
            prog_type: ProgType::SchedCls,
            file_name,
            maps: &[],
            verbose: false,
        },
    )
}

fn bpftool(args: &[&str]) -> String {
    let out = Command::new("bpftool")
        .args(args)
        .output()
        .expect("run bpftool");
    assert!(
        out.status.success(),
        "bpftool {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[test]
fn redirect_s_has_a_btf_id_and_linum_quotes_its_lines() {
    let path = redirect_s();
    let text = std::fs::read_to_string(&path).unwrap();
    let p = load(&path, &text, "bpf-src/redirect.s").unwrap_or_else(|e| panic!("{e}"));
    let id = p.info().unwrap().id.to_string();
    let show = bpftool(&["prog", "show", "id", &id]);
    assert!(show.contains("btf_id"), "{show}");
    let dump = bpftool(&["prog", "dump", "xlated", "id", &id, "linum"]);
    let lines: Vec<&str> = text.lines().collect();
    let tail = " [file:bpf-src/redirect.s line_num:";
    let mut quoted = 0;
    for l in dump.lines().filter(|l| l.starts_with("; ")) {
        let (src, rest) = l[2..]
            .rsplit_once(tail)
            .unwrap_or_else(|| panic!("no file/line in {l:?}\n{dump}"));
        let n: usize = rest.split(' ').next().unwrap().parse().unwrap();
        assert_eq!(src.trim(), lines[n - 1].trim(), "line {n} in\n{dump}");
        quoted += 1;
    }
    // Every instruction we assembled has its line (the kernel's rewrites of
    // context reads add xlated instructions under the same line).
    let asm = loader::file::assemble(&path, &text, &[]).unwrap();
    let n = asm.instructions().unwrap().len();
    assert_eq!(
        quoted, n,
        "{quoted} source lines for {n} instructions in\n{dump}"
    );
}

const NO_BOUNDS_CHECK: &str = "\
\t.section tc
\t.license \"GPL\"
\tr6 = *(u32 *)(r1 +76)
\tr7 = *(u32 *)(r1 +80)
\tr0 = *(u16 *)(r6 +12)\t\t# h_proto, unchecked
\tr0 = 0
\texit
";

#[test]
fn the_kernels_verifier_log_quotes_the_refused_line() {
    let e = load(Path::new("nocheck.s"), NO_BOUNDS_CHECK, "nocheck.s").unwrap_err();
    let Error::Verifier(v) = &e else {
        panic!("expected a verifier rejection, got {e}")
    };
    // The kernel itself prints "; TEXT @ FILE:LINE" from our line_info.
    assert!(
        v.log
            .contains("; r0 = *(u16 *)(r6 +12)\t\t# h_proto, unchecked @ nocheck.s:5"),
        "{}",
        v.log
    );
    assert!(e.to_string().contains("nocheck.s:5"), "{e}");
}

#[test]
fn refused_btf_shows_the_errno_and_the_kernels_log() {
    // A BTF header (magic 0xeB9F, version 1, hdr_len 24) whose type section
    // runs past the end of the data.
    let mut b = Vec::new();
    b.extend_from_slice(&0xeb9fu16.to_le_bytes());
    b.extend_from_slice(&[1, 0]);
    for v in [24u32, 0, 1000, 1000, 1] {
        b.extend_from_slice(&v.to_le_bytes());
    }
    b.push(0);
    let e = LoadedBtf::load(&b).unwrap_err();
    let s = e.to_string();
    assert!(s.starts_with("BPF_BTF_LOAD failed: EINVAL"), "{s}");
    assert!(s.contains("the kernel's BTF log says:"), "{s}");
    println!("{s}");
}
