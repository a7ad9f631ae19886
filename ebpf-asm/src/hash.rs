//! A fast hasher for the assembler's own tables: constants, labels,
//! symbols and BTF strings, keyed by names from the file being assembled.
//!
//! The standard `HashMap` hashes with SipHash, which resists keys chosen to
//! collide; an assembler's keys are its input's names, and a file built to
//! collide costs its author time, nobody else. SipHash was the largest
//! single cost of assembling a million-line file (`make bench`, benchmark
//! 4), so these maps use the multiply-rotate hash rustc uses for its own
//! tables (FxHash), written out here: a word at a time, rotate, xor,
//! multiply by a 64-bit odd constant.

use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};

/// The multiplier of FxHash: 2^64 divided by the golden ratio, made odd.
const K: u64 = 0x517c_c1b7_2722_0a95;

/// FxHash state: one word.
#[derive(Default, Clone, Copy)]
pub struct FxHasher(u64);

impl FxHasher {
    fn add(&mut self, word: u64) {
        self.0 = (self.0.rotate_left(5) ^ word).wrapping_mul(K);
    }
}

impl Hasher for FxHasher {
    fn write(&mut self, bytes: &[u8]) {
        let mut chunks = bytes.chunks_exact(8);
        for c in &mut chunks {
            let mut w = [0u8; 8];
            w.copy_from_slice(c);
            self.add(u64::from_le_bytes(w));
        }
        let rest = chunks.remainder();
        if !rest.is_empty() {
            let mut w = [0u8; 8];
            w[..rest.len()].copy_from_slice(rest);
            // The length keeps "a" and "a\0" apart.
            self.add(u64::from_le_bytes(w) ^ ((rest.len() as u64) << 56));
        }
    }

    fn write_u8(&mut self, i: u8) {
        self.add(i as u64);
    }

    fn write_u32(&mut self, i: u32) {
        self.add(i as u64);
    }

    fn write_u64(&mut self, i: u64) {
        self.add(i);
    }

    fn write_usize(&mut self, i: usize) {
        self.add(i as u64);
    }

    fn finish(&self) -> u64 {
        // The multiply leaves the low bits depending only on the low bits
        // of the input, and hashbrown picks the bucket from the low bits:
        // a million lines starting `r1 = ` filled 215,000 of 1M buckets
        // (SipHash: 361,000), probing far. The high bits mix in everything;
        // rotating them down (as rustc-hash 2 does) fills 357,000.
        self.0.rotate_left(26)
    }
}

/// A `HashMap` with [`FxHasher`].
pub type FastMap<K, V> = HashMap<K, V, BuildHasherDefault<FxHasher>>;

#[cfg(test)]
mod tests {
    use super::*;
    use std::hash::Hash;

    fn h(v: impl Hash) -> u64 {
        let mut s = FxHasher::default();
        v.hash(&mut s);
        s.finish()
    }

    #[test]
    fn equal_keys_hash_alike_and_near_keys_apart() {
        assert_eq!(h("label"), h("label"));
        let names = [
            "a", "b", "a\0", "ab", "ba", ".Ltmp1", ".Ltmp2", ".Ltmp10", "",
        ];
        let hashes: std::collections::HashSet<u64> = names.iter().map(h).collect();
        assert_eq!(hashes.len(), names.len());
    }

    #[test]
    fn a_map_of_many_names_finds_each() {
        let mut m: FastMap<String, usize> = FastMap::default();
        for i in 0..10_000 {
            m.insert(format!(".Lfunc_end{i}"), i);
        }
        for i in 0..10_000 {
            assert_eq!(m[&format!(".Lfunc_end{i}")], i);
        }
    }
}
