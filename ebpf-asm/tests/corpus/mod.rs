//! A generator of random assembly lines in LLVM's syntax covering every
//! instruction form `llvm-mc -triple bpfel -mcpu=v4` accepts, for the
//! differential and round-trip tests. Deterministic per seed.

use fastrand::Rng;

const ALU_OPS: [&str; 14] = [
    "+=", "-=", "*=", "/=", "s/=", "|=", "&=", "<<=", ">>=", "%=", "s%=", "^=", "=", "s>>=",
];
const CONDS: [&str; 11] = [
    "==", "!=", ">", ">=", "<", "<=", "&", "s>", "s>=", "s<", "s<=",
];
const SIZES: [&str; 4] = ["u8", "u16", "u32", "u64"];

/// A register that may be written (not r10).
fn dst(rng: &mut Rng) -> u8 {
    rng.u8(0..10)
}
fn any(rng: &mut Rng) -> u8 {
    rng.u8(0..11)
}

/// An immediate written in decimal or hex, negative or not.
fn imm(rng: &mut Rng) -> String {
    let v: i64 = match rng.u8(0..5) {
        0 => rng.i64(-16..16),
        1 => rng.i32(..) as i64,
        2 => i32::MAX as i64,
        3 => i32::MIN as i64,
        _ => rng.i64(-100_000..100_000),
    };
    if v >= 0 && rng.bool() {
        format!("{v:#x}")
    } else {
        v.to_string()
    }
}

fn off(rng: &mut Rng) -> String {
    let v = match rng.u8(0..4) {
        0 => 0,
        1 => rng.i32(-512..512),
        2 => rng.i16(..) as i32,
        _ => rng.i32(-16..16),
    };
    if v < 0 {
        format!("- {}", -v)
    } else {
        format!("+ {v}")
    }
}

fn jump_off(rng: &mut Rng) -> String {
    let v = rng.i32(-300..300);
    if v < 0 {
        v.to_string()
    } else {
        format!("+{v}")
    }
}

