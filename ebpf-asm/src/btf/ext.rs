//! `.BTF.ext`: per-instruction BTF, a reader and an exactly inverse writer.
//!
//! This ELF section is not uapi: clang writes it and libbpf reads it
//! (`struct btf_ext_header` and the info layout in
//! `tools/lib/bpf/libbpf_internal.h`). A header (magic `0xeB9F`, `hdr_len`
//! 24, or 32 with the CO-RE relocation fields) is followed by up to three
//! subsections, each `u32 rec_size` then, per ELF program section,
//! `{ u32 sec_name_off; u32 num_info; rec_size-byte records }`:
//!
//! - func_info: `struct bpf_func_info` (`include/uapi/linux/bpf.h`): insn_off,
//!   type_id (a FUNC);
//! - line_info: `struct bpf_line_info` (bpf.h): insn_off, file_name_off,
//!   line_off (the line's text), line_col = `line << 10 | col`
//!   (`BPF_LINE_INFO_LINE_NUM`, `BPF_LINE_INFO_LINE_COL`);
//! - core_relo: `struct bpf_core_relo` (bpf.h).
//!
//! In the ELF, `insn_off` is a **byte** offset within the program section
//! (clang writes it so, with a relocation against the section); the kernel's
//! `BPF_PROG_LOAD` wants an **instruction** index, so a loader divides by 8.
//! Every name offset points into the `.BTF` string section.

use super::{err, BtfError, Reader, BTF_MAGIC, BTF_VERSION};
use byteorder::{ByteOrder, LittleEndian, WriteBytesExt};

/// `sizeof(struct btf_ext_header)` without and with the CO-RE fields.
pub const BTF_EXT_HEADER_LEN: u32 = 24;
pub const BTF_EXT_HEADER_LEN_CORE: u32 = 32;
/// `sizeof(struct bpf_func_info)` (bpf.h).
pub const FUNC_INFO_SIZE: u32 = 8;
/// `sizeof(struct bpf_line_info)` (bpf.h).
pub const LINE_INFO_SIZE: u32 = 16;
/// `sizeof(struct bpf_core_relo)` (bpf.h).
pub const CORE_RELO_SIZE: u32 = 16;

/// `struct bpf_func_info` (bpf.h).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FuncInfo {
    pub insn_off: u32,
    pub type_id: u32,
}

/// `struct bpf_line_info` (bpf.h).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LineInfo {
    pub insn_off: u32,
    pub file_name_off: u32,
    pub line_off: u32,
    pub line_col: u32,
}

impl LineInfo {
    /// `BPF_LINE_INFO_LINE_NUM(line_col)`: the upper 22 bits.
    pub fn line(&self) -> u32 {
        self.line_col >> 10
    }
    /// `BPF_LINE_INFO_LINE_COL(line_col)`: the lower 10 bits.
    pub fn col(&self) -> u32 {
        self.line_col & 0x3ff
    }
    /// Pack a line and column. Each is clamped to its field (22 and 10
    /// bits), so a line past 4,194,303 or a column past 1,023 reads as the
    /// largest value instead of wrapping to a wrong one.
    pub fn line_col(line: u32, col: u32) -> u32 {
        line.min(0x3f_ffff) << 10 | col.min(0x3ff)
    }
}

/// `struct bpf_core_relo` (bpf.h).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CoreRelo {
    pub insn_off: u32,
    pub type_id: u32,
    pub access_str_off: u32,
    pub kind: u32,
}

/// The records of one ELF program section.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InfoSec<T> {
    /// Offset of the section's name in the `.BTF` strings.
    pub sec_name_off: u32,
    pub records: Vec<T>,
}

/// A parsed `.BTF.ext`. A subsection is `None` when its length is 0 (no
/// `rec_size` word either), so that encoding gives back the same bytes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BtfExt {
    pub flags: u8,
    /// 24, or 32 when the header carries the CO-RE relocation fields.
    pub hdr_len: u32,
    pub func_info: Option<Vec<InfoSec<FuncInfo>>>,
    pub line_info: Option<Vec<InfoSec<LineInfo>>>,
    pub core_relo: Option<Vec<InfoSec<CoreRelo>>>,
}

