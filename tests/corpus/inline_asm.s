# inline_asm.s - text written the way the kernel selftests write naked
# functions in inline asm (tools/testing/selftests/bpf/progs/verifier_*.c,
# as clang passes them to the assembler): `;` between statements, numeric
# local labels, raw `.8byte` slots, calls to helpers, kfuncs and
# subprograms, map references. Written for tests/tests/asm_llvm_files.rs,
# which compares our object with llvm-mc-19's.
	.text
	.section	"socket",  "ax",@progbits
	.globl	loop_sum
	.p2align	3
	.type	loop_sum,@function
loop_sum:
	r0 = 0; r1 = 10;
1:	r0 += r1; r1 -= 1; if r1 != 0 goto 1b;
	if r0 == 55 goto 1f; r0 = -1;
1:	exit
.Lfunc_end0:
	.size	loop_sum, .Lfunc_end0-loop_sum

	.section	"tc",  "ax",@progbits
	.globl	raw_slots
	.p2align	3
	.type	raw_slots,@function
raw_slots:
	.8byte 0x00000001000000b7	# r0 = 1, as raw bytes
	r1 = 0xffffffff00000000LL ll
	r2 = 0xffffffff
	w3 = -1; r3 <<= 32; r3 s>>= 32
	call bpf_kfunc_call_test_acquire
	r1 = r0
	call bpf_kfunc_call_test_release
	call subprog
	r1 = map_hash_8b ll
	r2 = r10; r2 += -8; r3 = 0; *(u64 *)(r2 + 0) = r3
	call 1
	exit
.Lfunc_end1:
	.size	raw_slots, .Lfunc_end1-raw_slots

	.text
	.p2align	3
	.type	subprog,@function
subprog:
	r0 = *(u32 *)(r1 + 0)
	w0 = w0
	if w0 s> 7 goto l0_12
	r0 = 7
l0_12:
	exit
.Lfunc_end2:
	.size	subprog, .Lfunc_end2-subprog


# verifier_*.c style: map lookups with helper ids, stack writes, atomics,
# the v4 instructions (sign extension, bswap, sdiv/smod, gotol, may_goto)
# and an arena cast.
	.section	"socket","ax",@progbits
	.globl	lookup_and_count
	.p2align	3
	.type	lookup_and_count,@function
lookup_and_count:
	r1 = 0;
	*(u64*)(r10 - 8) = r1;
	r2 = r10;
	r2 += -8;
	r1 = map_hash_8b ll;
	call 1;
	if r0 == 0 goto l0_7;
	r1 = 1;
	lock *(u64 *)(r0 + 0) += r1;
	r1 = atomic_fetch_add((u64 *)(r0 + 0), r1);
	w2 = 2;
	w2 = atomic_fetch_or((u32 *)(r0 + 0), w2);
	r3 = xchg_64(r0 + 0, r3);
	r0 = cmpxchg_64(r0 + 0, r0, r3);
l0_7:
	r0 = 0;
	exit;
.Lfunc_end3:
	.size	lookup_and_count, .Lfunc_end3-lookup_and_count

	.globl	v4_ops
	.p2align	3
	.type	v4_ops,@function
v4_ops:
	r0 = *(s8 *)(r1 + 0); r2 = *(s16 *)(r1 + 2); r3 = *(s32 *)(r1 + 4)
	r0 = (s8)r2; r0 = (s16)r3; r0 = (s32)r3; w0 = (s8)w2; w0 = (s16)w3
	r0 = bswap16 r0; r0 = bswap32 r0; r0 = bswap64 r0
	r0 = be16 r0; r0 = le32 r0
	r0 s/= r2; r0 s%= 3; w0 s/= w2; w0 s%= -3
	gotol 2f
	r0 = 1
2:	may_goto 3f
	r0 = addr_space_cast(r1, 0, 1)
	r1 = addr_space_cast(r1, 1, 0)
3:	w0 = -w0; r0 = -r0
	if w0 s> -1 goto 4f
	r0 = 0x7fffffff
4:	r0 = 0
	exit
.Lfunc_end4:
	.size	v4_ops, .Lfunc_end4-v4_ops

# a string and a counter, referenced from code the way selftests do with
# `%[fmt] ll`; `.L` labels become section-symbol relocations.
	.section	.rodata.str1.1,"aMS",@progbits,1
.L.fmt:
	.asciz	"val %d\n"
	.section	.data,"aw",@progbits
	.globl	counter
	.p2align	3
counter:
	.quad	0
	.size	counter, 8
	.type	counter,@object
	.section	"tc",  "ax",@progbits
	.globl	printk_like
	.p2align	3
	.type	printk_like,@function
printk_like:
	r1 = .L.fmt ll
	r2 = 8
	r3 = counter ll
	r3 = *(u64 *)(r3 + 0)
	call 6
	r0 = 0
	exit
.Lfunc_end5:
	.size	printk_like, .Lfunc_end5-printk_like

# verifier_ld_ind.c / verifier_jeq_infer_not_null.c style: legacy packet
# loads, jmp32 conditions, an lddw written as two raw slots, callx.
	.section	"tc","ax",@progbits
	.globl	legacy_and_jmp32
	.p2align	3
	.type	legacy_and_jmp32,@function
legacy_and_jmp32:
	r6 = r1; r0 = *(u8 *)skb[12]; r0 = *(u16 *)skb[r1]; r0 = *(u32 *)skb[0]
	.8byte 0x0000000000001118; .8byte 0x0000000000000000
	w1 = 7
	if w1 == 7 goto l1_3; if w1 != w2 goto l1_3; if w1 s< -5 goto l1_3
	if w1 & 0x10 goto l1_3; if r1 s>= r2 goto l1_3; if r1 <= 0x7fffffff goto l1_3
	callx r6
l1_3:
	w0 = 0; exit
.Lfunc_end6:
	.size	legacy_and_jmp32, .Lfunc_end6-legacy_and_jmp32

	.section	".maps","aw",@progbits
	.globl	map_hash_8b
	.p2align	3
map_hash_8b:
	.zero	32
	.size	map_hash_8b, 32
	.type	map_hash_8b,@object

	.section	"license","aw",@progbits
	.globl	_license
_license:
	.asciz	"GPL"
	.size	_license, 4
	.type	_license,@object
