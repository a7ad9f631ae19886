// SPDX-License-Identifier: GPL-2.0
/*
 * two_programs_maps.bpf.c - the maps of two_programs.s written in C, for
 * tests/tests/asm_map_btf.rs: clang-19's BTF for these declarations is
 * what `.map` must write.
 */
#include "mini_bpf.h"

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 4096);
} events SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_DEVMAP);
	__uint(key_size, 4);
	__uint(value_size, 4);
	__uint(max_entries, 8);
} ports SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(key_size, 4);
	__uint(value_size, 8);
	__uint(max_entries, 64);
} counts SEC(".maps");

char _license[] SEC("license") = "GPL";
