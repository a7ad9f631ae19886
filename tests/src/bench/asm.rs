//! Benchmark 4: our assembler and disassembler against LLVM's on
//! generated files of N lines (1,000,000 in `make bench`): one of bare
//! instructions, and one whole object file as clang writes them (program
//! sections, `.text` subprograms, `.rodata` strings, `.data` globals,
//! `.globl`/`.type`/`.size`, label arithmetic, calls and `lddw` relocations).
//!
//! The file uses LLVM's syntax, which both llvm-mc and our assembler accept,
//! with a deterministic mix of the common forms (ALU with registers and
//! immediates, 32-bit `w` forms, loads, stores, conditional and plain jumps,
//! calls, 64-bit immediates, byte swaps, exit). Before timing anything, the
//! instruction bytes of both assemblers are compared: a speed figure for an
//! assembler that produced different bytes would mean nothing.
//!
//! For the object file every section both objects have (code, data,
//! relocations) must be byte-identical before it is timed.
//!
//! Timed work, from the same input file to an output file each:
//! - llvm-mc-19 -triple bpfel -mcpu=v4 -filetype=obj (a process) against
//!   our assembler (read the file, assemble, write the ELF object);
//! - llvm-objdump-19 -d on llvm's object against our disassembler on the same
//!   instructions (to a text file).

use super::stats::{interleave, Better};
use super::table::Row;
use super::traffic::find_tool;
use super::{elf, Config};
use std::fmt::Write as _;
use std::path::Path;
use std::process::Command;
use std::time::Instant;

const BENCH: &str = "4. assembler";

/// A deterministic xorshift64 generator: the same file every run, no crate.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
    fn range(&mut self, lo: i64, hi: i64) -> i64 {
        lo + self.below((hi - lo) as u64) as i64
    }
}

/// `lines` lines of eBPF assembly in LLVM's syntax, from `seed`.
pub fn generate(lines: usize, seed: u64) -> String {
    let mut r = Rng(seed | 1);
    let mut s = String::with_capacity(lines * 24);
    const ALU: [&str; 8] = ["+=", "-=", "*=", "|=", "&=", "^=", "<<=", ">>="];
    const JMP: [&str; 8] = ["==", "!=", ">", ">=", "<", "s>", "s<", "&"];
    const SIZES: [&str; 4] = ["u8", "u16", "u32", "u64"];
    for _ in 0..lines {
        let d = r.below(10); // r10 is read-only: never a destination
        let src = r.below(11);
        let _ = match r.below(14) {
            0 => writeln!(s, "r{d} = r{src}"),
            1 => {
                let op = ALU[r.below(8) as usize];
                let imm = if op.contains("<<") || op.contains(">>") {
                    r.range(0, 64)
                } else {
                    r.range(-100_000, 100_000)
                };
                writeln!(s, "r{d} {op} {imm}")
            }
            2 => writeln!(s, "r{d} {} r{src}", ALU[r.below(8) as usize]),
            3 => writeln!(s, "w{d} = w{}", r.below(10)),
            4 => writeln!(s, "w{d} += {}", r.range(-5000, 5000)),
            5 => writeln!(
                s,
                "r{d} = *({} *)(r{src} + {})",
                SIZES[r.below(4) as usize],
                r.range(0, 512)
            ),
            6 => writeln!(
                s,
                "*({} *)(r10 - {}) = r{}",
                SIZES[r.below(4) as usize],
                8 * r.range(1, 64),
                r.below(10)
            ),
            7 => writeln!(
                s,
                "*(u32 *)(r{d} + {}) = {}",
                r.range(0, 64),
                r.range(-1000, 1000)
            ),
            8 => writeln!(
                s,
                "if r{d} {} r{src} goto +{}",
                JMP[r.below(8) as usize],
                r.range(0, 200)
            ),
            9 => writeln!(
                s,
                "if w{d} {} {} goto -{}",
                JMP[r.below(8) as usize],
                r.range(-500, 500),
                r.range(1, 200)
            ),
            10 => writeln!(s, "goto +{}", r.range(0, 1000)),
            11 => writeln!(s, "r{d} = {} ll", r.next() as i64),
            12 => writeln!(s, "call {}", r.range(1, 200)),
            _ => {
                if r.below(2) == 0 {
                    writeln!(s, "exit")
                } else {
                    writeln!(s, "r{d} = be{} r{d}", [16, 32, 64][r.below(3) as usize])
                }
            }
        };
    }
    s
}

