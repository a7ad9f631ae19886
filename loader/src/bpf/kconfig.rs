//! `__kconfig` externs: `extern int CONFIG_HZ __kconfig;` reads the running
//! kernel's build configuration, and `LINUX_KERNEL_VERSION` and friends
//! facts libbpf itself provides. Resolved the way libbpf resolves them
//! (`bpf_object__resolve_externs`, `bpf_object__read_kconfig_file` and
//! `set_kcfg_value_*` in tools/lib/bpf/libbpf.c, read, not copied):
//!
//! - clang puts each such extern in BTF DATASEC `.kconfig` as a VAR of
//!   extern linkage, and leaves the symbol undefined in the ELF; the loader
//!   lays them out ([`layout`]: the largest alignment first, then the
//!   smallest size, then by name),
//!   fills one array map `.kconfig` (`BPF_F_RDONLY_PROG`, frozen) with
//!   their values, and each `lddw` against one becomes
//!   `BPF_PSEUDO_MAP_VALUE` at its offset;
//! - a `CONFIG_*` value comes from `/boot/config-$(uname -r)`, else from
//!   `/proc/config.gz` (read by [`crate::gzip`]): `y`, `n` and `m` suit a
//!   `bool` (not `m`), an `enum libbpf_tristate` (0, 1, 2) or a `char`;
//!   a number suits an integer it fits; a `"string"` a `char[]`, cut to
//!   fit with its terminating zero; `# CONFIG_X is not set` reads `n`;
//! - `LINUX_KERNEL_VERSION` is `KERNEL_VERSION(a, b, c)` of the release,
//!   `LINUX_HAS_SYSCALL_WRAPPER` whether the arch's `__<arch>_sys_bpf`
//!   wrapper is in kallsyms, `LINUX_HAS_BPF_COOKIE` whether the kernel
//!   loads a program calling `bpf_get_attach_cookie`;
//! - a `__weak` extern with no value stays 0; any other is refused by name.
//!
//! The BTF type rules are btf.h's (`BTF_INT_BOOL`, `BTF_KIND_ENUM`,
//! `BTF_KIND_ARRAY`).

use std::collections::HashMap;

use ebpf_asm::btf::fixup::KCONFIG_SECTION;
use ebpf_asm::btf::{Btf, IntEncoding, TypeData};
use ebpf_asm::object::{Binding, Object};

use crate::error::{Error, Result};

/// Where a distribution keeps the config of release R: `/boot/config-R`.
pub const BOOT_CONFIG: &str = "/boot/config-";
/// The config built into kernels with `CONFIG_IKCONFIG_PROC`.
pub const PROC_CONFIG: &str = "/proc/config.gz";
/// The running kernel's release (`uname -r`), without a syscall.
pub const OSRELEASE: &str = "/proc/sys/kernel/osrelease";

/// What a `.kconfig` extern's C type is, in libbpf's terms (`enum
/// kcfg_type`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KcfgType {
    /// `bool`: a 1-byte INT with `BTF_INT_BOOL`.
    Bool,
    /// `char`: any other 1-byte INT.
    Char,
    /// `enum libbpf_tristate` (4 bytes): `TRI_NO` 0, `TRI_YES` 1,
    /// `TRI_MODULE` 2.
    Tristate,
    /// An integer of 2, 4 or 8 bytes.
    Int { signed: bool },
    /// `char NAME[N]`: a string.
    CharArray,
}

/// One `__kconfig` extern, laid out.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KcfgExtern {
    pub name: String,
    pub ty: KcfgType,
    /// Bytes, and offset in the `.kconfig` map's value.
    pub size: u32,
    pub offset: u32,
    pub weak: bool,
}

impl KcfgExtern {
    fn align(&self) -> u32 {
        match self.ty {
            KcfgType::Bool | KcfgType::Char | KcfgType::CharArray => 1,
            KcfgType::Tristate => 4,
            KcfgType::Int { .. } => self.size,
        }
    }
}

