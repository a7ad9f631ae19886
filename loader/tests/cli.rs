//! The `redirect-lab` binary, run as a user would (root for the commands
//! that reach the kernel; `nobody` for the unprivileged check).

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::atomic::{AtomicU32, Ordering};

const BIN: &str = env!("CARGO_BIN_EXE_redirect-lab");
static COUNTER: AtomicU32 = AtomicU32::new(0);

/// A scratch directory, removed on drop.
struct TempDir(PathBuf);

impl TempDir {
    fn new() -> TempDir {
        let n = COUNTER.fetch_add(1, Ordering::Relaxed);
        let p = std::env::temp_dir().join(format!("redirect-lab-cli-{}-{n}", std::process::id()));
        std::fs::create_dir_all(&p).unwrap();
        TempDir(p)
    }
    fn file(&self, name: &str, data: &[u8]) -> PathBuf {
        let p = self.0.join(name);
        std::fs::write(&p, data).unwrap();
        p
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn redirect_s() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../bpf-src/redirect.s")
}

fn lab(args: &[&str]) -> Output {
    Command::new(BIN)
        .args(args)
        .output()
        .expect("run redirect-lab")
}

fn text(o: &Output) -> (String, String) {
    (
        String::from_utf8_lossy(&o.stdout).into_owned(),
        String::from_utf8_lossy(&o.stderr).into_owned(),
    )
}

fn packet(dst: [u8; 4]) -> Vec<u8> {
    let mut p = vec![0u8; 60];
    p[0..6].copy_from_slice(&[0x02, 0, 0, 0, 1, 1]);
    p[6..12].copy_from_slice(&[0x02, 0, 0, 0, 1, 2]);
    p[12..14].copy_from_slice(&[0x08, 0x00]);
    p[14] = 0x45;
    p[22] = 64;
    p[23] = 17;
    p[26..30].copy_from_slice(&[10, 0, 1, 10]);
    p[30..34].copy_from_slice(&dst);
    p
}

fn json_field<'a>(json: &'a str, key: &str) -> &'a str {
    let pat = format!("\"{key}\":");
    let start = json
        .find(&pat)
        .unwrap_or_else(|| panic!("no {key} in {json}"))
        + pat.len();
    let rest = &json[start..];
    let end = rest.find([',', '}']).unwrap_or(rest.len());
    rest[..end].trim_matches('"')
}

#[test]
fn run_json_redirects_and_writes_data_out() {
    let t = TempDir::new();
    let data = t.file("pkt.bin", &packet([10, 0, 2, 11]));
    let out = t.0.join("out.bin");
    let o = lab(&[
        "run",
        redirect_s().to_str().unwrap(),
        "--data",
        data.to_str().unwrap(),
        "--repeat",
        "50",
        "--data-out",
        out.to_str().unwrap(),
        "--json",
    ]);
    let (stdout, stderr) = text(&o);
    assert!(o.status.success(), "{stderr}");
    assert_eq!(json_field(&stdout, "retval"), "7", "{stdout}");
    assert_eq!(json_field(&stdout, "retval_name"), "TC_ACT_REDIRECT");
    assert!(
        json_field(&stdout, "duration_ns").parse::<u64>().is_ok(),
        "{stdout}"
    );
    let written = std::fs::read(&out).unwrap();
    assert_eq!(&written[0..6], &[0x02, 0, 0, 0, 0, 0]);
    assert_eq!(json_field(&stdout, "data_out"), loader::prog::hex(&written));
}

