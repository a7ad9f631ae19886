# Written here in the style of the kernel selftests' naked inline-asm
# functions (tools/testing/selftests/bpf/progs/verifier_*.c), where clang
# joins the asm("...") lines with ';' and C suffixes stay on constants.
# differential.rs assembles it with llvm-mc-19 and with us: same bytes.
	r0 = 0; r1 = 1; r2 = 2; exit
	r1 = 0xffffffff00000000LL ll; r2 = 0x7fffffffULL ll
	r3 = 42UL; r4 = -1L; w5 = 7u
	*(u64 *)(r10 - 8) = r1; r1 = *(u64 *)(r10 - 8);
	r6 = r1; /* a block comment between statements */ r7 = r6; r7 += 1
	if r7 > 0x10ULL goto l0_17; r0 = 1;
l0_17:	r0 += r7; exit;
	/* leading block comment */ r0 = 2 // trailing line comment; not a statement
	exit