/// The kind of a `.kconfig` VAR's type, or why it cannot be one.
fn kcfg_type(btf: &Btf, ty: u32) -> std::result::Result<(KcfgType, u32), String> {
    let id = btf.skip_modifiers(ty);
    let t = btf
        .type_by_id(id)
        .ok_or_else(|| format!("type {id} does not exist"))?;
    match &t.data {
        TypeData::Int { size, data } => {
            let enc = IntEncoding::from_bits_truncate((data >> 24) as u8);
            match size {
                1 if enc.contains(IntEncoding::BOOL) => Ok((KcfgType::Bool, 1)),
                _ if enc.contains(IntEncoding::BOOL) => Err(format!("a {size}-byte bool")),
                1 => Ok((KcfgType::Char, 1)),
                2 | 4 | 8 => Ok((
                    KcfgType::Int {
                        signed: enc.contains(IntEncoding::SIGNED),
                    },
                    *size,
                )),
                _ => Err(format!("a {size}-byte integer")),
            }
        }
        TypeData::Enum { size: 4, .. } if btf.name(t) == "libbpf_tristate" => {
            Ok((KcfgType::Tristate, 4))
        }
        TypeData::Enum64 { size, .. } if btf.name(t) == "libbpf_tristate" => {
            Ok((KcfgType::Tristate, *size))
        }
        TypeData::Array { ty, nelems, .. } if *nelems > 0 => match kcfg_type(btf, *ty) {
            Ok((KcfgType::Char, _)) => Ok((KcfgType::CharArray, *nelems)),
            _ => Err("an array of something other than char".into()),
        },
        _ => Err(format!(
            "a {} (not an integer, bool, char[] or enum libbpf_tristate)",
            t.kind()
        )),
    }
}

/// The `.kconfig` externs of an object's BTF (before `fixup_externs`),
/// laid out as libbpf lays them out: larger alignment first, then smaller
/// size, then by name,
/// each at the next offset its alignment allows. Weakness comes from the
/// ELF symbol (`STB_WEAK`).
pub fn externs_of(btf: &Btf, obj: &Object) -> Result<Vec<KcfgExtern>> {
    let Some(sec) = btf
        .types
        .iter()
        .find(|t| matches!(t.data, TypeData::Datasec { .. }) && btf.name(t) == KCONFIG_SECTION)
    else {
        return Ok(Vec::new());
    };
    let TypeData::Datasec { vars, .. } = &sec.data else {
        return Ok(Vec::new());
    };
    let mut out = Vec::new();
    for v in vars {
        let Some(var) = btf.type_by_id(v.ty) else {
            continue;
        };
        let TypeData::Var { ty, .. } = var.data else {
            continue;
        };
        let name = btf.name(var).to_string();
        let (kty, size) = kcfg_type(btf, ty).map_err(|e| {
            Error::Input(format!(
                "__kconfig extern {name} is {e}; libbpf's rules allow bool, char, \
                 integers of 2, 4 or 8 bytes, char[N] and enum libbpf_tristate"
            ))
        })?;
        let weak = obj
            .symbols
            .iter()
            .any(|y| y.name == name && y.binding == Binding::Weak);
        out.push(KcfgExtern {
            name,
            ty: kty,
            size,
            offset: 0,
            weak,
        });
    }
    layout(&mut out);
    Ok(out)
}

/// Sorts `externs` (largest alignment first, then smallest size, then by
/// name, libbpf's `cmp_externs`) and gives each
/// its offset; returns the value size, rounded up to 8 bytes.
pub fn layout(externs: &mut [KcfgExtern]) -> u32 {
    externs.sort_by(|a, b| {
        b.align()
            .cmp(&a.align())
            .then(a.size.cmp(&b.size))
            .then(a.name.cmp(&b.name))
    });
    let mut off = 0u32;
    for e in externs.iter_mut() {
        let a = e.align().max(1);
        off = off.div_ceil(a) * a;
        e.offset = off;
        off += e.size;
    }
    off.div_ceil(8) * 8
}

/// The value size [`layout`] gave these externs.
pub fn value_size(externs: &[KcfgExtern]) -> u32 {
    externs
        .iter()
        .map(|e| e.offset + e.size)
        .max()
        .unwrap_or(0)
        .div_ceil(8)
        * 8
}

