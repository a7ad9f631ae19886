//! Program, attach, map and link types: the kernel's enums as Rust enums,
//! each with the kernel version that introduced it.
//!
//! Values follow `enum bpf_prog_type`, `enum bpf_attach_type`,
//! `enum bpf_map_type` and `enum bpf_link_type` in
//! `include/uapi/linux/bpf.h` (torvalds/linux master for the ones newer than
//! 6.1: `BPF_PROG_TYPE_NETFILTER`, `BPF_TCX_*`, `BPF_NETKIT_*`). Versions
//! come from the commits that added them (also listed in libbpf's
//! `libbpf_probes.c` and the bpftool feature docs).

macro_rules! kernel_enum {
    (
        $(#[$meta:meta])*
        $vis:vis enum $name:ident : $what:literal {
            $( $(#[$vmeta:meta])* $variant:ident = $value:literal, $kname:literal, $short:literal, ($maj:literal, $min:literal); )*
        }
    ) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        #[non_exhaustive]
        $vis enum $name {
            $( $(#[$vmeta])* $variant, )*
        }

        impl $name {
            /// Every known value.
            pub const ALL: &'static [$name] = &[$($name::$variant,)*];

            /// The kernel's numeric value.
            pub fn raw(self) -> u32 {
                match self { $($name::$variant => $value,)* }
            }

            /// The value for a kernel number, if known.
            pub fn from_raw(v: u32) -> Option<$name> {
                match v { $($value => Some($name::$variant),)* _ => None }
            }

            /// The kernel's constant name (`BPF_PROG_TYPE_SCHED_CLS`).
            pub fn kernel_name(self) -> &'static str {
                match self { $($name::$variant => $kname,)* }
            }

            /// The short lowercase name bpftool prints (`sched_cls`).
            pub fn short_name(self) -> &'static str {
                match self { $($name::$variant => $short,)* }
            }

            /// Looks a value up by its short or kernel name.
            pub fn from_name(s: &str) -> Option<$name> {
                Self::ALL.iter().copied().find(|v| {
                    v.short_name().eq_ignore_ascii_case(s) || v.kernel_name().eq_ignore_ascii_case(s)
                })
            }

            /// The (major, minor) kernel version that introduced it.
            pub fn since(self) -> (u32, u32) {
                match self { $($name::$variant => ($maj, $min),)* }
            }

            /// What kind of value this is, for messages.
            pub const WHAT: &'static str = $what;
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.kernel_name())
            }
        }
    };
}

