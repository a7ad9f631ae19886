// SPDX-License-Identifier: GPL-2.0
/*
 * redirect.bpf.c - the C reference for bpf-src/redirect.s.
 *
 * The same logic as the seed's program, written in its style but with no
 * libbpf and no vmlinux.h: only the kernel's uapi headers. The lab never needs
 * it; the tests build it with clang as a reference, to check that our
 * hand-written assembly gives the same verdicts and packets, in no more
 * instructions.
 *
 *   clang -O2 -target bpf -I/usr/include/$(gcc -print-multiarch) \
 *         [-DTRACE] [-DTARGET_IFINDEX=3] [-DREDIRECT_FLAGS=1] \
 *         -c redirect.bpf.c -o redirect.bpf.o
 */
#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/ip.h>
#include <linux/pkt_cls.h>

#ifndef TARGET_IFINDEX
#define TARGET_IFINDEX 3		/* veth2@1 */
#endif
#ifndef REDIRECT_FLAGS
#define REDIRECT_FLAGS 0		/* or BPF_F_INGRESS */
#endif
#ifndef DEST_IP
#define DEST_IP 0x0a00020b		/* 10.0.2.11 */
#endif

#define SEC(name) __attribute__((section(name), used))

/* Helpers are called by number; the ids are the kernel's (include/uapi/linux/bpf.h). */
static long (*bpf_trace_printk)(const char *fmt, __u32 fmt_size, ...) = (void *)BPF_FUNC_trace_printk;
static long (*bpf_redirect)(__u32 ifindex, __u64 flags) = (void *)BPF_FUNC_redirect;

#ifdef TRACE
/* Like libbpf's bpf_printk: the format lives in .rodata. */
#define bpf_printk(fmt, ...)                                              \
	({                                                                \
		static const char ____fmt[] = fmt;                        \
		bpf_trace_printk(____fmt, sizeof(____fmt), ##__VA_ARGS__); \
	})
#else
#define bpf_printk(fmt, ...) ((void)0)
#endif

SEC("tc")
int redirect(struct __sk_buff *ctx)
{
	void *data_end = (void *)(long)ctx->data_end;
	void *data = (void *)(long)ctx->data;
	struct ethhdr *eth = data;
	struct iphdr *ipv4 = data + sizeof(struct ethhdr);
	long ret;

	bpf_printk("redirect: handling packet");

	/* The verifier demands proof that both headers lie inside the packet. */
	if (data + sizeof(struct ethhdr) + sizeof(struct iphdr) > data_end)
		return TC_ACT_OK;

	bpf_printk("redirect: checking ethernet header for IPv4 proto: %x",
		   __builtin_bswap16(eth->h_proto));
	if (eth->h_proto != __builtin_bswap16(ETH_P_IP))
		return TC_ACT_OK;

	bpf_printk("redirect: checking destination address: %x",
		   __builtin_bswap32(ipv4->daddr));
	if (ipv4->daddr != __builtin_bswap32(DEST_IP))
		return TC_ACT_OK;

	bpf_printk("redirect: rewriting destination MAC");
#ifndef KEEP_DEST_MAC
	eth->h_dest[0] = 0x02;
	eth->h_dest[1] = 0x00;
	eth->h_dest[2] = 0x00;
	eth->h_dest[3] = 0x00;
	eth->h_dest[4] = 0x00;
	eth->h_dest[5] = 0x00;
#endif

	bpf_printk("redirect: performing redirect");
	ret = bpf_redirect(TARGET_IFINDEX, REDIRECT_FLAGS);

	bpf_printk("redirect: result: %d", ret);
	return ret;
}

char _license[] SEC("license") = "GPL";
