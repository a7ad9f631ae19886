//! The seed's topology for one behaviour: `loader::lab`'s isolated lab
//! (what `redirect-lab up --prefix` builds, all three sides namespaces of
//! our own, so the real host's interfaces and routes are never touched),
//! brought up without a program so each behaviour attaches its own variant.
//!
//! ```text
//! | <p>_host           | <p>_netns_1              | <p>_netns_2            |
//! | veth1@1 10.0.1.10 -|- veth1@2 10.0.1.11       |                        |
//! |                    |  veth2@1 10.0.2.10 ------|- veth2@2 10.0.2.11     |
//! |                    |  proxy ARP, forwarding   |  MAC 02:00:00:00:00:00 |
//! ```
//!
//! The lab needs only netlink, `/run/netns` and `/proc`, so it builds in the
//! VMs too (no iproute2 there). It is torn down when its [`LabGuard`] is
//! dropped, also on failure and on panic; the lab's end-to-end tests
//! (`tests/tests/lab_*.rs`) use the same guard.

use std::net::UdpSocket;
use std::time::{Duration, Instant};

use loader::lab::plan::{VETH1_1, VETH1_2, VETH2_1, VETH2_2};
use loader::lab::{Lab, LabNames, UpOptions, UpReport, LISTEN_ADDR};
use netlink::handle::Handle;

pub use loader::lab::Side;

use crate::sys::PacketTap;

/// Seconds to wait for ARP and delivery: TCG-emulated VMs are slow.
pub const WAIT: Duration = Duration::from_millis(200);

/// A lab prefix no other test, thread or process uses: `L<tag>-<pid>-<k>`.
pub fn unique_prefix(tag: &str) -> String {
    netlink::netns::unique_name(&format!("L{tag}"))
}

/// For tests: fails plainly when not root.
pub fn require_root() {
    assert!(
        netlink::is_root(),
        "the lab tests build network namespaces and load BPF programs: run them as root"
    );
}

/// An isolated lab, removed when dropped.
pub struct LabGuard {
    pub lab: Lab,
    pub report: Option<UpReport>,
}

impl LabGuard {
    /// Brings up an isolated lab named after `tag`; the error carries what
    /// `up` printed.
    pub fn try_up(tag: &str, options: &UpOptions) -> Result<LabGuard, String> {
        let lab = Lab::new(Some(&unique_prefix(tag))).map_err(|e| e.to_string())?;
        // The guard exists before `up`, so a half-built lab is removed too.
        let mut guard = LabGuard { lab, report: None };
        let mut out = Vec::new();
        let report = guard.lab.up(options, &mut out).map_err(|e| {
            format!(
                "up {}: {e}\n{}",
                guard.lab.names.netns_1,
                String::from_utf8_lossy(&out)
            )
        })?;
        guard.report = Some(report);
        Ok(guard)
    }

    /// [`LabGuard::try_up`] for tests: panics with the reason.
    pub fn up(tag: &str, options: &UpOptions) -> LabGuard {
        require_root();
        LabGuard::try_up(tag, options).unwrap_or_else(|e| panic!("{e}"))
    }

    pub fn names(&self) -> &LabNames {
        &self.lab.names
    }
}

impl Drop for LabGuard {
    fn drop(&mut self) {
        if let Err(e) = self.lab.down() {
            eprintln!(
                "warning: could not remove lab {:?}: {e}",
                self.lab.names.prefix
            );
        }
    }
}

pub struct Topology {
    pub guard: LabGuard,
    /// veth1@2 in netns_1: where the program is attached (ingress).
    pub veth1_2: i32,
    /// veth2@1 in netns_1: the redirect target.
    pub veth2_1: i32,
    /// veth2@2 in netns_2.
    pub veth2_2: i32,
    /// veth1@1 on the host side.
    pub veth1_1: i32,
}

