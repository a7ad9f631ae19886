; netkit.s - `redirect-lab up --mode netkit`: the way back, on the netkit pair itself.
;
; In --mode netkit veth2@1 (netns_1, the primary) and veth2@2 (netns_2, the
; peer) are a netkit pair. peer.s on veth1@2's tc ingress takes the way there
; (bpf_redirect_peer straight into veth2@2). This program takes the way back:
; it is attached with BPF_LINK_CREATE, attach_type BPF_NETKIT_PEER (55), on the
; primary's ifindex, and runs for every packet netns_2 *transmits* on veth2@2.
;
; Why BPF_NETKIT_PEER and not BPF_NETKIT_PRIMARY (54), from drivers/net/netkit.c:
; netkit_xmit(skb, dev) runs the programs of the transmitting device
; (netkit_priv(dev)->active); netkit_dev_fetch stores BPF_NETKIT_PRIMARY ones
; on the primary and BPF_NETKIT_PEER ones on its peer, and accepts only the
; primary's ifindex for both (the peer's is EACCES: the container side cannot
; change its own programs). So a PRIMARY program runs when netns_1 sends out of
; veth2@1 -- after netns_1's stack has already forwarded the packet -- while a
; PEER program runs when netns_2 sends out of veth2@2: its replies.
;
; By then netkit_xmit has set skb->dev to the other end (veth2@1, in netns_1)
; and skb->data points at the Ethernet header, as at tc. A reply to the host
; side (IPv4 to HOST_IP) goes to bpf_redirect_neigh(veth1@2, NULL, 0, 0): the
; program returns NETKIT_REDIRECT (7, the same value as TC_ACT_REDIRECT), and
; netkit_xmit calls skb_do_redirect, which resolves veth1@2 in netns_1 (the
; netns of skb->dev) and hands the packet to netns_1's neighbour layer
; (bpf_out_neigh_v4: a route lookup and neigh_output, which write veth1@1's
; MAC from ARP). Skipped: veth2@1's receive (__netif_rx, the backlog),
; netns_1's ip_rcv and ip_forward, so netns_1's `Ip: ForwDatagrams` does not
; move in either direction. No MAC is hard-coded: veth1@1's is random.
; Everything else (ARP above all: netns_2 must still resolve 10.0.1.10, which
; netns_1's proxy ARP on veth2@1 answers) gets NETKIT_PASS and crosses the
; pair as it would without the program.
;
; enum netkit_action, include/uapi/linux/if_link.h (Linux 6.7):
; NETKIT_NEXT -1, NETKIT_PASS 0, NETKIT_DROP 2, NETKIT_REDIRECT 7.

	.section netkit/peer
	.license "GPL"
	.name netkit_return

	.equ TARGET_IFINDEX, 2		# veth1@2 in netns_1; `up` resolves the real one by name
	.equ HOST_IP, 0x0a00010a	# 10.0.1.10 (host order), the host side's address

	.equ ETH_P_IP, 0x0800		# include/uapi/linux/if_ether.h
	.equ NETKIT_PASS, 0		# include/uapi/linux/if_link.h

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
	if w8 != htonl(HOST_IP) goto pass
	r1 = TARGET_IFINDEX
	r2 = 0				# params = NULL: netns_1's FIB finds the next hop
	r3 = 0				# plen = 0, as NULL requires
	r4 = 0				# flags: none are defined
	call bpf_redirect_neigh		# NETKIT_REDIRECT (7), or TC_ACT_SHOT (2 = NETKIT_DROP) for bad arguments
	exit
pass:
	r0 = NETKIT_PASS
	exit
