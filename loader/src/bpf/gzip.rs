//! A gzip reader, for `/proc/config.gz`: the running kernel's build
//! configuration, which `__kconfig` externs read ([`crate::kconfig`]) when
//! there is no `/boot/config-$(uname -r)`. libbpf links zlib for this; the
//! design card's crates have no inflater, and a small one reads well.
//!
//! It follows RFC 1952 (the gzip member: header, DEFLATE data, CRC-32 and
//! ISIZE trailer) and RFC 1951 (DEFLATE: stored, fixed-Huffman and
//! dynamic-Huffman blocks, canonical Huffman codes read bit by bit, LSB
//! first). Every malformed input is an [`Error`] naming the byte offset,
//! never a panic, and the output is capped ([`MAX_OUTPUT`]), so a hostile
//! file cannot make it allocate without bound.

use std::fmt;

/// The most this reader will inflate: a kernel config is about 300 KiB.
pub const MAX_OUTPUT: usize = 64 << 20;

/// RFC 1952 section 2.3.1: ID1, ID2, and CM 8 (deflate).
const MAGIC: [u8; 3] = [0x1f, 0x8b, 8];
/// FLG bits (RFC 1952 2.3.1).
const FHCRC: u8 = 1 << 1;
const FEXTRA: u8 = 1 << 2;
const FNAME: u8 = 1 << 3;
const FCOMMENT: u8 = 1 << 4;
/// Bits 5 to 7 are reserved and must be zero.
const FRESERVED: u8 = 0xe0;

/// The longest Huffman code (RFC 1951 3.2.2).
const MAX_BITS: usize = 15;
/// RFC 1951 3.2.5: base lengths and extra bits of length codes 257..285.
const LEN_BASE: [u16; 29] = [
    3, 4, 5, 6, 7, 8, 9, 10, 11, 13, 15, 17, 19, 23, 27, 31, 35, 43, 51, 59, 67, 83, 99, 115, 131,
    163, 195, 227, 258,
];
const LEN_EXTRA: [u8; 29] = [
    0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2, 3, 3, 3, 3, 4, 4, 4, 4, 5, 5, 5, 5, 0,
];
/// Base distances and extra bits of distance codes 0..29.
const DIST_BASE: [u16; 30] = [
    1, 2, 3, 4, 5, 7, 9, 13, 17, 25, 33, 49, 65, 97, 129, 193, 257, 385, 513, 769, 1025, 1537,
    2049, 3073, 4097, 6145, 8193, 12289, 16385, 24577,
];
const DIST_EXTRA: [u8; 30] = [
    0, 0, 0, 0, 1, 1, 2, 2, 3, 3, 4, 4, 5, 5, 6, 6, 7, 7, 8, 8, 9, 9, 10, 10, 11, 11, 12, 12, 13,
    13,
];
/// RFC 1951 3.2.7: the order in which code length code lengths are sent.
const CLEN_ORDER: [usize; 19] = [
    16, 17, 18, 0, 8, 7, 9, 6, 10, 5, 11, 4, 12, 3, 13, 2, 14, 1, 15,
];

/// A malformed gzip file: what was wrong, and the byte offset.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Error {
    pub offset: usize,
    pub message: String,
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "gzip: at byte {}: {}", self.offset, self.message)
    }
}

impl std::error::Error for Error {}

type Result<T> = std::result::Result<T, Error>;

/// The bytes of every gzip member of `data`, concatenated (RFC 1952 2.2:
/// a file may hold several members), each checked against its CRC-32 and
/// ISIZE.
pub fn decompress(data: &[u8]) -> Result<Vec<u8>> {
    let mut out = Vec::new();
    let mut at = 0;
    loop {
        at = member(data, at, &mut out)?;
        if at == data.len() {
            return Ok(out);
        }
    }
}

