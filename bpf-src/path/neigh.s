; path/neigh.s - the path tracer for the neigh_* tracepoints (the neighbour
; layer: ARP for IPv4).
;
; neigh_create(struct neigh_table *, struct net_device *, const void *pkey,
;              const struct neighbour *n, bool exempt_from_gc)
; neigh_update(struct neighbour *n, const u8 *lladdr, u8 new, u32 flags,
;              u32 nlmsg_pid)
; neigh_update_done, neigh_timer_handler, neigh_event_send_done,
; neigh_event_send_dead (struct neighbour *n, int err)
; (include/trace/events/neigh.h) carry a neighbour entry, not a packet. So
; the event is attributed by the entry itself: n->dev is the device the
; neighbour sits behind, whose netns (n->dev->nd_net.net->ns.inum) names
; the namespace whose neighbour layer acted, and n->primary_key is the IPv4
; address being resolved. Only IPv4 entries (n->tbl->family == AF_INET, the
; ARP table) whose key is in one of the lab's two subnets produce an event;
; `path` then keeps those in the lab's namespaces. The state recorded is
; n->nud_state when the tracepoint fires: neigh_update fires before the
; update (the old state), neigh_update_done after it (the new one).
;
; The event is the 64-byte record of skb.s, into the same `events` ring
; buffer: skb 0, netns and ifindex from n->dev, +44 the NUD state, +52 the
; neighbour's IPv4 key (network order).
;
; neigh_create is the exception: it fires right after neigh_alloc(), before
; the entry has its key and device, so for it path defines PKEY_ARG_OFF,
; DEV_ARG_OFF and TBL_ARG_OFF and the template reads those arguments instead
; (the state is then NUD_NONE, or nothing when the allocation failed).
;
; -D constants, all from vmlinux BTF at run time: HOOK, N_ARG_OFF (8 * the
; struct neighbour * argument's position), N_TBL, N_DEV, N_NUD_STATE,
; N_PRIMARY_KEY (offsets in struct neighbour), TBL_FAMILY (in struct
; neigh_table), DEV_IFINDEX, DEV_NET, NET_INUM; and SUBNET_1, SUBNET_2 (the
; lab's /24s, as the u32 a load of the key's bytes gives).

	.section tracing
	.license "GPL"
	.name path_neigh

	.equ AF_INET, 2			# include/linux/socket.h
	.equ MASK_24, 0xffffff		# a /24 of a network-order address, loaded as a little-endian u32

.ifdef PKEY_ARG_OFF
	; neigh_create fires right after the allocation, before the entry has
	; its key and device: take them, and the table, from the arguments.
	r6 = *(u64 *)(r1 +N_ARG_OFF)	# the new struct neighbour *, NULL if the allocation failed
	r9 = *(u64 *)(r1 +DEV_ARG_OFF)	# struct net_device *
	r7 = *(u64 *)(r1 +TBL_ARG_OFF)	# struct neigh_table *
	; pkey is a const void *: before 5.17 the verifier refuses to load a
	; pointer to anything but a struct from a tp_btf context ("is not a
	; struct"), so copy the argument's u64 out of the context instead.
	r3 = r1
	r3 += PKEY_ARG_OFF
	r1 = r10
	r1 += -80
	r2 = 8
	call bpf_probe_read_kernel
	if r0 != 0 goto out
	r3 = *(u64 *)(r10 -80)		# const void *pkey
.else
	r6 = *(u64 *)(r1 +N_ARG_OFF)	# struct neighbour *
	if r6 == 0 goto out
	r9 = *(u64 *)(r6 +N_DEV)	# n->dev
	r7 = *(u64 *)(r6 +N_TBL)	# n->tbl
	; primary_key is a flexible array at the end of struct neighbour, past
	; what BTF types: read its four bytes by copy.
	r3 = r6
	r3 += N_PRIMARY_KEY
.endif
	if r7 == 0 goto out
	r2 = *(u32 *)(r7 +TBL_FAMILY)
	if r2 != AF_INET goto out	# IPv6's ndisc entries are not the lab's
	r1 = r10
	r1 += -72
	r2 = 4
	call bpf_probe_read_kernel
	if r0 != 0 goto out
	r8 = *(u32 *)(r10 -72)		# the IPv4 key
	r2 = r8
	r2 &= MASK_24
	if r2 == SUBNET_1 goto lab
	if r2 == SUBNET_2 goto lab
	goto out
lab:
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
	if r9 == 0 goto nodev
	r2 = *(u32 *)(r9 +DEV_IFINDEX)
	*(u32 *)(r10 -36) = r2		# +28 ifindex: the device the neighbour is behind
	r7 = *(u64 *)(r9 +DEV_NET)
	if r7 == 0 goto nodev
	r2 = *(u32 *)(r7 +NET_INUM)
	*(u32 *)(r10 -40) = r2		# +24 netns inode
nodev:
	if r6 == 0 goto nostate
	r2 = *(u8 *)(r6 +N_NUD_STATE)
	*(u32 *)(r10 -20) = r2		# +44 NUD state (include/uapi/linux/neighbour.h)
nostate:
	*(u32 *)(r10 -12) = r8		# +52 the neighbour's IPv4 key

	r1 = events ll			# the ring buffer skb.s, fib.s and xdp.s write too
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
