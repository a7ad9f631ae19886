//! `redirect-lab` without root: every lab command says plainly that it
//! needs root (naming the capabilities) and exits non-zero, never panics.
//! The binary is run as `nobody` and as root with every capability dropped,
//! through util-linux's `setpriv`.

mod lab_common;

use std::os::unix::fs::PermissionsExt;
use std::path::PathBuf;
use std::process::{Command, Output};

use lab_common::*;

/// A copy of the binary that `nobody` can execute (the target directory
/// may not be readable by other users), removed on drop.
struct PublicCopy(PathBuf);

impl PublicCopy {
    fn new() -> PublicCopy {
        let src = redirect_lab_binary();
        let dst = std::env::temp_dir().join(format!("redirect-lab-unpriv-{}", unique_prefix("u")));
        std::fs::copy(&src, &dst).expect("copy the binary");
        std::fs::set_permissions(&dst, std::fs::Permissions::from_mode(0o755)).expect("chmod");
        PublicCopy(dst)
    }
}

impl Drop for PublicCopy {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

fn setpriv_available() -> bool {
    Command::new("setpriv")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success())
}

fn run(setpriv: &[&str], bin: &PublicCopy, args: &[&str]) -> Output {
    Command::new("setpriv")
        .args(setpriv)
        .arg(&bin.0)
        .args(args)
        .current_dir("/")
        .output()
        .expect("run setpriv")
}

fn assert_plain_refusal(out: &Output, what: &str) {
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "{what} must fail: {stderr}");
    assert_eq!(
        out.status.code(),
        Some(1),
        "{what}: a plain error exit, not a crash: {stderr}"
    );
    assert!(!stderr.contains("panicked"), "{what} panicked: {stderr}");
    assert!(stderr.contains("needs root"), "{what}: {stderr}");
    assert!(
        stderr.contains("CAP_NET_ADMIN") && stderr.contains("CAP_BPF"),
        "{what}: {stderr}"
    );
}

#[test]
fn as_nobody_every_lab_command_says_it_needs_root() {
    require_root();
    assert!(
        setpriv_available(),
        "setpriv (util-linux) is needed for this test"
    );
    let bin = PublicCopy::new();
    let prefix = unique_prefix("np");
    let nobody = ["--reuid=65534", "--regid=65534", "--clear-groups"];
    for args in [
        vec!["up", "--prefix", &prefix],
        vec!["up"],
        vec!["down", "--prefix", &prefix],
        vec!["status", "--prefix", &prefix],
        vec!["send", "--prefix", &prefix],
        vec!["listen", "--prefix", &prefix, "--timeout", "0.1"],
    ] {
        let out = run(&nobody, &bin, &args);
        assert_plain_refusal(&out, &format!("redirect-lab {} as nobody", args.join(" ")));
    }
    assert!(!std::path::Path::new("/run/netns")
        .join(format!("{prefix}_netns_1"))
        .exists());
}

#[test]
fn as_root_without_capabilities_up_names_what_is_missing() {
    require_root();
    assert!(
        setpriv_available(),
        "setpriv (util-linux) is needed for this test"
    );
    let bin = PublicCopy::new();
    let prefix = unique_prefix("nc");
    // uid 0, but an empty bounding set: exec leaves no effective capability.
    let no_caps = ["--bounding-set=-all", "--inh-caps=-all"];
    let out = run(&no_caps, &bin, &["up", "--prefix", &prefix]);
    assert_plain_refusal(&out, "redirect-lab up without capabilities");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("lacks CAP_NET_ADMIN, CAP_SYS_ADMIN, CAP_BPF"),
        "{stderr}"
    );
    assert!(!std::path::Path::new("/run/netns")
        .join(format!("{prefix}_netns_1"))
        .exists());
}
