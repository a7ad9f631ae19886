//! `redirect-lab prog dump ID` beside `bpftool prog dump xlated id ID`: the
//! kernel rewrites helper calls to address offsets and map loads to map ids
//! in translated code, and both tools must show the same helper names and
//! map ids. Skipped (with a message) when bpftool is not installed.

mod lab_common;

use std::os::fd::{AsFd, AsRawFd};
use std::process::Command;

use lab_common::*;
use loader::map::{Map, MapSpec};
use loader::types::MapType;
use loader::{ProgType, Program};

fn bpftool_available() -> bool {
    Command::new("bpftool")
        .arg("version")
        .output()
        .is_ok_and(|o| o.status.success())
}

/// The `call NAME#IMM` and `map[id:...]...` pieces of a listing, in order.
fn calls_and_maps(listing: &str) -> Vec<String> {
    listing
        .lines()
        .filter_map(|l| {
            if let Some(i) = l.find("call ") {
                return Some(l[i..].trim().to_string());
            }
            l.find("map[id:").map(|i| l[i..].trim().to_string())
        })
        .collect()
}

#[test]
fn prog_dump_names_helpers_and_map_ids_like_bpftool() {
    require_root();
    if !bpftool_available() {
        eprintln!("SKIP: bpftool is not installed");
        return;
    }
    let map = Map::create(&MapSpec {
        map_type: MapType::Array,
        key_size: 4,
        value_size: 8,
        max_entries: 1,
        flags: 0,
        name: "xl_dump",
    })
    .expect("create array map");
    let fd = map.as_fd().as_raw_fd();
    let source = format!(
        "r6 = r1\n\
         r2 = 0\n\
         call bpf_skb_pull_data\n\
         r1 = map_value[fd:{fd}]+0 ll\n\
         r0 = *(u64 *)(r1 +0)\n\
         r1 = r6\n\
         call bpf_get_hash_recalc\n\
         r0 = 0\n\
         exit\n"
    );
    let prog = ebpf_asm::assemble(&source, &Default::default()).expect("assemble");
    let p = Program::load(ProgType::SchedCls, &prog.to_bytes(), "GPL", "xl_dump")
        .expect("load the program");
    let id = p.info().expect("info").id;
    let map_id = map.info().expect("map info").id;

    let ours = Command::new(redirect_lab_binary())
        .args(["prog", "dump", &id.to_string()])
        .output()
        .expect("run redirect-lab prog dump");
    let ours_text = String::from_utf8_lossy(&ours.stdout).into_owned();
    assert!(
        ours.status.success(),
        "{}",
        String::from_utf8_lossy(&ours.stderr)
    );
    let theirs = Command::new("bpftool")
        .args(["prog", "dump", "xlated", "id", &id.to_string()])
        .output()
        .expect("run bpftool");
    let theirs_text = String::from_utf8_lossy(&theirs.stdout).into_owned();
    assert!(
        theirs.status.success(),
        "{}",
        String::from_utf8_lossy(&theirs.stderr)
    );

    let ours_items = calls_and_maps(&ours_text);
    let theirs_items = calls_and_maps(&theirs_text);
    assert_eq!(
        ours_items, theirs_items,
        "ours:\n{ours_text}\nbpftool:\n{theirs_text}"
    );
    assert!(
        ours_items.contains(&format!("map[id:{map_id}][0]+0")),
        "{ours_text}"
    );
    assert!(
        ours_items
            .iter()
            .any(|c| c.starts_with("call bpf_skb_pull_data#")),
        "{ours_text}"
    );
    assert!(!ours_text.contains("unknown#"), "{ours_text}");
}
