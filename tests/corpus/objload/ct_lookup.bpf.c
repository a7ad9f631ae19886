/* A kfunc that lives in a module on Debian's kernels: nf_conntrack's
 * bpf_skb_ct_lookup (net/netfilter/nf_conntrack_bpf.c, 5.18+). Where
 * conntrack is built in, its FUNC is in vmlinux BTF; where it is a module,
 * in /sys/kernel/btf/nf_conntrack, and the call must name that module's BTF
 * through fd_array (off = its index). The tuple below is in no conntrack
 * table, so the lookup fails, returns NULL and writes -ENOENT to
 * opts.error, which the program returns: a value only the kfunc can give.
 * Built by tests/tests/loader_kfunc_module.rs and the kernel matrix. */
#include <linux/bpf.h>
#include <linux/in.h>

#define SEC(n) __attribute__((section(n), used))
#define __ksym __attribute__((section(".ksyms")))

/* struct bpf_ct_opts of net/netfilter/nf_conntrack_bpf.c, in the 12-byte
 * form every kernel with the kfunc accepts (NF_BPF_CT_OPTS_SZ 12). */
struct bpf_ct_opts {
	__s32 netns_id;
	__s32 error;
	__u8 l4proto;
	__u8 dir;
	__u8 reserved[2];
};

#define BPF_F_CURRENT_NETNS (-1)

/* libbpf checks an extern's prototype against the kernel's kind by kind,
 * and a forward declaration is not a STRUCT: so nf_conn is one, with a
 * member that is never read (the program only passes the pointer on). */
struct nf_conn {
	int opaque;
};

extern struct nf_conn *bpf_skb_ct_lookup(struct __sk_buff *skb, struct bpf_sock_tuple *tuple,
					 __u32 tuple_size, struct bpf_ct_opts *opts,
					 __u32 opts_size) __ksym;
extern void bpf_ct_release(struct nf_conn *ct) __ksym;

SEC("tc") int ct_lookup(struct __sk_buff *skb)
{
	struct bpf_sock_tuple tuple = {
		.ipv4 = {
			.saddr = 0x0b02000a, /* 10.0.2.11, network order */
			.daddr = 0x0b01000a, /* 10.0.1.11 */
			.sport = 0x3930,     /* 12345 */
			.dport = 0x3930,
		},
	};
	struct bpf_ct_opts opts = {
		.netns_id = BPF_F_CURRENT_NETNS,
		.l4proto = IPPROTO_TCP,
	};
	struct nf_conn *ct;

	ct = bpf_skb_ct_lookup(skb, &tuple, sizeof(tuple.ipv4), &opts, sizeof(opts));
	if (ct) {
		bpf_ct_release(ct);
		return 1;
	}
	return opts.error;
}

char LICENSE[] SEC("license") = "GPL";
