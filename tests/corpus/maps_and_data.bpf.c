// SPDX-License-Identifier: GPL-2.0
/*
 * maps_and_data.bpf.c - corpus for tests/tests/asm_llvm_files.rs: two
 * programs in two sections (tc, xdp), ARRAY, HASH, RINGBUF and DEVMAP maps,
 * .rodata strings, const volatile globals, .data and .bss, a static and a
 * global subprogram in .text, bpf_printk and a ring buffer.
 */
#include "mini_bpf.h"

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 4);
	__type(key, __u32);
	__type(value, __u64);
} counters SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 128);
	__type(key, __u32);
	__type(value, __u32);
} seen SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 4096);
} events SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_DEVMAP);
	__uint(key_size, sizeof(__u32));
	__uint(value_size, sizeof(__u32));
	__uint(max_entries, 8);
} ports SEC(".maps");

const volatile __u32 target_ifindex = 3;
const volatile __u64 verbose = 0;
__u64 packets = 1;
__u32 last_len;
char greeting[] = "redirect lab";

struct event {
	__u32 len;
	__u32 ifindex;
	__u64 ts;
};

static __noinline __u32 bump(__u32 key)
{
	__u64 *v = bpf_map_lookup_elem(&counters, &key);

	if (!v)
		return 0;
	__sync_fetch_and_add(v, 1);
	return (__u32)*v;
}

__noinline int classify(__u32 len)
{
	if (len > 1500)
		return 2;
	return len > 64;
}

SEC("tc")
int tc_count(struct __sk_buff *skb)
{
	struct event *e;
	__u32 n = bump(classify(skb->len));

	last_len = skb->len;
	packets++;
	if (verbose)
		bpf_printk("tc: len %u count %u", skb->len, n);
	e = bpf_ringbuf_reserve(&events, sizeof(*e), 0);
	if (!e)
		return 0;
	e->len = skb->len;
	e->ifindex = skb->ifindex;
	e->ts = bpf_ktime_get_ns();
	bpf_ringbuf_submit(e, 0);
	bpf_map_update_elem(&seen, &n, &n, 0);
	if (target_ifindex)
		return bpf_redirect(target_ifindex, 0);
	return 0;
}

SEC("xdp")
int xdp_ports(struct xdp_md *ctx)
{
	__u32 key = ctx->rx_queue_index & 7;

	if (greeting[0] != 'r')
		bpf_printk("%s", greeting);
	bump(key);
	return bpf_redirect_map(&ports, key, 2);
}

char _license[] SEC("license") = "GPL";