#[test]
fn run_with_defines_and_hex_packet_files() {
    let t = TempDir::new();
    let hex: String = packet([10, 0, 2, 99])
        .iter()
        .map(|b| format!("{b:02x} "))
        .collect();
    let data = t.file("pkt.hex", hex.as_bytes());
    let s = redirect_s();
    let run = |d: &str| {
        lab(&[
            "run",
            s.to_str().unwrap(),
            "-D",
            d,
            "--data",
            data.to_str().unwrap(),
        ])
    };
    let o = run("DEST_IP=10.0.2.99");
    let (stdout, stderr) = text(&o);
    assert!(o.status.success(), "{stderr}");
    assert!(
        stdout.starts_with("retval: 7 (TC_ACT_REDIRECT)\nduration: "),
        "{stdout}"
    );
    assert!(stdout.contains(" ns (one run)\n"), "{stdout}");
    assert!(stdout.contains("data_out: 60 bytes, changed\n"), "{stdout}");
    let o = run("DEST_IP=10.0.2.11");
    assert!(
        text(&o).0.starts_with("retval: 0 (TC_ACT_OK)"),
        "{:?}",
        text(&o)
    );
    let o = run("DEST_IP=10.0.2");
    assert!(!o.status.success());
    assert!(
        text(&o).1.contains("-D \"DEST_IP=10.0.2\""),
        "{:?}",
        text(&o)
    );
}

#[test]
fn verifier_rejection_exits_non_zero_with_the_log() {
    let t = TempDir::new();
    let src = t.file(
        "bad.s",
        b"\tr2 = *(u32 *)(r1 +76)\n\tr0 = *(u8 *)(r2 +0)\n\texit\n",
    );
    let data = t.file("pkt.bin", &packet([10, 0, 2, 11]));
    let o = lab(&[
        "run",
        src.to_str().unwrap(),
        "--data",
        data.to_str().unwrap(),
    ]);
    let (_, stderr) = text(&o);
    assert_eq!(o.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("the verifier rejected program"), "{stderr}");
    assert!(stderr.contains("invalid access to packet"), "{stderr}");
    assert!(stderr.contains("bad.s:2: r0 = *(u8 *)(r2 +0)"), "{stderr}");
    assert!(stderr.contains("--- verifier log ---"), "{stderr}");
}

#[test]
fn verbose_run_prints_the_level2_log_and_stats() {
    let t = TempDir::new();
    let data = t.file("pkt.bin", &packet([10, 0, 2, 11]));
    let o = lab(&[
        "run",
        redirect_s().to_str().unwrap(),
        "--data",
        data.to_str().unwrap(),
        "-v",
    ]);
    let (stdout, stderr) = text(&o);
    assert!(o.status.success(), "{stderr}");
    assert!(
        stderr.contains("--- verifier log (level 2) ---"),
        "{stderr}"
    );
    assert!(
        stderr.contains("redirect.s:"),
        "the log is annotated with source lines: {stderr}"
    );
    assert!(stdout.contains("verifier: processed "), "{stdout}");
}