/// Whether this kernel has `bpf_get_attach_cookie` (helper 174, 5.15): a
/// two-instruction tracepoint program calling it loads, or the verifier
/// names the helper unknown (libbpf's `probe_kern_bpf_cookie` asks the
/// same). Any other refusal is an error, not a "no".
pub fn probe_bpf_cookie() -> Result<bool> {
    let text = "call bpf_get_attach_cookie\nexit\n";
    let prog = ebpf_asm::text::assemble(text, &Default::default())
        .map_err(|e| Error::Input(format!("the bpf_get_attach_cookie probe: {e}")))?;
    let mut opts =
        crate::prog::LoadOptions::new(crate::types::ProgType::Tracepoint, "probe_cookie");
    opts.license = "GPL";
    match crate::prog::Program::load_with(&prog.to_bytes(), &opts) {
        Ok(_) => Ok(true),
        Err(Error::Verifier(v)) if v.unknown_helper.is_some() => Ok(false),
        Err(e) => Err(Error::Input(format!(
            "LINUX_HAS_BPF_COOKIE: probing for bpf_get_attach_cookie failed: {e}"
        ))),
    }
}

/// `CONFIG_NAME` to its value text (`y`, `m`, `n`, `250`, `"-fc"`), from a
/// kernel config file: `NAME=VALUE` lines, and `# NAME is not set` as `n`.
pub fn parse_config(text: &str) -> HashMap<String, String> {
    let mut out = HashMap::new();
    for line in text.lines() {
        let line = line.trim();
        if let Some(rest) = line.strip_prefix("# ") {
            if let Some(name) = rest.strip_suffix(" is not set") {
                if name.starts_with("CONFIG_") && !name.contains(char::is_whitespace) {
                    out.insert(name.to_string(), "n".to_string());
                }
            }
            continue;
        }
        if let Some((name, value)) = line.split_once('=') {
            if name.starts_with("CONFIG_") {
                out.insert(name.to_string(), value.to_string());
            }
        }
    }
    out
}

/// The running kernel's config and where it came from.
pub fn running_config() -> Result<(HashMap<String, String>, String)> {
    let release = osrelease()?;
    let boot = format!("{BOOT_CONFIG}{release}");
    if let Ok(text) = std::fs::read_to_string(&boot) {
        return Ok((parse_config(&text), boot));
    }
    let gz = std::fs::read(PROC_CONFIG).map_err(|e| {
        Error::Input(format!(
            "__kconfig externs need the kernel's config: neither {boot} nor {PROC_CONFIG} \
             could be read ({e}); install the kernel's config or build it with \
             CONFIG_IKCONFIG_PROC"
        ))
    })?;
    let text =
        crate::gzip::decompress(&gz).map_err(|e| Error::Input(format!("{PROC_CONFIG}: {e}")))?;
    Ok((
        parse_config(&String::from_utf8_lossy(&text)),
        PROC_CONFIG.to_string(),
    ))
}

/// `uname -r`, trimmed.
pub fn osrelease() -> Result<String> {
    std::fs::read_to_string(OSRELEASE)
        .map(|s| s.trim().to_string())
        .map_err(|e| Error::Input(format!("reading {OSRELEASE}: {e}")))
}

/// `KERNEL_VERSION(a, b, c)` (`include/uapi/linux/version.h`'s macro,
/// with `c` capped at 255 as the kernel caps its sublevel) of a release
/// such as `6.18.44-fc-v1300`.
pub fn kernel_version(release: &str) -> Option<u32> {
    let mut parts = release
        .split(|c: char| !c.is_ascii_digit())
        .take(3)
        .map(|p| p.parse::<u32>().ok());
    let a = parts.next()??;
    let b = parts.next()??;
    let c = parts.next().flatten().unwrap_or(0);
    Some((a << 16) + (b << 8) + c.min(255))
}

/// Where each fact comes from when an extern needs it; the caller supplies
/// what needs the kernel (the probes), so this stays testable.
pub struct Facts<'a> {
    pub config: &'a dyn Fn() -> Result<&'a HashMap<String, String>>,
    pub release: &'a dyn Fn() -> Result<String>,
    pub has_syscall_wrapper: &'a dyn Fn() -> Result<bool>,
    pub has_bpf_cookie: &'a dyn Fn() -> Result<bool>,
}

