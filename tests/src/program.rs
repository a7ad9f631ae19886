//! The lab's BPF program for the behaviours: `bpf-src/redirect.s`, the copy
//! `loader::lab` embeds in the binary (the VMs have no source tree),
//! assembled with `ebpf-asm` and its `-D` overrides, loaded with `loader` as
//! `BPF_PROG_TYPE_SCHED_CLS`.

use ebpf_asm::text::{assemble, AsmOptions};
use loader::lab::plan::{HOST_ADDR, LISTEN_PORT, PROG_NAME};
use loader::lab::up::{defines, UpOptions, EMBEDDED_REDIRECT_S, REDIRECT_S};
use loader::{LoadOptions, ProgType, Program};

/// How to assemble the program: the `.equ` overrides of `redirect.s`.
#[derive(Clone, Debug, Default)]
pub struct Variant {
    pub target_ifindex: i32,
    /// Any value, also flags no kernel knows (`up` only sets 0 or
    /// `BPF_F_INGRESS`).
    pub redirect_flags: i64,
    /// Define `KEEP_DEST_MAC`: skip the destination MAC rewrite.
    pub keep_dest_mac: bool,
}

impl Variant {
    pub fn to(target_ifindex: i32) -> Variant {
        Variant {
            target_ifindex,
            ..Variant::default()
        }
    }
}

/// Assembles a variant of `redirect.s`, or of `source` if given (a modified
/// copy, for the verifier behaviours), with the `-D` constants `up` uses.
pub fn assemble_variant(source: &str, v: &Variant) -> Result<ebpf_asm::Program, String> {
    let up = UpOptions {
        keep_dest_mac: v.keep_dest_mac,
        ..UpOptions::default()
    };
    let mut defines = defines(v.target_ifindex, &up);
    for (name, value) in defines.iter_mut() {
        if name == "REDIRECT_FLAGS" {
            *value = v.redirect_flags;
        }
    }
    let opts = AsmOptions {
        file_name: REDIRECT_S.into(),
        defines,
    };
    assemble(source, &opts).map_err(|e| format!("assembling: {e}"))
}

/// Loads an assembled program as a TC classifier.
pub fn load(p: &ebpf_asm::Program) -> Result<Program, loader::Error> {
    let opts = LoadOptions::new(ProgType::SchedCls, PROG_NAME);
    Program::load_with(&p.to_bytes(), &opts)
}

/// `redirect.s` with its `call bpf_redirect` swapped for another helper of
/// the same signature (`bpf_redirect_peer`).
pub fn with_helper(helper: &str) -> Result<String, String> {
    let mut found = 0;
    let out: Vec<String> = EMBEDDED_REDIRECT_S
        .lines()
        .map(|l| {
            if l.trim() == "call bpf_redirect" {
                found += 1;
                l.replace("bpf_redirect", helper)
            } else {
                l.to_string()
            }
        })
        .collect();
    if found != 1 {
        return Err(format!(
            "{REDIRECT_S} has {found} `call bpf_redirect` lines, expected 1"
        ));
    }
    Ok(out.join("\n"))
}

/// Assembles and loads a variant of the lab's program.
pub fn load_variant(v: &Variant) -> Result<Program, String> {
    let p = assemble_variant(EMBEDDED_REDIRECT_S, v)?;
    load(&p).map_err(|e| format!("loading redirect.s: {e}"))
}

/// An Ethernet + IPv4 + UDP frame to `dst`:7777, from 10.0.1.10, with a payload.
pub fn udp_frame(dst: [u8; 4], payload: &[u8]) -> Vec<u8> {
    let mut f = Vec::new();
    f.extend_from_slice(&[0xaa, 0xbb, 0xcc, 0xdd, 0xee, 0xff]); // h_dest
    f.extend_from_slice(&[0x02, 0x11, 0x22, 0x33, 0x44, 0x55]); // h_source
    f.extend_from_slice(&0x0800u16.to_be_bytes()); // ETH_P_IP
    let total = 20 + 8 + payload.len();
    let mut ip = vec![0x45, 0, 0, 0, 0, 0, 0x40, 0, 64, 17, 0, 0];
    ip[2..4].copy_from_slice(&(total as u16).to_be_bytes());
    ip.extend_from_slice(&HOST_ADDR.octets());
    ip.extend_from_slice(&dst);
    f.extend_from_slice(&ip);
    f.extend_from_slice(&40000u16.to_be_bytes());
    f.extend_from_slice(&LISTEN_PORT.to_be_bytes());
    f.extend_from_slice(&((8 + payload.len()) as u16).to_be_bytes());
    f.extend_from_slice(&[0, 0]);
    f.extend_from_slice(payload);
    f
}

/// The RFC 1071 Internet checksum of an IPv4 header (checksum field zero).
pub fn ipv4_checksum(header: &[u8]) -> u16 {
    let mut sum: u32 = header
        .chunks(2)
        .map(|c| u32::from(u16::from_be_bytes([c[0], *c.get(1).unwrap_or(&0)])))
        .sum();
    while sum > 0xffff {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    !(sum as u16)
}

/// [`udp_frame`] with real MACs and a valid IPv4 header checksum, ready to
/// be sent raw and accepted by a receiving stack (UDP checksum 0 = none).
pub fn wire_udp_frame(dst_mac: [u8; 6], src_mac: [u8; 6], dst: [u8; 4], payload: &[u8]) -> Vec<u8> {
    let mut f = udp_frame(dst, payload);
    f[..6].copy_from_slice(&dst_mac);
    f[6..12].copy_from_slice(&src_mac);
    let csum = ipv4_checksum(&f[14..34]);
    f[24..26].copy_from_slice(&csum.to_be_bytes());
    f
}

/// A 42-byte ARP request (who-has 10.0.2.11 tell 10.0.1.10).
pub fn arp_frame() -> Vec<u8> {
    let mut f = vec![0xff; 6];
    f.extend_from_slice(&[0x02, 0x11, 0x22, 0x33, 0x44, 0x55]);
    f.extend_from_slice(&0x0806u16.to_be_bytes()); // ETH_P_ARP
    f.extend_from_slice(&[0, 1, 8, 0, 6, 4, 0, 1]); // Ethernet/IPv4, request
    f.extend_from_slice(&[0x02, 0x11, 0x22, 0x33, 0x44, 0x55, 10, 0, 1, 10]);
    f.extend_from_slice(&[0, 0, 0, 0, 0, 0, 10, 0, 2, 11]);
    f
}

#[cfg(test)]
mod tests {
    use super::*;
    use loader::lab::plan::DEST_MAC;

    #[test]
    fn checksum_of_a_known_header() {
        // The classic example header from RFC 1071 discussions: 0xb861.
        let h = [
            0x45, 0x00, 0x00, 0x73, 0x00, 0x00, 0x40, 0x00, 0x40, 0x11, 0x00, 0x00, 0xc0, 0xa8,
            0x00, 0x01, 0xc0, 0xa8, 0x00, 0xc7,
        ];
        assert_eq!(ipv4_checksum(&h), 0xb861);
        let f = wire_udp_frame(DEST_MAC, [2, 1, 1, 1, 1, 1], [10, 0, 2, 11], b"x");
        assert_eq!(
            ipv4_checksum(&f[14..34]),
            0,
            "a header with its checksum sums to 0"
        );
    }

    #[test]
    fn helper_swap_touches_one_line() {
        let s = with_helper("bpf_redirect_peer").unwrap();
        assert_eq!(s.matches("call bpf_redirect_peer").count(), 1);
        assert!(!s.lines().any(|l| l.trim() == "call bpf_redirect"));
    }
}
