; path/fib.s - the path tracer for the fib_table_lookup tracepoint.
;
; fib_table_lookup(u32 tb_id, const struct flowi4 *flp,
;                  const struct fib_nh_common *nhc, int err)
; carries no skb, only the flow being routed. So the event is attributed
; honestly: the flow's addresses tie it to the lab's packet (UDP from SADDR to
; DADDR), and when a route was found, nhc->nhc_dev is the device it leads to,
; whose netns (nhc_dev->nd_net.net->ns.inum) names the namespace whose IP
; stack did the lookup. The flow's iif is the device the packet came in on
; there. A failed lookup (no nhc) gets netns 0, which path leaves out: it
; cannot say whose it was. The event's skb field is 0. The event is the same
; 64-byte record as skb.s's, into the same `events` ring buffer.
;
; -D constants, all from vmlinux BTF at run time: HOOK, FLP_ARG_OFF,
; NHC_ARG_OFF, ERR_ARG_OFF (8 * argument position), FL_IIF, FL_MARK,
; FL_PROTO, FL_SADDR, FL_DADDR, FL_DPORT, FL_SPORT (offsets in struct flowi4),
; NHC_DEV, DEV_NET, NET_INUM, SADDR, DADDR.

	.section tracing
	.license "GPL"
	.name path_fib

	r9 = r1
	r6 = *(u64 *)(r1 +FLP_ARG_OFF)	# const struct flowi4 *
	if r6 == 0 goto out
	r2 = *(u32 *)(r6 +FL_DADDR)
	r3 = DADDR ll			# 64-bit load: a jump's 32-bit immediate would sign-extend it
	if r2 != r3 goto out
	r2 = *(u32 *)(r6 +FL_SADDR)
	r3 = SADDR ll
	if r2 != r3 goto out

	r2 = 0
	*(u64 *)(r10 -64) = r2		# +0 no skb
	*(u64 *)(r10 -56) = r2
	*(u64 *)(r10 -48) = r2
	*(u64 *)(r10 -40) = r2
	*(u64 *)(r10 -32) = r2
	*(u64 *)(r10 -24) = r2
	*(u64 *)(r10 -16) = r2
	*(u64 *)(r10 -8) = r2
	call bpf_ktime_get_ns
	*(u64 *)(r10 -56) = r0		# +8 timestamp
	r2 = HOOK
	*(u32 *)(r10 -48) = r2		# +16 hook
	call bpf_get_smp_processor_id
	*(u32 *)(r10 -44) = r0		# +20 cpu
	r7 = *(u64 *)(r9 +NHC_ARG_OFF)	# const struct fib_nh_common *, NULL when no route
	if r7 == 0 goto noroute
	r7 = *(u64 *)(r7 +NHC_DEV)	# nhc->nhc_dev
	if r7 == 0 goto noroute
	r7 = *(u64 *)(r7 +DEV_NET)
	if r7 == 0 goto noroute
	r2 = *(u32 *)(r7 +NET_INUM)
	*(u32 *)(r10 -40) = r2		# +24 netns inode of the route's device
noroute:
	r2 = *(u32 *)(r6 +FL_IIF)
	*(u32 *)(r10 -36) = r2		# +28 ifindex: the flow's input device
	r2 = *(u32 *)(r6 +FL_MARK)
	*(u32 *)(r10 -24) = r2		# +40 mark
	r2 = *(u64 *)(r9 +ERR_ARG_OFF)
	*(u32 *)(r10 -20) = r2		# +44 the lookup's error (0: found)
	r2 = *(u32 *)(r6 +FL_SADDR)
	*(u32 *)(r10 -16) = r2		# +48 saddr
	r2 = *(u32 *)(r6 +FL_DADDR)
	*(u32 *)(r10 -12) = r2		# +52 daddr
	r2 = *(u16 *)(r6 +FL_SPORT)
	*(u16 *)(r10 -8) = r2		# +56 source port (0 where the lookup had none)
	r2 = *(u16 *)(r6 +FL_DPORT)
	*(u16 *)(r10 -6) = r2		# +58 destination port
	r2 = *(u8 *)(r6 +FL_PROTO)
	*(u8 *)(r10 -4) = r2		# +60 IP protocol

	r1 = events ll			# the ring buffer skb.s writes too: one stream
	r2 = r10
	r2 += -64
	r3 = 64
	r4 = 0
	call bpf_ringbuf_output
	if r0 == 0 goto out
	r1 = lost + 0 ll		# no room in the ring buffer: count the loss
	r2 = 1
	lock *(u64 *)(r1 +0) += r2
out:
	r0 = 0
	exit
