//! Property tests with fixed seeds: the decoder and disassembler on
//! 1,000,000 random byte strings, the ELF reader (`Object::from_elf`) on
//! 1,000,000 random and mutated objects (ours and clang-19's; of those that
//! read, their BTF and map declarations are read too), the assembler
//! on 100,000 random and mutated lines. Nothing may panic; errors must point
//! inside the input.

mod corpus;

use ebpf_asm::disasm::{disassemble, format_instruction, DisasmOptions, Syntax};
use ebpf_asm::encode::decode_bytes;
use ebpf_asm::{assemble, AsmOptions};
use fastrand::Rng;
use std::panic::{catch_unwind, AssertUnwindSafe};

/// Opcodes worth hitting often, so decoding gets past the first byte.
const CODES: [u8; 24] = [
    0x07, 0x0f, 0x04, 0xbf, 0xb7, 0xd4, 0xdc, 0xd7, 0x05, 0x06, 0x15, 0x1e, 0x85, 0x8d, 0x95, 0xe5,
    0x18, 0x20, 0x48, 0x61, 0x91, 0x62, 0x7b, 0xdb,
];

#[test]
fn decoder_never_panics_on_random_bytes() {
    let mut rng = Rng::with_seed(0xdec0de);
    let mut buf = Vec::with_capacity(64);
    let mut decoded = 0usize;
    for n in 0..1_000_000u32 {
        buf.clear();
        let len = match rng.u8(0..8) {
            0 => rng.usize(0..8),
            _ => rng.usize(1..5) * 8,
        };
        for i in 0..len {
            let b = if i % 8 == 0 && rng.bool() {
                CODES[rng.usize(..CODES.len())]
            } else if i % 8 == 1 && rng.bool() {
                rng.u8(0..0xbb)
            } else if i % 8 >= 2 && rng.u8(0..3) > 0 {
                0
            } else {
                rng.u8(..)
            };
            buf.push(b);
        }
        let r = catch_unwind(AssertUnwindSafe(|| {
            let ok = decode_bytes(&buf).is_ok();
            if n % 8 == 0 {
                let syntax = if n % 16 == 0 {
                    Syntax::Kernel
                } else {
                    Syntax::Llvm
                };
                let o = DisasmOptions {
                    syntax,
                    bytes: n % 3 == 0,
                    ..Default::default()
                };
                match disassemble(&buf, &o) {
                    // Undecodable slots are listed as `.8byte`, and the
                    // listing goes on.
                    Ok(text) => assert!(
                        (buf.is_empty() || !text.is_empty()) && (ok || text.contains(".8byte"))
                    ),
                    Err(e) => assert!(e.slot <= buf.len() / 8, "{e}"),
                }
            }
            ok
        }));
        match r {
            Ok(ok) => decoded += ok as usize,
            Err(_) => panic!("decoder panicked on {buf:02x?}"),
        }
    }
    // The bias above must reach valid programs, or the test proves little.
    assert!(decoded > 10_000, "only {decoded} inputs decoded");
}

const CHARSET: &[u8] = b" \t+-*/%&|^~=<>!()[]:;,#.0123456789abcdefxlrwsupcgotifl_\"\\";

fn mutate(rng: &mut Rng, line: &str) -> String {
    let mut b = line.as_bytes().to_vec();
    for _ in 0..rng.usize(1..4) {
        match rng.u8(0..6) {
            0 if !b.is_empty() => {
                b.remove(rng.usize(..b.len()));
            }
            1 => {
                let at = rng.usize(..=b.len());
                b.insert(at, CHARSET[rng.usize(..CHARSET.len())]);
            }
            2 if !b.is_empty() => {
                let at = rng.usize(..b.len());
                b[at] = CHARSET[rng.usize(..CHARSET.len())];
            }
            3 => b.truncate(rng.usize(..=b.len())),
            4 => {
                let at = rng.usize(..=b.len());
                let d = [
                    "r11",
                    "w99",
                    "0xffffffffffffffffff",
                    "(",
                    "ll",
                    "goto",
                    "#",
                    "pc+",
                    "\u{e9}",
                    "s",
                ][rng.usize(..10)];
                b.splice(at..at, d.bytes());
            }
            _ => {
                let n = b.len();
                if n > 2 {
                    let (i, j) = (rng.usize(..n), rng.usize(..n));
                    b.swap(i, j);
                }
            }
        }
    }
    String::from_utf8_lossy(&b).into_owned()
}

