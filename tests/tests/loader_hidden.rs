//! `__hidden` global subprograms (`STV_HIDDEN`): libbpf verifies them as
//! static functions (it rewrites their BTF FUNC's linkage before
//! `BPF_BTF_LOAD`), and so must we, or a program libbpf loads is refused.
//! `tests/corpus/objload/hidden.bpf.c` dereferences a pointer argument
//! without a NULL check, which only the static reading accepts. Checked
//! three ways on the running kernel: clang's object through our loader, the
//! same object through `bpftool prog loadall` (libbpf, the oracle), and
//! clang's assembly text (`.hidden plus_one`) through our assembler and
//! loader. Needs root, clang-19 and bpftool (CI installs both).

use std::path::Path;

use lab_tests::clang::{assembly_of, object_of};
use loader::file::{load_object_file, FileOptions};
use loader::load::{load_elf, LoadSpec, LoadedObject};
use loader::TestRun;

fn src() -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("corpus/objload/hidden.bpf.c")
}

/// Runs `hidden_call` on a packet of `len` bytes: the program returns
/// `skb->len + 1`.
fn check(loaded: &LoadedObject, how: &str) {
    for len in [64usize, 90] {
        let r = loaded
            .program("hidden_call")
            .unwrap_or_else(|| panic!("{how}: no program hidden_call"))
            .test_run(&TestRun {
                data_in: &vec![0u8; len],
                ..Default::default()
            })
            .unwrap_or_else(|e| panic!("{how}: {e}"))
            .retval;
        assert_eq!(r as usize, len + 1, "{how}: skb->len + 1 through plus_one");
    }
}

#[test]
fn a_hidden_subprogram_is_verified_as_static_like_libbpf_does() {
    let elf = object_of(&src());
    let obj = ebpf_asm::object::Object::from_elf(&elf).unwrap();
    let sym = obj.symbols.iter().find(|y| y.name == "plus_one").unwrap();
    assert_eq!(
        (sym.binding, sym.visibility),
        (
            ebpf_asm::object::Binding::Global,
            ebpf_asm::object::Visibility::Hidden
        ),
        "clang writes __hidden as a global STV_HIDDEN symbol"
    );

    let loaded = load_elf(
        &elf,
        &LoadSpec {
            file_name: "hidden.bpf.c",
            ..Default::default()
        },
    )
    .unwrap_or_else(|e| panic!("{e}"));
    assert!(loaded.btf.is_some(), "{:?}", loaded.warnings);
    check(&loaded, "clang's object");

    // The oracle: libbpf loads the same object.
    let dir = format!("/sys/fs/bpf/lab-hidden-{}", std::process::id());
    let theirs = lab_tests::bpftool::loadall(&elf, &dir, &[]);
    let _ = std::fs::remove_dir_all(&dir);
    if let Err(e) = theirs {
        panic!("bpftool prog loadall: {e}");
    }

    // clang's text, through our assembler: `.hidden` reaches st_other and
    // the loader reads it the same way.
    let text = assembly_of(&src());
    assert!(text.contains(".hidden\tplus_one"), "{text}");
    let s_path = std::env::temp_dir().join(format!("hidden-{}.s", std::process::id()));
    std::fs::write(&s_path, &text).unwrap();
    let r = load_object_file(&s_path, &FileOptions::default());
    let _ = std::fs::remove_file(&s_path);
    let (loaded, read) = r.unwrap_or_else(|e| panic!("{e}"));
    let sym = read
        .object
        .symbols
        .iter()
        .find(|y| y.name == "plus_one")
        .unwrap();
    assert_eq!(sym.visibility, ebpf_asm::object::Visibility::Hidden);
    check(&loaded, "clang's assembly through ebpf-asm");
}