trait Record: Sized {
    const SIZE: u32;
    const WHAT: &'static str;
    fn read(r: &mut Reader<'_>) -> Result<Self, BtfError>;
    fn fields(&self) -> [u32; 4];
}

impl Record for FuncInfo {
    const SIZE: u32 = FUNC_INFO_SIZE;
    const WHAT: &'static str = "func_info";
    fn read(r: &mut Reader<'_>) -> Result<Self, BtfError> {
        Ok(FuncInfo {
            insn_off: r.u32("bpf_func_info.insn_off")?,
            type_id: r.u32("bpf_func_info.type_id")?,
        })
    }
    fn fields(&self) -> [u32; 4] {
        [self.insn_off, self.type_id, 0, 0]
    }
}

impl Record for LineInfo {
    const SIZE: u32 = LINE_INFO_SIZE;
    const WHAT: &'static str = "line_info";
    fn read(r: &mut Reader<'_>) -> Result<Self, BtfError> {
        Ok(LineInfo {
            insn_off: r.u32("bpf_line_info.insn_off")?,
            file_name_off: r.u32("bpf_line_info.file_name_off")?,
            line_off: r.u32("bpf_line_info.line_off")?,
            line_col: r.u32("bpf_line_info.line_col")?,
        })
    }
    fn fields(&self) -> [u32; 4] {
        [
            self.insn_off,
            self.file_name_off,
            self.line_off,
            self.line_col,
        ]
    }
}

impl Record for CoreRelo {
    const SIZE: u32 = CORE_RELO_SIZE;
    const WHAT: &'static str = "core_relo";
    fn read(r: &mut Reader<'_>) -> Result<Self, BtfError> {
        Ok(CoreRelo {
            insn_off: r.u32("bpf_core_relo.insn_off")?,
            type_id: r.u32("bpf_core_relo.type_id")?,
            access_str_off: r.u32("bpf_core_relo.access_str_off")?,
            kind: r.u32("bpf_core_relo.kind")?,
        })
    }
    fn fields(&self) -> [u32; 4] {
        [self.insn_off, self.type_id, self.access_str_off, self.kind]
    }
}

fn parse_sub<T: Record>(bytes: &[u8], base: usize) -> Result<Option<Vec<InfoSec<T>>>, BtfError> {
    if bytes.is_empty() {
        return Ok(None);
    }
    let mut r = Reader::new(bytes, base);
    let rec_size = r.u32(&format!("{} rec_size", T::WHAT))?;
    if rec_size != T::SIZE {
        return err(
            base,
            format!(
                "{} rec_size {rec_size} is not {} (only the uapi record size is read)",
                T::WHAT,
                T::SIZE
            ),
        );
    }
    let mut secs = Vec::new();
    while r.remaining() > 0 {
        let sec_name_off = r.u32(&format!("{} sec_name_off", T::WHAT))?;
        let at = r.pos();
        let num = r.u32(&format!("{} num_info", T::WHAT))? as usize;
        if num.saturating_mul(T::SIZE as usize) > r.remaining() {
            return err(
                at,
                format!("{} num_info {num} runs past the subsection", T::WHAT),
            );
        }
        let mut records = Vec::with_capacity(num);
        for _ in 0..num {
            records.push(T::read(&mut r)?);
        }
        secs.push(InfoSec {
            sec_name_off,
            records,
        });
    }
    Ok(Some(secs))
}

/// The bytes [`encode_sub`] writes for `secs`.
fn encoded_len<T: Record>(secs: &Option<Vec<InfoSec<T>>>) -> usize {
    secs.as_ref().map_or(0, |secs| {
        4 + secs
            .iter()
            .map(|s| 8 + s.records.len() * T::SIZE as usize)
            .sum::<usize>()
    })
}

/// Appends one subsection to `out`, which the caller sized: a million
/// line_info records are 16 MB, written once, not grown and then copied.
fn encode_sub<T: Record>(secs: &Option<Vec<InfoSec<T>>>, out: &mut Vec<u8>) {
    if let Some(secs) = secs {
        out.extend_from_slice(&T::SIZE.to_le_bytes());
        for s in secs {
            out.extend_from_slice(&s.sec_name_off.to_le_bytes());
            out.extend_from_slice(&(s.records.len() as u32).to_le_bytes());
            for rec in &s.records {
                for f in &rec.fields()[..T::SIZE as usize / 4] {
                    out.extend_from_slice(&f.to_le_bytes());
                }
            }
        }
    }
}

impl BtfExt {
    /// Parse `.BTF.ext` bytes. The subsections must follow each other in
    /// the order func_info, line_info, core_relo without gaps, as clang
    /// writes them; anything else is an error naming the byte offset.
    pub fn parse(bytes: &[u8]) -> Result<BtfExt, BtfError> {
        if bytes.len() < BTF_EXT_HEADER_LEN as usize {
            return err(
                0,
                format!(
                    "{} bytes is shorter than the 24-byte btf_ext_header",
                    bytes.len()
                ),
            );
        }
        let u = |o: usize| LittleEndian::read_u32(&bytes[o..o + 4]);
        let magic = LittleEndian::read_u16(&bytes[0..2]);
        if magic != BTF_MAGIC {
            return err(0, format!("magic {magic:#06x} is not 0xeb9f"));
        }
        if bytes[2] != BTF_VERSION {
            return err(2, format!("version {} is not {BTF_VERSION}", bytes[2]));
        }
        let hdr_len = u(4);
        if hdr_len != BTF_EXT_HEADER_LEN && hdr_len != BTF_EXT_HEADER_LEN_CORE {
            return err(4, format!("hdr_len {hdr_len} is neither 24 nor 32"));
        }
        if bytes.len() < hdr_len as usize {
            return err(
                4,
                format!(
                    "hdr_len {hdr_len} is beyond the {}-byte section",
                    bytes.len()
                ),
            );
        }
        let mut subs = vec![(u(8), u(12), "func_info"), (u(16), u(20), "line_info")];
        if hdr_len == BTF_EXT_HEADER_LEN_CORE {
            subs.push((u(24), u(28), "core_relo"));
        }
        let body = &bytes[hdr_len as usize..];
        let mut expect = 0u64;
        let mut slices = Vec::new();
        for (i, (off, len, what)) in subs.iter().enumerate() {
            if *off as u64 != expect {
                return err(
                    8 + 8 * i,
                    format!("{what}_off {off} is not {expect}: subsections must follow each other"),
                );
            }
            let end = *off as u64 + *len as u64;
            if end > body.len() as u64 {
                return err(
                    12 + 8 * i,
                    format!("{what} ends at {end}, beyond the {}-byte body", body.len()),
                );
            }
            slices.push((
                &body[*off as usize..end as usize],
                hdr_len as usize + *off as usize,
            ));
            expect = end;
        }
        if expect != body.len() as u64 {
            return err(
                hdr_len as usize + expect as usize,
                format!(
                    "{} bytes after the last subsection",
                    body.len() as u64 - expect
                ),
            );
        }
        let func_info = parse_sub::<FuncInfo>(slices[0].0, slices[0].1)?;
        let line_info = parse_sub::<LineInfo>(slices[1].0, slices[1].1)?;
        let core_relo = match slices.get(2) {
            Some((s, base)) => parse_sub::<CoreRelo>(s, *base)?,
            None => None,
        };
        Ok(BtfExt {
            flags: bytes[3],
            hdr_len,
            func_info,
            line_info,
            core_relo,
        })
    }

