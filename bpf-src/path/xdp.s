; path/xdp.s - the path tracer for the xdp_redirect and xdp_redirect_err
; tracepoints.
;
; xdp_redirect(const struct net_device *dev, const struct bpf_prog *xdp,
;              const void *tgt, int err, ...)
; fires when an XDP program's bpf_redirect is carried out (xdp_do_redirect,
; or xdp_do_generic_redirect in generic mode), _err when it failed. It
; carries no packet, only the device the XDP program ran on, so there is no
; 5-tuple to filter by here: the event is placed by that device's ifindex
; and netns (dev->nd_net.net->ns.inum), and `path` keeps only those in the
; lab's namespaces. The tail of the argument list differs between kernels
; (5.10 passes the map, newer kernels its type and id); only dev and err
; are read, at positions found in BTF. The event's skb field is 0; its
; reason field holds err (0, or the negative errno of _err).
;
; -D constants, all from vmlinux BTF at run time: HOOK, DEV_ARG_OFF,
; ERR_ARG_OFF (8 * argument position), DEV_IFINDEX, DEV_NET, NET_INUM.

	.section tracing
	.license "GPL"
	.name path_xdp

	r9 = r1
	r6 = *(u64 *)(r1 +DEV_ARG_OFF)	# const struct net_device *
	if r6 == 0 goto out

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
	r2 = *(u32 *)(r6 +DEV_IFINDEX)
	*(u32 *)(r10 -36) = r2		# +28 ifindex: where the XDP program ran
	r7 = *(u64 *)(r6 +DEV_NET)
	if r7 == 0 goto nonet
	r2 = *(u32 *)(r7 +NET_INUM)
	*(u32 *)(r10 -40) = r2		# +24 netns inode
nonet:
	r2 = *(u64 *)(r9 +ERR_ARG_OFF)
	*(u32 *)(r10 -20) = r2		# +44 err

	r1 = events ll			# the ring buffer skb.s and fib.s write too
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
