//! `redirect-lab load FILE --pin DIR` and `run --program/--set` on a
//! clang-built object with two programs, a ring buffer, a devmap, a
//! devmap_hash, a hash, `.rodata` strings, a `const volatile` global and a
//! subprogram (`tests/corpus/objload/two_progs.bpf.c`), against the running
//! kernel: everything loads in one pass, is pinned where the output says,
//! `bpftool` agrees on the maps' types and sizes and on the programs' BTF,
//! and `BPF_PROG_TEST_RUN` shows the `--set` value and the subprogram
//! (linked into each program) at work. Needs root, clang-19 and bpftool (fails
//! plainly without them, like the lab tests).

mod lab_common;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use lab_common::*;
use loader::{Map, Program, RingBuf, TestRun};

fn corpus(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("corpus/objload")
        .join(name)
}

fn have(tool: &str) -> bool {
    Command::new(tool).arg("--version").output().is_ok()
}

fn redirect_lab(args: &[&str]) -> Output {
    Command::new(redirect_lab_binary())
        .args(args)
        .output()
        .expect("run redirect-lab")
}

/// Files and pins this test made, removed even when it fails.
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

/// clang-19 -O2 -g -target bpf -mcpu=v3, as the issue asks.
fn compile(src: &Path, out: &Path) {
    lab_tests::clang::clang_bpf(src, out, "v3", false).unwrap_or_else(|e| panic!("{e}"));
}

fn bpftool(args: &[&str]) -> String {
    let o = Command::new("bpftool")
        .args(args)
        .output()
        .expect("bpftool runs");
    assert!(
        o.status.success(),
        "bpftool {args:?}: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn run(prog: &Program) -> u32 {
    prog.test_run(&TestRun {
        data_in: &[0u8; 64],
        ..Default::default()
    })
    .unwrap_or_else(|e| panic!("{e}"))
    .retval
}

#[test]
fn load_pins_two_programs_and_every_map_of_a_clang_object() {
    require_root();
    assert!(
        have("clang-19") && have("bpftool"),
        "needs clang-19 and bpftool"
    );
    loader::pin::ensure_bpffs().unwrap();
    let prefix = unique_prefix("objl");
    let obj = std::env::temp_dir().join(format!("{prefix}.o"));
    let pin = PathBuf::from(loader::pin::BPFFS_ROOT).join(&prefix);
    let _scratch = Scratch(vec![obj.clone(), pin.clone()]);
    compile(&corpus("two_progs.bpf.c"), &obj);
    let objs = obj.to_str().unwrap();
    let pins = pin.to_str().unwrap();

    let o = redirect_lab(&["load", objs, "--set", "verdict=3", "--pin", pins]);
    let out = String::from_utf8_lossy(&o.stdout).into_owned();
    assert!(
        o.status.success(),
        "{out}{}",
        String::from_utf8_lossy(&o.stderr)
    );
    assert!(out.contains("2 program(s), 6 map(s), BTF loaded"), "{out}");
    for (kind, name, what) in [
        ("program", "tc_count", "sched_cls"),
        ("program", "xdp_redirect", "xdp"),
        ("map", "events", "ringbuf"),
        ("map", "ports", "devmap"),
        ("map", "ports_by_ifindex", "devmap_hash"),
        ("map", "counts", "hash"),
        ("map", ".rodata", "array"),
        ("map", ".bss", "array"),
    ] {
        let line = out
            .lines()
            .find(|l| l.split_whitespace().take(2).eq([kind, name]))
            .unwrap_or_else(|| panic!("no {kind} {name} line in\n{out}"));
        assert!(line.contains(what), "{line}");
    }
    assert!(out.contains("calls bump"), "the subprogram is named: {out}");
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.is_empty(), "no warnings: {err}");
    assert!(
        out.contains("flags BPF_F_NO_PREALLOC"),
        "flags by name: {out}"
    );
    assert!(out.contains("BPF_F_RDONLY_PROG (data, frozen)"), "{out}");

    // bpftool agrees on every map's type and sizes, by its pin.
    for (pin_name, ty, key, value, max) in [
        ("events", "ringbuf", 0, 0, 4096),
        ("ports", "devmap", 4, 4, 8),
        ("ports_by_ifindex", "devmap_hash", 4, 4, 4),
        ("counts", "hash", 4, 8, 64),
        ("rodata", "array", 4, 29, 1),
        ("bss", "array", 4, 8, 1),
    ] {
        let p = pin.join("maps").join(pin_name);
        let show = bpftool(&["map", "show", "pinned", p.to_str().unwrap()]);
        let want = format!("key {key}B  value {value}B  max_entries {max}");
        assert!(
            show.contains(&format!(": {ty} ")) && show.contains(&want),
            "{pin_name}: {show}"
        );
        if pin_name == "rodata" {
            assert!(show.contains("frozen"), "{show}");
        }
        // Maps with data are typed by the object's BTF (as libbpf types
        // them); maps of ifindexes and the ring buffer are not.
        let typed = ["counts", "rodata", "bss"].contains(&pin_name);
        assert_eq!(show.contains("btf_id"), typed, "{pin_name}: {show}");
    }
    // So bpftool prints .rodata by its variables: --set's value and the string.
    let dump = bpftool(&[
        "map",
        "dump",
        "pinned",
        pin.join("maps/rodata").to_str().unwrap(),
    ]);
    assert!(dump.contains("\"verdict\": 3"), "{dump}");
    assert!(
        dump.contains("\"greeting\": \"objload: tc saw %u bytes\""),
        "{dump}"
    );
    // Each program carries the object's BTF, and its line info covers the
    // appended subprogram: bpftool quotes bump's C lines inside xdp_redirect.
    for p in ["tc_count", "xdp_redirect"] {
        let path = pin.join(p);
        let show = bpftool(&["prog", "show", "pinned", path.to_str().unwrap()]);
        assert!(show.contains("btf_id"), "{p}: {show}");
        let dump = bpftool(&[
            "prog",
            "dump",
            "xlated",
            "pinned",
            path.to_str().unwrap(),
            "linum",
        ]);
        assert!(dump.contains("int bump(__u32 key):"), "{p}: {dump}");
        assert!(
            dump.contains("bpf_map_lookup_elem(&counts, &key)"),
            "{p}: {dump}"
        );
    }

    // The pinned programs run: bump (the subprogram) counts per length in
    // `counts`, verdict (.rodata, set to 3) is added.
    let tc = Program::from_pin(pin.join("tc_count")).unwrap();
    assert_eq!(run(&tc), 103, "1 * 100 + verdict 3");
    assert_eq!(run(&tc), 203, "2 * 100 + verdict 3");
    let counts = Map::from_pin(pin.join("maps/counts")).unwrap();
    let n = counts
        .lookup(&64u32.to_ne_bytes())
        .unwrap()
        .expect("key 64");
    assert_eq!(u64::from_ne_bytes(n[..8].try_into().unwrap()), 2);
    let rodata = Map::from_pin(pin.join("maps/rodata")).unwrap();
    let ro = rodata.lookup(&0u32.to_ne_bytes()).unwrap().unwrap();
    assert_eq!(&ro[..4], &3u32.to_le_bytes(), "verdict in the frozen map");
    assert!(
        ro.windows(8).any(|w| w == b"objload:"),
        "the printk string is in .rodata"
    );
    let bss = Map::from_pin(pin.join("maps/bss")).unwrap();
    let seen = bss.lookup(&0u32.to_ne_bytes()).unwrap().unwrap();
    assert_eq!(u64::from_ne_bytes(seen[..8].try_into().unwrap()), 2);
    let mut ring = RingBuf::from_map(Map::from_pin(pin.join("maps/events")).unwrap()).unwrap();
    let records = ring.consume_vec().unwrap();
    assert_eq!(records.len(), 2, "one ring buffer record per run");
    assert!(records.iter().all(|r| r[..4] == 64u32.to_ne_bytes()));
    // XDP: verdict 3 takes the devmap redirect, whose empty slot 0 falls
    // back to the flags' action, XDP_DROP (1).
    let xdp = Program::from_pin(pin.join("xdp_redirect")).unwrap();
    assert_eq!(run(&xdp), 1, "XDP_DROP from bpf_redirect_map's fallback");

    // Pinning again into the same directory is refused, and leaves it alone.
    let o = redirect_lab(&["load", objs, "--pin", pins]);
    assert!(!o.status.success());
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains("is not empty"), "{err}");
    assert!(pin.join("tc_count").exists());
}