    /// The bytes of this `.BTF.ext`, exactly inverse to [`BtfExt::parse`].
    /// With `hdr_len` 24 the CO-RE relocations are not written.
    pub fn encode(&self) -> Vec<u8> {
        let core = self.hdr_len == BTF_EXT_HEADER_LEN_CORE;
        let f = encoded_len(&self.func_info);
        let l = encoded_len(&self.line_info);
        let c = if core {
            encoded_len(&self.core_relo)
        } else {
            0
        };
        let hdr_len = if core {
            BTF_EXT_HEADER_LEN_CORE
        } else {
            BTF_EXT_HEADER_LEN
        };
        let mut out = Vec::with_capacity(hdr_len as usize + f + l + c);
        out.write_u16::<LittleEndian>(BTF_MAGIC).unwrap();
        out.push(BTF_VERSION);
        out.push(self.flags);
        let mut words = vec![hdr_len, 0, f as u32, f as u32, l as u32];
        if core {
            words.push((f + l) as u32);
            words.push(c as u32);
        }
        for w in words {
            out.write_u32::<LittleEndian>(w).unwrap();
        }
        encode_sub(&self.func_info, &mut out);
        encode_sub(&self.line_info, &mut out);
        if core {
            encode_sub(&self.core_relo, &mut out);
        }
        out
    }
}

/// The records `BPF_PROG_LOAD` takes for one program: `insn_off` counted in
/// instructions (the ELF counts bytes), shifted by where the section's
/// first instruction lands in the loaded program.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ProgInfo {
    pub func_info: Vec<FuncInfo>,
    pub line_info: Vec<LineInfo>,
}

