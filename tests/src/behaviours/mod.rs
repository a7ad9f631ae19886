//! The kernel-behaviour suite: each behaviour builds its own namespaces,
//! asserts one thing the kernel does, and says which kernel introduced it.
//!
//! Adding a behaviour is one entry in [`REGISTRY`] plus its function. A
//! function returns the [`Verdict`] for the kernel it runs on: `Pass` when
//! the kernel did what we expect, `NotApplicable` when a probe shows the
//! feature is absent (never decided from the version number), and `Fail`
//! (or an `Err`) otherwise.

use crate::report::Verdict;

pub mod arp;
pub mod kfunc;
pub mod mode_delivery;
pub mod mode_fib;
pub mod mode_netkit;
pub mod mode_tcx;
pub mod modes_bench;
pub mod path_order;
pub mod path_trace;
pub mod redirect;
pub mod redirect_peer;
pub mod tc_netlink;
pub mod tcx;
pub mod test_run;
pub mod verifier;

/// One entry of the suite.
pub struct Behaviour {
    /// Stable id, printed in `LABTEST` lines and the matrix.
    pub id: &'static str,
    /// What is asserted, in one line.
    pub title: &'static str,
    /// The first kernel with the feature this behaviour relies on.
    pub min_kernel: &'static str,
    pub run: fn() -> Result<Verdict, String>,
}