#[test]
fn asm_then_disasm_then_run_the_object() {
    let t = TempDir::new();
    let obj = t.0.join("r.o");
    let o = lab(&[
        "asm",
        redirect_s().to_str().unwrap(),
        "-D",
        "TARGET_IFINDEX=9",
        "-o",
        obj.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{:?}", text(&o));
    let o = lab(&["disasm", obj.to_str().unwrap()]);
    let (stdout, _) = text(&o);
    assert!(o.status.success());
    assert!(stdout.contains("r6 = *(u32 *)(r1 +76)"), "{stdout}");
    assert!(
        stdout.contains("r1 = 9"),
        "TARGET_IFINDEX=9 reached the code: {stdout}"
    );
    assert!(stdout.contains("call bpf_redirect#23"), "{stdout}");
    let o = lab(&[
        "disasm",
        obj.to_str().unwrap(),
        "--syntax",
        "llvm",
        "--bytes",
    ]);
    assert!(
        text(&o).0.contains("61 16 4c 00 00 00 00 00"),
        "{:?}",
        text(&o)
    );

    let hex = lab(&["asm", redirect_s().to_str().unwrap(), "-f", "hex"]);
    assert!(hex.status.success());
    let first = text(&hex).0.lines().next().unwrap_or("").to_string();
    assert_eq!(first, "61 16 4c 00 00 00 00 00");

    let data = t.file("pkt.bin", &packet([10, 0, 2, 11]));
    let o = lab(&[
        "run",
        obj.to_str().unwrap(),
        "--data",
        data.to_str().unwrap(),
    ]);
    assert!(text(&o).0.starts_with("retval: 7"), "{:?}", text(&o));
}

#[test]
fn asm_errors_name_line_and_column() {
    let t = TempDir::new();
    let src = t.file("oops.s", b"\tr0 = 0\n\tr0 = frobnicate r1\n\texit\n");
    let o = lab(&["asm", src.to_str().unwrap(), "-o", "-"]);
    let (_, stderr) = text(&o);
    assert!(!o.status.success());
    assert!(stderr.contains("oops.s:2:"), "{stderr}");
    let o = lab(&["disasm", src.to_str().unwrap()]);
    assert!(!o.status.success(), "text is not instructions");
    let (_, stderr) = text(&o);
    assert!(
        stderr.contains("oops.s (raw): cannot decode: slot ")
            && stderr.contains("not an ELF object, so it was read as raw 8-byte instructions"),
        "{stderr}"
    );
    let o = lab(&["run", "/nonexistent/x.s", "--data", "/nonexistent/p"]);
    let (_, stderr) = text(&o);
    assert!(!o.status.success());
    // The errno by name and text, never Rust's bare "(os error 2)".
    assert_eq!(
        stderr,
        "redirect-lab: cannot read /nonexistent/p: ENOENT (No such file or directory)\n"
    );
    let o = lab(&["disasm", "/nonexistent/x.o"]);
    assert_eq!(
        text(&o).1,
        "redirect-lab: cannot read /nonexistent/x.o: ENOENT (No such file or directory)\n"
    );
}

#[test]
fn prog_list_shows_a_loaded_program() {
    let insns = [[0xb7u8, 0, 0, 0, 0, 0, 0, 0], [0x95, 0, 0, 0, 0, 0, 0, 0]].concat();
    let p = loader::Program::load(loader::ProgType::SchedCls, &insns, "GPL", "cli_listed").unwrap();
    let info = p.info().unwrap();
    let o = lab(&["prog", "list"]);
    let (stdout, stderr) = text(&o);
    assert!(o.status.success(), "{stderr}");
    assert!(
        stdout.lines().next().unwrap_or("").contains("TAG"),
        "{stdout}"
    );
    let line = stdout
        .lines()
        .find(|l| l.split_whitespace().next() == Some(&info.id.to_string()))
        .unwrap_or_else(|| panic!("program {} not listed:\n{stdout}", info.id));
    assert!(
        line.contains("sched_cls") && line.contains("cli_listed"),
        "{line}"
    );
    assert!(
        line.contains(&info.tag_hex()) && line.contains("16B"),
        "{line}"
    );
    let o = lab(&["prog", "list", "--json"]);
    assert!(text(&o).0.contains(&format!(
        "\"id\":{},\"type\":\"sched_cls\",\"name\":\"cli_listed\"",
        info.id
    )));
}

#[test]
fn help_says_what_the_tool_is() {
    let o = lab(&["--help"]);
    assert!(o.status.success());
    let (stdout, _) = text(&o);
    assert!(
        stdout
            .starts_with("Every layer of an eBPF packet redirect, by hand and with no BPF library"),
        "{stdout}"
    );
    for cmd in ["asm", "disasm", "run", "prog", "up", "down"] {
        assert!(
            stdout.contains(&format!("\n  {cmd} ")),
            "{cmd} missing: {stdout}"
        );
    }
}

#[test]
fn unprivileged_use_says_root_is_needed() {
    let t = TempDir::new();
    let data = t.file("pkt.bin", &packet([10, 0, 2, 11]));
    let src = t.file("r.s", std::fs::read(redirect_s()).unwrap().as_slice());
    // nobody must reach the files and the binary: the target dir may sit
    // under a root-only path, so run a copy from the scratch dir.
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&t.0, std::fs::Permissions::from_mode(0o755)).unwrap();
    let bin = t.0.join("redirect-lab");
    std::fs::copy(BIN, &bin).unwrap();
    std::fs::set_permissions(&bin, std::fs::Permissions::from_mode(0o755)).unwrap();
    for f in [&data, &src] {
        std::fs::set_permissions(f, std::fs::Permissions::from_mode(0o644)).unwrap();
    }
    for args in [
        vec!["prog", "list"],
        vec![
            "run",
            src.to_str().unwrap(),
            "--data",
            data.to_str().unwrap(),
        ],
    ] {
        // Other test threads fork while the copy was open for writing; a
        // child holding that fd until its exec makes ours fail with ETXTBSY
        // for a moment. Retry that case only, a bounded number of times.
        let mut attempts = 0;
        let o = loop {
            let o = Command::new("setpriv")
                .args([
                    "--reuid=65534",
                    "--regid=65534",
                    "--clear-groups",
                    "--inh-caps=-all",
                ])
                .arg(&bin)
                .args(&args)
                .output()
                .expect("setpriv (util-linux) is needed to test unprivileged use");
            attempts += 1;
            if attempts < 20 && text(&o).1.contains("Text file busy") {
                std::thread::sleep(std::time::Duration::from_millis(50));
                continue;
            }
            break o;
        };
        let (_, stderr) = text(&o);
        assert_eq!(o.status.code(), Some(1), "{args:?}: {stderr}");
        assert!(
            stderr.contains("needs root (CAP_BPF and CAP_NET_ADMIN)"),
            "{args:?}: {stderr}"
        );
    }
}

#[test]
fn disasm_lists_the_relocations_of_a_clang_object() {
    let t = TempDir::new();
    let obj = t.0.join("globals.o");
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/globals.bpf.c");
    let st = Command::new("clang")
        .args([
            "-O2",
            "-target",
            "bpf",
            "-I/usr/include/x86_64-linux-gnu",
            "-c",
        ])
        .arg(&src)
        .arg("-o")
        .arg(&obj)
        .status()
        .expect("clang is required for this test (apt-get install clang)");
    assert!(st.success());
    let o = lab(&["disasm", obj.to_str().unwrap()]);
    let (stdout, stderr) = text(&o);
    assert!(o.status.success(), "{stderr}");
    assert!(
        stdout.contains("; relocations, patched at load time:"),
        "{stdout}"
    );
    // clang names global symbols (runs, bias) and uses the section symbol
    // for the static `answer` in .rodata.
    for sym in ["runs", "bias", ".rodata"] {
        assert!(
            stdout.lines().any(|l| l.starts_with(";   slot ") && l.ends_with(&format!(": R_BPF_64_64 {sym}"))),
            "{sym}: {stdout}"
        );
    }
    // And the object runs: 40 (.rodata) + 2 (.data).
    let data = t.file("pkt.bin", &[0u8; 64]);
    let o = lab(&[
        "run",
        obj.to_str().unwrap(),
        "--data",
        data.to_str().unwrap(),
        "--json",
    ]);
    assert_eq!(json_field(&text(&o).0, "retval"), "42", "{:?}", text(&o));
}

#[test]
fn prog_dump_shows_the_translated_instructions() {
    // r0 = 7; exit: the kernel keeps these two as they are.
    let insns = [[0xb7u8, 0, 0, 0, 7, 0, 0, 0], [0x95, 0, 0, 0, 0, 0, 0, 0]].concat();
    let p = loader::Program::load(loader::ProgType::SchedCls, &insns, "GPL", "cli_dump").unwrap();
    assert_eq!(p.xlated_insns().unwrap(), insns);
    let id = p.info().unwrap().id.to_string();
    let o = lab(&["prog", "dump", &id]);
    let (stdout, stderr) = text(&o);
    assert!(o.status.success(), "{stderr}");
    assert!(stdout.contains("\"cli_dump\" (sched_cls)"), "{stdout}");
    assert!(stdout.contains("0: (b7) r0 = 7\n1: (95) exit"), "{stdout}");
    let o = lab(&["prog", "dump", "4294967295"]);
    assert!(!o.status.success());
    assert!(
        text(&o).1.contains("BPF_PROG_GET_FD_BY_ID failed: ENOENT"),
        "{:?}",
        text(&o)
    );
}
