//! `redirect-lab`'s and `kernel-matrix`'s messages for bad input and
//! refusals: errno names instead of Rust's "(os error N)", limits named
//! before the kernel has to refuse, and no panic when stdout goes away.

mod lab_common;

use std::process::{Command, Output, Stdio};

use lab_common::*;

fn redirect_lab(args: &[&str]) -> Output {
    Command::new(redirect_lab_binary())
        .args(args)
        .stdin(Stdio::null())
        .output()
        .expect("run redirect-lab")
}

/// Runs `redirect-lab down --prefix P` on drop, in case a command under test
/// built part of a lab before failing.
struct Down(String);

impl Drop for Down {
    fn drop(&mut self) {
        let _ = redirect_lab(&["down", "--prefix", &self.0]);
    }
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

#[test]
fn an_oversized_send_names_the_udp_limit_and_sends_nothing() {
    require_root();
    // No lab with this prefix exists: the size check must come first.
    let prefix = unique_prefix("big");
    let payload = "a".repeat(70_000);
    let o = redirect_lab(&["send", "--prefix", &prefix, &payload]);
    let err = stderr(&o);
    assert!(!o.status.success(), "{err}");
    assert!(err.contains("EMSGSIZE") && err.contains("65507"), "{err}");
    assert!(!err.contains("os error"), "{err}");
}

#[test]
fn a_missing_source_file_is_named_with_its_errno() {
    require_root();
    let prefix = unique_prefix("src");
    let _down = Down(prefix.clone());
    let o = redirect_lab(&[
        "up",
        "--prefix",
        &prefix,
        "--source",
        "/nonexistent/redirect.s",
    ]);
    let err = stderr(&o);
    assert!(!o.status.success(), "{err}");
    assert!(err.contains("/nonexistent/redirect.s: ENOENT"), "{err}");
    assert!(!err.contains("os error"), "{err}");
}

#[test]
fn kernel_matrix_names_the_errno_of_an_unreadable_log() {
    let out = std::env::temp_dir().join(format!("{}.md", unique_prefix("km")));
    let o = Command::new(env!("CARGO_BIN_EXE_kernel-matrix"))
        .args(["--logs", "6.1=/nonexistent/console.log", "--out"])
        .arg(&out)
        .output()
        .expect("run kernel-matrix");
    let md = std::fs::read_to_string(&out).unwrap_or_default();
    let _ = std::fs::remove_file(&out);
    assert_eq!(o.status.code(), Some(1), "{md}");
    assert!(
        md.contains("cannot read /nonexistent/console.log: ENOENT"),
        "{md}"
    );
    assert!(!md.contains("os error"), "{md}");
}

#[test]
fn listen_on_a_lab_that_is_not_up_fails_without_announcing() {
    require_root();
    let prefix = unique_prefix("lsn");
    let o = redirect_lab(&["listen", "--prefix", &prefix, "--timeout", "1"]);
    let err = stderr(&o);
    assert!(!o.status.success(), "{err}");
    assert!(err.contains("not up"), "{err}");
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(
        !out.contains("listening"),
        "announced before failing: {out}"
    );
}

/// bpf-src/redirect.s's `.license` comment: bpf_redirect needs no GPL
/// license, the TRACE variant's bpf_trace_printk does.
#[test]
fn only_the_trace_variant_needs_the_gpl_license() {
    require_root();
    let dir = std::env::temp_dir().join(unique_prefix("lic"));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let src = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../bpf-src/redirect.s"
    ))
    .expect("read redirect.s");
    assert!(src.contains(".license \"GPL\""));
    let mit = dir.join("mit.s");
    std::fs::write(&mit, src.replace(".license \"GPL\"", ".license \"MIT\"")).expect("write");
    let pkt = dir.join("pkt.bin");
    std::fs::write(&pkt, [0u8; 64]).expect("write");
    let (mit, pkt) = (mit.to_str().expect("path"), pkt.to_str().expect("path"));
    let plain = redirect_lab(&["run", mit, "--data", pkt]);
    let traced = redirect_lab(&["run", mit, "-D", "TRACE=1", "--data", pkt]);
    let _ = std::fs::remove_dir_all(&dir);
    assert!(plain.status.success(), "{}", stderr(&plain));
    assert!(!traced.status.success());
    assert!(
        stderr(&traced).contains("cannot call GPL-restricted function"),
        "{}",
        stderr(&traced)
    );
}