kernel_enum! {
    /// `enum bpf_prog_type`.
    pub enum ProgType: "program type" {
        SocketFilter = 1, "BPF_PROG_TYPE_SOCKET_FILTER", "socket_filter", (3, 19);
        Kprobe = 2, "BPF_PROG_TYPE_KPROBE", "kprobe", (4, 1);
        /// TC classifier: what cls_bpf and TCX run, and what the lab uses.
        SchedCls = 3, "BPF_PROG_TYPE_SCHED_CLS", "sched_cls", (4, 1);
        SchedAct = 4, "BPF_PROG_TYPE_SCHED_ACT", "sched_act", (4, 1);
        Tracepoint = 5, "BPF_PROG_TYPE_TRACEPOINT", "tracepoint", (4, 7);
        Xdp = 6, "BPF_PROG_TYPE_XDP", "xdp", (4, 8);
        PerfEvent = 7, "BPF_PROG_TYPE_PERF_EVENT", "perf_event", (4, 9);
        CgroupSkb = 8, "BPF_PROG_TYPE_CGROUP_SKB", "cgroup_skb", (4, 10);
        CgroupSock = 9, "BPF_PROG_TYPE_CGROUP_SOCK", "cgroup_sock", (4, 10);
        LwtIn = 10, "BPF_PROG_TYPE_LWT_IN", "lwt_in", (4, 10);
        LwtOut = 11, "BPF_PROG_TYPE_LWT_OUT", "lwt_out", (4, 10);
        LwtXmit = 12, "BPF_PROG_TYPE_LWT_XMIT", "lwt_xmit", (4, 10);
        SockOps = 13, "BPF_PROG_TYPE_SOCK_OPS", "sock_ops", (4, 13);
        SkSkb = 14, "BPF_PROG_TYPE_SK_SKB", "sk_skb", (4, 14);
        CgroupDevice = 15, "BPF_PROG_TYPE_CGROUP_DEVICE", "cgroup_device", (4, 15);
        SkMsg = 16, "BPF_PROG_TYPE_SK_MSG", "sk_msg", (4, 17);
        RawTracepoint = 17, "BPF_PROG_TYPE_RAW_TRACEPOINT", "raw_tracepoint", (4, 17);
        CgroupSockAddr = 18, "BPF_PROG_TYPE_CGROUP_SOCK_ADDR", "cgroup_sock_addr", (4, 17);
        LwtSeg6local = 19, "BPF_PROG_TYPE_LWT_SEG6LOCAL", "lwt_seg6local", (4, 18);
        LircMode2 = 20, "BPF_PROG_TYPE_LIRC_MODE2", "lirc_mode2", (4, 18);
        SkReuseport = 21, "BPF_PROG_TYPE_SK_REUSEPORT", "sk_reuseport", (4, 19);
        FlowDissector = 22, "BPF_PROG_TYPE_FLOW_DISSECTOR", "flow_dissector", (4, 20);
        CgroupSysctl = 23, "BPF_PROG_TYPE_CGROUP_SYSCTL", "cgroup_sysctl", (5, 2);
        RawTracepointWritable = 24, "BPF_PROG_TYPE_RAW_TRACEPOINT_WRITABLE", "raw_tracepoint_writable", (5, 2);
        CgroupSockopt = 25, "BPF_PROG_TYPE_CGROUP_SOCKOPT", "cgroup_sockopt", (5, 3);
        Tracing = 26, "BPF_PROG_TYPE_TRACING", "tracing", (5, 5);
        StructOps = 27, "BPF_PROG_TYPE_STRUCT_OPS", "struct_ops", (5, 6);
        Ext = 28, "BPF_PROG_TYPE_EXT", "ext", (5, 6);
        Lsm = 29, "BPF_PROG_TYPE_LSM", "lsm", (5, 7);
        SkLookup = 30, "BPF_PROG_TYPE_SK_LOOKUP", "sk_lookup", (5, 9);
        Syscall = 31, "BPF_PROG_TYPE_SYSCALL", "syscall", (5, 14);
        Netfilter = 32, "BPF_PROG_TYPE_NETFILTER", "netfilter", (6, 4);
    }
}

kernel_enum! {
    /// `enum bpf_attach_type`: the ones this project uses (at load time as
    /// `expected_attach_type`, and for `BPF_LINK_CREATE`).
    pub enum AttachType: "attach type" {
        /// A `tp_btf` tracing program: a raw tracepoint typed by its
        /// `btf_trace_NAME` typedef.
        TraceRawTp = 23, "BPF_TRACE_RAW_TP", "trace_raw_tp", (5, 5);
        /// An fentry tracing program: runs at a kernel function's entry.
        TraceFentry = 24, "BPF_TRACE_FENTRY", "trace_fentry", (5, 5);
        /// An fexit tracing program: runs when a kernel function returns.
        TraceFexit = 25, "BPF_TRACE_FEXIT", "trace_fexit", (5, 5);
        /// XDP through a bpf_link (`BPF_LINK_CREATE` with an ifindex).
        Xdp = 37, "BPF_XDP", "xdp", (5, 9);
        /// TC ingress through a bpf_link, no qdisc needed.
        TcxIngress = 46, "BPF_TCX_INGRESS", "tcx_ingress", (6, 6);
        /// TC egress through a bpf_link.
        TcxEgress = 47, "BPF_TCX_EGRESS", "tcx_egress", (6, 6);
        NetkitPrimary = 54, "BPF_NETKIT_PRIMARY", "netkit_primary", (6, 7);
        NetkitPeer = 55, "BPF_NETKIT_PEER", "netkit_peer", (6, 7);
    }
}

