// SPDX-License-Identifier: GPL-2.0
/*
 * two_progs.bpf.c - one object with everything `redirect-lab load` must
 * handle, for tests/tests/loader_object.rs (compiled there with
 * clang-19 -O2 -g -target bpf -mcpu=v3):
 *
 * - two programs, `tc_count` (SEC("tc")) and `xdp_redirect` (SEC("xdp"));
 * - four BTF-defined maps in .maps: a ring buffer, a devmap, a devmap_hash
 *   and a hash;
 * - .rodata: a format string for bpf_trace_printk and a `const volatile`
 *   global, `verdict`, that `--set verdict=N` changes before the load;
 * - .bss: a counter;
 * - a subprogram, `bump`, that the compiler keeps out of line (noinline),
 *   in .text, called from both programs: the loader links a copy into each.
 *
 * No libbpf headers: the few declarations needed are written here, the way
 * bpf_helpers.h spells them (helper ids from enum bpf_func_id, bpf.h).
 */
#include <linux/bpf.h>

#define SEC(name) __attribute__((section(name), used))
#define __uint(name, val) int (*name)[val]
#define __type(name, val) typeof(val) *name

static void *(*bpf_map_lookup_elem)(void *map, const void *key) = (void *)1;
static long (*bpf_map_update_elem)(void *map, const void *key, const void *value,
				   __u64 flags) = (void *)2;
static long (*bpf_trace_printk)(const char *fmt, __u32 fmt_size, ...) = (void *)6;
static long (*bpf_redirect_map)(void *map, __u64 key, __u64 flags) = (void *)51;
static long (*bpf_ringbuf_output)(void *ringbuf, void *data, __u64 size,
				  __u64 flags) = (void *)130;

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 4096);
} events SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_DEVMAP);
	__uint(max_entries, 8);
	__type(key, __u32);
	__type(value, __u32);
} ports SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_DEVMAP_HASH);
	__uint(max_entries, 4);
	__type(key, __u32);
	__type(value, __u32);
} ports_by_ifindex SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 64);
	__type(key, __u32);
	__type(value, __u64);
	__uint(map_flags, BPF_F_NO_PREALLOC);
} counts SEC(".maps");

/* .rodata: 0 unless the loader is told otherwise (--set verdict=N). */
const volatile __u32 verdict = 0;
/* .rodata too: the string bpf_trace_printk prints (a constant in a frozen map). */
const char greeting[] = "objload: tc saw %u bytes";
/* .bss */
__u64 seen;

/* Counts calls per key in `counts`; returns the new count. */
static __attribute__((noinline)) int bump(__u32 key)
{
	__u64 one = 1, *v = bpf_map_lookup_elem(&counts, &key);

	if (v) {
		*v += 1;
		return (int)*v;
	}
	bpf_map_update_elem(&counts, &key, &one, BPF_ANY);
	return 1;
}

/* 100 * (how often a packet of this length was seen) + verdict. */
SEC("tc")
int tc_count(struct __sk_buff *skb)
{
	__u32 len = skb->len;

	bpf_trace_printk(greeting, sizeof(greeting), len);
	bpf_ringbuf_output(&events, &len, sizeof(len), 0);
	seen++;
	return bump(len) * 100 + verdict;
}

/* XDP_PASS when verdict is 0; else a redirect through slot 0 of `ports`,
 * which falls back to XDP_DROP (the flags' low bits) while the slot is empty. */
SEC("xdp")
int xdp_redirect(struct xdp_md *ctx)
{
	if (bump(7) > 1000)
		return bpf_redirect_map(&ports_by_ifindex, 1, XDP_ABORTED);
	if (verdict == 0)
		return XDP_PASS;
	return bpf_redirect_map(&ports, 0, XDP_DROP);
}

char LICENSE[] SEC("license") = "GPL";