/// `run --data` with a packet the kernel refuses: the hint matches the
/// size, and 3712 bytes (the skb limit on x86-64 with 4 KiB pages) is the
/// largest that runs.
#[test]
fn test_run_size_hints_name_the_limit_that_was_crossed() {
    require_root();
    let dir = std::env::temp_dir().join(unique_prefix("size"));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let prog = dir.join("r0.s");
    std::fs::write(&prog, "r0 = 0\nexit\n").expect("write");
    let run = |len: usize| {
        let pkt = dir.join(format!("{len}.bin"));
        std::fs::write(&pkt, vec![0u8; len]).expect("write");
        redirect_lab(&[
            "run",
            prog.to_str().expect("path"),
            "--data",
            pkt.to_str().expect("path"),
        ])
    };
    let outputs: Vec<(usize, Output)> = [10, 3712, 3713, 3800, 70_000]
        .into_iter()
        .map(|n| (n, run(n)))
        .collect();
    let _ = std::fs::remove_dir_all(&dir);
    for (len, o) in outputs {
        let err = stderr(&o);
        match len {
            10 => assert!(err.contains("at least 14"), "{len}: {err}"),
            3712 => assert!(o.status.success(), "{len}: {err}"),
            _ => {
                assert!(err.contains("at most 3712"), "{len}: {err}");
                assert!(!err.contains("at least 14"), "{len}: {err}");
            }
        }
        if len != 3712 {
            assert!(
                !o.status.success() && err.contains("EINVAL"),
                "{len}: {err}"
            );
        }
    }
}

/// A misspelt `-D` name changes nothing, so `asm` says so; `-D TRACE=0`
/// still defines TRACE for `.ifdef TRACE`, so `asm` says that too.
#[test]
fn asm_warns_about_defines_the_file_does_not_use() {
    let src = concat!(env!("CARGO_MANIFEST_DIR"), "/../bpf-src/redirect.s");
    let o = redirect_lab(&["asm", src, "-D", "TARGET_IFINDX=5", "-f", "hex", "-o", "-"]);
    let err = stderr(&o);
    assert!(o.status.success(), "{err}");
    assert!(
        err.contains("warning: -D TARGET_IFINDX:") && err.contains("never uses TARGET_IFINDX"),
        "{err}"
    );
    let o = redirect_lab(&["asm", src, "-D", "TRACE=0", "-f", "hex", "-o", "-"]);
    let err = stderr(&o);
    assert!(o.status.success(), "{err}");
    assert!(err.contains("-D TRACE=0 still defines TRACE"), "{err}");
    let o = redirect_lab(&["asm", src, "-D", "TARGET_IFINDEX=5", "-f", "hex", "-o", "-"]);
    assert!(
        o.status.success() && stderr(&o).is_empty(),
        "{}",
        stderr(&o)
    );
}

/// Small message defects: each message says the thing once and says the
/// right thing.
#[test]
fn messages_say_it_once_and_right() {
    require_root();
    let dir = std::env::temp_dir().join(unique_prefix("msg"));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let prog = dir.join("call.s");
    std::fs::write(&prog, "call 9999\nr0 = 0\nexit\n").expect("write");
    let pkt = dir.join("pkt.bin");
    std::fs::write(&pkt, [0u8; 64]).expect("write");
    let o = redirect_lab(&[
        "run",
        prog.to_str().expect("path"),
        "--data",
        pkt.to_str().expect("path"),
    ]);
    let _ = std::fs::remove_dir_all(&dir);
    let err = stderr(&o);
    assert!(!o.status.success());
    assert!(err.contains("does not know helper id 9999;"), "{err}");
    assert!(!err.contains("helper an unnamed"), "{err}");

    let prefix = unique_prefix("msg");
    let o = redirect_lab(&["ping", "--prefix", &prefix, "-W", "1e30"]);
    let err = stderr(&o);
    assert!(!o.status.success());
    assert!(err.contains("too large"), "{err}");
    let o = redirect_lab(&["ping", "--prefix", &prefix, "-W=-1"]);
    assert!(
        stderr(&o).contains("give a number of seconds >= 0"),
        "{}",
        stderr(&o)
    );

    let o = redirect_lab(&["asm", "/dev/null", "-D", "X=99999999999999999999999"]);
    let err = stderr(&o);
    assert!(!o.status.success());
    assert!(
        err.contains("out of range") && !err.contains("not an integer"),
        "{err}"
    );
}

/// As `nobody`, the refusal names the command once:
/// "redirect-lab up needs root ...", not "redirect-lab up: redirect-lab up ...".
#[test]
fn the_root_refusal_names_the_command_once() {
    use std::os::unix::fs::PermissionsExt;
    require_root();
    if !Command::new("setpriv")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success())
    {
        eprintln!("SKIP: setpriv (util-linux) is not installed");
        return;
    }
    // A copy nobody can execute (the target directory may not be readable).
    let copy = std::env::temp_dir().join(format!("redirect-lab-{}", unique_prefix("once")));
    std::fs::copy(redirect_lab_binary(), &copy).expect("copy the binary");
    std::fs::set_permissions(&copy, std::fs::Permissions::from_mode(0o755)).expect("chmod");
    let prefix = unique_prefix("once");
    let o = Command::new("setpriv")
        .args(["--reuid=65534", "--regid=65534", "--clear-groups"])
        .arg(&copy)
        .args(["up", "--prefix", &prefix])
        .output()
        .expect("run setpriv");
    let _ = std::fs::remove_file(&copy);
    let err = stderr(&o);
    assert!(!o.status.success());
    assert!(err.starts_with("redirect-lab up needs root"), "{err}");
    assert_eq!(err.matches("redirect-lab up").count(), 1, "{err}");
}
