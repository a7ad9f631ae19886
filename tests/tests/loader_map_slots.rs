//! Maps of maps and program arrays declared with `__array(values, T)` and
//! initialized in C (`.values = { [i] = &x }`), loaded by our loader and,
//! as the oracle, by libbpf (`bpftool prog loadall`). Both must make the
//! inner map template, store the inner maps and the tail-call target in
//! their slots, and give programs that return the same values.
//! `tests/corpus/objload/nested.bpf.c` is the object. Needs root, clang-19
//! and bpftool (CI installs both).

use std::path::{Path, PathBuf};
use std::process::Command;

use ebpf_asm::object::{MapSlot, MapValues, Object};
use lab_tests::clang::{object_of, object_of_text};
use loader::load::{load_elf, LoadSpec, LoadedObject};
use loader::{Map, TestRun};

fn src() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("corpus/objload/nested.bpf.c")
}

fn run(p: &loader::Program, len: usize) -> i32 {
    p.test_run(&TestRun {
        data_in: &vec![0u8; len],
        ..Default::default()
    })
    .unwrap_or_else(|e| panic!("{e}"))
    .retval as i32
}

fn program<'a>(l: &'a LoadedObject, name: &str) -> &'a loader::Program {
    l.program(name)
        .unwrap_or_else(|| panic!("no program {name}"))
}

fn map<'a>(l: &'a LoadedObject, name: &str) -> &'a Map {
    l.map(name).unwrap_or_else(|| panic!("no map {name}"))
}

fn u32_at(v: &[u8]) -> u32 {
    u32::from_le_bytes(v[..4].try_into().unwrap())
}

