//! `.map` and the BTF of a hand-written object (`tests/corpus/two_programs.s`:
//! two programs, a RINGBUF, a DEVMAP and a HASH declared with `.map`, a
//! `.rodata` string), judged three ways:
//!
//! - `bpftool btf dump file` reads our `.BTF` and lists both functions, the
//!   three map VARs in DATASEC `.maps` and the string in DATASEC `.rodata`;
//! - the map definitions are the BTF clang-19 writes for the same C
//!   declarations (`tests/corpus/two_programs_maps.bpf.c`): the same VARs,
//!   each an anonymous STRUCT of the same members, each member a PTR to an
//!   ARRAY of the same number of elements (skips without clang-19);
//! - libbpf (`bpftool prog loadall`) loads both programs and creates the
//!   maps with the declared types and sizes (needs root, bpffs, bpftool).

use ebpf_asm::btf::{Btf, Kind, TypeData};
use std::path::{Path, PathBuf};
use std::process::Command;

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("workspace")
        .to_path_buf()
}

fn ours() -> Vec<u8> {
    let path = repo().join("tests/corpus/two_programs.s");
    let text = std::fs::read_to_string(&path).expect("corpus");
    let opts = ebpf_asm::AsmOptions {
        file_name: "two_programs.s".into(),
        ..Default::default()
    };
    let a = ebpf_asm::text::assemble_full(&text, &opts).unwrap_or_else(|e| panic!("{e}"));
    a.object_with_btf().to_elf().expect("writes")
}

fn bpftool(args: &[&str]) -> Option<(bool, String)> {
    let o = Command::new("bpftool").args(args).output().ok()?;
    let mut s = String::from_utf8_lossy(&o.stdout).into_owned();
    s += &String::from_utf8_lossy(&o.stderr);
    Some((o.status.success(), s))
}

fn btf_of(elf: &[u8]) -> Btf {
    use object::{Object, ObjectSection};
    let f = object::File::parse(elf).expect("ELF");
    let s = f.section_by_name(".BTF").expect(".BTF section");
    Btf::parse(s.data().expect("data")).expect("BTF parses")
}

/// Per map VAR of DATASEC `.maps`: its name and its struct's members as
/// (name, number of elements of the array the member points to).
fn map_defs(btf: &Btf) -> Vec<(String, Vec<(String, u32)>)> {
    let ds = btf.find(Kind::Datasec, ".maps");
    let ds = btf
        .type_by_id(*ds.first().expect("DATASEC .maps"))
        .expect("type");
    let TypeData::Datasec { vars, .. } = &ds.data else {
        panic!("not a DATASEC")
    };
    let mut out = Vec::new();
    for v in vars {
        let var = btf.type_by_id(v.ty).expect("VAR");
        let TypeData::Var { ty, .. } = var.data else {
            panic!("not a VAR")
        };
        let st = btf.type_by_id(ty).expect("STRUCT");
        let TypeData::Struct { members, .. } = &st.data else {
            panic!("map is not a STRUCT")
        };
        let fields = members
            .iter()
            .map(|m| {
                let name = btf.str_at(m.name_off).unwrap_or("").to_string();
                let ptr = btf.type_by_id(m.ty).expect("member type");
                let TypeData::Ptr { ty } = ptr.data else {
                    panic!("member {name} is not a PTR")
                };
                let arr = btf.type_by_id(ty).expect("array");
                let TypeData::Array { nelems, .. } = arr.data else {
                    panic!("member {name} does not point to an ARRAY")
                };
                (name, nelems)
            })
            .collect();
        out.push((btf.name(var).to_string(), fields));
    }
    out.sort();
    out
}