#[test]
fn run_takes_program_and_set_and_load_refuses_bad_sets() {
    require_root();
    assert!(have("clang-19"), "needs clang-19");
    let prefix = unique_prefix("objr");
    let obj = std::env::temp_dir().join(format!("{prefix}.o"));
    let pkt = std::env::temp_dir().join(format!("{prefix}.bin"));
    let pin = PathBuf::from(loader::pin::BPFFS_ROOT).join(&prefix);
    let _scratch = Scratch(vec![obj.clone(), pkt.clone(), pin.clone()]);
    compile(&corpus("two_progs.bpf.c"), &obj);
    std::fs::write(&pkt, [0u8; 64]).unwrap();
    let (objs, pkts) = (obj.to_str().unwrap(), pkt.to_str().unwrap());

    // Without --set, verdict is the compiled 0; each `run` loads afresh.
    for (set, tc, xdp) in [
        (None, "retval: 100", "retval: 2 (XDP_PASS)"),
        (Some("verdict=7"), "retval: 107", "retval: 1 (XDP_DROP)"),
    ] {
        for (program, want) in [("tc_count", tc), ("xdp_redirect", xdp)] {
            let mut args = vec!["run", objs, "--program", program, "--data", pkts];
            if let Some(s) = set {
                args.extend(["--set", s]);
            }
            let o = redirect_lab(&args);
            let out = String::from_utf8_lossy(&o.stdout);
            assert!(
                o.status.success() && out.contains(want),
                "{args:?}: {out}{}",
                String::from_utf8_lossy(&o.stderr)
            );
        }
    }
    // Two programs and no --program: the message lists them.
    let o = redirect_lab(&["run", objs, "--data", pkts]);
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(!o.status.success());
    assert!(
        err.contains("[\"tc_count\", \"xdp_redirect\"]") && err.contains("--program"),
        "{err}"
    );
    // A --set that names nothing, or does not fit, stops before anything
    // is pinned.
    let pins = pin.to_str().unwrap();
    for (set, why) in [
        ("nosuch=1", "no such global"),
        ("verdict=0x1ffffffff", "does not fit its 4 bytes"),
        ("verdict", "expected NAME=VALUE"),
    ] {
        let o = redirect_lab(&["load", objs, "--set", set, "--pin", pins]);
        let err = String::from_utf8_lossy(&o.stderr);
        assert!(!o.status.success(), "{set}");
        assert!(err.contains(why), "{set}: {err}");
        assert!(err.contains("--set"), "{set}: {err}");
        assert!(!pin.exists(), "{set}: nothing pinned");
    }
    // --program loads just that one.
    let o = redirect_lab(&["load", objs, "--program", "xdp_redirect", "--pin", pins]);
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert!(out.contains("1 program(s)"), "{out}");
    assert!(pin.join("xdp_redirect").exists() && !pin.join("tc_count").exists());
    let o = redirect_lab(&["prog", "list", "--program", "xdp_redirect"]);
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(out.contains("xdp_redirect"), "{out}");
}

