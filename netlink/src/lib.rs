//! `netlink`: rtnetlink requests built field by field, and network namespaces.
//!
//! It follows `include/uapi/linux/netlink.h`, `rtnetlink.h`, `if_link.h`,
//! `if_addr.h`, `veth.h`, `pkt_sched.h` and `pkt_cls.h`. It knows no BPF
//! instructions: a program is only a file descriptor here.
//!
//! The pieces, in the order a packet-redirect lab uses them:
//!
//! - [`netns`]: named namespaces under `/run/netns` (iproute2-compatible),
//!   running code inside one, sysctls, and deletion that waits for devices.
//! - [`Handle`]: a `NETLINK_ROUTE` socket (from the `neli` crate) and the
//!   request/reply loop: sequence numbers, port ids, ACKs, dumps, extack.
//! - [`link`], [`addr`], [`tc`], [`xdp`]: the requests `ip link`, `ip addr`,
//!   `ip route`, `tc qdisc`, `tc filter` and `ip link ... xdp` send, each
//!   built by hand on [`wire`]'s message builder.
//! - [`inspect`]: every message as a tree, a hex dump, and a command line.
//!
//! ```no_run
//! use netlink::{Handle, netns::NetnsGuard};
//! # fn main() -> netlink::Result<()> {
//! let ns1 = NetnsGuard::unique("demo1")?;
//! let ns2 = NetnsGuard::unique("demo2")?;
//! let mut h1 = Handle::in_netns(&ns1)?;
//! let veth = h1.link_add_veth("veth1", "veth2", Some(&ns2))?;
//! h1.link_set_up(veth)?;
//! # Ok(()) }
//! ```

pub mod addr;
pub mod consts;
pub mod error;
pub mod handle;
pub mod inspect;
pub mod link;
pub mod netns;
mod sys;
pub mod tc;
pub mod wire;
pub mod xdp;

pub use addr::{Address, Route};
pub use error::{Error, Result};
pub use handle::{Handle, Reply, Request};
pub use link::{Link, LinkStats};
pub use netns::{run_in, sysctl_write, Netns, NetnsGuard};
pub use sys::ethtool_set_tx_csum;
pub use tc::{BpfFilter, BpfFilterSpec, FilterId, Qdisc, TcHook};
pub use xdp::XdpInfo;

/// Whether the process runs as root; the tools say so plainly when not.
pub fn is_root() -> bool {
    sys::is_root()
}