/// One member starting at `at`; returns where the next begins.
fn member(data: &[u8], at: usize, out: &mut Vec<u8>) -> Result<usize> {
    let err = |offset, message: &str| Error {
        offset,
        message: message.to_string(),
    };
    let header = data
        .get(at..at + 10)
        .ok_or_else(|| err(at, "truncated header (10 bytes expected)"))?;
    if header[..3] != MAGIC {
        return Err(err(at, "not gzip data (magic 1f 8b 08 expected)"));
    }
    let flags = header[3];
    if flags & FRESERVED != 0 {
        return Err(err(at + 3, "reserved FLG bits are set"));
    }
    let mut p = at + 10;
    if flags & FEXTRA != 0 {
        let xlen = data
            .get(p..p + 2)
            .ok_or_else(|| err(p, "truncated FEXTRA length"))?;
        p += 2 + usize::from(u16::from_le_bytes([xlen[0], xlen[1]]));
    }
    for (flag, what) in [(FNAME, "FNAME"), (FCOMMENT, "FCOMMENT")] {
        if flags & flag != 0 {
            let rest = data.get(p..).unwrap_or(&[]);
            let nul = rest
                .iter()
                .position(|&b| b == 0)
                .ok_or_else(|| err(p, &format!("{what} has no terminating zero")))?;
            p += nul + 1;
        }
    }
    if flags & FHCRC != 0 {
        p += 2;
    }
    if p > data.len() {
        return Err(err(data.len(), "truncated header"));
    }
    let start = out.len();
    let mut bits = Bits::new(data, p);
    inflate(&mut bits, out)?;
    let p = bits.byte_end();
    let trailer = data
        .get(p..p + 8)
        .ok_or_else(|| err(p, "truncated trailer (CRC-32 and ISIZE)"))?;
    let crc = u32::from_le_bytes([trailer[0], trailer[1], trailer[2], trailer[3]]);
    let isize = u32::from_le_bytes([trailer[4], trailer[5], trailer[6], trailer[7]]);
    if crc32(&out[start..]) != crc {
        return Err(err(p, "CRC-32 mismatch: the data is corrupt"));
    }
    if (out.len() - start) as u32 != isize {
        return Err(err(p + 4, "ISIZE mismatch: the data is corrupt"));
    }
    Ok(p + 8)
}

/// RFC 1952 8: CRC-32 (polynomial 0xedb88320, reflected), bit by bit;
/// fast enough for a few hundred kilobytes.
pub fn crc32(data: &[u8]) -> u32 {
    let mut c = !0u32;
    for &b in data {
        c ^= u32::from(b);
        for _ in 0..8 {
            c = if c & 1 != 0 {
                (c >> 1) ^ 0xedb8_8320
            } else {
                c >> 1
            };
        }
    }
    !c
}

/// DEFLATE's bit stream: bits are taken from each byte LSB first.
struct Bits<'a> {
    data: &'a [u8],
    pos: usize,
    bit: u32,
    nbits: u32,
}