/// The program sections the object file spreads its functions over.
const OBJ_SECTIONS: [&str; 3] = ["xdp", "tc", "tracepoint/net/netif_rx"];

/// About `lines` lines of one LLVM-syntax object file, from `seed`: the
/// shape `clang -S` writes. Each function is 40 generated instructions plus
/// a `.rodata` string, a `.data` global and a call to a `.text` subprogram
/// it references (`R_BPF_64_64` and `R_BPF_64_32`), with its `.size` by
/// label arithmetic, and a `.quad` of its length in `.data`.
pub fn generate_object(lines: usize, seed: u64) -> String {
    let body = generate(lines, seed);
    let mut body = body.lines();
    let mut s = String::with_capacity(lines * 30);
    s.push_str(
        "\t.text\n\t.globl\tsub\n\t.p2align\t3\n\t.type\tsub,@function\nsub:\n\tr0 = r1\n\texit\n.Lsub_end:\n\t.size\tsub, .Lsub_end-sub\n",
    );
    let mut k = 0usize;
    let mut written = 10;
    while written < lines {
        let sec = OBJ_SECTIONS[k % OBJ_SECTIONS.len()];
        let _ = write!(
            s,
            "\t.section\t{sec},\"ax\",@progbits\n\t.globl\tprog{k}\n\t.p2align\t3\n\t.type\tprog{k},@function\nprog{k}:\n\tr1 = .L.str.{k} ll\n\tr2 = gvar{k} ll\n\tcall sub\n"
        );
        for line in body.by_ref().take(40) {
            let _ = writeln!(s, "\t{line}");
        }
        let _ = write!(
            s,
            "\texit\n.Lfunc_end{k}:\n\t.size\tprog{k}, .Lfunc_end{k}-prog{k}\n\
             \t.section\t.rodata.str1.1,\"aMS\",@progbits,1\n.L.str.{k}:\n\t.asciz\t\"prog {k}: %d\\n\"\n\
             \t.data\n\t.globl\tgvar{k}\n\t.p2align\t3\n\t.type\tgvar{k},@object\ngvar{k}:\n\t.long\t{k}\n\t.long\t0\n\t.quad\t.Lfunc_end{k}-prog{k}\n\t.size\tgvar{k}, 16\n"
        );
        written += 63; // the lines one function takes, written above
        k += 1;
    }
    s.push_str("\t.section\tlicense,\"aw\",@progbits\n\t.globl\t_license\n_license:\n\t.asciz\t\"GPL\"\n\t.size\t_license, 4\n");
    s
}

/// The first section of `theirs` (an llvm-mc object) whose bytes differ in
/// `ours`, or is missing there; `None` when every section agrees.
fn first_difference(theirs: &[u8], ours: &[u8]) -> Option<String> {
    // Not `.symtab`: llvm-mc numbers its sections differently (`.strtab`
    // first), so `st_shndx` differs; tests/tests/asm_llvm_files.rs compares
    // symbols by name and section. The relocations' symbol indices are
    // compared here, in the `.rel*` bytes.
    let mut names = vec![".text", ".rodata.str1.1", ".data", "license", ".rel.text"];
    let rel: Vec<String> = OBJ_SECTIONS.iter().map(|s| format!(".rel{s}")).collect();
    names.extend(OBJ_SECTIONS);
    names.extend(rel.iter().map(String::as_str));
    for n in names {
        match (elf::section(theirs, n), elf::section(ours, n)) {
            (None, None) => {}
            (Some(_), None) => return Some(format!("section {n} missing from ours")),
            (None, Some(_)) => return Some(format!("section {n} only in ours")),
            (Some(t), Some(o)) if t != o => {
                let at = t
                    .iter()
                    .zip(o)
                    .position(|(a, b)| a != b)
                    .unwrap_or(t.len().min(o.len()));
                return Some(format!(
                    "section {n}: our bytes differ from llvm-mc's at offset {at} (sizes {} vs {})",
                    o.len(),
                    t.len()
                ));
            }
            _ => {}
        }
    }
    None
}

/// What our side of the benchmark does; see [`super::ours`].
fn ours_assemble(input: &Path, output: &Path) -> Result<Vec<u8>, String> {
    let text = std::fs::read_to_string(input).map_err(|e| format!("{}: {e}", input.display()))?;
    let (insn_bytes, elf) = super::ours::assemble_to_elf(&text)?;
    std::fs::write(output, elf).map_err(|e| format!("{}: {e}", output.display()))?;
    Ok(insn_bytes)
}

