//! `netlink`: rtnetlink requests built field by field, and network namespaces.
//!
//! It follows `include/uapi/linux/netlink.h`, `rtnetlink.h`, `if_link.h`,
//! `veth.h`, `pkt_sched.h` and `pkt_cls.h`. It knows no BPF instructions: a
//! program is only a file descriptor here.
