// SPDX-License-Identifier: GPL-2.0
/*
 * btf_samples.bpf.c - C whose BTF exercises every kind clang emits, for the
 * byte-identical re-encode test in ebpf-asm/tests/btf.rs: several programs,
 * a subprogram, .maps with __uint and __type, .rodata strings, a
 * const volatile global, bitfields, enums (32 and 64 bit), unions, float,
 * typedefs and the volatile/const/restrict modifiers, decl and type tags.
 * No libbpf: only uapi headers and a few macros written here.
 */
#include <linux/bpf.h>

#define SEC(n) __attribute__((section(n), used))
#define __uint(name, val) int (*name)[val]
#define __type(name, val) typeof(val) *name

static void *(*bpf_map_lookup_elem)(void *map, const void *key) = (void *)1;
static long (*bpf_trace_printk)(const char *fmt, __u32 fmt_size, ...) = (void *)6;
#define bpf_printk(fmt, ...) ({ static const char ____fmt[] = fmt; \
	bpf_trace_printk(____fmt, sizeof(____fmt), ##__VA_ARGS__); })

enum colour { RED, GREEN = 5, BLUE = -1 };
enum wide { HUGE = 0x100000000ULL };
typedef unsigned int u32_t;

struct bits {
	unsigned int a : 3;
	unsigned int b : 5;
	int c;
	union { float f; double d; } u;
	enum colour col;
	enum wide w;
	const volatile u32_t *restrict p;
	int __attribute__((btf_type_tag("user"))) *tagged;
} __attribute__((btf_decl_tag("sample")));

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 4);
	__type(key, __u32);
	__type(value, struct bits);
} values SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 4096);
} events SEC(".maps");

const volatile __u32 threshold = 7;
__u64 hits;

static __attribute__((noinline)) int scale(int x)
{
	return x * (int)threshold;
}

SEC("tc")
int tc_prog(struct __sk_buff *skb)
{
	__u32 k = 0;
	struct bits *b = bpf_map_lookup_elem(&values, &k);

	if (b)
		b->a = skb->len & 7;
	bpf_printk("len %d", skb->len);
	hits++;
	return scale(skb->len) > 100;
}

SEC("xdp")
int xdp_prog(struct xdp_md *ctx)
{
	bpf_printk("xdp %d", ctx->ingress_ifindex);
	return XDP_PASS;
}

char LICENSE[] SEC("license") = "GPL";