/// One line of LLVM-syntax assembly (no labels).
pub fn line(rng: &mut Rng) -> String {
    let (p, d, s) = if rng.bool() {
        ('r', dst(rng), any(rng))
    } else {
        ('w', dst(rng), any(rng))
    };
    match rng.u8(0..24) {
        0..=3 => {
            let op = ALU_OPS[rng.usize(..ALU_OPS.len())];
            format!("{p}{d} {op} {p}{s}")
        }
        4..=6 => {
            let op = ALU_OPS[rng.usize(..ALU_OPS.len())];
            // A 64-bit move takes only a sign-extended 32-bit immediate.
            format!("{p}{d} {op} {}", imm(rng))
        }
        7 => format!("{p}{d} = -{p}{d}"),
        8 => {
            let bits = if p == 'r' {
                [8, 16, 32][rng.usize(..3)]
            } else {
                [8, 16][rng.usize(..2)]
            };
            format!("{p}{d} = (s{bits}){p}{s}")
        }
        9 => {
            let kind = ["be", "le", "bswap"][rng.usize(..3)];
            let bits = [16, 32, 64][rng.usize(..3)];
            format!("r{d} = {kind}{bits} r{d}")
        }
        10..=11 => {
            let c = CONDS[rng.usize(..CONDS.len())];
            if rng.bool() {
                format!("if {p}{d} {c} {p}{s} goto {}", jump_off(rng))
            } else {
                format!("if {p}{d} {c} {} goto {}", imm(rng), jump_off(rng))
            }
        }
        12 => match rng.u8(0..6) {
            0 => format!("goto {}", jump_off(rng)),
            // llvm-mc 19 takes only a 16-bit number here (labels reach further).
            1 => format!("gotol {}", rng.i32(-32768..32768))
                .replace("gotol ", "gotol +")
                .replace("+-", "-"),
            2 => format!("call {}", rng.u32(0..212)),
            3 => format!("callx r{}", any(rng)),
            4 => format!("may_goto {}", jump_off(rng)),
            _ => "exit".to_string(),
        },
        13..=14 => {
            let size = SIZES[rng.usize(..4)];
            let reg = if size == "u64" { 'r' } else { p };
            format!("{reg}{d} = *({size} *)(r{s} {})", off(rng))
        }
        15 => {
            let size = ["s8", "s16", "s32"][rng.usize(..3)];
            format!("r{d} = *({size} *)(r{s} {})", off(rng))
        }
        16 => {
            let size = SIZES[rng.usize(..4)];
            format!("*({size} *)(r{} {}) = {}", any(rng), off(rng), imm(rng))
        }
        17 => {
            let size = SIZES[rng.usize(..4)];
            let reg = if size == "u64" { 'r' } else { p };
            format!("*({size} *)(r{} {}) = {reg}{s}", any(rng), off(rng))
        }
        18..=19 => {
            let (size, reg) = if rng.bool() {
                ("u64", 'r')
            } else {
                ("u32", 'w')
            };
            let base = any(rng);
            let o = off(rng);
            match rng.u8(0..4) {
                0 => {
                    let op = ["+=", "|=", "&=", "^="][rng.usize(..4)];
                    format!("lock *({size} *)(r{base} {o}) {op} {reg}{s}")
                }
                1 => {
                    let op = ["add", "or", "and", "xor"][rng.usize(..4)];
                    format!("{reg}{d} = atomic_fetch_{op}(({size} *)(r{base} {o}), {reg}{d})")
                }
                2 => {
                    let name = if size == "u64" {
                        "xchg_64"
                    } else {
                        "xchg32_32"
                    };
                    format!("{reg}{d} = {name}(r{base} {o}, {reg}{d})")
                }
                _ => {
                    let name = if size == "u64" {
                        "cmpxchg_64"
                    } else {
                        "cmpxchg32_32"
                    };
                    format!("{reg}0 = {name}(r{base} {o}, {reg}0, {reg}{s})")
                }
            }
        }
        20 => {
            let v = match rng.u8(0..3) {
                0 => rng.i64(..),
                1 => rng.i32(..) as i64,
                _ => rng.i64(-5..5),
            };
            if rng.bool() && v >= 0 {
                format!("r{d} = {v:#x} ll")
            } else {
                format!("r{d} = {v} ll")
            }
        }
        21 => format!("ld_pseudo r{d}, {}, {}", rng.u8(1..7), rng.u32(..)),
        22 => {
            let size = ["u8", "u16", "u32"][rng.usize(..3)];
            format!("r0 = *({size} *)skb[{}]", rng.i32(0..100_000))
        }
        _ => {
            let size = ["u8", "u16", "u32"][rng.usize(..3)];
            format!("r0 = *({size} *)skb[r{}]", any(rng))
        }
    }
}

#[allow(dead_code)] // used by the differential test only
/// A program of `n` lines with labels sprinkled in and jumps to them.
pub fn program(seed: u64, n: usize) -> String {
    let mut rng = Rng::with_seed(seed);
    let mut out = String::new();
    let labels = n.div_ceil(50);
    for i in 0..n {
        if i % 50 == 0 {
            out.push_str(&format!("lbl_{}:\n", i / 50));
        }
        let l = if rng.u8(0..20) == 0 {
            // 16-bit jumps stay within a few labels; gotol may go anywhere.
            let here = i / 50;
            let near = rng.usize(here.saturating_sub(10)..(here + 10).min(labels));
            let target = rng.usize(..labels);
            match rng.u8(0..6) {
                3 => format!("call lbl_{target}"),
                4 => format!("r{} = map_{} ll", rng.u8(0..10), rng.u8(0..4)),
                5 => format!(
                    "r{} = map_{} + {} ll",
                    rng.u8(0..10),
                    rng.u8(0..4),
                    rng.i32(0..1 << 20)
                ),
                0 => format!("goto lbl_{near}"),
                1 => format!("gotol lbl_{target}"),
                _ => format!(
                    "if r{} s> r{} goto lbl_{near}",
                    rng.u8(0..11),
                    rng.u8(0..11)
                ),
            }
        } else {
            line(&mut rng)
        };
        out.push_str(&l);
        out.push('\n');
    }
    out
}