#[test]
fn assembler_never_panics_on_random_and_mutated_lines() {
    let mut rng = Rng::with_seed(0x7e47);
    let opts = AsmOptions {
        file_name: "fuzz.s".into(),
        defines: vec![("K".into(), 5)],
    };
    let (mut ok, mut err) = (0usize, 0usize);
    let mut src = String::new();
    for n in 0..100_000u32 {
        let base = corpus::line(&mut rng);
        let line = match n % 5 {
            0 => base.clone(),
            1 => {
                // The same instruction in kernel syntax, mutated.
                let p = assemble(&base, &opts).expect("corpus line assembles");
                let ins = ebpf_asm::encode::decode(p.insns()).expect("decodes").0;
                mutate(&mut rng, &format_instruction(&ins, Syntax::Kernel))
            }
            2 => (0..rng.usize(0..40))
                .map(|_| CHARSET[rng.usize(..CHARSET.len())] as char)
                .collect(),
            3 => String::from_utf8_lossy(
                &(0..rng.usize(0..30))
                    .map(|_| rng.u8(..))
                    .collect::<Vec<_>>(),
            )
            .into_owned(),
            _ => mutate(&mut rng, &base),
        };
        src.clear();
        if n % 7 == 0 {
            src.push_str(".ifdef K\n");
        }
        src.push_str(&line);
        if n % 7 == 0 {
            src.push_str("\n.endif");
        }
        let r = catch_unwind(AssertUnwindSafe(|| match assemble(&src, &opts) {
            Ok(p) => {
                let _ = disassemble(&p.to_bytes(), &DisasmOptions::default());
                true
            }
            Err(e) => {
                let text = e.to_string();
                assert!(text.starts_with("fuzz.s:"), "{text}");
                let len = e.source_line.chars().count() as u32;
                assert!(
                    e.column >= 1 && e.column <= len + 1,
                    "column {} of {len}: {text}",
                    e.column
                );
                assert!(e.line >= 1 && e.line <= 3);
                false
            }
        }));
        match r {
            Ok(true) => ok += 1,
            Ok(false) => err += 1,
            Err(_) => panic!("assembler panicked on {src:?}"),
        }
    }
    assert!(ok > 20_000 && err > 20_000, "ok {ok}, err {err}");
}

/// Lines of LLVM's file syntax (as clang -S writes them), for the object
/// path's property test.
const LLVM_LINES: &[&str] = &[
    "\t.section\t.rodata.str1.1,\"aMS\",@progbits,1",
    "\t.section\t.BTF.ext,\"\",@progbits",
    "\t.section\t.bss,\"aw\",@nobits",
    "\t.globl\tprog",
    "\t.type\tprog,@function",
    "\t.size\tprog, .Lfunc_end0-prog",
    "\t.size\tprog, .-prog",
    "\t.p2align\t3",
    "\t.balign 8, 0",
    "\t.byte\t1, 2, 0x3",
    "\t.short\t60319 # 0xeb9f",
    "\t.long\t.Lfunc_begin0",
    "\t.long\t.Lend-.Lstart+4",
    "\t.quad\tprog",
    "\t.ascii\t\"a\\303\\n\\\"b\"",
    "\t.asciz\t\"fmt %d\\n\"",
    "\t.zero\t16",
    "\t.space 3, 0x41",
    "\t.uleb128 .Ltmp1-.Lfunc_begin0",
    "\t.sleb128 -129",
    "\t.file\t0 \"/tmp\" \"x.c\" md5 0x33d6c64ae7c92620e7f4c69b6d626c32",
    "\t.loc\t0 49 0 prologue_end",
    "\t.cfi_startproc",
    "\t.addrsig_sym prog",
    "\tr1 = gvar ll",
    "\tr2 = .L.str+4 ll",
    "\tcall sub",
    "\tcall 1f",
    "1:\tgoto 1b",
    "\t.map m, ringbuf, max_entries=4096",
    ".map h, BPF_MAP_TYPE_HASH, key=4, value=8, max_entries=16",
    "\tr0 = addr_space_cast(r1, 0, 1)",
];