/// No mutation of the object may panic the reader, the linker or the
/// loader: 1,500 objects with random bytes changed, each read and, when it
/// parses, loaded against the kernel. Whatever happens is an error
/// value or a load.
#[test]
fn mutated_objects_never_panic_the_loader() {
    require_root();
    assert!(have("clang-19"), "needs clang-19");
    let prefix = unique_prefix("objm");
    let obj = std::env::temp_dir().join(format!("{prefix}.o"));
    let _scratch = Scratch(vec![obj.clone()]);
    compile(&corpus("two_progs.bpf.c"), &obj);
    let bytes = std::fs::read(&obj).unwrap();
    // One to three bytes anywhere: headers, code, relocations, symbols,
    // .maps, .BTF and DWARF alike; zeros and 0xff favoured, as they make
    // sizes and offsets extreme.
    let mut rng = fastrand::Rng::with_seed(0x0b1_10ad);
    let (mut refused, mut loaded) = (0, 0);
    for _ in 0..1500 {
        let mut m = bytes.clone();
        for _ in 0..rng.usize(1..4) {
            let i = rng.usize(..m.len());
            m[i] = match rng.u8(..4) {
                0 => 0,
                1 => 0xff,
                _ => rng.u8(..),
            };
        }
        match loader::load::load_elf(&m, &Default::default()) {
            Ok(_) => loaded += 1,
            Err(e) => {
                assert!(!e.to_string().is_empty());
                refused += 1;
            }
        }
    }
    assert!(
        loaded > 0 && refused > 0,
        "loaded {loaded}, refused {refused}"
    );
}

/// A map given by name stands in for the object's declaration of that name
/// (how the lab passes its pinned maps): the program updates *that* map.
/// A given map of another shape is refused, naming both shapes.
#[test]
fn a_given_map_replaces_the_declared_one_when_it_matches() {
    use std::os::fd::AsFd;
    require_root();
    assert!(have("clang-19"), "needs clang-19");
    let prefix = unique_prefix("objg");
    let obj = std::env::temp_dir().join(format!("{prefix}.o"));
    let _scratch = Scratch(vec![obj.clone()]);
    compile(&corpus("two_progs.bpf.c"), &obj);
    let bytes = std::fs::read(&obj).unwrap();
    let make = |max_entries| {
        Map::create(&loader::MapSpec {
            map_type: loader::MapType::Hash,
            key_size: 4,
            value_size: 8,
            max_entries,
            flags: loader::map::MapFlags::NO_PREALLOC.bits(),
            name: "given",
        })
        .unwrap()
    };
    let ours = make(64);
    let given = [("counts", ours.as_fd())];
    let loaded = loader::load::load_elf(
        &bytes,
        &loader::load::LoadSpec {
            program: Some("tc_count"),
            extern_maps: &given,
            ..Default::default()
        },
    )
    .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(run(&loaded.programs[0].program), 100);
    let n = ours
        .lookup(&64u32.to_ne_bytes())
        .unwrap()
        .expect("counted in ours");
    assert_eq!(u64::from_ne_bytes(n[..8].try_into().unwrap()), 1);

    let other = make(32);
    let given = [("counts", other.as_fd())];
    let e = loader::load::load_elf(
        &bytes,
        &loader::load::LoadSpec {
            extern_maps: &given,
            ..Default::default()
        },
    )
    .unwrap_err()
    .to_string();
    assert!(
        e.contains("map counts") && e.contains("max_entries 64, but the map given"),
        "{e}"
    );
}