kernel_enum! {
    /// `enum bpf_map_type`: the common ones.
    pub enum MapType: "map type" {
        Hash = 1, "BPF_MAP_TYPE_HASH", "hash", (3, 19);
        /// Also what `.rodata`/`.data`/`.bss` become (one entry, the section).
        Array = 2, "BPF_MAP_TYPE_ARRAY", "array", (3, 19);
        ProgArray = 3, "BPF_MAP_TYPE_PROG_ARRAY", "prog_array", (4, 2);
        PerfEventArray = 4, "BPF_MAP_TYPE_PERF_EVENT_ARRAY", "perf_event_array", (4, 3);
        PercpuHash = 5, "BPF_MAP_TYPE_PERCPU_HASH", "percpu_hash", (4, 6);
        PercpuArray = 6, "BPF_MAP_TYPE_PERCPU_ARRAY", "percpu_array", (4, 6);
        StackTrace = 7, "BPF_MAP_TYPE_STACK_TRACE", "stack_trace", (4, 6);
        CgroupArray = 8, "BPF_MAP_TYPE_CGROUP_ARRAY", "cgroup_array", (4, 8);
        LruHash = 9, "BPF_MAP_TYPE_LRU_HASH", "lru_hash", (4, 10);
        LruPercpuHash = 10, "BPF_MAP_TYPE_LRU_PERCPU_HASH", "lru_percpu_hash", (4, 10);
        LpmTrie = 11, "BPF_MAP_TYPE_LPM_TRIE", "lpm_trie", (4, 11);
        ArrayOfMaps = 12, "BPF_MAP_TYPE_ARRAY_OF_MAPS", "array_of_maps", (4, 12);
        HashOfMaps = 13, "BPF_MAP_TYPE_HASH_OF_MAPS", "hash_of_maps", (4, 12);
        Devmap = 14, "BPF_MAP_TYPE_DEVMAP", "devmap", (4, 14);
        Sockmap = 15, "BPF_MAP_TYPE_SOCKMAP", "sockmap", (4, 14);
        Cpumap = 16, "BPF_MAP_TYPE_CPUMAP", "cpumap", (4, 15);
        Xskmap = 17, "BPF_MAP_TYPE_XSKMAP", "xskmap", (4, 18);
        Sockhash = 18, "BPF_MAP_TYPE_SOCKHASH", "sockhash", (4, 18);
        Queue = 22, "BPF_MAP_TYPE_QUEUE", "queue", (4, 20);
        Stack = 23, "BPF_MAP_TYPE_STACK", "stack", (4, 20);
        DevmapHash = 25, "BPF_MAP_TYPE_DEVMAP_HASH", "devmap_hash", (5, 4);
        RingBuf = 27, "BPF_MAP_TYPE_RINGBUF", "ringbuf", (5, 8);
    }
}

kernel_enum! {
    /// `enum bpf_link_type`.
    pub enum LinkType: "link type" {
        RawTracepoint = 1, "BPF_LINK_TYPE_RAW_TRACEPOINT", "raw_tracepoint", (5, 7);
        Tracing = 2, "BPF_LINK_TYPE_TRACING", "tracing", (5, 7);
        Cgroup = 3, "BPF_LINK_TYPE_CGROUP", "cgroup", (5, 7);
        Iter = 4, "BPF_LINK_TYPE_ITER", "iter", (5, 8);
        Netns = 5, "BPF_LINK_TYPE_NETNS", "netns", (5, 8);
        Xdp = 6, "BPF_LINK_TYPE_XDP", "xdp", (5, 9);
        PerfEvent = 7, "BPF_LINK_TYPE_PERF_EVENT", "perf_event", (5, 15);
        KprobeMulti = 8, "BPF_LINK_TYPE_KPROBE_MULTI", "kprobe_multi", (5, 18);
        Netfilter = 10, "BPF_LINK_TYPE_NETFILTER", "netfilter", (6, 4);
        Tcx = 11, "BPF_LINK_TYPE_TCX", "tcx", (6, 6);
        UprobeMulti = 12, "BPF_LINK_TYPE_UPROBE_MULTI", "uprobe_multi", (6, 6);
        Netkit = 13, "BPF_LINK_TYPE_NETKIT", "netkit", (6, 7);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_round_trip() {
        for t in ProgType::ALL {
            assert_eq!(ProgType::from_raw(t.raw()), Some(*t));
            assert_eq!(ProgType::from_name(t.short_name()), Some(*t));
        }
        assert_eq!(ProgType::SchedCls.raw(), 3);
        assert_eq!(AttachType::TcxIngress.raw(), 46);
        assert_eq!(
            AttachType::from_name("BPF_TCX_EGRESS"),
            Some(AttachType::TcxEgress)
        );
        assert_eq!(MapType::Array.short_name(), "array");
        assert_eq!(ProgType::from_raw(999), None);
    }
}
