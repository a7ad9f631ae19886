/* Maps of maps and a program array, initialized in C as libbpf reads them:
 * `__array(values, T)` ends a definition with a flexible array of pointers
 * (`typeof(T) *values[]`). For a map of maps, T is the inner maps'
 * definition, from which the loader makes the template the kernel checks
 * inner maps against (`inner_map_fd`); for a PROG_ARRAY, T is a function
 * type. `.values = { [i] = &x }` becomes an R_BPF_64_ABS64 relocation in
 * `.rel.maps` at slot i, which the loader fills with x's fd. Built by
 * tests/tests/loader_map_slots.rs. */
#include <linux/bpf.h>

#define SEC(n) __attribute__((section(n), used))
#define __uint(name, val) int (*name)[val]
#define __type(name, val) typeof(val) *name
#define __array(name, val) typeof(val) *name[]

static void *(*bpf_map_lookup_elem)(void *map, const void *key) = (void *)1;
static long (*bpf_tail_call)(void *ctx, void *prog_array, __u32 index) = (void *)12;

struct counter {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u64);
};

struct counter small SEC(".maps"), large SEC(".maps");

/* Slot 0 counts packets of up to 100 bytes, slot 1 the larger ones. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY_OF_MAPS);
	__uint(max_entries, 2);
	__type(key, __u32);
	__array(values, struct counter);
} by_size SEC(".maps") = {
	.values = { [0] = &small, [1] = &large },
};

/* Returns the count of packets of this size class, this one included. */
SEC("tc") int count_by_size(struct __sk_buff *skb)
{
	__u32 class = skb->len > 100, zero = 0;
	void *inner = bpf_map_lookup_elem(&by_size, &class);
	__u64 *n;

	if (!inner)
		return -1;
	n = bpf_map_lookup_elem(inner, &zero);
	if (!n)
		return -2;
	*n += 1;
	return *n;
}

SEC("tc") int tail_target(struct __sk_buff *skb)
{
	return 42;
}

struct {
	__uint(type, BPF_MAP_TYPE_PROG_ARRAY);
	__uint(max_entries, 2);
	__uint(key_size, sizeof(__u32));
	__array(values, int (void *));
} jumps SEC(".maps") = {
	.values = { [1] = (void *)&tail_target },
};

/* 42 when slot 1 of jumps holds tail_target, else 7 (an empty slot makes
 * bpf_tail_call return and the program go on). */
SEC("tc") int via_tail(struct __sk_buff *skb)
{
	bpf_tail_call(skb, &jumps, 1);
	return 7;
}

char LICENSE[] SEC("license") = "GPL";
