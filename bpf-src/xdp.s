; xdp.s - `redirect-lab up --mode xdp`: the seed's redirect, one hook earlier.
;
; Attached as XDP on veth1@2 (IFLA_XDP, native mode: veth runs it in its NAPI
; poll, veth_xdp_rcv), it sees the frame before any sk_buff exists: no
; netif_receive_skb, no TC, no netns_1 stack. For IPv4 packets to DEST_IP it
; rewrites the destination MAC and calls bpf_redirect(TARGET_IFINDEX, 0), which
; returns XDP_REDIRECT; the driver then calls xdp_do_redirect, and the frame
; goes to veth2@1's ndo_xdp_xmit (veth_xdp_xmit), which queues it on veth2@2's
; XDP ring. That ring only runs while veth2@2 has an XDP program (or GRO,
; 5.13+): `up --mode xdp` attaches bpf-src/xdp_pass.s there;
; `up --mode xdp --pitfall` does not, and the frames are dropped.
; With --xdp-generic (XDP_FLAGS_SKB_MODE) the program runs on an sk_buff in
; netif_receive_skb instead, and the redirect is a dev_queue_xmit.

	.section xdp
	.license "GPL"
	.name redirect_xdp

	.equ TARGET_IFINDEX, 3		# veth2@1; `up` resolves the real one by name
	.equ DEST_IP, 0x0a00020b	# 10.0.2.11 (host order)
	.equ DEST_MAC, 0x020000000000	# veth2@2's address, as a 48-bit number

	.equ ETH_P_IP, 0x0800		# include/uapi/linux/if_ether.h
	.equ XDP_PASS, 2		# enum xdp_action, include/uapi/linux/bpf.h

; r1 = struct xdp_md * (include/uapi/linux/bpf.h): data at 0, data_end at 4.
	r6 = *(u32 *)(r1 +0)
	r7 = *(u32 *)(r1 +4)
	r2 = r6
	r2 += 34			# Ethernet (14) + fixed IPv4 header (20)
	if r2 > r7 goto pass
	r8 = *(u16 *)(r6 +12)		# h_proto, network order
	if w8 != htons(ETH_P_IP) goto pass
	r8 = *(u32 *)(r6 +30)		# iphdr.daddr
	if w8 != htonl(DEST_IP) goto pass
; veth2@2's receive path runs eth_type_trans on the frame: it must carry its MAC.
	*(u32 *)(r6 +0) = htonl(DEST_MAC >> 16)		# h_dest[0..4]
	*(u16 *)(r6 +4) = htons(DEST_MAC & 0xffff)	# h_dest[4..6]
; In XDP, bpf_redirect returns XDP_REDIRECT (4), or XDP_ABORTED (0) for flags.
	r1 = TARGET_IFINDEX
	r2 = 0
	call bpf_redirect
	exit
pass:
	r0 = XDP_PASS			# ARP and everything else: on to the stack
	exit