/// Every behaviour, in matrix order.
pub static REGISTRY: &[Behaviour] = &[
    Behaviour {
        id: "redirect-egress-delivers",
        title: "bpf_redirect flags 0: veth2@1 transmits it, netns_2's socket gets it",
        min_kernel: "4.5",
        run: redirect::egress_delivers,
    },
    Behaviour {
        id: "redirect-skips-netns1-stack",
        title: "netns_1 forwards without the program, never with it (Ip ForwDatagrams)",
        min_kernel: "4.5",
        run: redirect::skips_netns1_stack,
    },
    Behaviour {
        id: "no-mac-rewrite-otherhost",
        title: "without the MAC rewrite veth2@2 sees PACKET_OTHERHOST and drops it",
        min_kernel: "4.5",
        run: redirect::no_mac_rewrite_dropped,
    },
    Behaviour {
        id: "ingress-flag-stays-in-netns1",
        title: "BPF_F_INGRESS: received on veth2@1 (PACKET_OTHERHOST), never in netns_2",
        min_kernel: "4.5",
        run: redirect::ingress_flag_stays_in_netns1,
    },
    Behaviour {
        id: "invalid-flags-shot",
        title: "unknown bpf_redirect flags return TC_ACT_SHOT and drop the packet",
        min_kernel: "4.5",
        run: redirect::invalid_flags_shot,
    },
    Behaviour {
        id: "missing-ifindex-dropped",
        title: "redirect to a nonexistent ifindex is dropped",
        min_kernel: "4.5",
        run: redirect::missing_ifindex_dropped,
    },
    Behaviour {
        id: "arp-passes-proxy-arp",
        title: "ARP passes with TC_ACT_OK, proxy ARP answers through the program",
        min_kernel: "4.5",
        run: arp::arp_passes,
    },
    Behaviour {
        id: "test-run-redirect",
        title: "BPF_PROG_TEST_RUN: 7 with the MAC rewritten; other destinations 0",
        min_kernel: "4.12",
        run: test_run::redirect_verdict,
    },
    Behaviour {
        id: "test-run-min-14-bytes",
        title: "BPF_PROG_TEST_RUN refuses < 14 bytes (EINVAL); 14-byte ARP runs",
        min_kernel: "4.12",
        run: test_run::min_size,
    },
    Behaviour {
        id: "test-run-short-ipv4",
        title: "BPF_PROG_TEST_RUN: the shortest IPv4 frame that runs, probed 14-34 bytes (recorded per kernel)",
        min_kernel: "4.12",
        run: test_run::short_ipv4,
    },
    Behaviour {
        id: "verifier-bounds-check",
        title: "without its bounds check the verifier says \"invalid access to packet\"",
        min_kernel: "4.7",
        run: verifier::needs_bounds_check,
    },
    Behaviour {
        id: "clsact-twice-eexist",
        title: "clsact added twice: EEXIST, \"Exclusivity flag on, cannot modify\"",
        min_kernel: "4.16",
        run: tc_netlink::clsact_twice,
    },
    Behaviour {
        id: "filter-needs-clsact",
        title: "a cls_bpf filter on a device without clsact fails",
        min_kernel: "4.5",
        run: tc_netlink::filter_without_clsact,
    },
    Behaviour {
        id: "filter-replace-keeps-one",
        title: "filter replace swaps the program and keeps one filter",
        min_kernel: "4.5",
        run: tc_netlink::replace_keeps_one,
    },
    Behaviour {
        id: "filter-echo-priority",
        title: "NLM_F_ECHO returns the kernel-chosen priority",
        min_kernel: "4.5",
        run: tc_netlink::echo_priority,
    },
    Behaviour {
        id: "tcx-attach-detach",
        title: "TCX bpf_link attach/detach (probed; else clsact fallback)",
        min_kernel: "6.6",
        run: tcx::attach_detach,
    },
    Behaviour {
        id: "redirect-peer-pkt-type",
        title: "bpf_redirect_peer of a PACKET_OTHERHOST frame: scrubbed and delivered, or dropped",
        min_kernel: "5.10",
        run: redirect_peer::pkt_type_on_peer_redirect,
    },
    Behaviour {
        id: "mode-egress-delivers",
        title: "up --mode egress: UDP + 16-byte TCP echo, netns_1 ForwDatagrams unchanged",
        min_kernel: "4.5",
        run: mode_delivery::egress,
    },
    Behaviour {
        id: "mode-peer-delivers",
        title: "up --mode peer (bpf_redirect_peer): UDP + TCP echo, netns_1 stack skipped",
        min_kernel: "5.10",
        run: mode_delivery::peer,
    },
    Behaviour {
        id: "mode-neigh-delivers",
        title: "up --mode neigh (bpf_redirect_neigh, MAC from ARP): UDP + TCP echo, stack skipped",
        min_kernel: "5.10",
        run: mode_delivery::neigh,
    },
    Behaviour {
        id: "mode-fib-delivers",
        title: "up --mode fib (bpf_fib_lookup + bpf_redirect): UDP + TCP echo, stack skipped",
        min_kernel: "5.10",
        run: mode_delivery::fib,
    },
    Behaviour {
        id: "mode-xdp-delivers",
        title: "up --mode xdp (native XDP redirect, XDP_PASS on veth2@2): UDP + TCP echo",
        min_kernel: "5.9",
        run: mode_delivery::xdp,
    },
    Behaviour {
        id: "mode-devmap-delivers",
        title: "up --mode devmap (bpf_redirect_map on a DEVMAP): UDP + TCP echo, stack skipped",
        min_kernel: "4.14",
        run: mode_delivery::devmap,
    },
    Behaviour {
        id: "mode-devmap-retarget",
        title: "map set ports 0 DEV retargets the running devmap lab, same program",
        min_kernel: "4.14",
        run: mode_delivery::devmap_retarget,
    },
    Behaviour {
        id: "mode-tcx-delivers",
        title: "up --mode tcx (BPF_TCX_INGRESS link; netlink fallback is n/a): UDP + TCP echo",
        min_kernel: "6.6",
        run: mode_delivery::tcx,
    },
    Behaviour {
        id: "mode-netkit-delivers",
        title: "up --mode netkit (netkit pair L2 + bpf_redirect_peer): UDP + TCP echo, stack skipped; n/a where creating netkit is refused",
        // The program needs 5.10; whether the kernel has netkit (6.7+,
        // CONFIG_NETKIT) is probed, not assumed from the version.
        min_kernel: "5.10",
        run: mode_delivery::netkit,
    },
    Behaviour {
        id: "mode-netkit-return",
        title: "up --mode netkit: netkit.s on a BPF_NETKIT_PEER link takes the replies (UDP + TCP echo, ForwDatagrams +0 both ways; +N once detached); n/a without netkit",
        // Probed like mode-netkit-delivers: netkit links are 6.7+.
        min_kernel: "5.10",
        run: mode_netkit::return_path,
    },
    Behaviour {
        id: "mode-netkit-primary-misses-replies",
        title: "up --mode netkit --pitfall: netkit.s on BPF_NETKIT_PRIMARY runs on veth2@1's transmit, so netns_1 forwards the replies",
        min_kernel: "5.10",
        run: mode_netkit::primary_misses_replies,
    },
    Behaviour {
        id: "mode-peer-same-netns-drops",
        title: "up --mode peer --pitfall: a target whose peer is in netns_1 drops silently",
        min_kernel: "5.10",
        run: mode_delivery::peer_same_netns,
    },
    Behaviour {
        id: "mode-xdp-no-peer-prog-drops",
        title: "up --mode xdp --pitfall: no XDP program on veth2@2, the redirect is dropped",
        min_kernel: "5.9",
        run: mode_delivery::xdp_no_peer_prog,
    },
    Behaviour {
        id: "mode-neigh-no-route-drops",
        title: "up --mode neigh --pitfall: no address/route on veth2@1, nothing arrives",
        min_kernel: "5.10",
        run: mode_delivery::neigh_no_route,
    },
    Behaviour {
        id: "mode-fib-fwd-disabled",
        title: "up --mode fib --forwarding-off names BPF_FIB_LKUP_RET_FWD_DISABLED (5)",
        min_kernel: "5.10",
        run: mode_delivery::fib_forwarding_off,
    },
    Behaviour {
        id: "mode-fib-flags-probed",
        title: "bpf_fib_lookup flags probed by test run: DIRECT/OUTPUT everywhere; which of SKIP_NEIGH, TBID, SRC, MARK this kernel knows",
        min_kernel: "5.10",
        run: mode_fib::flags_probed,
    },
    Behaviour {
        id: "mode-tcx-order",
        title: "tcx chain: BPF_F_AFTER never runs after a redirect, BPF_F_BEFORE TCX_NEXT/DROP, before cls_bpf",
        min_kernel: "6.6",
        run: mode_tcx::order,
    },
    Behaviour {
        id: "path-egress",
        title: "path (tp_btf): veth1@2 receive, veth2@1 queue, veth2@2 receive, no drop",
        min_kernel: "5.5",
        run: path_trace::egress,
    },
    Behaviour {
        id: "path-ingress",
        title: "path (tp_btf) with BPF_F_INGRESS: netif_rx on veth2@1 OTHERHOST, dropped there",
        min_kernel: "5.5",
        run: path_trace::ingress,
    },
    Behaviour {
        id: "path-no-program",
        title: "path (tp_btf) without the program: netns_1 forwards veth1@2 -> veth2@1",
        min_kernel: "5.5",
        run: path_trace::no_program,
    },
    Behaviour {
        id: "path-functions",
        title: "path (fentry): skb_do_redirect, __bpf_redirect; ip_forward only without it",
        min_kernel: "5.5",
        run: path_trace::functions,
    },
    Behaviour {
        id: "path-order",
        title: "compare's paths: fewer events for peer than egress, for egress than forwarding, per layer",
        min_kernel: "5.10",
        run: path_order::peer_egress_forwarding,
    },
    Behaviour {
        id: "path-attach-all",
        title: "path --all: fentry on every skb function BTF lists, curated first (2 s budget), each skip says why; the datagram is seen",
        min_kernel: "5.5",
        run: path_trace::attach_all,
    },
    Behaviour {
        id: "kfunc-module",
        title: "a module's kfunc (nf_conntrack's bpf_skb_ct_lookup) resolves in its BTF and is called through fd_array: -ENOENT",
        min_kernel: "5.18",
        run: kfunc::module_kfunc,
    },
];

