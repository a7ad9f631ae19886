/* A __hidden global subprogram (STV_HIDDEN, `.hidden read_len` in clang's
 * assembly). Its BTF FUNC is global, so the verifier would check it alone,
 * from its prototype: `p` might then be NULL and `*p` is refused ("invalid
 * mem access 'mem_or_null'"). libbpf marks hidden subprograms static before
 * loading the BTF, so they are verified at each call, where `p` points at
 * the caller's stack; our loader does the same (make_funcs_static in
 * ebpf-asm/src/btf/fixup.rs). Built by tests/tests/loader_hidden.rs. */
#include <linux/bpf.h>

#define SEC(n) __attribute__((section(n), used))
#define __hidden __attribute__((visibility("hidden")))
#define __noinline __attribute__((noinline))

__hidden __noinline int plus_one(int *p)
{
	return *p + 1;
}

/* Returns the packet's length plus one. */
SEC("tc") int hidden_call(struct __sk_buff *skb)
{
	int len = skb->len;

	return plus_one(&len);
}

char LICENSE[] SEC("license") = "GPL";
