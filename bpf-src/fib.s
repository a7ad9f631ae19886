; fib.s - `redirect-lab up --mode fib`: route in the program with bpf_fib_lookup.
;
; Nothing about the target is hard-coded: for every IPv4 packet arriving on
; veth1@2 the program asks netns_1's own FIB (bpf_fib_lookup, helper 69, Linux
; 4.18, GPL-only) where it goes, writes the source and destination MAC the
; lookup found, and calls bpf_redirect to the egress ifindex it returned. The
; stack's ip_rcv / ip_forward are skipped; the route, the neighbour entry and
; the forwarding switch are still netns_1's. As the selftests' tc_redirect.c
; "neigh_fib" case, a lookup that finds the route but no neighbour entry
; (BPF_FIB_LKUP_RET_NO_NEIGH) falls back to bpf_redirect_neigh, which resolves
; it by ARP; the next packets then take the bpf_redirect path.
;
; The return code is stored in skb->cb[0], so a BPF_PROG_TEST_RUN caller (up's
; self-check) can name it: with forwarding off on veth1@2
; (`up --mode fib --pitfall`) it is BPF_FIB_LKUP_RET_FWD_DISABLED (5).
; Unlike ip_forward, this program does not decrement the TTL.
;
; struct bpf_fib_lookup (64 bytes, include/uapi/linux/bpf.h), built on the stack
; at r10 -64: family 0 (u8), l4_protocol 1 (u8), sport 2, dport 4, tot_len 6
; (u16, host order), ifindex 8 (u32, in: ingress device, out: egress device),
; tos 12 (u8), ipv4_src 16, ipv4_dst 32, smac 52, dmac 58.

	.section tc
	.license "GPL"			# bpf_fib_lookup is gpl_only: without it the verifier says
					; "cannot call GPL-restricted function from non-GPL compatible program"
	.name redirect_fib

	.equ ETH_P_IP, 0x0800		# include/uapi/linux/if_ether.h
	.equ AF_INET, 2			# include/linux/socket.h
	.equ TC_ACT_OK, 0		# include/uapi/linux/pkt_cls.h
	.equ BPF_FIB_LKUP_RET_SUCCESS, 0	# include/uapi/linux/bpf.h
	.equ BPF_FIB_LKUP_RET_NO_NEIGH, 7	# include/uapi/linux/bpf.h
	.equ FIB_LOOKUP_SIZE, 64	# sizeof(struct bpf_fib_lookup)
	.equ FLAGS, 0			# no BPF_FIB_LOOKUP_* flag: a full lookup, as ip_forward does

	r9 = r1				# keep the context: calls clobber r1-r5
	r6 = *(u32 *)(r1 +76)		# __sk_buff.data
	r7 = *(u32 *)(r1 +80)		# __sk_buff.data_end
	r2 = r6
	r2 += 34			# Ethernet (14) + fixed IPv4 header (20)
	if r2 > r7 goto pass
	r8 = *(u16 *)(r6 +12)		# h_proto, network order
	if w8 != htons(ETH_P_IP) goto pass
; The helper reads all 64 bytes, and the verifier refuses uninitialised stack.
	*(u64 *)(r10 -64) = 0
	*(u64 *)(r10 -56) = 0
	*(u64 *)(r10 -48) = 0
	*(u64 *)(r10 -40) = 0
	*(u64 *)(r10 -32) = 0
	*(u64 *)(r10 -24) = 0
	*(u64 *)(r10 -16) = 0
	*(u64 *)(r10 -8) = 0
	*(u8 *)(r10 -64) = AF_INET	# family
	r1 = *(u8 *)(r6 +23)		# iphdr.protocol
	*(u8 *)(r10 -63) = r1		# l4_protocol
	r1 = *(u16 *)(r6 +16)		# iphdr.tot_len, network order ...
	r1 = be16 r1			# ... the helper wants host order (it compares with the MTU)
	*(u16 *)(r10 -58) = r1		# tot_len
	r1 = *(u32 *)(r9 +40)		# __sk_buff.ifindex: veth1@2, the ingress device
	*(u32 *)(r10 -56) = r1		# ifindex
	r1 = *(u8 *)(r6 +15)		# iphdr.tos
	*(u8 *)(r10 -52) = r1		# tos
	r1 = *(u32 *)(r6 +26)		# iphdr.saddr
	*(u32 *)(r10 -48) = r1		# ipv4_src
	r1 = *(u32 *)(r6 +30)		# iphdr.daddr
	*(u32 *)(r10 -32) = r1		# ipv4_dst
	r1 = r9
	r2 = r10
	r2 += -64
	r3 = FIB_LOOKUP_SIZE
	r4 = FLAGS
	call bpf_fib_lookup
	*(u32 *)(r9 +48) = r0		# __sk_buff.cb[0] = the BPF_FIB_LKUP_RET_* code
	if r0 == BPF_FIB_LKUP_RET_NO_NEIGH goto neigh
	if r0 != BPF_FIB_LKUP_RET_SUCCESS goto pass	# not forwardable by us: the stack decides
; Copy the MACs. Stack accesses must be aligned, so each 6-byte MAC is read as
; a u16 and a u32 at aligned offsets: dmac at 58 (-6, -4), smac at 52 (-12, -8).
; r6/r7 survive the call (r6-r9 are callee-saved) and bpf_fib_lookup does not
; change the packet, so the bounds proved above still hold.
	r1 = *(u16 *)(r10 -6)
	*(u16 *)(r6 +0) = r1		# h_dest[0..2]
	r1 = *(u32 *)(r10 -4)
	*(u32 *)(r6 +2) = r1		# h_dest[2..6]
	r1 = *(u32 *)(r10 -12)
	*(u32 *)(r6 +6) = r1		# h_source[0..4]
	r1 = *(u16 *)(r10 -8)
	*(u16 *)(r6 +10) = r1		# h_source[4..6]
	r1 = *(u32 *)(r10 -56)		# ifindex, now the egress device the route chose
	r2 = 0
	call bpf_redirect		# TC_ACT_REDIRECT
	exit
neigh:
; The route is known, its neighbour not yet: let the neighbour layer resolve it.
	r1 = *(u32 *)(r10 -56)
	r2 = 0
	r3 = 0
	r4 = 0
	call bpf_redirect_neigh
	exit
pass:
	r0 = TC_ACT_OK
	exit
