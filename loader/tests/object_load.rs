//! Object loading (`loader::load`, over `ebpf_asm::object::Object::from_elf`)
//! against the running kernel (root, clang): the C reference with and
//! without bpf_printk, global data as frozen array maps with `--set`, a
//! subprogram linked in, several programs in one object, and a mutation
//! test: no byte flip of a real object may panic the reader or the loader;
//! and each unsupported construct refused with its reason.

use std::path::PathBuf;
use std::process::Command;

use loader::load::{load_elf, LoadSpec, LoadedObject};
use loader::{MapType, Program, TestRun, TestRunResult};

fn load(bytes: &[u8], program: Option<&str>) -> loader::Result<LoadedObject> {
    load_elf(
        bytes,
        &LoadSpec {
            program,
            ..Default::default()
        },
    )
}

fn parse(bytes: &[u8]) -> Result<ebpf_asm::object::Object, ebpf_asm::object::ElfError> {
    ebpf_asm::object::Object::from_elf(bytes)
}

fn clang_build(extra: &[&str], tag: &str) -> Vec<u8> {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..");
    clang_build_file(&root.join("bpf-src/redirect.bpf.c"), extra, tag)
}

fn clang_build_file(src: &std::path::Path, extra: &[&str], tag: &str) -> Vec<u8> {
    let out = std::env::temp_dir().join(format!("loader-elf-{}-{tag}.o", std::process::id()));
    let multiarch = Command::new("gcc")
        .arg("-print-multiarch")
        .output()
        .ok()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
        .unwrap_or_else(|| "x86_64-linux-gnu".into());
    let status = Command::new("clang")
        .args(["-O2", "-g", "-target", "bpf"])
        .arg(format!("-I/usr/include/{multiarch}"))
        .args(extra)
        .arg("-c")
        .arg(src)
        .arg("-o")
        .arg(&out)
        .status()
        .unwrap_or_else(|e| panic!("clang is required for this test (apt-get install clang): {e}"));
    assert!(status.success(), "clang failed on {}", src.display());
    let bytes = std::fs::read(&out).expect("read object");
    let _ = std::fs::remove_file(&out);
    bytes
}

/// One `BPF_PROG_TEST_RUN` of `prog` on `packet`.
fn run_once(prog: &Program, packet: &[u8]) -> TestRunResult {
    prog.test_run(&TestRun {
        data_in: packet,
        ..Default::default()
    })
    .unwrap_or_else(|e| panic!("{e}"))
}

fn ipv4_frame(dst: [u8; 4]) -> Vec<u8> {
    let mut p = vec![0u8; 64];
    p[0..6].copy_from_slice(&[0xff; 6]);
    p[6..12].copy_from_slice(&[0x02, 0, 0, 0, 0, 1]);
    p[12..14].copy_from_slice(&[0x08, 0x00]);
    p[14] = 0x45;
    p[16..18].copy_from_slice(&50u16.to_be_bytes());
    p[22] = 64;
    p[23] = 17;
    p[26..30].copy_from_slice(&[10, 0, 1, 10]);
    p[30..34].copy_from_slice(&dst);
    p
}

#[test]
fn loads_the_c_reference_with_and_without_printk() {
    for (flags, tag) in [(&[][..], "plain"), (&["-DTRACE"][..], "trace")] {
        let obj = clang_build(flags, tag);
        let parsed = parse(&obj).expect("parse");
        let progs = parsed.programs();
        assert_eq!(progs.len(), 1);
        assert_eq!(progs[0].section, "tc");
        assert_eq!(progs[0].name, "redirect");
        assert_eq!(parsed.license(), Some("GPL"));
        let loaded = load(&obj, None).unwrap_or_else(|e| panic!("{tag}: {e}"));
        assert!(loaded.btf.is_some(), "{tag}: clang -g's BTF loads");
        let program = &loaded.programs[0].program;
        if tag == "trace" {
            assert!(!parsed.section("tc").unwrap().relocations.is_empty());
            let m = &loaded.maps[0];
            let (name, map) = (&m.name, &m.map);
            assert!(name.starts_with(".rodata"), "{name}");
            let info = map.info().unwrap();
            assert_eq!(info.map_type, MapType::Array.raw());
            // Frozen: user space can no longer write it.
            let v = vec![0u8; info.value_size as usize];
            let e = map.update(&0u32.to_ne_bytes(), &v, 0).unwrap_err();
            assert_eq!(e.errno(), Some(libc::EPERM), "{e}");
        } else {
            assert!(loaded.maps.is_empty());
        }
        let pkt = ipv4_frame([10, 0, 2, 11]);
        let r = run_once(program, &pkt);
        assert_eq!(r.retval, 7, "{tag}");
        assert_eq!(&r.data_out[0..6], &[0x02, 0, 0, 0, 0, 0], "{tag}");
        let other = ipv4_frame([10, 0, 2, 12]);
        let r = run_once(program, &other);
        assert_eq!(r.retval, 0, "{tag}");
        assert_eq!(r.data_out, other, "{tag}");
    }
}

