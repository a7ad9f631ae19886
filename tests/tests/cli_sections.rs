//! `disasm --syntax llvm` output is valid llvm-mc input (its own lines are
//! `#` comments), and `run` infers the program type from a `.s` file's
//! `.section` exactly as from an ELF object's section name.

mod lab_common;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use lab_common::*;

fn redirect_lab(args: &[&str]) -> Output {
    Command::new(redirect_lab_binary())
        .args(args)
        .output()
        .expect("run redirect-lab")
}

struct TempDir(PathBuf);

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn temp_dir(tag: &str) -> TempDir {
    let d = std::env::temp_dir().join(unique_prefix(tag));
    std::fs::create_dir_all(&d).expect("temp dir");
    TempDir(d)
}

fn path(p: &Path) -> &str {
    p.to_str().expect("UTF-8 path")
}

#[test]
fn the_llvm_listing_assembles_with_llvm_mc() {
    let llvm_mc = ["llvm-mc-19", "llvm-mc"]
        .into_iter()
        .find(|b| Command::new(b).arg("--version").output().is_ok());
    let Some(llvm_mc) = llvm_mc else {
        eprintln!("SKIP: llvm-mc is not installed");
        return;
    };
    let dir = temp_dir("llvm");
    let src = concat!(env!("CARGO_MANIFEST_DIR"), "/../bpf-src/redirect.s");
    let obj = dir.0.join("r.o");
    let o = redirect_lab(&["asm", src, "-o", path(&obj)]);
    assert!(o.status.success());
    let o = redirect_lab(&["disasm", "--syntax", "llvm", path(&obj)]);
    assert!(o.status.success());
    let listing = String::from_utf8(o.stdout).expect("UTF-8");
    assert!(listing.starts_with("# "), "{listing}");
    let lst = dir.0.join("r.ll.s");
    std::fs::write(&lst, &listing).expect("write");
    let back = dir.0.join("back.o");
    let mc = Command::new(llvm_mc)
        .args(["-triple", "bpfel", "-mcpu=v4", "-filetype=obj", "-o"])
        .arg(&back)
        .arg(&lst)
        .output()
        .expect("run llvm-mc");
    assert!(
        mc.status.success(),
        "llvm-mc refused the listing: {}\n{listing}",
        String::from_utf8_lossy(&mc.stderr)
    );
}

#[test]
fn run_takes_the_program_type_from_a_s_files_section() {
    require_root();
    let dir = temp_dir("sec");
    let xdp = dir.0.join("x.s");
    std::fs::write(&xdp, "\t.section xdp\nr0 = 2\nexit\n").expect("write");
    let odd = dir.0.join("odd.s");
    std::fs::write(&odd, "\t.section nosuchtype\nr0 = 2\nexit\n").expect("write");
    let pkt = dir.0.join("p.bin");
    std::fs::write(&pkt, [0u8; 64]).expect("write");
    let o = redirect_lab(&["run", path(&xdp), "--data", path(&pkt), "--json"]);
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert!(out.contains("\"retval_name\":\"XDP_PASS\""), "{out}");
    // The same file as an ELF object picks the same type.
    let obj = dir.0.join("x.o");
    assert!(redirect_lab(&["asm", path(&xdp), "-o", path(&obj)])
        .status
        .success());
    let o = redirect_lab(&["run", path(&obj), "--data", path(&pkt), "--json"]);
    assert!(String::from_utf8_lossy(&o.stdout).contains("\"retval_name\":\"XDP_PASS\""));
    // An unknown section is refused with the way out, as for ELF.
    let o = redirect_lab(&["run", path(&odd), "--data", path(&pkt)]);
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(!o.status.success());
    assert!(err.contains("cannot tell the program type"), "{err}");
    let o = redirect_lab(&["run", path(&odd), "--type", "xdp", "--data", path(&pkt)]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
}
