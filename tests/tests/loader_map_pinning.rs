//! `__uint(pinning, LIBBPF_PIN_BY_NAME)`: the map is shared through the
//! pin `PIN_ROOT/NAME`, between our loads and with libbpf's (`bpftool prog
//! loadall`, whose root is `/sys/fs/bpf`). A pin whose map does not match
//! the declaration is refused by both and left as it was; a load that fails
//! leaves no pin; a pinning value other than 0 and 1 is refused by both.
//! `tests/corpus/objload/pinned.bpf.c`, with its map renamed for this run.
//! Needs root, clang-19 and bpftool (CI installs both).

use std::path::{Path, PathBuf};
use std::process::Command;

mod lab_common;

use loader::load::{load_elf, LoadSpec, LoadedObject};
use loader::{Map, MapSpec, MapType, TestRun};

/// The corpus object, its map renamed to `name` (and `edit` applied).
fn object(name: &str, edit: &dyn Fn(String) -> String) -> Vec<u8> {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("corpus/objload/pinned.bpf.c");
    let text = edit(
        std::fs::read_to_string(src)
            .unwrap()
            .replace("shared_count", name),
    );
    lab_tests::clang::object_of_text(name, &text)
}

fn count(l: &LoadedObject) -> i32 {
    l.program("count")
        .unwrap()
        .test_run(&TestRun {
            data_in: &[0u8; 64],
            ..Default::default()
        })
        .unwrap_or_else(|e| panic!("{e}"))
        .retval as i32
}

fn load(elf: &[u8], root: Option<&Path>) -> loader::Result<LoadedObject> {
    load_elf(
        elf,
        &LoadSpec {
            file_name: "pinned.bpf.c",
            pin_root: root,
            ..Default::default()
        },
    )
}

/// `bpftool prog loadall OBJ DIR`: Ok(stdout) or Err(stderr).
fn bpftool_loadall(elf: &[u8], dir: &str) -> Result<String, String> {
    lab_tests::bpftool::loadall(elf, dir, &[])
}

/// Pins and directories removed when the test ends, passed or not.
struct Cleanup(Vec<PathBuf>);
impl Drop for Cleanup {
    fn drop(&mut self) {
        for p in &self.0 {
            let _ = std::fs::remove_file(p);
            let _ = std::fs::remove_dir_all(p);
        }
    }
}

#[test]
fn a_map_pinned_by_name_is_shared_between_loads_and_with_libbpf() {
    // Kernel map names are 15 bytes at most; the pin keeps the whole name.
    let name = format!("lab_pin_{}", std::process::id() % 10_000_000);
    let pin = PathBuf::from(format!("/sys/fs/bpf/{name}"));
    let progs = format!("/sys/fs/bpf/lab-pinning-{}", std::process::id());
    let _clean = Cleanup(vec![pin.clone(), PathBuf::from(&progs)]);
    let elf = object(&name, &|t| t);

    let first = load(&elf, None).unwrap_or_else(|e| panic!("{e}"));
    let m = &first.maps[0];
    assert_eq!(
        m.pin.as_ref().map(|p| (p.path.clone(), p.reused)),
        Some((pin.clone(), false)),
        "the first load creates the map and pins it at /sys/fs/bpf/NAME"
    );
    let id = m.map.info().unwrap().id;
    assert_eq!(Map::from_pin(&pin).unwrap().info().unwrap().id, id);
    assert_eq!(count(&first), 1);

    let second = load(&elf, None).unwrap_or_else(|e| panic!("{e}"));
    let m2 = &second.maps[0];
    assert_eq!(m2.pin.as_ref().map(|p| p.reused), Some(true));
    assert_eq!(
        m2.map.info().unwrap().id,
        id,
        "the second load reuses the map"
    );
    assert_eq!(count(&second), 2, "and counts on in it");

    // libbpf takes the same pin for the same declaration.
    bpftool_loadall(&elf, &progs).unwrap_or_else(|e| panic!("bpftool prog loadall: {e}"));
    let theirs = loader::Program::from_pin(format!("{progs}/count")).unwrap();
    let show = Command::new("bpftool")
        .args(["-j", "prog", "show", "pinned", &format!("{progs}/count")])
        .output()
        .unwrap();
    let show: serde_json::Value = serde_json::from_slice(&show.stdout).unwrap();
    assert_eq!(
        show["map_ids"],
        serde_json::json!([id]),
        "libbpf's program uses our pinned map"
    );
    let r = theirs
        .test_run(&TestRun {
            data_in: &[0u8; 64],
            ..Default::default()
        })
        .unwrap()
        .retval;
    assert_eq!(r, 3, "libbpf's program counts in the shared map");
    drop((first, second));
    assert!(pin.exists(), "the pin outlives the loads");
}