#[test]
fn mutated_objects_never_panic() {
    let obj = clang_build(&["-DTRACE"], "mut");
    let mut rng = fastrand::Rng::with_seed(0x5eed);
    let mut errors = 0;
    for _ in 0..3000 {
        let mut m = obj.clone();
        for _ in 0..rng.usize(1..8) {
            let i = rng.usize(..m.len());
            m[i] = rng.u8(..);
        }
        if rng.u8(..) < 20 {
            m.truncate(rng.usize(..m.len()));
        }
        // Parsing only: the kernel must not see random instructions.
        if parse(&m).is_err() {
            errors += 1;
        }
    }
    // Mutated objects that still parse go to the kernel: whatever the
    // verifier says, the loader reports it without panicking.
    let mut loaded = 0;
    for _ in 0..200 {
        let mut m = obj.clone();
        let i = rng.usize(..m.len());
        m[i] = rng.u8(..);
        if load(&m, None).is_ok() {
            loaded += 1;
        }
    }
    assert!(
        loaded > 0,
        "most single-byte flips land in debug info and still load"
    );
    // Some mutations hit debug sections and still parse; many must not.
    assert!(
        errors > 100,
        "only {errors} of 3000 mutations were rejected"
    );
    let e = load(&obj[..obj.len() / 3], None).unwrap_err().to_string();
    assert!(e.starts_with("ELF object: "), "{e}");
}

#[test]
fn missing_sections_are_named() {
    let obj = clang_build(&[], "sec");
    let e = load(&obj, Some("nope")).unwrap_err().to_string();
    assert!(
        e.contains("no program named \"nope\"") && e.contains("\"redirect\""),
        "{e}"
    );
}

#[test]
fn rodata_data_and_bss_become_maps() {
    let src = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/data/globals.bpf.c");
    let obj = clang_build_file(&src, &[], "globals");
    let loaded = load(&obj, None).unwrap_or_else(|e| panic!("{e}"));
    let mut names: Vec<&str> = loaded.maps.iter().map(|m| m.name.as_str()).collect();
    names.sort();
    assert_eq!(names, [".bss", ".data", ".rodata"]);
    let map = |n: &str| loaded.map(n).unwrap();
    let program = &loaded.programs[0].program;
    let pkt = [0u8; 64];
    for _ in 0..3 {
        let r = run_once(program, &pkt);
        assert_eq!(r.retval, 42, "answer (40, .rodata) + bias (2, .data)");
    }
    let runs = map(".bss").lookup(&0u32.to_ne_bytes()).unwrap().unwrap();
    assert_eq!(
        u64::from_ne_bytes(runs[..8].try_into().unwrap()),
        3,
        "runs++ three times in .bss"
    );
    // .data is writable from user space; the program sees the change.
    let mut data = map(".data").lookup(&0u32.to_ne_bytes()).unwrap().unwrap();
    data[..4].copy_from_slice(&5u32.to_ne_bytes());
    map(".data").update(&0u32.to_ne_bytes(), &data, 0).unwrap();
    let r = run_once(program, &pkt);
    assert_eq!(r.retval, 45);
    // .rodata is frozen and read-only for programs.
    let ro = map(".rodata");
    assert_ne!(ro.info().unwrap().flags & loader::map::BPF_F_RDONLY_PROG, 0);
    let v = ro.lookup(&0u32.to_ne_bytes()).unwrap().unwrap();
    assert!(ro.update(&0u32.to_ne_bytes(), &v, 0).is_err());

    // --set answer=100 changes the frozen .rodata value before the load.
    let sets = [("answer".to_string(), 100)];
    let set = load_elf(
        &obj,
        &LoadSpec {
            sets: &sets,
            ..Default::default()
        },
    )
    .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(run_once(&set.programs[0].program, &pkt).retval, 102);
    for (name, v, why) in [
        ("nosuch", 1, "no such global"),
        ("answer", 1 << 40, "does not fit its 4 bytes"),
    ] {
        let sets = [(name.to_string(), v)];
        let e = load_elf(
            &obj,
            &LoadSpec {
                sets: &sets,
                ..Default::default()
            },
        )
        .unwrap_err()
        .to_string();
        assert!(e.contains(why), "{name}: {e}");
    }
}

/// A `static __noinline` function lands in `.text`; the loader appends it
/// to the program that calls it, fixes the call, and carries its
/// func_info/line_info (the kernel refuses a subprogram without them).
/// Two programs in one object both load, each with its own copy.
#[test]
fn subprograms_are_linked_and_every_program_loads() {
    let c = "char l[] __attribute__((section(\"license\"), used)) = \"GPL\";\n\
             __attribute__((noinline)) static int g(int x) { return x * 3; }\n\
             __attribute__((section(\"tc\"), used)) int f(struct { int len; } *ctx) { return g(ctx->len); }\n\
             __attribute__((section(\"xdp\"), used)) int h(void *ctx) { return g(1) - 1; }\n";
    let src = std::env::temp_dir().join(format!("loader-obj-{}-sub.c", std::process::id()));
    std::fs::write(&src, c).expect("write C source");
    let obj = clang_build_file(&src, &[], "sub");
    let _ = std::fs::remove_file(&src);
    let loaded = load(&obj, None).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(loaded.programs.len(), 2);
    for p in &loaded.programs {
        assert_eq!(p.subprograms, ["g"], "{}", p.name);
    }
    let f = loaded.program("f").unwrap();
    // skb->len of a 64-byte packet, times 3.
    assert_eq!(run_once(f, &[0u8; 64]).retval, 192);
    let h = loaded.program("h").unwrap();
    assert_eq!(run_once(h, &[0u8; 64]).retval, 2, "XDP_PASS = g(1) - 1");
    let one = load(&obj, Some("h")).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(one.programs.len(), 1);
}