#[test]
fn object_assembler_never_panics_on_mutated_llvm_lines() {
    let mut rng = Rng::with_seed(0x0b1e);
    let opts = AsmOptions {
        file_name: "obj.s".into(),
        defines: vec![],
    };
    let prefix =
        "\t.section\txdp,\"ax\",@progbits\nprog:\n.Lfunc_begin0:\n.Lstart:\n\tr0 = 0\n.Ltmp1:\n";
    let suffix = "\n\texit\n.Lfunc_end0:\n.Lend:\n\t.section\t.rodata,\"a\",@progbits\n.L.str:\n\t.asciz \"x\"\n\t.data\ngvar:\n\t.long 1\n\t.text\nsub:\n\texit\n";
    let (mut ok, mut err) = (0usize, 0usize);
    for n in 0..200_000u32 {
        let base = LLVM_LINES[rng.usize(..LLVM_LINES.len())];
        let line = if n % 4 == 0 {
            base.to_string()
        } else {
            mutate(&mut rng, base)
        };
        let src = format!("{prefix}{line}{suffix}");
        let r = catch_unwind(AssertUnwindSafe(|| {
            match ebpf_asm::text::assemble_object(&src, &opts) {
                Ok(o) => {
                    let bytes = o.to_elf().expect("an assembled object writes");
                    ebpf_asm::object::Object::from_elf(&bytes).expect("and reads back");
                    true
                }
                Err(e) => {
                    let len = e.source_line.chars().count() as u32;
                    assert!(
                        e.column >= 1 && e.column <= len + 1,
                        "column {} of {len}: {e}",
                        e.column
                    );
                    false
                }
            }
        }));
        match r {
            Ok(true) => ok += 1,
            Ok(false) => err += 1,
            Err(_) => panic!("object assembler panicked on {src:?}"),
        }
    }
    assert!(ok > 20_000 && err > 20_000, "ok {ok}, err {err}");
}

/// Real objects to mutate: ours for `bpf-src/redirect.s`, and clang-19's for
/// `bpf-src/redirect.bpf.c` (with `.BTF`, `.BTF.ext`, DWARF and relocation
/// sections), compiled into the test's temporary directory.
fn seed_objects() -> Vec<Vec<u8>> {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../bpf-src");
    let src = std::fs::read_to_string(dir.join("redirect.s")).expect("bpf-src/redirect.s");
    let prog = assemble(&src, &AsmOptions::default()).expect("redirect.s assembles");
    let mut out = vec![ebpf_asm::elf::write_object(&prog).expect("writes")];
    let tmp = std::env::temp_dir().join(format!("ebpf-asm-prop-{}.o", std::process::id()));
    let multiarch = std::process::Command::new("gcc")
        .arg("-print-multiarch")
        .output()
        .ok()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| "x86_64-linux-gnu".into());
    // redirect.bpf.c, and a map of maps with a program array whose slots
    // are relocations in .rel.maps (read by declared_maps).
    let nested = dir.join("../tests/corpus/objload/nested.bpf.c");
    for src in [dir.join("redirect.bpf.c"), nested] {
        let status = std::process::Command::new("clang-19")
            .args(["-O2", "-g", "-target", "bpf", "-mcpu=v3", "-c"])
            .arg(format!("-I/usr/include/{multiarch}"))
            .arg(&src)
            .arg("-o")
            .arg(&tmp)
            .status()
            .expect("clang-19 runs (the oracle tools are required here)");
        assert!(status.success(), "clang-19 failed on {}", src.display());
        out.push(std::fs::read(&tmp).expect("clang's object"));
    }
    let _ = std::fs::remove_file(&tmp);
    for o in &out {
        ebpf_asm::object::Object::from_elf(o).expect("the seeds themselves read");
    }
    out
}

#[test]
fn elf_reader_never_panics_on_random_and_mutated_objects() {
    use ebpf_asm::object::Object;
    let seeds = seed_objects();
    let mut rng = Rng::with_seed(0xe1f);
    let mut read = 0usize;
    let mut buf = Vec::new();
    for n in 0..1_000_000u32 {
        buf.clear();
        if n % 16 == 0 {
            // Random bytes behind a valid ELF identification, so parsing
            // gets past the magic.
            buf.extend_from_slice(b"\x7fELF\x02\x01\x01\0\0\0\0\0\0\0\0\0\x01\0\xf7\0");
            for _ in 0..rng.usize(0..512) {
                buf.push(rng.u8(..));
            }
        } else {
            let seed = &seeds[n as usize % seeds.len()];
            buf.extend_from_slice(seed);
            for _ in 0..rng.usize(1..6) {
                let i = rng.usize(..buf.len());
                buf[i] = match rng.u8(0..4) {
                    0 => 0,
                    1 => 0xff,
                    _ => rng.u8(..),
                };
            }
            if rng.u8(0..16) == 0 {
                buf.truncate(rng.usize(..buf.len()));
            }
        }
        // What a loader asks next of an object that reads: its BTF and the
        // maps it declares (fields, values, slots).
        let questions = |o: &Object| {
            let btf = o.btf().and_then(Result::ok);
            let _ = o.declared_maps(btf.as_ref());
        };
        match catch_unwind(AssertUnwindSafe(|| {
            Object::from_elf(&buf).map(|o| questions(&o))
        })) {
            Ok(Ok(())) => read += 1,
            Ok(Err(e)) => assert!(!e.message.is_empty()),
            Err(_) => panic!("Object::from_elf or declared_maps panicked on input {n}"),
        }
    }
    // Most single-byte mutations land in data and still read; if none do,
    // the test only exercised the header check.
    assert!(read > 100_000, "only {read} inputs read");
}
