//! The maps API end to end against the kernel (root): create, update,
//! lookup, iterate, delete, freeze, pin and get; and a pinned program
//! reopened by path keeps its tag. Pin paths are unique per process and
//! test, and removed by a guard even when an assertion fails.

use std::collections::BTreeSet;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU32, Ordering};

use loader::map::{BPF_ANY, BPF_EXIST, BPF_NOEXIST};
use loader::pin::{ensure_bpffs, unpin, BPFFS_ROOT};
use loader::{Map, MapSpec, MapType, ProgType, Program};

static COUNTER: AtomicU32 = AtomicU32::new(0);

/// A unique bpffs path, unlinked on drop.
struct PinPath(PathBuf);

impl PinPath {
    fn new(what: &str) -> PinPath {
        ensure_bpffs().expect("bpffs");
        let n = COUNTER.fetch_add(1, Ordering::Relaxed);
        PinPath(PathBuf::from(format!(
            "{BPFFS_ROOT}/loader_test_{}_{n}_{what}",
            std::process::id()
        )))
    }
}

impl Drop for PinPath {
    fn drop(&mut self) {
        let _ = unpin(&self.0);
    }
}

fn hash_map(name: &str) -> Map {
    Map::create(&MapSpec {
        map_type: MapType::Hash,
        key_size: 4,
        value_size: 8,
        max_entries: 16,
        flags: 0,
        name,
    })
    .expect("create hash map")
}

#[test]
fn hash_map_create_update_lookup_iterate_delete() {
    let m = hash_map("t_hash");
    let info = m.info().unwrap();
    assert_eq!(
        (
            info.map_type,
            info.key_size,
            info.value_size,
            info.max_entries
        ),
        (1, 4, 8, 16)
    );
    assert_eq!(info.name, "t_hash");
    assert_eq!(
        m.next_key(None).unwrap(),
        None,
        "empty map has no first key"
    );

    for k in 1u32..=5 {
        m.update(
            &k.to_ne_bytes(),
            &(u64::from(k) * 100).to_ne_bytes(),
            BPF_NOEXIST,
        )
        .unwrap();
    }
    assert_eq!(
        m.lookup(&3u32.to_ne_bytes()).unwrap(),
        Some(300u64.to_ne_bytes().to_vec())
    );
    assert_eq!(m.lookup(&9u32.to_ne_bytes()).unwrap(), None);

    // BPF_NOEXIST on an existing key and BPF_EXIST on a missing one fail.
    let e = m
        .update(&3u32.to_ne_bytes(), &0u64.to_ne_bytes(), BPF_NOEXIST)
        .unwrap_err();
    assert_eq!(e.errno(), Some(libc::EEXIST), "{e}");
    let e = m
        .update(&9u32.to_ne_bytes(), &0u64.to_ne_bytes(), BPF_EXIST)
        .unwrap_err();
    assert_eq!(e.errno(), Some(libc::ENOENT), "{e}");
    m.update(&3u32.to_ne_bytes(), &333u64.to_ne_bytes(), BPF_EXIST)
        .unwrap();
    assert_eq!(
        m.lookup(&3u32.to_ne_bytes()).unwrap(),
        Some(333u64.to_ne_bytes().to_vec())
    );

    let keys: BTreeSet<u32> = m
        .keys()
        .unwrap()
        .iter()
        .map(|k| u32::from_ne_bytes(k.as_slice().try_into().unwrap()))
        .collect();
    assert_eq!(keys, (1..=5).collect());

    assert!(m.delete(&2u32.to_ne_bytes()).unwrap());
    assert!(
        !m.delete(&2u32.to_ne_bytes()).unwrap(),
        "second delete finds nothing"
    );
    assert_eq!(m.keys().unwrap().len(), 4);

    // Wrong sizes are caught before the kernel reads past the slice.
    let e = m.lookup(&[1, 2]).unwrap_err().to_string();
    assert!(
        e.contains("key is 2 bytes; this map's key size is 4"),
        "{e}"
    );
    let e = m
        .update(&1u32.to_ne_bytes(), &[0u8; 4], BPF_ANY)
        .unwrap_err()
        .to_string();
    assert!(e.contains("value is 4 bytes"), "{e}");
}