/// The `.kconfig` map's value: each extern's bytes at its offset.
pub fn values(externs: &[KcfgExtern], facts: &Facts<'_>) -> Result<Vec<u8>> {
    let mut data = vec![0u8; value_size(externs) as usize];
    for e in externs {
        let text = match e.name.as_str() {
            "LINUX_KERNEL_VERSION" => {
                let r = (facts.release)()?;
                let v = kernel_version(&r).ok_or_else(|| {
                    Error::Input(format!("LINUX_KERNEL_VERSION: cannot read release {r:?}"))
                })?;
                Some(v.to_string())
            }
            "LINUX_HAS_SYSCALL_WRAPPER" => Some(
                if (facts.has_syscall_wrapper)()? {
                    "y"
                } else {
                    "n"
                }
                .into(),
            ),
            "LINUX_HAS_BPF_COOKIE" => {
                Some(if (facts.has_bpf_cookie)()? { "y" } else { "n" }.into())
            }
            n if n.starts_with("LINUX_") => {
                return Err(Error::Input(format!(
                    "__kconfig extern {n}: not one libbpf defines (LINUX_KERNEL_VERSION, \
                     LINUX_HAS_BPF_COOKIE, LINUX_HAS_SYSCALL_WRAPPER)"
                )))
            }
            n if n.starts_with("CONFIG_") => (facts.config)()?.get(n).cloned(),
            n => {
                return Err(Error::Input(format!(
                    "__kconfig extern {n}: a kconfig extern is named CONFIG_* or LINUX_*"
                )))
            }
        };
        let Some(text) = text else {
            if e.weak {
                continue; // stays 0, as libbpf leaves it
            }
            return Err(Error::Input(format!(
                "__kconfig extern {}: this kernel's config has no value for it; declare it \
                 __weak to read 0 when it is missing",
                e.name
            )));
        };
        let start = e.offset as usize;
        let slot = &mut data[start..start + e.size as usize];
        encode(e, &text, slot)?;
    }
    Ok(data)
}

/// Writes `text` (a config value) into `slot` as `e`'s type wants it.
fn encode(e: &KcfgExtern, text: &str, slot: &mut [u8]) -> Result<()> {
    let bad =
        |why: &str| Error::Input(format!("__kconfig extern {}: value {text:?} {why}", e.name));
    match (text, e.ty) {
        ("y" | "n" | "m", KcfgType::Char) => slot[0] = text.as_bytes()[0],
        ("m", KcfgType::Bool) => {
            return Err(bad(
                "is a module, which a bool cannot say; use enum libbpf_tristate",
            ))
        }
        ("y" | "n", KcfgType::Bool) => slot[0] = u8::from(text == "y"),
        ("y" | "n" | "m", KcfgType::Tristate) => {
            let v: u32 = match text {
                "n" => 0,
                "y" => 1,
                _ => 2,
            };
            slot.copy_from_slice(&v.to_le_bytes());
        }
        ("y" | "n" | "m", _) => {
            return Err(bad("is a tristate; use bool, char or enum libbpf_tristate"))
        }
        (s, KcfgType::CharArray) if s.len() >= 2 && s.starts_with('"') && s.ends_with('"') => {
            let body = &s.as_bytes()[1..s.len() - 1];
            // Cut to fit, keeping the terminating zero (libbpf warns and cuts).
            let n = body.len().min(slot.len() - 1);
            slot[..n].copy_from_slice(&body[..n]);
        }
        (_, KcfgType::CharArray) => return Err(bad("is not a string")),
        (s, KcfgType::Int { signed }) => {
            let v = parse_number(s).ok_or_else(|| bad("is not a number"))?;
            let bits = 8 * slot.len() as u32;
            let (lo, hi) = if signed {
                (-(1i128 << (bits - 1)), 1i128 << (bits - 1))
            } else {
                (0, 1i128 << bits)
            };
            if !(lo..hi).contains(&v) {
                return Err(bad(&format!(
                    "does not fit {} {} bytes",
                    if signed { "signed" } else { "unsigned" },
                    slot.len()
                )));
            }
            slot.copy_from_slice(&(v as u64).to_le_bytes()[..slot.len()]);
        }
        (s, KcfgType::Bool | KcfgType::Char | KcfgType::Tristate) => {
            let v = parse_number(s).ok_or_else(|| bad("is neither y, n, m nor a number"))?;
            let max = if e.ty == KcfgType::Bool { 1 } else { 255 };
            if !(0..=max).contains(&v) || e.ty == KcfgType::Tristate {
                return Err(bad("does not suit its type"));
            }
            slot[0] = v as u8;
        }
    }
    Ok(())
}