#[test]
fn bpftool_reads_the_btf_of_a_hand_written_object() {
    let elf = ours();
    let dir = std::env::temp_dir().join(format!("asm-map-btf-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("dir");
    let path = dir.join("two_programs.o");
    std::fs::write(&path, &elf).expect("write");
    let Some((ok, dump)) = bpftool(&["btf", "dump", "file", path.to_str().expect("path")]) else {
        eprintln!("SKIP: no bpftool");
        return;
    };
    let _ = std::fs::remove_dir_all(&dir);
    assert!(ok, "{dump}");
    for want in [
        "FUNC 'count'",
        "FUNC 'to_port'",
        "VAR 'events'",
        "VAR 'ports'",
        "VAR 'counts'",
        "DATASEC '.maps' size=80 vlen=3",
        "VAR 'msg'",
        "DATASEC '.rodata' size=7 vlen=1",
    ] {
        assert!(dump.contains(want), "no {want:?} in:\n{dump}");
    }
}

#[test]
fn map_btf_is_what_clang_writes_for_the_same_declarations() {
    let have = Command::new("clang-19")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success());
    if !have {
        eprintln!("SKIP: clang-19 is not installed (CI installs it)");
        return;
    }
    let out = std::env::temp_dir().join(format!("asm-map-clang-{}.o", std::process::id()));
    let st = Command::new("clang-19")
        .args(["-O2", "-g", "-target", "bpf", "-c", "-o"])
        .arg(&out)
        .arg(repo().join("tests/corpus/two_programs_maps.bpf.c"))
        .status()
        .expect("clang-19 runs");
    assert!(st.success());
    let theirs = std::fs::read(&out).expect("clang object");
    let _ = std::fs::remove_file(&out);
    let ours_defs = map_defs(&btf_of(&ours()));
    let clang_defs = map_defs(&btf_of(&theirs));
    assert_eq!(ours_defs, clang_defs);
    assert_eq!(ours_defs.len(), 3);
}

fn is_root() -> bool {
    std::fs::read_to_string("/proc/self/status")
        .map(|s| {
            s.lines()
                .any(|l| l.starts_with("Uid:") && l.split_whitespace().nth(1) == Some("0"))
        })
        .unwrap_or(false)
}

struct Cleanup(PathBuf, PathBuf);

impl Drop for Cleanup {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
        let _ = std::fs::remove_file(&self.1);
    }
}

fn json_field<'a>(json: &'a str, key: &str) -> Option<&'a str> {
    let at = json.find(&format!("\"{key}\":"))? + key.len() + 3;
    let rest = &json[at..];
    let end = rest.find([',', '}']).unwrap_or(rest.len());
    Some(rest[..end].trim_matches('"'))
}

#[test]
fn libbpf_loads_both_programs_and_creates_the_maps() {
    if !is_root() || !Path::new("/sys/fs/bpf").is_dir() || bpftool(&["version"]).is_none() {
        eprintln!("SKIP: needs root, bpffs and bpftool");
        return;
    }
    let id = format!("asm-map-btf-{}", std::process::id());
    let c = Cleanup(
        PathBuf::from("/sys/fs/bpf").join(&id),
        std::env::temp_dir().join(format!("{id}.o")),
    );
    std::fs::write(&c.1, ours()).expect("write");
    let (ok, out) = bpftool(&[
        "prog",
        "loadall",
        c.1.to_str().expect("path"),
        c.0.to_str().expect("path"),
    ])
    .expect("bpftool");
    assert!(ok, "bpftool prog loadall refused our object:\n{out}");
    let mut seen = Vec::new();
    for prog in ["count", "to_port"] {
        let pin = c.0.join(prog);
        let (ok, show) =
            bpftool(&["-j", "prog", "show", "pinned", pin.to_str().expect("p")]).expect("bpftool");
        assert!(ok, "{prog} not pinned: {show}");
        assert!(show.contains("\"btf_id\":"), "{show}");
        let ids = show
            .split("\"map_ids\":[")
            .nth(1)
            .and_then(|s| s.split(']').next())
            .unwrap_or_else(|| panic!("{prog} uses no map: {show}"));
        for m in ids.split(',') {
            let (ok, map) = bpftool(&["-j", "map", "show", "id", m.trim()]).expect("bpftool");
            assert!(ok, "{map}");
            seen.push(
                ["name", "type", "bytes_key", "bytes_value", "max_entries"]
                    .map(|k| json_field(&map, k).unwrap_or("").to_string()),
            );
        }
    }
    seen.sort();
    seen.dedup();
    // libbpf names the `.rodata` map after the object (truncated).
    for m in &mut seen {
        if m[0].ends_with(".rodata") {
            m[0] = ".rodata".to_string();
        }
    }
    let want: Vec<[String; 5]> = [
        [".rodata", "array", "4", "7", "1"],
        ["events", "ringbuf", "0", "0", "4096"],
        ["ports", "devmap", "4", "4", "8"],
    ]
    .iter()
    .map(|r| r.map(str::to_string))
    .collect();
    assert_eq!(seen, want);
}
