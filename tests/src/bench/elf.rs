//! Just enough ELF64 reading to take the bytes of one section out of an
//! object file, so the assembler benchmark can check that llvm-mc and our
//! assembler produced the same instructions before it compares their speed.
//!
//! It follows the ELF64 layout of `include/uapi/linux/elf.h` (`Elf64_Ehdr`,
//! `Elf64_Shdr`), little-endian only (BPF objects here are `bpfel`). Every
//! read is bounds-checked: bad bytes give `None`, never a panic.

fn u16_at(b: &[u8], off: usize) -> Option<u16> {
    Some(u16::from_le_bytes(
        b.get(off..off.checked_add(2)?)?.try_into().ok()?,
    ))
}

fn u32_at(b: &[u8], off: usize) -> Option<u32> {
    Some(u32::from_le_bytes(
        b.get(off..off.checked_add(4)?)?.try_into().ok()?,
    ))
}

fn u64_at(b: &[u8], off: usize) -> Option<u64> {
    Some(u64::from_le_bytes(
        b.get(off..off.checked_add(8)?)?.try_into().ok()?,
    ))
}

/// The contents of the section called `name` in a little-endian ELF64 file.
pub fn section<'a>(elf: &'a [u8], name: &str) -> Option<&'a [u8]> {
    // e_ident: "\x7fELF", ELFCLASS64 = 2, ELFDATA2LSB = 1.
    if elf.get(..6)? != b"\x7fELF\x02\x01" {
        return None;
    }
    let shoff = usize::try_from(u64_at(elf, 0x28)?).ok()?; // e_shoff
    let shentsize = usize::from(u16_at(elf, 0x3a)?); // e_shentsize
    let shnum = usize::from(u16_at(elf, 0x3c)?); // e_shnum
    let shstrndx = usize::from(u16_at(elf, 0x3e)?); // e_shstrndx
    if shentsize < 64 {
        return None;
    }
    let header = |i: usize| -> Option<(u32, &'a [u8])> {
        let h = shoff.checked_add(i.checked_mul(shentsize)?)?;
        let sh_name = u32_at(elf, h)?;
        let off = usize::try_from(u64_at(elf, h + 0x18)?).ok()?; // sh_offset
        let size = usize::try_from(u64_at(elf, h + 0x20)?).ok()?; // sh_size
        Some((sh_name, elf.get(off..off.checked_add(size)?)?))
    };
    let (_, strtab) = header(shstrndx)?;
    (0..shnum).find_map(|i| {
        let (n, data) = header(i)?;
        let s = strtab.get(usize::try_from(n).ok()?..)?;
        let end = s.iter().position(|&c| c == 0)?;
        (&s[..end] == name.as_bytes()).then_some(data)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn garbage_is_none_never_a_panic() {
        assert_eq!(section(b"", ".text"), None);
        assert_eq!(section(b"\x7fELF\x02\x01", ".text"), None);
        let mut rng = 0x9e37_79b9_7f4a_7c15u64;
        for len in 0..300 {
            let mut b: Vec<u8> = (0..len)
                .map(|_| {
                    rng ^= rng << 13;
                    rng ^= rng >> 7;
                    rng ^= rng << 17;
                    rng as u8
                })
                .collect();
            if b.len() >= 6 {
                b[..6].copy_from_slice(b"\x7fELF\x02\x01");
            }
            let _ = section(&b, ".text");
        }
    }
}
