# two_progs.s - the object tests/tests/loader_object_bpftool.rs hands to
# libbpf (`bpftool prog loadall`) and to `redirect-lab load`: two programs,
# a ring buffer and a devmap declared on one line each (`.map`: the .maps
# entry and the BTF clang writes for the same declaration), and a .rodata
# string that bpf_trace_printk prints.

	.map events, BPF_MAP_TYPE_RINGBUF, max_entries=4096
	.map ports, BPF_MAP_TYPE_DEVMAP, key=4, value=4, max_entries=8

	.section .rodata
	.type msg,@object		# a named object: a VAR in .rodata's DATASEC
msg:
	.asciz "ours: %u bytes\n"
	.size msg, .-msg

	.section tc
	.license "GPL"
	.globl tc_log
	.type tc_log,@function
tc_log:
	r6 = *(u32 *)(r1 +0)		# skb->len
	r1 = msg ll			# the .rodata string
	r2 = 16				# its size, NUL included
	r3 = r6
	call bpf_trace_printk
	*(u32 *)(r10 -8) = r6
	r1 = events ll
	r2 = r10
	r2 += -8
	r3 = 4
	r4 = 0
	call bpf_ringbuf_output
	r0 = 0
	exit
	.size tc_log, .-tc_log		# libbpf wants each program's size

	.section xdp
	.globl xdp_fwd
	.type xdp_fwd,@function
xdp_fwd:
	r1 = ports ll
	r2 = 0				# slot 0
	r3 = 2				# empty slot: XDP_PASS
	call bpf_redirect_map
	exit
	.size xdp_fwd, .-xdp_fwd