/// A config number as `strtoull(s, 0)` reads it: decimal, `0x` hex or
/// leading-zero octal, with an optional minus.
fn parse_number(s: &str) -> Option<i128> {
    let (neg, s) = match s.strip_prefix('-') {
        Some(r) => (true, r),
        None => (false, s),
    };
    let v = if let Some(h) = s.strip_prefix("0x").or_else(|| s.strip_prefix("0X")) {
        u64::from_str_radix(h, 16).ok()?
    } else if s.len() > 1 && s.starts_with('0') {
        u64::from_str_radix(&s[1..], 8).ok()?
    } else {
        s.parse::<u64>().ok()?
    };
    Some(if neg { -i128::from(v) } else { i128::from(v) })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ext(name: &str, ty: KcfgType, size: u32, weak: bool) -> KcfgExtern {
        KcfgExtern {
            name: name.into(),
            ty,
            size,
            offset: 0,
            weak,
        }
    }

    #[test]
    fn config_lines_are_read() {
        let c = parse_config(
            "#\n# Automatically generated\nCONFIG_HZ=250\nCONFIG_BPF=y\n\
             # CONFIG_NETKIT is not set\nCONFIG_LOCALVERSION=\"-fc\"\nnoise\n",
        );
        assert_eq!(c["CONFIG_HZ"], "250");
        assert_eq!(c["CONFIG_BPF"], "y");
        assert_eq!(c["CONFIG_NETKIT"], "n");
        assert_eq!(c["CONFIG_LOCALVERSION"], "\"-fc\"");
        assert_eq!(c.len(), 4);
    }

    #[test]
    fn releases_become_kernel_version() {
        assert_eq!(
            kernel_version("6.18.44-fc-v1300"),
            Some((6 << 16) + (18 << 8) + 44)
        );
        assert_eq!(
            kernel_version("5.10.0-35-amd64"),
            Some((5 << 16) + (10 << 8))
        );
        assert_eq!(
            kernel_version("4.19.300"),
            Some((4 << 16) + (19 << 8) + 255)
        );
        assert_eq!(kernel_version("7.2"), Some(7 << 16 | 2 << 8));
        assert_eq!(kernel_version("x"), None);
    }

    #[test]
    fn layout_puts_large_alignment_first_then_names() {
        let mut e = vec![
            ext("CONFIG_B", KcfgType::Bool, 1, false),
            ext("CONFIG_HZ", KcfgType::Int { signed: true }, 4, false),
            ext("CONFIG_A", KcfgType::Char, 1, false),
            ext("CONFIG_V", KcfgType::Int { signed: false }, 8, false),
            ext("CONFIG_S", KcfgType::CharArray, 5, false),
        ];
        let size = layout(&mut e);
        let got: Vec<(&str, u32)> = e.iter().map(|e| (e.name.as_str(), e.offset)).collect();
        assert_eq!(
            got,
            [
                ("CONFIG_V", 0),
                ("CONFIG_HZ", 8),
                ("CONFIG_A", 12),
                ("CONFIG_B", 13),
                ("CONFIG_S", 14)
            ]
        );
        assert_eq!((size, value_size(&e)), (24, 24));
        // Within one alignment, the smaller first.
        let mut e = vec![
            ext("CONFIG_A", KcfgType::CharArray, 8, false),
            ext("CONFIG_Z", KcfgType::Char, 1, false),
        ];
        layout(&mut e);
        assert_eq!((e[0].name.as_str(), e[1].offset), ("CONFIG_Z", 1));
    }

    #[test]
    fn values_follow_libbpfs_rules() {
        let cfg: HashMap<String, String> = parse_config(
            "CONFIG_Y=y\nCONFIG_M=m\n# CONFIG_N is not set\nCONFIG_HZ=250\n\
             CONFIG_HEX=0x10\nCONFIG_STR=\"abcdef\"\nCONFIG_NEG=-3\n",
        );
        let cfgf = || Ok(&cfg);
        let facts = Facts {
            config: &cfgf,
            release: &|| Ok("6.1.0-7-amd64".into()),
            has_syscall_wrapper: &|| Ok(true),
            has_bpf_cookie: &|| Ok(false),
        };
        let one = |e: KcfgExtern| {
            let mut v = vec![e];
            layout(&mut v);
            values(&v, &facts)
        };
        let tri = KcfgType::Tristate;
        assert_eq!(
            one(ext("CONFIG_M", tri, 4, false)).unwrap()[..4],
            [2, 0, 0, 0]
        );
        assert_eq!(
            one(ext("CONFIG_Y", tri, 4, false)).unwrap()[..4],
            [1, 0, 0, 0]
        );
        assert_eq!(
            one(ext("CONFIG_N", KcfgType::Bool, 1, false)).unwrap()[0],
            0
        );
        assert_eq!(
            one(ext("CONFIG_Y", KcfgType::Bool, 1, false)).unwrap()[0],
            1
        );
        assert_eq!(
            one(ext("CONFIG_M", KcfgType::Char, 1, false)).unwrap()[0],
            b'm'
        );
        let int = KcfgType::Int { signed: false };
        assert_eq!(
            one(ext("CONFIG_HZ", int, 2, false)).unwrap()[..2],
            250u16.to_le_bytes()
        );
        assert_eq!(
            one(ext("CONFIG_HEX", int, 8, false)).unwrap(),
            16u64.to_le_bytes()
        );
        let s = one(ext("CONFIG_STR", KcfgType::CharArray, 4, false)).unwrap();
        assert_eq!(&s[..4], b"abc\0", "cut to fit with its zero");
        let signed = KcfgType::Int { signed: true };
        assert_eq!(
            one(ext("CONFIG_NEG", signed, 4, false)).unwrap()[..4],
            (-3i32).to_le_bytes()
        );
        assert_eq!(
            one(ext("LINUX_KERNEL_VERSION", int, 4, false)).unwrap()[..4],
            ((6u32 << 16) + (1 << 8)).to_le_bytes()
        );
        assert_eq!(
            one(ext("LINUX_HAS_SYSCALL_WRAPPER", KcfgType::Bool, 1, false)).unwrap()[0],
            1
        );
        assert_eq!(
            one(ext("LINUX_HAS_BPF_COOKIE", KcfgType::Bool, 1, false)).unwrap()[0],
            0
        );
        // A weak missing one stays 0; a strong one is refused by name.
        assert_eq!(one(ext("CONFIG_GONE", int, 4, true)).unwrap(), [0; 8]);
        for (e, want) in [
            (
                ext("CONFIG_GONE", int, 4, false),
                "CONFIG_GONE: this kernel's config has no value",
            ),
            (
                ext("CONFIG_M", KcfgType::Bool, 1, false),
                "a bool cannot say",
            ),
            (ext("CONFIG_Y", int, 4, false), "is a tristate"),
            (ext("CONFIG_STR", int, 4, false), "not a number"),
            (ext("CONFIG_NEG", int, 4, false), "does not fit"),
            (
                ext("CONFIG_HZ", KcfgType::CharArray, 8, false),
                "not a string",
            ),
            (ext("LINUX_NOPE", int, 4, false), "not one libbpf defines"),
            (ext("HZ", int, 4, false), "CONFIG_* or LINUX_*"),
        ] {
            let err = one(e).unwrap_err().to_string();
            assert!(err.contains(want), "{err} lacks {want:?}");
        }
    }

    #[test]
    fn numbers_read_like_strtoull() {
        assert_eq!(parse_number("250"), Some(250));
        assert_eq!(parse_number("0x1F"), Some(31));
        assert_eq!(parse_number("010"), Some(8));
        assert_eq!(parse_number("0"), Some(0));
        assert_eq!(parse_number("-1"), Some(-1));
        assert_eq!(parse_number("y"), None);
        assert_eq!(parse_number(""), None);
    }
}
