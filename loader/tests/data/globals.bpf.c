// SPDX-License-Identifier: GPL-2.0
/*
 * globals.bpf.c - global data in all three sections, for the loader's ELF
 * tests: clang puts `answer` in .rodata, `bias` in .data and `runs` in .bss;
 * each becomes a one-entry array map, and every access an lddw with a
 * R_BPF_64_64 relocation that the loader patches to a map-value pointer.
 */
#include <linux/bpf.h>

#define SEC(name) __attribute__((section(name), used))

static const volatile __u32 answer = 40;	/* .rodata: volatile, so not folded */
__u32 bias = 2;					/* .data */
__u64 runs;					/* .bss */

SEC("tc")
int globals(struct __sk_buff *ctx)
{
	runs++;
	return answer + bias;
}

char LICENSE[] SEC("license") = "GPL";
