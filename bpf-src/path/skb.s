; path/skb.s - the path tracer for a hook whose context holds a struct sk_buff *.
;
; One template for every such hook: the tp_btf tracepoints net_dev_queue,
; net_dev_start_xmit, netif_rx, netif_receive_skb, consume_skb, kfree_skb and
; skb_copy_datagram_iovec, and fentry on any function taking an skb. Both hook
; kinds see their arguments as u64s at ctx + 8 * i, and the verifier types the
; skb argument from vmlinux BTF, so the program reads skb->dev->nd_net.net
; with plain loads. `redirect-lab path` assembles this file once per hook with
; -D constants it takes from the running kernel's BTF (CO-RE by hand):
;
;   HOOK          the hook's index in path's table (which tracepoint/function)
;   SKB_ARG_OFF   8 * the skb argument's position
;   REASON_ARG_OFF (optional) 8 * the position of kfree_skb's drop reason
;   SKB_*, DEV_*, NET_INUM   member offsets; PKT_TYPE_* the 3-bit bitfield
;   SADDR, DADDR, DPORT  the lab's source (the host side) and destination
;                 (as the u32/u16 loaded from the packet)
;
; Only UDP/IPv4 packets from SADDR to DADDR:DPORT produce an event (the lab's
; 5-tuple but for the source port, which each sending socket picks), so the
; host's other traffic stays out of the trace. Each event is one 64-byte record (see
; loader/src/lab/path/event.rs), built on the stack and copied into `events`,
; the BPF_MAP_TYPE_RINGBUF every path program shares, with
; bpf_ringbuf_output. The ring buffer keeps no loss counter of its own, so a
; record it has no room for counts in `lost[0]`.

	.section tracing
	.license "GPL"			# tracing programs must be GPL-compatible
	.name path_skb

	.equ ETH_P_IP_BE, 0x0008	# htons(ETH_P_IP), as a little-endian u16 load sees it
	.equ IPPROTO_UDP, 17		# include/uapi/linux/in.h
	.equ NO_HEADER, 0xffff		# skb->network_header when unset (skb_reset_network_header never ran)

; Stack: event at r10-64 (64 bytes), IPv4 header copy at r10-96 (24 bytes).
	r9 = r1				# ctx: the hook's arguments
	r6 = *(u64 *)(r1 +SKB_ARG_OFF)	# struct sk_buff *
	if r6 == 0 goto out
	r2 = *(u16 *)(r6 +SKB_PROTOCOL)	# skb->protocol, big-endian
	if r2 != ETH_P_IP_BE goto out
	r3 = *(u16 *)(r6 +SKB_NETWORK_HEADER)
	if r3 == NO_HEADER goto out
	r4 = *(u64 *)(r6 +SKB_HEAD)	# skb->head; the IPv4 header is at head + network_header
	r4 += r3
	r1 = r10
	r1 += -96
	r2 = 24				# 20 bytes of IPv4 header (no options) and the two ports
	r3 = r4
	call bpf_probe_read_kernel	# packet bytes are not BTF-typed: read them by copy
	if r0 != 0 goto out
	r2 = *(u8 *)(r10 -96)		# version and IHL
	if r2 != 0x45 goto out		# IPv4 without options: what the lab sends
	r2 = *(u8 *)(r10 -87)		# protocol
	if r2 != IPPROTO_UDP goto out
	r2 = *(u32 *)(r10 -84)		# saddr
	r3 = SADDR ll			# 64-bit load: a jump's 32-bit immediate would sign-extend it
	if r2 != r3 goto out
	r2 = *(u32 *)(r10 -80)		# daddr
	r3 = DADDR ll
	if r2 != r3 goto out
	r2 = *(u16 *)(r10 -74)		# UDP destination port
	if r2 != DPORT goto out

; The lab's packet: build the event.
	r2 = 0
	*(u64 *)(r10 -56) = r2
	*(u64 *)(r10 -48) = r2
	*(u64 *)(r10 -40) = r2
	*(u64 *)(r10 -32) = r2
	*(u64 *)(r10 -24) = r2
	*(u64 *)(r10 -16) = r2
	*(u64 *)(r10 -8) = r2
	*(u64 *)(r10 -64) = r6		# +0 skb address: ties the events of one packet
	call bpf_ktime_get_ns
	*(u64 *)(r10 -56) = r0		# +8 timestamp
	r2 = HOOK
	*(u32 *)(r10 -48) = r2		# +16 hook
	call bpf_get_smp_processor_id
	*(u32 *)(r10 -44) = r0		# +20 cpu
	r7 = *(u64 *)(r6 +SKB_DEV)	# skb->dev
	if r7 == 0 goto nodev
	r2 = *(u32 *)(r7 +DEV_IFINDEX)
	*(u32 *)(r10 -36) = r2		# +28 ifindex
	r8 = *(u64 *)(r7 +DEV_NET)	# dev->nd_net.net
	if r8 == 0 goto nodev
	r2 = *(u32 *)(r8 +NET_INUM)
	*(u32 *)(r10 -40) = r2		# +24 netns inode
nodev:
	r2 = *(u32 *)(r6 +SKB_LEN)
	*(u32 *)(r10 -32) = r2		# +32 len
	r2 = *(u8 *)(r6 +PKT_TYPE_OFF)	# the byte holding the pkt_type:3 bitfield
	r2 >>= PKT_TYPE_SHIFT
	r2 &= PKT_TYPE_MASK
	*(u8 *)(r10 -28) = r2		# +36 pkt_type
	r2 = *(u16 *)(r6 +SKB_PROTOCOL)
	*(u16 *)(r10 -26) = r2		# +38 protocol, big-endian
	r2 = *(u32 *)(r6 +SKB_MARK)
	*(u32 *)(r10 -24) = r2		# +40 mark
.ifdef REASON_ARG_OFF
	r2 = *(u64 *)(r9 +REASON_ARG_OFF)
	*(u32 *)(r10 -20) = r2		# +44 drop reason
.endif
	r2 = *(u32 *)(r10 -84)
	*(u32 *)(r10 -16) = r2		# +48 saddr
	r2 = *(u32 *)(r10 -80)
	*(u32 *)(r10 -12) = r2		# +52 daddr
	r2 = *(u16 *)(r10 -76)
	*(u16 *)(r10 -8) = r2		# +56 source port
	r2 = *(u16 *)(r10 -74)
	*(u16 *)(r10 -6) = r2		# +58 destination port
	r2 = *(u8 *)(r10 -87)
	*(u8 *)(r10 -4) = r2		# +60 IP protocol

	r1 = events ll
	r2 = r10
	r2 += -64
	r3 = 64				# the event's size (EVENT_SIZE)
	r4 = 0				# flags: let the kernel decide when to wake the reader
	call bpf_ringbuf_output
	if r0 == 0 goto out
	r1 = lost + 0 ll		# no room in the ring buffer: count the loss
	r2 = 1
	lock *(u64 *)(r1 +0) += r2
out:
	r0 = 0
	exit