impl<'a> Bits<'a> {
    fn new(data: &'a [u8], pos: usize) -> Bits<'a> {
        Bits {
            data,
            pos,
            bit: 0,
            nbits: 0,
        }
    }

    fn err(&self, message: impl Into<String>) -> Error {
        Error {
            offset: self.pos,
            message: message.into(),
        }
    }

    /// `n` (at most 16) bits, the first one read in bit 0.
    fn take(&mut self, n: u32) -> Result<u32> {
        while self.nbits < n {
            let b = *self
                .data
                .get(self.pos)
                .ok_or_else(|| self.err("truncated deflate data"))?;
            self.pos += 1;
            self.bit |= u32::from(b) << self.nbits;
            self.nbits += 8;
        }
        let v = self.bit & ((1u32 << n) - 1);
        self.bit >>= n;
        self.nbits -= n;
        Ok(v)
    }

    /// Drops the rest of the current byte (stored blocks start on one).
    fn align(&mut self) {
        self.bit = 0;
        self.nbits = 0;
    }

    /// The offset just past the last byte the stream used.
    fn byte_end(&self) -> usize {
        self.pos
    }
}

/// A canonical Huffman code: how many codes of each length, and the
/// symbols in code order (RFC 1951 3.2.2).
struct Huffman {
    count: [u16; MAX_BITS + 1],
    symbol: Vec<u16>,
}

impl Huffman {
    /// From code lengths (0: the symbol is unused). An over-subscribed set
    /// is an error; an incomplete one is allowed (a lone distance code is
    /// legal), and its unused codes fail when read.
    fn new(lengths: &[u8]) -> std::result::Result<Huffman, &'static str> {
        let mut count = [0u16; MAX_BITS + 1];
        for &l in lengths {
            *count
                .get_mut(usize::from(l))
                .ok_or("a code length above 15")? += 1;
        }
        count[0] = 0;
        let mut left: i32 = 1;
        for &c in &count[1..] {
            left = (left << 1) - i32::from(c);
            if left < 0 {
                return Err("over-subscribed Huffman code lengths");
            }
        }
        let mut offs = [0u16; MAX_BITS + 2];
        for len in 1..=MAX_BITS {
            offs[len + 1] = offs[len] + count[len];
        }
        let mut symbol = vec![0u16; lengths.len()];
        for (s, &l) in lengths.iter().enumerate() {
            if l != 0 {
                let o = &mut offs[usize::from(l)];
                symbol[usize::from(*o)] = s as u16;
                *o += 1;
            }
        }
        Ok(Huffman { count, symbol })
    }

    /// One symbol: the code is read MSB first, one bit at a time, and
    /// compared with the first code of each length.
    fn decode(&self, bits: &mut Bits<'_>) -> Result<u16> {
        let (mut code, mut first, mut index) = (0i32, 0i32, 0i32);
        for len in 1..=MAX_BITS {
            code |= bits.take(1)? as i32;
            let count = i32::from(self.count[len]);
            if code - first < count {
                let at = (index + code - first) as usize;
                return self
                    .symbol
                    .get(at)
                    .copied()
                    .ok_or_else(|| bits.err("Huffman code out of range"));
            }
            index += count;
            first = (first + count) << 1;
            code <<= 1;
        }
        Err(bits.err("invalid Huffman code"))
    }
}

/// Every block of one DEFLATE stream, appended to `out`.
fn inflate(bits: &mut Bits<'_>, out: &mut Vec<u8>) -> Result<()> {
    loop {
        let last = bits.take(1)? == 1;
        match bits.take(2)? {
            0 => stored(bits, out)?,
            1 => {
                let (lit, dist) = fixed();
                codes(bits, out, &lit, &dist)?;
            }
            2 => {
                let (lit, dist) = dynamic(bits)?;
                codes(bits, out, &lit, &dist)?;
            }
            _ => return Err(bits.err("block type 3 is reserved")),
        }
        if last {
            return Ok(());
        }
    }
}

/// RFC 1951 3.2.4: LEN, its complement NLEN, then LEN raw bytes.
fn stored(bits: &mut Bits<'_>, out: &mut Vec<u8>) -> Result<()> {
    bits.align();
    let len = bits.take(16)? as usize;
    let nlen = bits.take(16)? as usize;
    if len != !nlen & 0xffff {
        return Err(bits.err("stored block: LEN and NLEN disagree"));
    }
    let bytes = bits
        .data
        .get(bits.pos..bits.pos + len)
        .ok_or_else(|| bits.err("stored block runs past the end"))?;
    if out.len() + len > MAX_OUTPUT {
        return Err(bits.err(format!("output larger than {MAX_OUTPUT} bytes")));
    }
    out.extend_from_slice(bytes);
    bits.pos += len;
    Ok(())
}

/// RFC 1951 3.2.6: the fixed literal/length and distance codes.
fn fixed() -> (Huffman, Huffman) {
    let mut l = [0u8; 288];
    l[..144].fill(8);
    l[144..256].fill(9);
    l[256..280].fill(7);
    l[280..].fill(8);
    // Complete codes by construction: new() cannot refuse them.
    let lit = Huffman::new(&l).unwrap_or(Huffman {
        count: [0; MAX_BITS + 1],
        symbol: Vec::new(),
    });
    let dist = Huffman::new(&[5u8; 30]).unwrap_or(Huffman {
        count: [0; MAX_BITS + 1],
        symbol: Vec::new(),
    });
    (lit, dist)
}