#[test]
fn full_map_and_array_rules() {
    let m = Map::create(&MapSpec {
        map_type: MapType::Hash,
        key_size: 4,
        value_size: 4,
        max_entries: 2,
        flags: 0,
        name: "t_full",
    })
    .unwrap();
    m.update(&1u32.to_ne_bytes(), &[0; 4], BPF_ANY).unwrap();
    m.update(&2u32.to_ne_bytes(), &[0; 4], BPF_ANY).unwrap();
    let e = m.update(&3u32.to_ne_bytes(), &[0; 4], BPF_ANY).unwrap_err();
    assert_eq!(e.errno(), Some(libc::E2BIG), "{e}");
    assert!(e.to_string().contains("map is full"), "{e}");

    let a = Map::create(&MapSpec {
        map_type: MapType::Array,
        key_size: 4,
        value_size: 4,
        max_entries: 3,
        flags: 0,
        name: "t_array",
    })
    .unwrap();
    assert_eq!(
        a.keys().unwrap().len(),
        3,
        "arrays always hold max_entries keys"
    );
    assert_eq!(a.lookup(&1u32.to_ne_bytes()).unwrap(), Some(vec![0; 4]));
    let e = a.delete(&1u32.to_ne_bytes()).unwrap_err();
    assert!(e.to_string().contains("cannot be deleted"), "{e}");

    let e = Map::create(&MapSpec {
        map_type: MapType::Array,
        key_size: 8,
        value_size: 4,
        max_entries: 1,
        flags: 0,
        name: "t_bad",
    })
    .unwrap_err();
    let s = e.to_string();
    assert!(s.starts_with("BPF_MAP_CREATE failed: EINVAL"), "{s}");
}

#[test]
fn freeze_pin_and_get() {
    let m = hash_map("t_frozen");
    m.update(&7u32.to_ne_bytes(), &7u64.to_ne_bytes(), BPF_ANY)
        .unwrap();
    m.freeze().unwrap();
    let e = m
        .update(&8u32.to_ne_bytes(), &8u64.to_ne_bytes(), BPF_ANY)
        .unwrap_err();
    assert_eq!(
        e.errno(),
        Some(libc::EPERM),
        "frozen maps refuse user-space writes: {e}"
    );
    assert!(e.to_string().contains("frozen"), "{e}");
    assert_eq!(
        m.lookup(&7u32.to_ne_bytes()).unwrap(),
        Some(7u64.to_ne_bytes().to_vec())
    );

    let pin = PinPath::new("map");
    m.pin(&pin.0).unwrap();
    let e = m.pin(&pin.0).unwrap_err();
    assert_eq!(e.errno(), Some(libc::EEXIST), "{e}");
    let again = Map::from_pin(&pin.0).unwrap();
    assert_eq!(again.info().unwrap().id, m.info().unwrap().id);
    assert_eq!(
        again.lookup(&7u32.to_ne_bytes()).unwrap(),
        Some(7u64.to_ne_bytes().to_vec())
    );
    assert_eq!(Map::from_id(m.info().unwrap().id).unwrap().key_size(), 4);
    assert!(Map::ids().unwrap().contains(&m.info().unwrap().id));

    // A map pin is not a program.
    let e = Program::from_pin(&pin.0).unwrap_err().to_string();
    assert!(e.contains("is not a BPF program"), "{e}");
    drop(pin);
    let e = Map::from_pin(format!(
        "{BPFFS_ROOT}/loader_test_{}_missing",
        std::process::id()
    ))
    .unwrap_err();
    assert_eq!(e.errno(), Some(libc::ENOENT), "{e}");
    assert!(e.to_string().contains("nothing is pinned at"), "{e}");
}

#[test]
fn pinned_program_reopened_by_path_has_the_same_tag() {
    // r0 = 2; exit
    let insns = [
        [0xb7, 0x00, 0, 0, 2, 0, 0, 0],
        [0x95, 0x00, 0, 0, 0, 0, 0, 0],
    ]
    .concat();
    let p = Program::load(ProgType::SchedCls, &insns, "GPL", "t_pinned").unwrap();
    let info = p.info().unwrap();
    let pin = PinPath::new("prog");
    p.pin(&pin.0).unwrap();
    drop(p); // the pin keeps the program alive
    let again = Program::from_pin(&pin.0).unwrap();
    let info2 = again.info().unwrap();
    assert_eq!(info2.tag, info.tag);
    assert_eq!(info2.id, info.id);
    assert_eq!(info2.name, "t_pinned");
    // The tag is bpftool's: 8 bytes of SHA-1 over the instructions.
    assert_eq!(info2.tag_hex().len(), 16);
    let e = Map::from_pin(&pin.0).unwrap_err().to_string();
    assert!(e.contains("is not a BPF map"), "{e}");
}
