//! `-D NAME=VALUE` constants for the assembler, as the command line takes
//! them: integers (decimal, `0x` hex, `0b` binary, `0o` octal, negative),
//! and for convenience MAC addresses and dotted IPv4 addresses, converted to
//! the numbers `bpf-src/redirect.s` expects:
//! - a MAC `aa:bb:cc:dd:ee:ff` becomes the 48-bit number `0xaabbccddeeff`
//!   (the bytes in wire order, read big-endian);
//! - an IPv4 `10.0.2.11` becomes the u32 `0x0a00020b` (the address as a
//!   number, i.e. host order after `ntohl`), as the program compares it
//!   after loading the header field with a byte swap.

use crate::error::{Error, Result};

/// Parses `NAME=VALUE`.
pub fn parse_define(s: &str) -> Result<(String, i64)> {
    let (name, value) = s
        .split_once('=')
        .ok_or_else(|| Error::Input(format!("-D {s:?}: expected NAME=VALUE")))?;
    let name = name.trim();
    let ident = !name.is_empty()
        && !name.as_bytes()[0].is_ascii_digit()
        && name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_');
    if !ident {
        return Err(Error::Input(format!(
            "-D {s:?}: {name:?} is not a valid name (letters, digits, '_', not starting with a digit)"
        )));
    }
    let v = parse_value(value.trim()).map_err(|why| Error::Input(format!("-D {s:?}: {why}")))?;
    Ok((name.to_string(), v))
}

/// Warnings about `-D` constants after assembling `text` (from `file`)
/// into `prog`: names the text never used (a typo changes nothing, silently)
/// and `-D NAME=0` for a name the text tests with `.ifdef`/`.ifndef`, which
/// asks whether a name is defined, not what its value is.
pub fn define_warnings(
    file: &str,
    text: &str,
    prog: &ebpf_asm::Program,
    defines: &[(String, i64)],
) -> Vec<String> {
    define_warnings_for(file, text, prog.unused_defines(), defines)
}

/// [`define_warnings`] given the names the assembler found unused (from a
/// [`ebpf_asm::Program`] or an object's assembly).
pub fn define_warnings_for(
    file: &str,
    text: &str,
    unused: &[String],
    defines: &[(String, i64)],
) -> Vec<String> {
    let mut out: Vec<String> = unused
        .iter()
        .map(|name| {
            format!(
                "warning: -D {name}: {file} never uses {name}, so it changed nothing \
                 (a misspelt name? or one used only inside a skipped .ifdef block)"
            )
        })
        .collect();
    for (name, value) in defines {
        let tested = text.lines().any(|l| {
            let mut words = l.split(|c: char| c.is_whitespace() || c == ';');
            let directive = words.find(|w| !w.is_empty());
            matches!(directive, Some(".ifdef" | ".ifndef"))
                && words.find(|w| !w.is_empty()) == Some(name.as_str())
        });
        if *value == 0 && tested {
            out.push(format!(
                "note: -D {name}=0 still defines {name}: {file} tests it with .ifdef/.ifndef, \
                 which asks whether a name is defined, not its value; leave -D {name} out \
                 for the variant without it"
            ));
        }
    }
    out
}

/// Parses a value: integer, MAC or IPv4.
pub fn parse_value(v: &str) -> std::result::Result<i64, String> {
    if v.is_empty() {
        return Err("empty value".into());
    }
    if v.contains(':') {
        return parse_mac(v).map(|m| m as i64);
    }
    if v.bytes().filter(|&b| b == b'.').count() == 3 {
        return parse_ipv4(v).map(i64::from);
    }
    parse_int(v)
}

fn parse_int(v: &str) -> std::result::Result<i64, String> {
    let (neg, body) = match v.strip_prefix('-') {
        Some(b) => (true, b),
        None => (false, v),
    };
    let body = body.replace('_', "");
    let lower = body.to_ascii_lowercase();
    let (radix, digits) = if let Some(d) = lower.strip_prefix("0x") {
        (16, d)
    } else if let Some(d) = lower.strip_prefix("0b") {
        (2, d)
    } else if let Some(d) = lower.strip_prefix("0o") {
        (8, d)
    } else {
        (10, lower.as_str())
    };
    let mag = u64::from_str_radix(digits, radix).map_err(|e| match e.kind() {
        std::num::IntErrorKind::PosOverflow => {
            format!("{v} is out of range: values must fit in 64 bits")
        }
        _ => format!("{v:?} is not an integer, a MAC (aa:bb:cc:dd:ee:ff) or an IPv4 address"),
    })?;
    if neg {
        if mag > 1u64 << 63 {
            return Err(format!("{v} is below the 64-bit range"));
        }
        Ok((mag as i64).wrapping_neg())
    } else {
        // Values up to u64::MAX are allowed and keep their bit pattern.
        Ok(mag as i64)
    }
}