/// RFC 1951 3.2.7: the block's own codes, sent as code lengths that are
/// themselves Huffman-coded.
fn dynamic(bits: &mut Bits<'_>) -> Result<(Huffman, Huffman)> {
    let nlen = bits.take(5)? as usize + 257;
    let ndist = bits.take(5)? as usize + 1;
    let ncode = bits.take(4)? as usize + 4;
    if nlen > 286 || ndist > 30 {
        return Err(bits.err("dynamic block: too many length or distance codes"));
    }
    let mut clen = [0u8; 19];
    for &i in &CLEN_ORDER[..ncode] {
        clen[i] = bits.take(3)? as u8;
    }
    let clcode = Huffman::new(&clen).map_err(|e| bits.err(format!("code length code: {e}")))?;
    let mut lengths = vec![0u8; nlen + ndist];
    let mut i = 0;
    while i < nlen + ndist {
        let sym = clcode.decode(bits)?;
        let (value, repeat) = match sym {
            0..=15 => (sym as u8, 1),
            16 => {
                let prev = *i
                    .checked_sub(1)
                    .and_then(|p| lengths.get(p))
                    .ok_or_else(|| bits.err("repeat of a length with none before it"))?;
                (prev, 3 + bits.take(2)? as usize)
            }
            17 => (0, 3 + bits.take(3)? as usize),
            _ => (0, 11 + bits.take(7)? as usize),
        };
        if i + repeat > nlen + ndist {
            return Err(bits.err("code lengths run past the declared count"));
        }
        lengths[i..i + repeat].fill(value);
        i += repeat;
    }
    if lengths[256] == 0 {
        return Err(bits.err("no end-of-block code"));
    }
    let lit =
        Huffman::new(&lengths[..nlen]).map_err(|e| bits.err(format!("literal/length: {e}")))?;
    let dist = Huffman::new(&lengths[nlen..]).map_err(|e| bits.err(format!("distance: {e}")))?;
    Ok((lit, dist))
}