fn ours_disassemble(insns: &[u8], output: &Path) -> Result<(), String> {
    let text = super::ours::disassemble(insns)?;
    std::fs::write(output, text).map_err(|e| format!("{}: {e}", output.display()))
}

fn run_tool(tool: &Path, args: &[&str]) -> Result<f64, String> {
    let t = Instant::now();
    let out = Command::new(tool)
        .args(args)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .output()
        .map_err(|e| format!("{}: {e}", tool.display()))?;
    let secs = t.elapsed().as_secs_f64();
    if !out.status.success() {
        let err = String::from_utf8_lossy(&out.stderr);
        return Err(format!(
            "{} failed: {}",
            tool.display(),
            err.lines().take(3).collect::<Vec<_>>().join(" / ")
        ));
    }
    Ok(secs)
}

pub fn run(cfg: &Config) -> Vec<Row> {
    let lines = if cfg.smoke { 2_000 } else { 1_000_000 };
    // llvm-mc and llvm-objdump take seconds each on 1M lines: 3 runs keep
    // `make bench` within its 5 minutes.
    let reps = cfg.reps.min(3);
    let dir = cfg.workdir.join("asm");
    let case = |what: &str| format!("{what}, {lines} lines");
    let mut rows = Vec::new();
    if let Err(e) = std::fs::create_dir_all(&dir) {
        let why = format!("cannot create {}: {e}", dir.display());
        for c in [
            "our assembler",
            "llvm-mc-19",
            "our disassembler",
            "llvm-objdump-19",
        ] {
            rows.push(Row::missing(BENCH, case(c), "ms", why.clone()));
        }
        return rows;
    }
    let src = dir.join("bench.s");
    let (llvm_obj, our_obj) = (dir.join("llvm.o"), dir.join("ours.o"));
    let (llvm_dis, our_dis) = (dir.join("llvm.dis"), dir.join("ours.dis"));
    let text = generate(lines, 0x5eed_0000 + lines as u64);
    if let Err(e) = std::fs::write(&src, &text) {
        let why = format!("cannot write {}: {e}", src.display());
        for c in [
            "our assembler",
            "llvm-mc-19",
            "our disassembler",
            "llvm-objdump-19",
        ] {
            rows.push(Row::missing(BENCH, case(c), "ms", why.clone()));
        }
        return rows;
    }
    drop(text);
    let mc = find_tool("llvm-mc-19");
    let objdump = find_tool("llvm-objdump-19");
    let s = |p: &Path| p.to_string_lossy().into_owned();

    // Same bytes first, then speed.
    let ours_bytes = ours_assemble(&src, &our_obj);
    let agreement = match (&ours_bytes, &mc) {
        (Err(e), _) => Some(format!("our assembler failed: {e}")),
        (Ok(_), None) => None,
        (Ok(bytes), Some(mc)) => {
            match run_tool(
                mc,
                &[
                    "-triple",
                    "bpfel",
                    "-mcpu=v4",
                    "-filetype=obj",
                    &s(&src),
                    "-o",
                    &s(&llvm_obj),
                ],
            ) {
                Err(e) => Some(e),
                Ok(_) => match std::fs::read(&llvm_obj) {
                    Err(e) => Some(format!("{}: {e}", llvm_obj.display())),
                    Ok(obj) => match elf::section(&obj, ".text") {
                        None => Some("llvm-mc's object has no readable .text".into()),
                        Some(t) if t == bytes.as_slice() => None,
                        Some(t) => {
                            let at = t
                                .iter()
                                .zip(bytes.iter())
                                .position(|(a, b)| a != b)
                                .unwrap_or(t.len().min(bytes.len()));
                            Some(format!(
                                "our bytes differ from llvm-mc's at byte {at} (slot {}); sizes {} vs {}",
                                at / 8,
                                bytes.len(),
                                t.len()
                            ))
                        }
                    },
                },
            }
        }
    };
    if let Some(why) = agreement {
        for c in [
            "our assembler",
            "llvm-mc-19",
            "our disassembler",
            "llvm-objdump-19",
        ] {
            rows.push(Row::missing(BENCH, case(c), "ms", why.clone()));
        }
        return rows;
    }
    let insns = ours_bytes.unwrap_or_default();

    // Assemble: ours against llvm-mc, interleaved.
    let asm = interleave(reps, 2, |_, case| -> Result<f64, String> {
        if case == 0 {
            let t = Instant::now();
            ours_assemble(&src, &our_obj)?;
            Ok(t.elapsed().as_secs_f64() * 1e3)
        } else {
            let mc = mc
                .as_deref()
                .ok_or("llvm-mc-19 not installed (apt install llvm-19)")?;
            run_tool(
                mc,
                &[
                    "-triple",
                    "bpfel",
                    "-mcpu=v4",
                    "-filetype=obj",
                    &s(&src),
                    "-o",
                    &s(&llvm_obj),
                ],
            )
            .map(|secs| secs * 1e3)
        }
    });
    let dis = interleave(reps, 2, |_, case| -> Result<f64, String> {
        if case == 0 {
            let t = Instant::now();
            ours_disassemble(&insns, &our_dis)?;
            Ok(t.elapsed().as_secs_f64() * 1e3)
        } else {
            let od = objdump
                .as_deref()
                .ok_or("llvm-objdump-19 not installed (apt install llvm-19)")?;
            let t = Instant::now();
            let out = std::fs::File::create(&llvm_dis)
                .map_err(|e| format!("{}: {e}", llvm_dis.display()))?;
            let st = Command::new(od)
                .args(["-d", &s(&llvm_obj)])
                .stdout(out)
                .status()
                .map_err(|e| format!("llvm-objdump-19: {e}"))?;
            if !st.success() {
                return Err(format!("llvm-objdump-19 exited with {st}"));
            }
            Ok(t.elapsed().as_secs_f64() * 1e3)
        }
    });
    for (pair, names) in [
        (asm, ["our assembler", "llvm-mc-19"]),
        (dis, ["our disassembler", "llvm-objdump-19"]),
    ] {
        let mut it = pair.into_iter();
        let to_row = |name: &str, r: Option<Result<Vec<f64>, String>>| match r {
            Some(Ok(v)) => Row::from_samples(BENCH, case(name), "ms", &v),
            Some(Err(e)) => Row::missing(BENCH, case(name), "ms", e),
            None => Row::missing(BENCH, case(name), "ms", "not run"),
        };
        let ours = to_row(names[0], it.next());
        let reference = to_row(names[1], it.next());
        // Issue #7: both directions are held to the same 5x target.
        let ours = ours.versus(names[1], &reference, Better::Lower).target(5.0);
        rows.push(ours);
        rows.push(reference);
    }
    for f in [&llvm_obj, &our_obj, &llvm_dis, &our_dis, &src] {
        let _ = std::fs::remove_file(f);
    }
    rows.extend(object_file_rows(&dir, lines, reps, mc.as_deref()));
    rows
}

