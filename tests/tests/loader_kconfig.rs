//! `__kconfig` externs (`loader/src/bpf/kconfig.rs`) on the running kernel:
//! `tests/corpus/objload/kconfig.bpf.c` returns each value from a program,
//! and the test compares with what it reads itself (`/proc/sys/kernel/
//! osrelease`, the config via `zcat /proc/config.gz` or `/boot`,
//! `/proc/kallsyms`). The `.kconfig` map's bytes are compared with the ones
//! libbpf writes (`bpftool prog loadall ... pinmaps`), except
//! `LINUX_HAS_SYSCALL_WRAPPER`: libbpf answers it by opening a kprobe on
//! `__x64_sys_bpf`, so on a kernel without kprobes (this host) it says
//! false; we read the wrapper's presence from kallsyms. Needs root,
//! clang-19, bpftool and gzip.

use std::collections::HashMap;
use std::path::Path;
use std::process::Command;

use lab_tests::clang::object_of;
use loader::load::{load_elf, LoadSpec};
use loader::TestRun;

fn config() -> HashMap<String, String> {
    let release = std::fs::read_to_string("/proc/sys/kernel/osrelease").unwrap();
    let boot = format!("/boot/config-{}", release.trim());
    let text = std::fs::read_to_string(&boot).unwrap_or_else(|_| {
        let o = Command::new("zcat")
            .arg("/proc/config.gz")
            .output()
            .unwrap();
        assert!(o.status.success(), "zcat /proc/config.gz");
        String::from_utf8(o.stdout).unwrap()
    });
    text.lines()
        .filter_map(|l| l.split_once('='))
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

#[test]
fn kconfig_externs_read_the_running_kernels_config() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("corpus/objload/kconfig.bpf.c");
    let elf = object_of(&src);
    let loaded = load_elf(
        &elf,
        &LoadSpec {
            file_name: "kconfig.bpf.c",
            ..Default::default()
        },
    )
    .unwrap_or_else(|e| panic!("{e}"));
    let run = |p: &str| {
        loaded
            .program(p)
            .unwrap()
            .test_run(&TestRun {
                data_in: &[0u8; 64],
                ..Default::default()
            })
            .unwrap_or_else(|e| panic!("{p}: {e}"))
            .retval
    };
    let release = std::fs::read_to_string("/proc/sys/kernel/osrelease").unwrap();
    let nums: Vec<u32> = release
        .trim()
        .split(|c: char| !c.is_ascii_digit())
        .take(3)
        .map(|n| n.parse().unwrap())
        .collect();
    assert_eq!(
        run("version"),
        (nums[0] << 16) + (nums[1] << 8) + nums[2].min(255),
        "KERNEL_VERSION of {release}"
    );
    let cfg = config();
    assert_eq!(run("hz").to_string(), cfg["CONFIG_HZ"]);
    let tri = match cfg.get("CONFIG_NET_CLS_BPF").map(String::as_str) {
        Some("y") => 1,
        Some("m") => 2,
        _ => 0,
    };
    let bpf = u32::from(cfg.get("CONFIG_BPF_SYSCALL").map(String::as_str) == Some("y"));
    let kallsyms = std::fs::read_to_string("/proc/kallsyms").unwrap();
    let wrapper = u32::from(kallsyms.lines().any(|l| l.ends_with(" __x64_sys_bpf")));
    let flags = run("flags");
    assert_eq!(
        flags & 0xf,
        bpf | tri << 1,
        "BPF_SYSCALL, NET_CLS_BPF, weak missing 0"
    );
    assert_eq!(
        (flags >> 4) & 1,
        wrapper,
        "LINUX_HAS_SYSCALL_WRAPPER from kallsyms"
    );
    assert_eq!((flags >> 5) & 1, 1, "bpf_get_attach_cookie exists on 5.15+");
    let lv = cfg["CONFIG_LOCALVERSION"]
        .trim_matches('"')
        .as_bytes()
        .to_vec();
    let mut four = [0u8; 4];
    for (i, b) in lv.iter().take(4).enumerate() {
        four[i] = *b;
    }
    assert_eq!(run("localversion"), u32::from_le_bytes(four));

    // The oracle: libbpf's .kconfig map for the same object.
    let m = loaded.maps.iter().find(|m| m.name == ".kconfig").unwrap();
    let ours = m.map.lookup(&0u32.to_ne_bytes()).unwrap().unwrap();
    let id = std::process::id();
    let (obj, dir, maps) = (
        std::env::temp_dir().join(format!("kconfig-{id}.o")),
        format!("/sys/fs/bpf/lab-kconfig-{id}"),
        format!("/sys/fs/bpf/lab-kconfig-maps-{id}"),
    );
    std::fs::write(&obj, &elf).unwrap();
    std::fs::create_dir_all(&maps).unwrap();
    let o = Command::new("bpftool")
        .args(["prog", "loadall"])
        .arg(&obj)
        .args([&dir, "pinmaps", &maps])
        .output()
        .expect("bpftool runs");
    let pinned = std::fs::read_dir(&maps)
        .unwrap()
        .filter_map(|e| e.ok())
        .find(|e| e.file_name().to_string_lossy().ends_with("kconfig"))
        .map(|e| e.path());
    let dump = pinned.as_ref().map(|p| {
        Command::new("bpftool")
            .args(["map", "dump", "pinned"])
            .arg(p)
            .arg("-j")
            .output()
            .unwrap()
    });
    let _ = std::fs::remove_dir_all(&dir);
    let _ = std::fs::remove_dir_all(&maps);
    let _ = std::fs::remove_file(&obj);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let dump = dump.expect("libbpf pinned its .kconfig map");
    let v: serde_json::Value = serde_json::from_slice(&dump.stdout).unwrap();
    let theirs: Vec<u8> = v[0]["value"]
        .as_array()
        .unwrap()
        .iter()
        .map(|b| u8::from_str_radix(b.as_str().unwrap().trim_start_matches("0x"), 16).unwrap())
        .collect();
    assert_eq!(ours.len(), theirs.len(), "value size");
    // Find the wrapper's byte from libbpf's own BTF-formatted dump order:
    // every byte but that one must agree.
    let differing: Vec<usize> = (0..ours.len()).filter(|&i| ours[i] != theirs[i]).collect();
    assert!(differing.len() <= 1, "ours {ours:?}\nlibbpf {theirs:?}");
    if let Some(&i) = differing.first() {
        assert_eq!(
            (ours[i], theirs[i]),
            (1, 0),
            "only LINUX_HAS_SYSCALL_WRAPPER may differ (libbpf probes it with a kprobe)"
        );
    }
}
