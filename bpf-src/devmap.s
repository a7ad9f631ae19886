; devmap.s - `redirect-lab up --mode devmap`: the XDP redirect, with its target as data.
;
; The same XDP program as xdp.s, except for the last step: instead of
; bpf_redirect(TARGET_IFINDEX, 0), with the target assembled into the code, it
; calls bpf_redirect_map(&ports, KEY, 0) (helper 51, XDP only) on a
; BPF_MAP_TYPE_DEVMAP (14): the ifindex to send to is looked up in the map at
; run time. The map is declared here, on one line (`.map`), as clang declares
; `struct { __uint(type, BPF_MAP_TYPE_DEVMAP); ... } ports SEC(".maps")`: a
; `.maps` entry and its BTF, which libbpf (`bpftool prog loadall`) reads too.
; `redirect-lab up --mode devmap` creates and pins a map of that shape, puts
; veth2@1 at key 0 and loads the program with it in place of the declaration;
; `redirect-lab map set ports 0 DEV` retargets the running lab without
; reloading the program (the program id stays the same).
;
; Devmap redirects are also the fast ones: xdp_do_redirect queues frames per
; device (the devmap's bulk queue, flushed once per NAPI poll) instead of one
; ndo_xdp_xmit call per frame. The lower two bits of the flags are the return
; code when the key has no entry: 0 here, XDP_ABORTED, so an empty slot drops
; (and fires the xdp_exception tracepoint).

	.map ports, BPF_MAP_TYPE_DEVMAP, key=4, value=4, max_entries=4	# ifindexes by slot

	.section xdp
	.license "GPL"
	.name redirect_devmap

	.equ KEY, 0			# the ports slot to use
	.equ DEST_IP, 0x0a00020b	# 10.0.2.11 (host order)
	.equ DEST_MAC, 0x020000000000	# veth2@2's address, as a 48-bit number

	.equ ETH_P_IP, 0x0800		# include/uapi/linux/if_ether.h
	.equ XDP_PASS, 2		# enum xdp_action, include/uapi/linux/bpf.h

	r6 = *(u32 *)(r1 +0)		# xdp_md.data
	r7 = *(u32 *)(r1 +4)		# xdp_md.data_end
	r2 = r6
	r2 += 34			# Ethernet (14) + fixed IPv4 header (20)
	if r2 > r7 goto pass
	r8 = *(u16 *)(r6 +12)		# h_proto, network order
	if w8 != htons(ETH_P_IP) goto pass
	r8 = *(u32 *)(r6 +30)		# iphdr.daddr
	if w8 != htonl(DEST_IP) goto pass
	*(u32 *)(r6 +0) = htonl(DEST_MAC >> 16)		# h_dest[0..4]
	*(u16 *)(r6 +4) = htons(DEST_MAC & 0xffff)	# h_dest[4..6]
; r1 = the map: an lddw the loader patches with the map's fd (BPF_PSEUDO_MAP_FD).
	r1 = ports ll
	r2 = KEY
	r3 = 0				# on a missing key: XDP_ABORTED
	call bpf_redirect_map		# XDP_REDIRECT, or the flags' action
	exit
pass:
	r0 = XDP_PASS
	exit
