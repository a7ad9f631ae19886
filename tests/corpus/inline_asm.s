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
