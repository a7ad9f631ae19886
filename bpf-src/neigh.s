; neigh.s - `redirect-lab up --mode neigh`: bpf_redirect_neigh from veth1@2's TC ingress.
;
; As the selftests' tc_dst program (tools/testing/selftests/bpf/progs/
; test_tc_neigh.c), the program does not write any MAC: bpf_redirect_neigh
; (helper 152, Linux 5.10) hands the packet to the neighbour layer of the
; target device, which fills in the Ethernet header from its ARP entry for the
; destination, resolving it first if needed, exactly as the stack would after
; routing (skb_do_redirect -> __bpf_redirect_neigh -> bpf_out_neigh_v4 ->
; neigh_output). So veth2@2's MAC is learnt by ARP, not hard-coded; `redirect-lab
; status` shows the entry netns_1 learnt.
;
; What it needs: with params NULL the kernel routes the packet itself
; (ip_route_output_flow with the target as the output device), so veth2@1
; needs an IPv4 address (the ARP request's sender) and a route to 10.0.2.11.
; `redirect-lab up --mode neigh --pitfall` removes the address and shows what
; happens. A neigh redirect always transmits out of the target: there is no
; ingress variant, and flags must be 0.
;
; bpf_redirect_neigh(ifindex, params, plen, flags): params points to a
; struct bpf_redir_neigh {u32 nh_family; be32 ipv4_nh / ipv6_nh[4]} (20 bytes;
; plen must be 0 with params NULL, or >= 20), include/uapi/linux/bpf.h.

	.section tc
	.license "GPL"
	.name redirect_neigh

	.equ TARGET_IFINDEX, 3		# veth2@1; `up` resolves the real one by name
	.equ DEST_IP, 0x0a00020b	# 10.0.2.11 (host order)

	.equ ETH_P_IP, 0x0800		# include/uapi/linux/if_ether.h
	.equ TC_ACT_OK, 0		# include/uapi/linux/pkt_cls.h

	r6 = *(u32 *)(r1 +76)		# __sk_buff.data
	r7 = *(u32 *)(r1 +80)		# __sk_buff.data_end
	r2 = r6
	r2 += 34			# Ethernet (14) + fixed IPv4 header (20)
	if r2 > r7 goto pass
	r8 = *(u16 *)(r6 +12)		# h_proto, network order
	if w8 != htons(ETH_P_IP) goto pass
	r8 = *(u32 *)(r6 +30)		# iphdr.daddr
	if w8 != htonl(DEST_IP) goto pass
; No MAC rewrite: the neighbour layer writes both addresses.
	r1 = TARGET_IFINDEX
	r2 = 0				# params = NULL: the kernel looks up the next hop
	r3 = 0				# plen = 0, as NULL requires
	r4 = 0				# flags: none are defined
	call bpf_redirect_neigh		# TC_ACT_REDIRECT (7), or TC_ACT_SHOT for bad arguments
	exit
pass:
	r0 = TC_ACT_OK
	exit