impl ProgInfo {
    /// `func_info` as the array of `struct bpf_func_info` the attr points to
    /// (`func_info_rec_size` = [`FUNC_INFO_SIZE`]).
    pub fn func_info_bytes(&self) -> Vec<u8> {
        records_bytes(&self.func_info)
    }
    /// `line_info` as the array of `struct bpf_line_info`
    /// (`line_info_rec_size` = [`LINE_INFO_SIZE`]).
    pub fn line_info_bytes(&self) -> Vec<u8> {
        records_bytes(&self.line_info)
    }
}

fn records_bytes<T: Record>(recs: &[T]) -> Vec<u8> {
    let mut out = Vec::with_capacity(recs.len() * T::SIZE as usize);
    for r in recs {
        for f in &r.fields()[..T::SIZE as usize / 4] {
            out.write_u32::<LittleEndian>(*f).unwrap();
        }
    }
    out
}

/// `BPF_PROG_LOAD` counts instructions of 8 bytes (`struct bpf_insn`).
const INSN_SIZE: u32 = 8;

impl BtfExt {
    /// The records of the ELF section named `section` (names are looked up
    /// in `strings`, the `.BTF` string section), converted for the kernel,
    /// with `insn_base` instructions added (0 for the main program; a
    /// subprogram section appended after N instructions gets N).
    pub fn prog_info(&self, btf: &super::Btf, section: &str, insn_base: u32) -> ProgInfo {
        let pick = |sec_name_off: u32| btf.str_at(sec_name_off) == Some(section);
        let mut out = ProgInfo::default();
        for s in self
            .func_info
            .iter()
            .flatten()
            .filter(|s| pick(s.sec_name_off))
        {
            out.func_info.extend(s.records.iter().map(|r| FuncInfo {
                insn_off: r.insn_off / INSN_SIZE + insn_base,
                ..*r
            }));
        }
        for s in self
            .line_info
            .iter()
            .flatten()
            .filter(|s| pick(s.sec_name_off))
        {
            out.line_info.extend(s.records.iter().map(|r| LineInfo {
                insn_off: r.insn_off / INSN_SIZE + insn_base,
                ..*r
            }));
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip() {
        let e = BtfExt {
            flags: 0,
            hdr_len: 32,
            func_info: Some(vec![InfoSec {
                sec_name_off: 5,
                records: vec![FuncInfo {
                    insn_off: 0,
                    type_id: 3,
                }],
            }]),
            line_info: Some(vec![InfoSec {
                sec_name_off: 5,
                records: vec![LineInfo {
                    insn_off: 8,
                    file_name_off: 1,
                    line_off: 9,
                    line_col: LineInfo::line_col(12, 5),
                }],
            }]),
            core_relo: None,
        };
        let b = e.encode();
        let p = BtfExt::parse(&b).expect("parses");
        assert_eq!(p, e);
        assert_eq!(p.encode(), b);
        assert_eq!(LineInfo::line_col(1 << 23, 5) >> 10, 0x3f_ffff);
        let l = p.line_info.as_ref().unwrap()[0].records[0];
        assert_eq!((l.line(), l.col()), (12, 5));
        assert!(BtfExt::parse(&b[..b.len() - 2]).is_err());

        let mut btf = super::super::Btf::new();
        assert_eq!(btf.add_string("tc"), 1);
        let mut e = e;
        e.func_info.as_mut().unwrap()[0].sec_name_off = 1;
        e.line_info.as_mut().unwrap()[0].sec_name_off = 1;
        let p = e.prog_info(&btf, "tc", 10);
        assert_eq!(p.func_info[0].insn_off, 10);
        assert_eq!(p.line_info[0].insn_off, 11);
        assert_eq!(p.line_info_bytes().len(), 16);
        assert_eq!(&p.func_info_bytes()[..8], &[10, 0, 0, 0, 3, 0, 0, 0]);
        assert!(e.prog_info(&btf, "xdp", 0).func_info.is_empty());
    }
}