/// The object-file case: the same bytes in every section first, then
/// ours against llvm-mc-19, interleaved.
fn object_file_rows(dir: &Path, lines: usize, reps: usize, mc: Option<&Path>) -> Vec<Row> {
    let case = |what: &str| format!("{what}, object file of {lines} lines");
    let names = ["our assembler", "llvm-mc-19"];
    let missing = |why: String| -> Vec<Row> {
        names
            .iter()
            .map(|n| Row::missing(BENCH, case(n), "ms", why.clone()))
            .collect()
    };
    let Some(mc) = mc else {
        return missing("llvm-mc-19 not installed (apt install llvm-19)".into());
    };
    let (src, llvm_obj) = (dir.join("object.s"), dir.join("object-llvm.o"));
    let s = |p: &Path| p.to_string_lossy().into_owned();
    let mc_args = [
        "-triple".to_string(),
        "bpfel".into(),
        "-mcpu=v3".into(),
        "-filetype=obj".into(),
        s(&src),
        "-o".into(),
        s(&llvm_obj),
    ];
    let mc_args: Vec<&str> = mc_args.iter().map(String::as_str).collect();
    let text = generate_object(lines, 0x0b1e_c700 + lines as u64);
    if let Err(e) = std::fs::write(&src, &text) {
        return missing(format!("cannot write {}: {e}", src.display()));
    }
    let ours_once = |text: &str| -> Result<(), String> {
        let elf = super::ours::assemble_object_to_elf(text)?;
        std::fs::write(dir.join("object-ours.o"), elf).map_err(|e| e.to_string())
    };
    let checked = super::ours::assemble_object_to_elf(&text)
        .map_err(|e| format!("our assembler failed: {e}"))
        .and_then(|ours| {
            run_tool(mc, &mc_args)?;
            let theirs = std::fs::read(&llvm_obj).map_err(|e| e.to_string())?;
            match first_difference(&theirs, &ours) {
                Some(d) => Err(d),
                None => Ok(()),
            }
        });
    if let Err(why) = checked {
        return missing(why);
    }
    let runs = interleave(reps, 2, |_, which| -> Result<f64, String> {
        if which == 0 {
            // Read, assemble, write: what `redirect-lab asm` does.
            let t = Instant::now();
            let text = std::fs::read_to_string(&src).map_err(|e| e.to_string())?;
            ours_once(&text)?;
            Ok(t.elapsed().as_secs_f64() * 1e3)
        } else {
            run_tool(mc, &mc_args).map(|secs| secs * 1e3)
        }
    });
    let mut it = runs.into_iter();
    let to_row = |name: &str, r: Option<Result<Vec<f64>, String>>| match r {
        Some(Ok(v)) => Row::from_samples(BENCH, case(name), "ms", &v),
        Some(Err(e)) => Row::missing(BENCH, case(name), "ms", e),
        None => Row::missing(BENCH, case(name), "ms", "not run"),
    };
    let ours = to_row(names[0], it.next());
    let reference = to_row(names[1], it.next());
    let ours = ours.versus(names[1], &reference, Better::Lower);
    for f in [&src, &llvm_obj, &dir.join("object-ours.o")] {
        let _ = std::fs::remove_file(f);
    }
    vec![ours, reference]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generation_is_deterministic_and_sized() {
        let a = generate(1000, 7);
        assert_eq!(a, generate(1000, 7));
        assert_ne!(a, generate(1000, 8));
        assert_eq!(a.lines().count(), 1000);
        assert!(!a.contains("r10 ="), "r10 must never be written");
    }

    #[test]
    fn the_object_file_is_identical_to_llvm_mcs() {
        let Some(mc) = find_tool("llvm-mc-19") else {
            eprintln!("skipping: llvm-mc-19 not installed");
            return;
        };
        let dir = std::env::temp_dir().join(format!("bench-asm-obj-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let text = generate_object(3000, 9);
        assert!(text.lines().count() >= 3000, "{}", text.lines().count());
        let (src, obj) = (dir.join("o.s"), dir.join("o.o"));
        std::fs::write(&src, &text).unwrap();
        let st = Command::new(mc)
            .args(["-triple", "bpfel", "-mcpu=v3", "-filetype=obj"])
            .arg(&src)
            .arg("-o")
            .arg(&obj)
            .status()
            .unwrap();
        assert!(st.success());
        let theirs = std::fs::read(&obj).unwrap();
        let ours = super::super::ours::assemble_object_to_elf(&text).unwrap();
        assert_eq!(first_difference(&theirs, &ours), None);
        // The comparison can fail: one changed string is found.
        let other =
            super::super::ours::assemble_object_to_elf(&text.replacen("prog 0:", "prog 0;", 1))
                .unwrap();
        assert!(first_difference(&theirs, &other)
            .unwrap()
            .contains(".rodata.str1.1"));
        for sec in [".relxdp", ".reltc", ".data"] {
            assert!(super::super::elf::section(&theirs, sec).is_some(), "{sec}");
        }
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn llvm_mc_accepts_the_generated_file() {
        let Some(mc) = find_tool("llvm-mc-19") else {
            eprintln!("skipping: llvm-mc-19 not installed");
            return;
        };
        let dir = std::env::temp_dir().join(format!("bench-asm-gen-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let src = dir.join("g.s");
        let obj = dir.join("g.o");
        std::fs::write(&src, generate(5000, 42)).unwrap();
        let st = Command::new(mc)
            .args(["-triple", "bpfel", "-mcpu=v4", "-filetype=obj"])
            .arg(&src)
            .arg("-o")
            .arg(&obj)
            .status()
            .unwrap();
        assert!(st.success());
        let bytes = std::fs::read(&obj).unwrap();
        let text = elf::section(&bytes, ".text").expect(".text in llvm-mc's object");
        // 5000 lines, lddw takes two slots.
        assert!(
            text.len() >= 5000 * 8 && text.len() % 8 == 0,
            "{}",
            text.len()
        );
        let _ = std::fs::remove_dir_all(&dir);
    }
}
