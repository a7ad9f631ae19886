//! Externs resolved against the running kernel (`loader/src/bpf/ksym.rs`):
//! a clang-built object (`tests/corpus/objload/externs.bpf.c`) calls a kfunc,
//! tests a weak kfunc no kernel has, takes a per-CPU ksym by BTF id and a
//! typeless ksym by its kallsyms address. `BPF_PROG_TEST_RUN` shows each one
//! resolved (a bit each in the return value), and a kfunc that is neither in
//! vmlinux BTF nor weak is refused by name. Needs root and clang-19; the
//! kfunc needs 6.3+ (the host and CI run 6.18).

use std::path::Path;

use lab_tests::clang::object_of;
use loader::load::{load_elf, LoadSpec};
use loader::TestRun;

#[test]
fn kfuncs_and_ksyms_resolve_against_the_running_kernel() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("corpus/objload/externs.bpf.c");
    let elf = object_of(&src);

    let loaded = load_elf(
        &elf,
        &LoadSpec {
            file_name: "externs.bpf.c",
            program: Some("externs"),
            ..Default::default()
        },
    )
    .unwrap_or_else(|e| panic!("{e}"));
    assert!(
        loaded.btf.is_some(),
        "the object's BTF loads once its externs are fixed up: {:?}",
        loaded.warnings
    );
    let r = loaded
        .program("externs")
        .unwrap()
        .test_run(&TestRun {
            data_in: &[0u8; 64],
            ..Default::default()
        })
        .unwrap_or_else(|e| panic!("{e}"))
        .retval;
    assert_eq!(
        r,
        1 | 8,
        "bit 1: the kfunc ran; bit 2 (missing weak kfunc) clear; bit 8: the kallsyms \
         address"
    );

    // The typed ksym goes to the kernel as BPF_PSEUDO_BTF_ID: it runs where
    // kallsyms knows data symbols, and elsewhere the kernel's refusal shows
    // it looked the VAR up by that id.
    let percpu = load_elf(
        &elf,
        &LoadSpec {
            file_name: "externs.bpf.c",
            program: Some("percpu"),
            ..Default::default()
        },
    );
    match percpu {
        Ok(l) => {
            let r = l
                .program("percpu")
                .unwrap()
                .test_run(&TestRun {
                    data_in: &[0u8; 64],
                    ..Default::default()
                })
                .unwrap_or_else(|e| panic!("{e}"))
                .retval;
            assert_eq!(r, 4, "bpf_this_cpu_ptr(&runqueues) is not NULL");
        }
        Err(e) => {
            let e = e.to_string();
            assert!(
                e.contains("ENOENT")
                    && e.contains("failed to find the address for kernel symbol 'runqueues'"),
                "{e}"
            );
        }
    }

    let e = load_elf(
        &elf,
        &LoadSpec {
            file_name: "externs.bpf.c",
            program: Some("strict"),
            ..Default::default()
        },
    )
    .expect_err("a kfunc no kernel has, not weak, is refused")
    .to_string();
    assert!(
        e.contains("kfunc bpf_lab_missing_kfunc")
            && e.contains("vmlinux BTF")
            && e.contains("section tc"),
        "{e}"
    );
}

/// CO-RE: the object's `struct sk_buff` has one member, `len`, at offset 0;
/// the loader moves the load to the kernel's offset of `sk_buff::len` (from
/// vmlinux BTF), so the program returns the length of the packet it is run
/// on. Without the relocation the verifier refuses the load (offset 0 of
/// the kernel's `sk_buff` is the `next` pointer).
#[test]
fn a_core_field_read_follows_the_kernels_layout() {
    let dir = std::env::temp_dir().join(format!("core-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let src = dir.join("core.bpf.c");
    std::fs::write(
        &src,
        "#include <linux/bpf.h>\n\
         #define SEC(n) __attribute__((section(n), used))\n\
         struct sk_buff { unsigned int len; } __attribute__((preserve_access_index));\n\
         extern void *bpf_cast_to_kern_ctx(void *) __attribute__((section(\".ksyms\")));\n\
         SEC(\"tc\") int core(struct __sk_buff *ctx) {\n\
         \tstruct sk_buff *skb = bpf_cast_to_kern_ctx(ctx);\n\
         \treturn skb->len;\n}\n\
         char LICENSE[] SEC(\"license\") = \"GPL\";\n",
    )
    .unwrap();
    let elf = object_of(&src);
    let _ = std::fs::remove_dir_all(&dir);
    let loaded = load_elf(&elf, &LoadSpec::default()).unwrap_or_else(|e| panic!("{e}"));
    for len in [64usize, 100] {
        let r = loaded
            .program("core")
            .unwrap()
            .test_run(&TestRun {
                data_in: &vec![0u8; len],
                ..Default::default()
            })
            .unwrap_or_else(|e| panic!("{e}"))
            .retval;
        assert_eq!(r as usize, len, "skb->len through the relocated offset");
    }
}

/// An extern declared unlike the kernel declares it (here a kfunc whose
/// `struct nf_conn *` points to a forward declaration, where the kernel has
/// a struct) is refused by name, as libbpf refuses it: both compare the
/// prototypes with `bpf_core_types_are_compat`.
#[test]
fn an_extern_declared_unlike_the_kernel_is_refused_like_libbpf_refuses_it() {
    let pid = std::process::id();
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("corpus/objload/ct_lookup.bpf.c");
    let text = std::fs::read_to_string(src)
        .unwrap()
        .replace("struct nf_conn {\n\tint opaque;\n};", "struct nf_conn;");
    assert!(
        text.contains("struct nf_conn;\n"),
        "the corpus declares nf_conn as a struct"
    );
    let elf = lab_tests::clang::object_of_text("ct_fwd", &text);
    let e = load_elf(&elf, &LoadSpec::default())
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("extern bpf_") && e.contains("its prototype") && e.contains("disagrees"),
        "{e}"
    );
    let dir = format!("/sys/fs/bpf/lab-ctfwd-{pid}");
    let theirs = lab_tests::bpftool::loadall(&elf, &dir, &[]);
    let _ = std::fs::remove_dir_all(&dir);
    match theirs {
        Err(stderr) => assert!(stderr.contains("incompatible"), "{stderr}"),
        Ok(_) => panic!("libbpf took a forward-declared nf_conn"),
    }
}