/// Objects the loader cannot load are refused with a message that says what
/// is missing and how to fix it, for each unsupported construct.
#[test]
fn unsupported_objects_are_refused_with_the_reason() {
    let cases: [(&str, &str, &[&str], &str); 5] = [
        (
            "nolicense",
            "__attribute__((section(\"tc\"), used)) int f(void *ctx) { return 0; }\n",
            &[],
            "no \"license\" section; add char LICENSE[] SEC(\"license\")",
        ),
        (
            "bigendian",
            "char l[] __attribute__((section(\"license\"), used)) = \"GPL\";\n\
             __attribute__((section(\"tc\"), used)) int f(void *ctx) { return 0; }\n",
            &["-target", "bpfeb"],
            "big-endian BPF object (bpfeb)",
        ),
        (
            "btfmap",
            "char l[] __attribute__((section(\"license\"), used)) = \"GPL\";\n\
             struct { int type; } m __attribute__((section(\".maps\"), used));\n\
             __attribute__((section(\"tc\"), used)) long f(void *ctx) { return (long)&m; }\n",
            &[],
            "section .maps at offset 0x0: map m: member type is a INT, not a pointer",
        ),
        (
            "kfunc",
            "char l[] __attribute__((section(\"license\"), used)) = \"GPL\";\n\
             extern int bpf_nothing(int) __attribute__((section(\".ksyms\")));\n\
             __attribute__((section(\"tc\"), used)) int f(void *ctx) { return bpf_nothing(1); }\n",
            &[],
            // A kfunc no kernel has, not weak: refused by name, with what to do.
            "kfunc bpf_nothing is not a FUNC in this kernel's vmlinux BTF",
        ),
        (
            "kfunc_line",
            "char l[] __attribute__((section(\"license\"), used)) = \"GPL\";\n\
             extern int bpf_nothing(int) __attribute__((section(\".ksyms\")));\n\
             __attribute__((section(\"tc\"), used)) int f(void *ctx) { return bpf_nothing(1); }\n",
            &[],
            // The C line, from the object's line info.
            ".c:3: __attribute__((section(\"tc\"), used)) int f(void *ctx) { return bpf_nothing(1); }",
        ),
    ];
    for (tag, c, extra, expected) in cases {
        let src = std::env::temp_dir().join(format!("loader-elf-{}-{tag}.c", std::process::id()));
        std::fs::write(&src, c).expect("write C source");
        let obj = clang_build_file(&src, extra, tag);
        let _ = std::fs::remove_file(&src);
        let e = load(&obj, None).unwrap_err().to_string();
        assert!(e.starts_with("ELF object: "), "{tag}: {e}");
        assert!(e.contains(expected), "{tag}: {e}");
    }
    // Not a BPF object at all: this test binary is an x86-64 ELF.
    let me = std::fs::read(std::env::current_exe().expect("test binary")).expect("read it");
    let e = load(&me, None).unwrap_err().to_string();
    assert!(e.contains("not EM_BPF (247)"), "{e}");
}

/// A static function passed to `bpf_loop` is an `lddw` of `.text` (a
/// `R_BPF_64_64` against the section, the function's byte offset in
/// `imm`): the loader appends the function and makes the `lddw` a
/// `BPF_PSEUDO_FUNC` pointing at it. The callback runs ten times.
#[test]
fn callbacks_are_linked_as_pseudo_func() {
    let c = "#include <linux/bpf.h>\n\
             static long (*bpf_loop)(__u32 n, void *fn, void *ctx, __u64 flags) = (void *)181;\n\
             static int add(__u32 i, void *ctx) { *(__u64 *)ctx += i; return 0; }\n\
             __attribute__((section(\"tc\"), used)) int loop(struct __sk_buff *skb)\n\
             { __u64 sum = 0; bpf_loop(10, add, &sum, 0); return sum; }\n\
             char l[] __attribute__((section(\"license\"), used)) = \"GPL\";\n";
    let src = std::env::temp_dir().join(format!("loader-obj-{}-cb.c", std::process::id()));
    std::fs::write(&src, c).expect("write C source");
    let obj = clang_build_file(&src, &[], "cb");
    let _ = std::fs::remove_file(&src);
    let loaded = load(&obj, None).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(loaded.programs[0].subprograms, ["add"]);
    let r = run_once(&loaded.programs[0].program, &[0u8; 64]);
    assert_eq!(r.retval, 45, "0 + 1 + ... + 9");
}
