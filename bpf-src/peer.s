; peer.s - `redirect-lab up --mode peer`: bpf_redirect_peer from veth1@2's TC ingress.
;
; The program matches the same packets as redirect.s (IPv4 to DEST_IP) and
; calls bpf_redirect_peer(TARGET_IFINDEX, 0) with veth2@1's ifindex. The kernel
; (skb_do_redirect, net/core/filter.c) then takes veth2@1's *peer*, veth2@2 in
; netns_2, sets skb->dev to it and hands the packet back to the receive loop
; (__netif_receive_skb_core's another_round): veth2@1's transmit (veth_xmit),
; the per-CPU backlog (enqueue_to_backlog, net_rx_action) and a second
; eth_type_trans are all skipped.
;
; No MAC rewrite: pkt_type was already decided on veth1@2, where the frame was
; addressed to veth1@2's own MAC (proxy ARP answered for 10.0.2.11), so it is
; PACKET_HOST, and netns_2's ip_rcv accepts it without looking at the MAC.
;
; The rules (bpf_redirect_peer in include/uapi/linux/bpf.h, Linux 5.10):
;  - only from TC ingress (skb_at_tc_ingress), flags must be 0;
;  - the target must have ndo_get_peer_dev (veth, netkit) and its peer must be
;    up and in *another* network namespace;
; otherwise skb_do_redirect drops the packet and returns nothing anyone sees:
; the failure is silent. `redirect-lab up --mode peer --pitfall` shows it.

;
; `--mode netkit` loads this same program: there veth2@1/veth2@2 are a netkit
; pair (drivers/net/netkit.c), whose netkit_peer_dev is the ndo_get_peer_dev
; this helper needs. A program attached with BPF_NETKIT_PRIMARY would run in
; netkit_xmit of veth2@1, i.e. only after netns_1's stack had routed the packet
; out of it, and the peer redirect skips netkit_xmit (and its policy) entirely;
; so the technique stays here, on veth1@2's tc ingress.

	.section tc
	.license "GPL"
	.name redirect_peer

	.equ TARGET_IFINDEX, 3		# veth2@1; `up` resolves the real one by name
	.equ DEST_IP, 0x0a00020b	# 10.0.2.11 (host order)

	.equ ETH_P_IP, 0x0800		# include/uapi/linux/if_ether.h
	.equ TC_ACT_OK, 0		# include/uapi/linux/pkt_cls.h

; r1 = struct __sk_buff * (include/uapi/linux/bpf.h): data at 76, data_end at 80.
	r6 = *(u32 *)(r1 +76)
	r7 = *(u32 *)(r1 +80)
; Prove the Ethernet header (14) and the fixed IPv4 header (20) are there.
	r2 = r6
	r2 += 34
	if r2 > r7 goto pass
	r8 = *(u16 *)(r6 +12)		# h_proto, network order
	if w8 != htons(ETH_P_IP) goto pass
	r8 = *(u32 *)(r6 +30)		# iphdr.daddr
	if w8 != htonl(DEST_IP) goto pass
; bpf_redirect_peer(ifindex, flags): like bpf_redirect it only records the
; target (with BPF_F_PEER, an internal flag) and returns TC_ACT_REDIRECT (7);
; any flags of ours make it return TC_ACT_SHOT.
	r1 = TARGET_IFINDEX
	r2 = 0
	call bpf_redirect_peer
	exit
pass:
	r0 = TC_ACT_OK
	exit
