//! No fd leaks: loading and dropping 10,000 programs and 10,000 maps (and
//! the error paths: verifier rejections, failed test runs, missing pins)
//! brings the process's open fd count back to where it started.
//!
//! This file holds one test so it runs alone in its own process: another
//! test opening fds at the same time would skew the count.

use loader::{Error, Map, MapSpec, MapType, ProgType, Program, TestRun};

fn open_fds() -> usize {
    std::fs::read_dir("/proc/self/fd")
        .expect("/proc/self/fd")
        .count()
}

#[test]
fn ten_thousand_programs_and_maps_leave_no_fd_behind() {
    // r0 = 0; exit
    let ok = [[0xb7u8, 0, 0, 0, 0, 0, 0, 0], [0x95, 0, 0, 0, 0, 0, 0, 0]].concat();
    // r2 = skb->data; r0 = *(u8 *)(r2 + 0) with no bounds check: rejected.
    let bad = [
        [0x61u8, 0x12, 76, 0, 0, 0, 0, 0],
        [0x71, 0x20, 0, 0, 0, 0, 0, 0],
        [0x95, 0, 0, 0, 0, 0, 0, 0],
    ]
    .concat();
    let spec = MapSpec {
        map_type: MapType::Array,
        key_size: 4,
        value_size: 8,
        max_entries: 1,
        flags: 0,
        name: "leak_check",
    };

    // Warm up once so lazily opened fds (none expected) are counted in `before`.
    drop(Program::load(ProgType::SchedCls, &ok, "GPL", "leak").unwrap());
    let before = open_fds();

    for i in 0..10_000u32 {
        let p = Program::load(ProgType::SchedCls, &ok, "GPL", "leak").expect("load");
        let m = Map::create(&spec).expect("map");
        if i % 100 == 0 {
            m.update(&0u32.to_ne_bytes(), &u64::from(i).to_ne_bytes(), 0)
                .unwrap();
            let id = p.info().unwrap().id;
            drop(Program::from_id(id).unwrap());
            let r = p
                .test_run(&TestRun {
                    data_in: &[0u8; 64],
                    ..Default::default()
                })
                .unwrap();
            assert_eq!(r.retval, 0);
            assert!(p
                .test_run(&TestRun {
                    data_in: &[0u8; 4],
                    ..Default::default()
                })
                .is_err());
        }
        if i % 500 == 0 {
            let e = Program::load(ProgType::SchedCls, &bad, "GPL", "leak_bad").unwrap_err();
            assert!(matches!(e, Error::Verifier(_)), "{e}");
            assert!(Program::from_pin("/sys/fs/bpf/loader_leak_test_missing_pin").is_err());
        }
    }
    let after = open_fds();
    assert_eq!(after, before, "fds open before: {before}, after: {after}");
}
