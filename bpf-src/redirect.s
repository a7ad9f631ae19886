; redirect.s - the seed's TC ingress program, written by hand in eBPF assembly.
;
; Attached to veth1@2's ingress (clsact, direct-action) in netns_1, it looks for
; IPv4 packets to DEST_IP, rewrites their destination MAC to DEST_MAC (veth2@2's
; address), and hands them to bpf_redirect(), so they leave by TARGET_IFINDEX
; (veth2@1) without ever entering netns_1's IP stack.
;
; The syntax is the kernel's own (kernel/bpf/disasm.c), so this file reads line
; by line beside a verifier log or `bpftool prog dump xlated`. Assemble it with
;     redirect-lab asm bpf-src/redirect.s -D TARGET_IFINDEX=3 -o redirect.o
; Assemble with -D TRACE=1 for the variant that reports each step through
; bpf_trace_printk (read it with `redirect-lab trace`), as the seed's does.
; Its strings are .asciz in .rodata (at the end of the file) and end without
; \n: the kernel's trace event ends each line itself, so a \n of ours would
; print an empty line after every message.
; `.ifdef TRACE` asks whether TRACE is defined, not its value: -D TRACE=0
; builds the trace variant too; leave -D TRACE out for the plain one.
; `redirect-lab asm` warns about a -D name this file never uses (a typo).

	.section tc
	.license "GPL"		# the seed's; bpf_redirect needs none, but the TRACE variant's
				; bpf_trace_printk is GPL-only: without GPL the verifier says
				; "cannot call GPL-restricted function"
	.name redirect

; The seed's hard-coded values, as named constants. `-D NAME=VALUE` overrides them.
	.equ TARGET_IFINDEX, 3		# veth2@1; `redirect-lab up` resolves the real one by name
	.equ REDIRECT_FLAGS, 0		# 0: transmit out of the target; 1 = BPF_F_INGRESS: receive on it
	.equ DEST_IP, 0x0a00020b	# 10.0.2.11, as a number (host order)
	.equ DEST_MAC, 0x020000000000	# 02:00:00:00:00:00, veth2@2's address, as a 48-bit number

; Values from the kernel's headers.
	.equ ETH_P_IP, 0x0800		# include/uapi/linux/if_ether.h
	.equ TC_ACT_OK, 0		# include/uapi/linux/pkt_cls.h

; r1 holds the context, a struct __sk_buff * (include/uapi/linux/bpf.h). The
; verifier rewrites these two loads into reads of the real sk_buff's fields.
	r6 = *(u32 *)(r1 +76)		# skb->data: the first byte of the Ethernet header
	r7 = *(u32 *)(r1 +80)		# skb->data_end: one past the last byte
.ifdef TRACE
	r1 = msg_handling ll		# "redirect: handling packet" (26 bytes with NUL), in .rodata
	r2 = 26
	call bpf_trace_printk
.endif
; Bounds check. The verifier refuses any packet read it cannot prove lies before
; data_end, so first prove that the Ethernet header (14 bytes) and the fixed part
; of the IPv4 header (20 bytes) are there: data + 34 <= data_end.
	r2 = r6
	r2 += 34
	if r2 > r7 goto pass		# too short to be our packet: let it through
; struct ethhdr: h_dest at 0, h_source at 6, h_proto at 12.
	r8 = *(u16 *)(r6 +12)		# h_proto, still in network byte order
.ifdef TRACE
	r1 = msg_ethernet ll		# "redirect: checking ethernet header for IPv4 proto: %x" (54 bytes with NUL), in .rodata
	r2 = 54
	r3 = r8			# the %x argument: h_proto ...
	r3 = be16 r3		# ... converted to host order, like bpf_ntohs()
	call bpf_trace_printk
.endif
; The packet holds h_proto big-endian; a little-endian load sees its bytes
; swapped. Rather than swap the packet's value at run time (bpf_ntohs), swap the
; constant once, at assembly time: htons(0x0800) is 0x0008 here.
	if w8 != htons(ETH_P_IP) goto pass	# not IPv4 (ARP, IPv6, VLAN...): let it through
; struct iphdr follows at 14; daddr is at offset 16 in it, 30 in the frame.
	r8 = *(u32 *)(r6 +30)		# daddr, network byte order
.ifdef TRACE
	r1 = msg_daddr ll		# "redirect: checking destination address: %x" (43 bytes with NUL), in .rodata
	r2 = 43
	r3 = r8			# the %x argument: daddr ...
	r3 = be32 r3		# ... in host order, like bpf_ntohl()
	call bpf_trace_printk
.endif
; A 32-bit compare (w8), since the u32 load zero-extends while a 64-bit compare
; would sign-extend the immediate: wrong for addresses whose swapped value has
; its top bit set.
	if w8 != htonl(DEST_IP) goto pass
; Rewrite the destination MAC. Without it, veth2@2 receives a frame addressed to
; veth1@2's MAC, marks it PACKET_OTHERHOST and drops it. Six bytes as one 4-byte
; and one 2-byte store of immediates, the MAC's bytes in memory order.
.ifdef TRACE
	r1 = msg_rewrite ll		# "redirect: rewriting destination MAC" (36 bytes with NUL), in .rodata
	r2 = 36
	call bpf_trace_printk
.endif
.ifndef KEEP_DEST_MAC
	*(u32 *)(r6 +0) = htonl(DEST_MAC >> 16)		# h_dest[0..4]
	*(u16 *)(r6 +4) = htons(DEST_MAC & 0xffff)	# h_dest[4..6]
.endif
.ifdef TRACE
	r1 = msg_redirect ll		# "redirect: performing redirect" (30 bytes with NUL), in .rodata
	r2 = 30
	call bpf_trace_printk
.endif
; bpf_redirect(ifindex, flags) only records the target and returns
; TC_ACT_REDIRECT (7), or TC_ACT_SHOT (2) for flags it does not know; TC then
; does the redirect after the program returns (skb_do_redirect).
	r1 = TARGET_IFINDEX
	r2 = REDIRECT_FLAGS
	call bpf_redirect
.ifdef TRACE
	r8 = r0				# keep the verdict: calls clobber r0-r5
	r1 = msg_result ll		# "redirect: result: %d" (21 bytes with NUL), in .rodata
	r2 = 21
	r3 = r8			# the %d argument: what bpf_redirect returned
	call bpf_trace_printk
	r0 = r8
.endif
	exit				# r0 = what bpf_redirect returned
pass:
	r0 = TC_ACT_OK			# hand the packet to netns_1's stack unchanged
	exit
.ifdef TRACE

; The trace messages, NUL-terminated, in .rodata. Each `r1 = msg_... ll` above
; is an lddw the loader relocates to a pointer into the .rodata map
; (BPF_PSEUDO_MAP_VALUE + the string's offset); the map is frozen and
; read-only for programs (BPF_F_RDONLY_PROG), so bpf_trace_printk takes the
; strings as constants, as it does clang's.
	.section .rodata
msg_handling:
	.asciz "redirect: handling packet"
msg_ethernet:
	.asciz "redirect: checking ethernet header for IPv4 proto: %x"
msg_daddr:
	.asciz "redirect: checking destination address: %x"
msg_rewrite:
	.asciz "redirect: rewriting destination MAC"
msg_redirect:
	.asciz "redirect: performing redirect"
msg_result:
	.asciz "redirect: result: %d"
.endif