/// Entries that run only when named (`behaviour-suite modes-bench`), never
/// in the matrix: measurements for `make bench`'s own guests, minutes long
/// under TCG, whose verdict is about the run, not about the kernel.
pub static ON_REQUEST: &[Behaviour] = &[Behaviour {
    id: "modes-bench",
    title: "benchmark 6 in a guest: forwarding, egress, peer, netkit labs measured interleaved; LABBENCH lines for make bench",
    min_kernel: "5.10",
    run: modes_bench::run,
}];

/// Looks a behaviour up by id, in the matrix or [`ON_REQUEST`].
pub fn find(id: &str) -> Option<&'static Behaviour> {
    REGISTRY.iter().chain(ON_REQUEST).find(|b| b.id == id)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_unique_and_protocol_safe() {
        let mut seen = std::collections::HashSet::new();
        for b in REGISTRY.iter().chain(ON_REQUEST) {
            assert!(seen.insert(b.id), "duplicate id {}", b.id);
            assert!(
                b.id.chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_'),
                "id {} must have no spaces",
                b.id
            );
            assert!(!b.min_kernel.is_empty());
        }
    }

    #[test]
    fn on_request_entries_are_found_but_not_in_the_matrix() {
        let b = find("modes-bench").expect("modes-bench is found by id");
        assert_eq!(b.id, "modes-bench");
        assert!(REGISTRY.iter().all(|r| r.id != "modes-bench"));
    }
}