/// `aa:bb:cc:dd:ee:ff` -> 0xaabbccddeeff.
pub fn parse_mac(v: &str) -> std::result::Result<u64, String> {
    let parts: Vec<&str> = v.split(':').collect();
    if parts.len() != 6 {
        return Err(format!(
            "{v:?} is not a MAC address (six hex bytes separated by ':')"
        ));
    }
    let mut out = 0u64;
    for p in parts {
        if p.is_empty() || p.len() > 2 {
            return Err(format!("{v:?}: {p:?} is not a hex byte"));
        }
        let b = u8::from_str_radix(p, 16).map_err(|_| format!("{v:?}: {p:?} is not a hex byte"))?;
        out = (out << 8) | u64::from(b);
    }
    Ok(out)
}

/// `10.0.2.11` -> 0x0a00020b.
pub fn parse_ipv4(v: &str) -> std::result::Result<u32, String> {
    let addr: std::net::Ipv4Addr = v
        .parse()
        .map_err(|_| format!("{v:?} is not an IPv4 address"))?;
    Ok(u32::from(addr))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn too_large_integers_are_out_of_range_not_non_integers() {
        let e = parse_define("X=99999999999999999999999")
            .unwrap_err()
            .to_string();
        assert!(e.contains("out of range"), "{e}");
        assert!(!e.contains("not an integer"), "{e}");
        let e = parse_define("X=-99999999999999999999999")
            .unwrap_err()
            .to_string();
        assert!(e.contains("out of range"), "{e}");
        let e = parse_define("X=12z").unwrap_err().to_string();
        assert!(e.contains("not an integer"), "{e}");
    }

    #[test]
    fn define_warnings_name_typos_and_zero_ifdefs() {
        let text = ".ifdef TRACE\nr1 = 1\n.endif\nr0 = X\nexit\n";
        let defines = vec![
            ("X".to_string(), 0),
            ("TRACE".to_string(), 0),
            ("XX".to_string(), 3),
        ];
        let opts = ebpf_asm::AsmOptions {
            file_name: "t.s".into(),
            defines: defines.clone(),
        };
        let prog = ebpf_asm::assemble(text, &opts).unwrap();
        let w = define_warnings("t.s", text, &prog, &defines);
        assert_eq!(w.len(), 2, "{w:?}");
        assert!(
            w[0].starts_with("warning: -D XX: t.s never uses XX"),
            "{w:?}"
        );
        assert!(
            w[1].starts_with("note: -D TRACE=0 still defines TRACE"),
            "{w:?}"
        );
    }

    #[test]
    fn values() {
        assert_eq!(
            parse_define("TARGET_IFINDEX=3").unwrap(),
            ("TARGET_IFINDEX".into(), 3)
        );
        assert_eq!(parse_define("X=0x10").unwrap().1, 16);
        assert_eq!(parse_define("X=-5").unwrap().1, -5);
        assert_eq!(parse_define("DEST_IP=10.0.2.11").unwrap().1, 0x0a00020b);
        assert_eq!(
            parse_define("DEST_MAC=02:00:00:00:00:00").unwrap().1,
            0x020000000000
        );
        assert_eq!(
            parse_define("M=aa:bb:cc:dd:ee:ff").unwrap().1,
            0xaabbccddeeff
        );
        assert_eq!(parse_define("B=0b101").unwrap().1, 5);
        assert_eq!(parse_define("U=0xffffffffffffffff").unwrap().1, -1);
    }

    #[test]
    fn bad_defines_say_why() {
        for bad in [
            "X",
            "=3",
            "1X=3",
            "X=",
            "X=zz",
            "X=1.2.3.999",
            "X=aa:bb",
            "X=aa:bb:cc:dd:ee:fff",
            "A-B=1",
        ] {
            let e = parse_define(bad).unwrap_err().to_string();
            assert!(e.starts_with(&format!("-D {bad:?}")), "{bad}: {e}");
        }
    }
}