impl Topology {
    /// Brings up an isolated lab named after `tag`, with no program attached.
    pub fn build(tag: &str) -> Result<Topology, String> {
        let options = UpOptions {
            no_program: true,
            ..UpOptions::default()
        };
        let mut t = Topology {
            guard: LabGuard::try_up(tag, &options)?,
            veth1_2: 0,
            veth2_1: 0,
            veth2_2: 0,
            veth1_1: 0,
        };
        for ns in t.lab().names.namespaces() {
            // No IPv6: router solicitations and MLD reports would add frames
            // the counting behaviours must not see. (A kernel without IPv6
            // has none to begin with.)
            for p in [
                "net/ipv6/conf/all/disable_ipv6",
                "net/ipv6/conf/default/disable_ipv6",
            ] {
                let _ = netlink::netns::sysctl_write(ns, p, "1");
            }
        }
        t.veth1_1 = t.ifindex(Side::Host, VETH1_1)?;
        t.veth1_2 = t.ifindex(Side::Netns1, VETH1_2)?;
        t.veth2_1 = t.ifindex(Side::Netns1, VETH2_1)?;
        t.veth2_2 = t.ifindex(Side::Netns2, VETH2_2)?;
        Ok(t)
    }

    pub fn lab(&self) -> &Lab {
        &self.guard.lab
    }

    fn ifindex(&self, side: Side, dev: &str) -> Result<i32, String> {
        self.handle(side)?
            .link_index(dev)
            .map_err(|e| format!("{dev} ifindex: {e}"))
    }

    pub fn handle(&self, side: Side) -> Result<Handle, String> {
        self.lab().handle_in(side).map_err(|e| e.to_string())
    }

    /// Runs `f` on a thread inside one side's namespace.
    pub fn run<T: Send>(&self, side: Side, f: impl FnOnce() -> T + Send) -> Result<T, String> {
        self.lab().run_in(side, f).map_err(|e| e.to_string())
    }

    /// The lab's attach (clsact on veth1@2, then a direct-action cls_bpf
    /// filter on its ingress) with a program the behaviour loaded.
    pub fn attach(&self, prog: &loader::Program) -> Result<netlink::FilterId, String> {
        self.lab().attach(prog).map_err(|e| e.to_string())
    }

    /// A UDP socket on 10.0.2.11:7777 in netns_2.
    pub fn listener(&self) -> Result<UdpSocket, String> {
        self.lab().udp_listener().map_err(|e| e.to_string())
    }

    /// A UDP socket on the host side, sending through veth1@1.
    pub fn sender(&self) -> Result<UdpSocket, String> {
        self.lab().host_udp_socket().map_err(|e| e.to_string())
    }

    /// An `AF_PACKET` tap on a device of one side.
    pub fn tap(&self, side: Side, ifindex: i32) -> Result<PacketTap, String> {
        self.run(side, || PacketTap::open(ifindex))?
            .map_err(|e| format!("AF_PACKET socket on ifindex {ifindex}: {e}"))
    }

    /// An `Ip:` counter of `/proc/net/snmp` in one side.
    pub fn ip_counter(&self, side: Side, field: &str) -> Result<u64, String> {
        self.lab()
            .ip_counter(side, field)
            .map_err(|e| e.to_string())
    }

    /// The ARP table of one side: (IP, MAC, flags) per entry.
    pub fn arp_table(&self, side: Side) -> Result<Vec<(String, String, String)>, String> {
        let text = self
            .lab()
            .read_proc(side, "arp")
            .map_err(|e| e.to_string())?;
        Ok(text
            .lines()
            .skip(1)
            .filter_map(|l| {
                let f: Vec<&str> = l.split_whitespace().collect();
                Some((
                    f.first()?.to_string(),
                    f.get(3)?.to_string(),
                    f.get(2)?.to_string(),
                ))
            })
            .collect())
    }

    /// Sends up to `max` datagrams, one every `gap`, until `listener` gets
    /// one (returned) or all were sent and `settle` passed without one.
    pub fn send_until_received(
        &self,
        listener: &UdpSocket,
        payload: &[u8],
        max: u32,
        gap: Duration,
        settle: Duration,
    ) -> Result<(u32, Option<Vec<u8>>), String> {
        let sender = self.sender()?;
        listener
            .set_read_timeout(Some(gap))
            .map_err(|e| format!("SO_RCVTIMEO: {e}"))?;
        let mut buf = [0u8; 2048];
        let mut sent = 0;
        while sent < max {
            sender
                .send_to(payload, LISTEN_ADDR)
                .map_err(|e| format!("send to {LISTEN_ADDR} from the host side: {e}"))?;
            sent += 1;
            if let Ok(n) = listener.recv(&mut buf) {
                return Ok((sent, Some(buf[..n].to_vec())));
            }
        }
        let deadline = Instant::now() + settle;
        while Instant::now() < deadline {
            if let Ok(n) = listener.recv(&mut buf) {
                return Ok((sent, Some(buf[..n].to_vec())));
            }
        }
        Ok((sent, None))
    }
}