/// Literals and (length, distance) back-references until end-of-block.
fn codes(bits: &mut Bits<'_>, out: &mut Vec<u8>, lit: &Huffman, dist: &Huffman) -> Result<()> {
    loop {
        let sym = lit.decode(bits)?;
        if out.len() >= MAX_OUTPUT {
            return Err(bits.err(format!("output larger than {MAX_OUTPUT} bytes")));
        }
        match sym {
            0..=255 => out.push(sym as u8),
            256 => return Ok(()),
            _ => {
                let s = usize::from(sym - 257);
                let (&base, &extra) = LEN_BASE
                    .get(s)
                    .zip(LEN_EXTRA.get(s))
                    .ok_or_else(|| bits.err(format!("length code {sym} is invalid")))?;
                let len = usize::from(base) + bits.take(u32::from(extra))? as usize;
                let d = usize::from(dist.decode(bits)?);
                let (&base, &extra) = DIST_BASE
                    .get(d)
                    .zip(DIST_EXTRA.get(d))
                    .ok_or_else(|| bits.err(format!("distance code {d} is invalid")))?;
                let back = usize::from(base) + bits.take(u32::from(extra))? as usize;
                if back > out.len() {
                    return Err(bits.err("distance reaches before the start of the data"));
                }
                if out.len() + len > MAX_OUTPUT {
                    return Err(bits.err(format!("output larger than {MAX_OUTPUT} bytes")));
                }
                // Byte by byte: a copy may overlap what it writes.
                let from = out.len() - back;
                for k in 0..len {
                    out.push(out[from + k]);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::process::{Command, Stdio};

    /// `gzip -N` of `data`, from the system's gzip (Debian's essential
    /// set), the oracle this reader is checked against.
    fn gzip(data: &[u8], level: u32) -> Vec<u8> {
        use std::io::Write;
        let mut child = Command::new("gzip")
            .arg(format!("-{level}"))
            .arg("-c")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .expect("gzip runs");
        let mut stdin = child.stdin.take().unwrap();
        let owned = data.to_vec();
        let writer = std::thread::spawn(move || stdin.write_all(&owned));
        let out = child.wait_with_output().unwrap();
        writer.join().unwrap().unwrap();
        assert!(out.status.success());
        out.stdout
    }

    fn sample() -> Vec<u8> {
        let mut text = Vec::new();
        for i in 0..4000 {
            text.extend_from_slice(
                format!("CONFIG_OPTION_{i}=y\n# CONFIG_OFF_{i} is not set\n").as_bytes(),
            );
        }
        text
    }

    #[test]
    fn inflates_what_gzip_writes_at_every_level() {
        let mut rng = fastrand::Rng::with_seed(7);
        let random: Vec<u8> = (0..50_000).map(|_| rng.u8(..)).collect();
        for data in [sample(), random, Vec::new(), b"a".to_vec()] {
            for level in [1, 6, 9] {
                let z = gzip(&data, level);
                assert_eq!(decompress(&z).unwrap(), data, "level {level}");
            }
        }
    }

    #[test]
    fn stored_blocks_and_several_members() {
        // A stored block by hand: BFINAL 1, BTYPE 00, LEN 3, NLEN !3.
        let body = [0x01, 3, 0, 0xfc, 0xff, b'a', b'b', b'c'];
        let mut z = vec![0x1f, 0x8b, 8, FNAME, 0, 0, 0, 0, 0, 3];
        z.extend_from_slice(b"name\0");
        z.extend_from_slice(&body);
        z.extend_from_slice(&crc32(b"abc").to_le_bytes());
        z.extend_from_slice(&3u32.to_le_bytes());
        let mut two = z.clone();
        two.extend_from_slice(&gzip(b"def", 6));
        assert_eq!(decompress(&z).unwrap(), b"abc");
        assert_eq!(decompress(&two).unwrap(), b"abcdef");
        assert_eq!(
            crc32(b"123456789"),
            0xcbf4_3926,
            "the check value of CRC-32"
        );
    }

    #[test]
    fn corruption_is_an_error_with_an_offset() {
        let z = gzip(&sample(), 6);
        let mut bad = z.clone();
        let n = bad.len();
        bad[n - 6] ^= 1; // the CRC
        assert!(decompress(&bad).unwrap_err().message.contains("CRC-32"));
        assert!(decompress(&z[..z.len() - 3]).is_err());
        assert!(decompress(b"\x1f\x8b\x07")
            .unwrap_err()
            .to_string()
            .contains("byte 0"));
        let e = decompress(b"CONFIG_X=y\n").unwrap_err();
        assert!(e.message.contains("not gzip"), "{e}");
    }

    #[test]
    fn random_and_mutated_inputs_never_panic() {
        let mut rng = fastrand::Rng::with_seed(0x9217);
        let seed = gzip(&sample(), 6);
        let small = gzip(b"CONFIG_BPF=y\nCONFIG_HZ=250\n", 9);
        for i in 0..1_000_000u32 {
            let input: Vec<u8> = match i % 4 {
                0 => {
                    let mut v = small.clone();
                    for _ in 0..rng.usize(1..4) {
                        let at = rng.usize(..v.len());
                        v[at] = rng.u8(..);
                    }
                    v
                }
                1 => {
                    // A real header, then random DEFLATE bits.
                    let mut v = small[..10].to_vec();
                    v.extend((0..rng.usize(..64)).map(|_| rng.u8(..)));
                    v
                }
                2 => (0..rng.usize(..32)).map(|_| rng.u8(..)).collect(),
                _ => {
                    let mut v = seed[..rng.usize(..seed.len().min(600))].to_vec();
                    if let Some(b) = v.last_mut() {
                        *b ^= rng.u8(..);
                    }
                    v
                }
            };
            let _ = decompress(&input);
        }
    }
}
