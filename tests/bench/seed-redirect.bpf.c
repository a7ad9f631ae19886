// SPDX-License-Identifier: GPL-2.0
/*
 * seed-redirect.bpf.c - the seed's program as the seed builds it: against a
 * vmlinux.h dumped from the running kernel's BTF, with bpf_printk tracing,
 * compiled by clang -O2 -g3. Only `make bench` uses it, to time the seed's
 * path (tests/bench/seed-up.sh) against `redirect-lab up`.
 *
 * The seed also includes libbpf's bpf_helpers.h and bpf_endian.h; libbpf's
 * headers are not installed here, so the three things it takes from them
 * (SEC, bpf_printk, byte swaps) are spelled out below. The work clang does
 * is the same: parsing the whole vmlinux.h is what makes this path slow.
 */
#include "vmlinux.h"

#define ETH_P_IP 0x0800
#define TC_ACT_OK 0
#define TARGET_INTF 3		/* veth2@1 in a fresh netns_1: lo=1, veth1@2=2 */
#define DEST_IP 0x0a00020b	/* 10.0.2.11 */

#define SEC(name) __attribute__((section(name), used))
#define bpf_ntohs(x) __builtin_bswap16(x)
#define bpf_ntohl(x) __builtin_bswap32(x)

static long (*bpf_trace_printk)(const char *fmt, __u32 fmt_size, ...) = (void *)BPF_FUNC_trace_printk;
static long (*bpf_redirect)(__u32 ifindex, __u64 flags) = (void *)BPF_FUNC_redirect;

#define bpf_printk(fmt, ...)                                              \
	({                                                                \
		static const char ____fmt[] = fmt;                        \
		bpf_trace_printk(____fmt, sizeof(____fmt), ##__VA_ARGS__); \
	})

SEC("tc")
int redirect(struct __sk_buff *ctx)
{
	void *data_end = (void *)(__u64)(ctx->data_end);
	void *data = (void *)(__u64)(ctx->data);
	struct ethhdr *eth;
	struct iphdr *ipv4;
	int ret;

	bpf_printk("redirect: handling packet\n");
	if (data + sizeof(struct ethhdr) + sizeof(struct iphdr) > data_end)
		return TC_ACT_OK;
	eth = data;
	ipv4 = data + sizeof(struct ethhdr);

	bpf_printk("redirect: checking ethernet header for IPv4 proto: %x\n", bpf_ntohs(eth->h_proto));
	if (bpf_ntohs(eth->h_proto) != ETH_P_IP)
		return TC_ACT_OK;

	bpf_printk("redirect: checking destination address is 10.0.2.11\n");
	if (bpf_ntohl(ipv4->daddr) != DEST_IP)
		return TC_ACT_OK;

	bpf_printk("redirect: rewriting destination MAC\n");
	eth->h_dest[0] = 0x02;
	eth->h_dest[1] = 0x00;
	eth->h_dest[2] = 0x00;
	eth->h_dest[3] = 0x00;
	eth->h_dest[4] = 0x00;
	eth->h_dest[5] = 0x00;

	bpf_printk("redirect: performing redirect\n");
	ret = bpf_redirect(TARGET_INTF, 0);

	bpf_printk("redirect: result: %d\n", ret);
	return ret;
}

char _license[] SEC("license") = "GPL";