/// `bpftool ARGS`, its stdout; a failure is the test's.
fn bpftool(args: &[&str]) -> String {
    let o = Command::new("bpftool")
        .args(args)
        .output()
        .expect("bpftool runs (CI installs it)");
    assert!(
        o.status.success(),
        "bpftool {args:?}: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn json(args: &[&str]) -> serde_json::Value {
    let mut a = vec!["-j"];
    a.extend_from_slice(args);
    serde_json::from_str(&bpftool(&a)).unwrap()
}

/// Removes a bpffs directory of pins when the test ends, passed or not.
struct Pins(String);
impl Drop for Pins {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

#[test]
fn the_object_model_reads_values_and_slots_as_libbpf_does() {
    let obj = Object::from_elf(&object_of(&src())).unwrap();
    let btf = obj.btf().unwrap().unwrap();
    let maps = obj.declared_maps(Some(&btf)).unwrap();
    let by_size = maps.iter().find(|m| m.name == "by_size").unwrap();
    let Some(MapValues::Maps(inner)) = &by_size.values else {
        panic!("by_size has an inner definition: {by_size:?}");
    };
    assert_eq!(
        (
            inner.map_type(),
            inner.key_size(),
            inner.value_size(),
            inner.max_entries()
        ),
        (Some(2), Some(4), Some(8), Some(1)),
        "the inner definition is struct counter"
    );
    assert_eq!(
        by_size.value_size(),
        Some(4),
        "a map of maps holds 4-byte fds"
    );
    let slot = |i: u32, s: &str| MapSlot {
        index: i,
        symbol: s.into(),
    };
    assert_eq!(by_size.slots, [slot(0, "small"), slot(1, "large")]);
    let jumps = maps.iter().find(|m| m.name == "jumps").unwrap();
    assert_eq!(jumps.values, Some(MapValues::Programs));
    assert_eq!(jumps.slots, [slot(1, "tail_target")]);
}

#[test]
fn maps_of_maps_and_program_arrays_are_filled_like_libbpf_fills_them() {
    let elf = object_of(&src());
    let ours = load_elf(
        &elf,
        &LoadSpec {
            file_name: "nested.bpf.c",
            ..Default::default()
        },
    )
    .unwrap_or_else(|e| panic!("{e}"));

    // The outer map is what libbpf makes of the declaration.
    let outer = map(&ours, "by_size").info().unwrap();
    assert_eq!(
        (
            outer.map_type,
            outer.key_size,
            outer.value_size,
            outer.max_entries
        ),
        (12, 4, 4, 2),
        "BPF_MAP_TYPE_ARRAY_OF_MAPS, key 4, value 4 (an fd), max_entries 2"
    );
    // User space reads a map of maps' slot as the inner map's id.
    for (slot, inner) in [(0u32, "small"), (1, "large")] {
        let id = map(&ours, "by_size")
            .lookup(&slot.to_le_bytes())
            .unwrap()
            .map(|v| u32_at(&v));
        assert_eq!(
            id,
            Some(map(&ours, inner).info().unwrap().id),
            "slot {slot}"
        );
    }
    // The programs see the same: two small packets and one large one.
    let count = program(&ours, "count_by_size");
    let seen: Vec<i32> = [64, 64, 200].iter().map(|&l| run(count, l)).collect();
    assert_eq!(seen, [1, 2, 1], "per-class counts through the inner maps");
    let small = map(&ours, "small").lookup(&0u32.to_le_bytes()).unwrap();
    assert_eq!(small.map(|v| v[0]), Some(2));
    assert_eq!(
        run(program(&ours, "via_tail"), 64),
        42,
        "slot 1 of jumps holds tail_target"
    );

    // The oracle: libbpf, on the same object.
    let pid = std::process::id();
    let dir = format!("/sys/fs/bpf/lab-slots-{pid}");
    let _pins = Pins(dir.clone());
    let maps_dir = format!("{dir}/maps");
    lab_tests::bpftool::loadall(&elf, &dir, &["pinmaps", &maps_dir])
        .unwrap_or_else(|e| panic!("bpftool prog loadall: {e}"));
    let theirs_outer = json(&["map", "show", "pinned", &format!("{maps_dir}/by_size")]);
    assert_eq!(
        (
            theirs_outer["type"].as_str(),
            theirs_outer["bytes_key"].as_u64(),
            theirs_outer["bytes_value"].as_u64(),
            theirs_outer["max_entries"].as_u64()
        ),
        (Some("array_of_maps"), Some(4), Some(4), Some(2)),
        "libbpf's outer map"
    );
    let theirs = Map::from_pin(format!("{maps_dir}/by_size")).unwrap();
    let small_id = json(&["map", "show", "pinned", &format!("{maps_dir}/small")])["id"].as_u64();
    let slot0 = theirs
        .lookup(&0u32.to_le_bytes())
        .unwrap()
        .map(|v| u32_at(&v));
    assert_eq!(
        slot0.map(u64::from),
        small_id,
        "libbpf stores small in slot 0 too"
    );
    for (prog, len, want) in [
        ("count_by_size", 64, 1),
        ("count_by_size", 200, 1),
        ("via_tail", 64, 42),
    ] {
        let p = loader::Program::from_pin(format!("{dir}/{prog}")).unwrap();
        assert_eq!(run(&p, len), want, "libbpf's {prog} on {len} bytes");
    }
}

#[test]
fn a_slot_whose_program_is_not_loaded_stays_empty_with_a_warning() {
    let elf = object_of(&src());
    let ours = load_elf(
        &elf,
        &LoadSpec {
            file_name: "nested.bpf.c",
            program: Some("via_tail"),
            ..Default::default()
        },
    )
    .unwrap_or_else(|e| panic!("{e}"));
    assert!(
        ours.warnings
            .iter()
            .any(|w| w.contains("slot 1 stays empty") && w.contains("tail_target")),
        "{:?}",
        ours.warnings
    );
    assert_eq!(
        run(program(&ours, "via_tail"), 64),
        7,
        "the empty slot: bpf_tail_call returns"
    );
}

#[test]
fn a_map_of_maps_without_its_inner_definition_is_refused_by_name() {
    let text = std::fs::read_to_string(src())
        .unwrap()
        .replace(
            "\t__array(values, struct counter);\n",
            "\t__type(value, __u32);\n",
        )
        .replace("\t.values = { [0] = &small, [1] = &large },\n", "");
    let elf = object_of_text("no_inner", &text);
    let e = load_elf(&elf, &LoadSpec::default())
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("map by_size") && e.contains("__array(values, struct"),
        "{e}"
    );
}

/// `nested.bpf.c` with `edit` applied, compiled; `bpftool prog loadall`'s
/// verdict on it (libbpf's), and ours.
fn both_verdicts(tag: &str, edit: &dyn Fn(String) -> String) -> (Result<(), String>, String) {
    let text = edit(std::fs::read_to_string(src()).unwrap());
    let elf = object_of_text(&format!("nested-{tag}"), &text);
    let dir = format!("/sys/fs/bpf/lab-slots-{tag}-{}", std::process::id());
    let _pins = Pins(dir.clone());
    let theirs = lab_tests::bpftool::loadall(&elf, &dir, &[]).map(|_| ());
    let ours = match load_elf(&elf, &LoadSpec::default()) {
        Ok(_) => "loaded".to_string(),
        Err(e) => e.to_string(),
    };
    (theirs, ours)
}

#[test]
fn malformed_values_are_refused_by_both_loaders() {
    // A sized array where __array writes a flexible one.
    let (theirs, ours) = both_verdicts("sized", &|t| {
        t.replacen(
            "\t__array(values, struct counter);\n",
            "\tstruct counter *values[2];\n",
            1,
        )
    });
    assert!(theirs.is_err(), "libbpf took values[2]");
    assert!(
        ours.contains("map by_size") && ours.contains("not __array-shaped"),
        "{ours}"
    );
    // A value size other than an fd's 4 bytes.
    let (theirs, ours) = both_verdicts("size", &|t| {
        t.replacen(
            "\t__array(values, struct counter);\n",
            "\t__uint(value_size, 8);\n\t__array(values, struct counter);\n",
            1,
        )
    });
    assert!(
        theirs.is_err(),
        "libbpf took value_size 8 for a map of maps"
    );
    assert!(
        ours.contains("map by_size") && ours.contains("value_size 8 conflicts"),
        "{ours}"
    );
}