#[test]
fn a_pinned_map_unlike_the_declaration_is_refused_and_left_alone() {
    let name = format!("lab_pmm_{}", std::process::id() % 10_000_000);
    let pin = PathBuf::from(format!("/sys/fs/bpf/{name}"));
    let progs = format!("/sys/fs/bpf/lab-pinmm-{}", std::process::id());
    let _clean = Cleanup(vec![pin.clone(), PathBuf::from(&progs)]);
    // Someone else's map under that name, with 2 entries, not 1.
    let other = Map::create(&MapSpec {
        map_type: MapType::Array,
        key_size: 4,
        value_size: 8,
        max_entries: 2,
        flags: 0,
        name: "other",
    })
    .unwrap();
    other.pin(&pin).unwrap();
    let id = other.info().unwrap().id;
    let elf = object(&name, &|t| t);

    let e = load(&elf, None).unwrap_err().to_string();
    assert!(
        e.contains(&format!("map {name}"))
            && e.contains(&format!("cannot reuse the map pinned at {}", pin.display()))
            && e.contains("max_entries 1")
            && e.contains("max_entries 2"),
        "{e}"
    );
    assert_eq!(
        Map::from_pin(&pin).unwrap().info().unwrap().id,
        id,
        "the pin still holds the other map"
    );
    // libbpf refuses it too.
    let theirs = bpftool_loadall(&elf, &progs);
    assert!(
        theirs.is_err(),
        "bpftool prog loadall took a mismatched pin"
    );
}

#[test]
fn a_load_that_fails_leaves_no_pin() {
    let root = PathBuf::from(format!("/sys/fs/bpf/lab-pinfail-{}", std::process::id()));
    let _clean = Cleanup(vec![root.clone()]);
    // A second program the verifier refuses (it dereferences a number),
    // loaded after the map was made and `count` was loaded.
    let broken = object("shared_count", &|t| {
        t.replace(
            "char LICENSE",
            "SEC(\"tc\") int broken(struct __sk_buff *skb)\n\
             {\n\treturn *(volatile int *)(long)skb->len;\n}\n\nchar LICENSE",
        )
    });
    let e = load_elf(
        &broken,
        &LoadSpec {
            file_name: "pinned.bpf.c",
            pin_root: Some(&root),
            ..Default::default()
        },
    )
    .unwrap_err();
    assert!(
        e.to_string()
            .contains("the verifier rejected program \"broken\""),
        "{e}"
    );
    assert!(
        !root.join("shared_count").exists(),
        "a refused load pinned its map"
    );
    // A root outside bpffs: refused by the kernel, and the directories made
    // for the pin are gone again.
    let elf = object("shared_count", &|t| t);
    let tmp = std::env::temp_dir().join(format!("lab-pinroot-{}", std::process::id()));
    let e = load(&elf, Some(&tmp.join("a"))).unwrap_err().to_string();
    assert!(e.contains("not on a bpffs"), "{e}");
    assert!(!tmp.exists(), "{} was left behind", tmp.display());
    // Without the broken program, the pin is made under the root we gave.
    let ok = load(&elf, Some(&root)).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(
        ok.maps[0].pin.as_ref().map(|p| p.path.clone()),
        Some(root.join("shared_count"))
    );
    assert!(root.join("shared_count").exists());
}

#[test]
fn a_pinning_other_than_none_or_by_name_is_refused_like_libbpf_refuses_it() {
    let name = format!("lab_pbad_{}", std::process::id() % 1_000_000);
    let progs = format!("/sys/fs/bpf/lab-pinbad-{}", std::process::id());
    let _clean = Cleanup(vec![
        PathBuf::from(format!("/sys/fs/bpf/{name}")),
        PathBuf::from(&progs),
    ]);
    // LIBBPF_PIN_BY_NAME + 1: no such pinning.
    let elf = object(&name, &|t| {
        t.replace(
            "__uint(pinning, LIBBPF_PIN_BY_NAME)",
            "__uint(pinning, LIBBPF_PIN_BY_NAME + 1)",
        )
    });
    let e = load(&elf, None).unwrap_err().to_string();
    assert!(
        e.contains("__uint(pinning, 2) is neither LIBBPF_PIN_NONE (0) nor LIBBPF_PIN_BY_NAME (1)"),
        "{e}"
    );
    assert!(
        bpftool_loadall(&elf, &progs).is_err(),
        "libbpf took pinning 2"
    );
}

#[test]
fn redirect_lab_load_takes_a_pin_root_and_says_where_each_map_is_shared() {
    let pid = std::process::id();
    let root = PathBuf::from(format!("/sys/fs/bpf/lab-pinroot-{pid}"));
    let dirs = [1, 2].map(|i| PathBuf::from(format!("/sys/fs/bpf/lab-pincli-{pid}-{i}")));
    let mut clean = vec![root.clone()];
    clean.extend(dirs.iter().cloned());
    let _clean = Cleanup(clean);
    let obj = std::env::temp_dir().join(format!("pinned-cli-{pid}.o"));
    std::fs::write(&obj, object("shared_count", &|t| t)).unwrap();
    let mut seen = Vec::new();
    for dir in &dirs {
        let o = Command::new(lab_common::redirect_lab_binary())
            .arg("load")
            .arg(&obj)
            .arg("--pin")
            .arg(dir)
            .arg("--pin-root")
            .arg(&root)
            .arg("--json")
            .output()
            .unwrap();
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
        seen.push((
            v["maps"][0]["origin"].as_str().unwrap_or("").to_string(),
            v["maps"][0]["id"].as_u64(),
        ));
    }
    let _ = std::fs::remove_file(&obj);
    let pin = root.join("shared_count");
    assert_eq!(
        seen[0].0,
        format!(".maps, by name: pinned at {}", pin.display())
    );
    assert_eq!(
        seen[1].0,
        format!(".maps, by name: reused from {}", pin.display())
    );
    assert_eq!(seen[0].1, seen[1].1, "one map for both loads");
}
