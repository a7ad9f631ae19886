# two_programs.s - a hand-written object: two programs (tc, xdp), a ring
# buffer, a devmap and a hash declared with `.map`, and a string in
# .rodata. `asm_map_btf.rs` assembles it with its BTF, checks the maps'
# BTF against clang-19's for the same C declarations, and has libbpf
# (`bpftool prog loadall`) load it.

	.map events, BPF_MAP_TYPE_RINGBUF, max_entries=4096
	.map ports, BPF_MAP_TYPE_DEVMAP, key=4, value=4, max_entries=8
	.map counts, BPF_MAP_TYPE_HASH, key=4, value=8, max_entries=64

	.section .rodata,"a",@progbits
msg:
	.asciz "len %u"
	.size msg, 7
	.type msg,@object

	.section tc,"ax",@progbits
	.globl count
	.p2align 3
	.type count,@function
count:
	r6 = r1
	r1 = msg ll
	r2 = 7
	r3 = *(u32 *)(r6 + 0)
	call bpf_trace_printk
	r3 = *(u32 *)(r6 + 0)
	*(u64 *)(r10 - 8) = r3
	r1 = events ll
	r2 = r10
	r2 += -8
	r3 = 8
	r4 = 0
	call bpf_ringbuf_output
	r0 = 0
	exit
.Lcount_end:
	.size count, .Lcount_end-count

	.section xdp,"ax",@progbits
	.globl to_port
	.p2align 3
	.type to_port,@function
to_port:
	r1 = ports ll
	r2 = 0
	r3 = 2                  # XDP_PASS when the slot is empty
	call bpf_redirect_map
	exit
.Lto_port_end:
	.size to_port, .Lto_port_end-to_port

	.license "GPL"
