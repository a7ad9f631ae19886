//! The external check: `bpftool prog loadall OUR.o /sys/fs/bpf/X`
//! (libbpf) loads an object *we* assembled, with two programs (`tc`,
//! `xdp`), a ring buffer map and a devmap declared in `.maps`, and a
//! `.rodata` string passed to `bpf_trace_printk`; `bpftool map show` lists
//! the maps with the types and sizes declared. Our own `redirect-lab load`
//! loads the same file, and both loaders' programs give the same test-run
//! results.
//!
//! The object is `tests/corpus/objload/two_progs.s`, assembled by
//! `ebpf_asm` as an object with the BTF it writes (FUNCs, line info, the
//! `.map` definitions, the `.rodata` DATASEC). Needs root, bpffs and bpftool.

mod lab_common;

use std::path::{Path, PathBuf};
use std::process::Command;

use lab_common::*;
use loader::{Program, TestRun};

/// Our object, from `tests/corpus/objload/two_progs.s`: assembled as an
/// object (`assemble_full`) with the BTF our assembler writes
/// (`object_with_btf`: FUNCs, line info, the `.map` definitions, the
/// `.rodata` DATASEC), written by `Object::to_elf`.
fn our_object() -> Vec<u8> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("corpus/objload/two_progs.s");
    let text = std::fs::read_to_string(&path).expect("two_progs.s");
    let opts = ebpf_asm::AsmOptions {
        file_name: "two_progs.s".into(),
        ..Default::default()
    };
    let a = ebpf_asm::text::assemble_full(&text, &opts).unwrap_or_else(|e| panic!("{e}"));
    let obj = a.object_with_btf();
    assert_eq!(obj.maps.len(), 2, "two .map declarations");
    obj.to_elf().expect("ELF")
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

/// The `"key":value` of a bpftool JSON object, as text.
fn json_field<'a>(json: &'a str, key: &str) -> Option<&'a str> {
    let at = json.find(&format!("\"{key}\":"))? + key.len() + 3;
    let rest = &json[at..];
    let end = rest.find([',', '}']).unwrap_or(rest.len());
    Some(rest[..end].trim_matches('"'))
}

struct Scratch(Vec<PathBuf>);

impl Drop for Scratch {
    fn drop(&mut self) {
        for p in &self.0 {
            if p.is_dir() {
                let _ = std::fs::remove_dir_all(p);
            } else {
                let _ = std::fs::remove_file(p);
            }
        }
    }
}

/// (type, key, value, max_entries) of each map `pin`'s program uses, by
/// name, as `bpftool map show` prints them.
fn maps_of(pin: &Path) -> Vec<(String, String, String, String, String)> {
    let (ok, show) = bpftool(&["-j", "prog", "show", "pinned", pin.to_str().unwrap()]);
    assert!(ok, "{} not pinned: {show}", pin.display());
    assert!(show.contains("\"btf_id\":"), "{show}");
    let ids = show
        .split("\"map_ids\":[")
        .nth(1)
        .and_then(|s| s.split(']').next())
        .unwrap_or_else(|| panic!("{} uses no map: {show}", pin.display()));
    ids.split(',')
        .map(|m| {
            let (ok, map) = bpftool(&["-j", "map", "show", "id", m.trim()]);
            assert!(ok, "{map}");
            let f = |k| json_field(&map, k).unwrap_or("").to_string();
            (
                f("name"),
                f("type"),
                f("bytes_key"),
                f("bytes_value"),
                f("max_entries"),
            )
        })
        .collect()
}

#[test]
fn libbpf_and_our_loader_both_load_an_object_we_assembled() {
    require_root();
    loader::pin::ensure_bpffs().unwrap();
    let prefix = unique_prefix("objb");
    let file = std::env::temp_dir().join(format!("{prefix}.o"));
    let theirs = PathBuf::from(loader::pin::BPFFS_ROOT).join(format!("{prefix}-libbpf"));
    let ours = PathBuf::from(loader::pin::BPFFS_ROOT).join(format!("{prefix}-ours"));
    let _scratch = Scratch(vec![file.clone(), theirs.clone(), ours.clone()]);
    std::fs::write(&file, our_object()).unwrap();
    let files = file.to_str().unwrap();

    let (ok, dump) = bpftool(&["btf", "dump", "file", files]);
    assert!(ok, "{dump}");
    assert!(dump.contains("DATASEC '.maps' size=48 vlen=2"), "{dump}");
    assert!(dump.contains("DATASEC '.rodata' size=16 vlen=1"), "{dump}");

    // libbpf.
    let (ok, out) = bpftool(&["prog", "loadall", files, theirs.to_str().unwrap()]);
    assert!(ok, "bpftool prog loadall refused our object:\n{out}");
    let mut seen = maps_of(&theirs.join("tc_log"));
    seen.extend(maps_of(&theirs.join("xdp_fwd")));
    let find = |n: &str| {
        seen.iter()
            .find(|m| m.0 == n || m.0.ends_with(n))
            .unwrap_or_else(|| panic!("no map {n} in {seen:?}"))
            .clone()
    };
    let e = find("events");
    assert_eq!(
        (e.1.as_str(), e.2.as_str(), e.3.as_str(), e.4.as_str()),
        ("ringbuf", "0", "0", "4096")
    );
    let p = find("ports");
    assert_eq!(
        (p.1.as_str(), p.2.as_str(), p.3.as_str(), p.4.as_str()),
        ("devmap", "4", "4", "8")
    );
    let r = find(".rodata");
    assert_eq!(
        (r.1.as_str(), r.2.as_str(), r.3.as_str(), r.4.as_str()),
        ("array", "4", "16", "1")
    );

    // Ours, on the same file.
    let o = Command::new(redirect_lab_binary())
        .args(["load", files, "--pin", ours.to_str().unwrap()])
        .output()
        .expect("redirect-lab runs");
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(
        o.status.success(),
        "{out}{}",
        String::from_utf8_lossy(&o.stderr)
    );
    assert!(out.contains("2 program(s), 3 map(s), BTF loaded"), "{out}");
    let mine = maps_of(&ours.join("tc_log"));
    assert!(
        mine.iter().any(|m| m.0 == "events" && m.1 == "ringbuf"),
        "{mine:?}"
    );
    assert!(
        mine.iter().any(|m| m.0 == ".rodata" && m.3 == "16"),
        "{mine:?}"
    );

    // Both loaders' programs do the same thing.
    let pkt = [0u8; 64];
    for (prog, want) in [("tc_log", 0), ("xdp_fwd", 2)] {
        for dir in [&theirs, &ours] {
            let p = Program::from_pin(dir.join(prog)).unwrap();
            let r = p
                .test_run(&TestRun {
                    data_in: &pkt,
                    ..Default::default()
                })
                .unwrap();
            assert_eq!(r.retval, want, "{prog} loaded into {}", dir.display());
        }
    }
}
