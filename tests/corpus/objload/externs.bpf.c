/* Externs the loader resolves against the running kernel
 * (loader/src/bpf/ksym.rs): a kfunc, a weak kfunc no kernel has, a typed
 * per-CPU ksym and a typeless ksym. Built by tests/tests/loader_externs.rs
 * with clang-19; no CO-RE (no preserve_access_index), so only the externs
 * are under test. */
#include <linux/bpf.h>

#define SEC(n) __attribute__((section(n), used))
#define __ksym __attribute__((section(".ksyms")))
#define __weak __attribute__((weak))

/* kfunc (kernel/bpf/helpers.c, 6.3+, every program type) */
extern void *bpf_cast_to_kern_ctx(void *ctx) __ksym;
/* no kernel defines it: left 0, and its call is dead code */
extern int bpf_lab_no_such_kfunc(void *ctx) __ksym __weak;
/* a per-CPU variable, so it is a VAR in vmlinux BTF (kernel/sched/core.c).
 * Its type must agree with the kernel's by kind (libbpf's
 * bpf_core_types_are_compat, which our loader applies too): a forward
 * declaration `struct rq;` is a FWD, not a STRUCT, and is refused. */
struct rq {
	int opaque;
};
extern const struct rq runqueues __ksym;
/* typeless: its address from /proc/kallsyms (a text symbol: kernels
 * without CONFIG_KALLSYMS_ALL, this host's, list no data symbols) */
extern const void _text __ksym;

static void *(*bpf_this_cpu_ptr)(const void *percpu_ptr) = (void *)154;

/* Each extern that resolved sets one bit of the return value. */
SEC("tc") int externs(struct __sk_buff *ctx)
{
	int r = 0;

	if (bpf_cast_to_kern_ctx(ctx))
		r |= 1;
	if (bpf_lab_no_such_kfunc)
		r |= 2 | bpf_lab_no_such_kfunc(ctx);
	/* a kernel address: its top byte is 0xff */
	if (((unsigned long)&_text >> 56) == 0xff)
		r |= 8;
	return r;
}

/* Its own program: the kernel finds a typed ksym by BTF id, then its
 * address with kallsyms_lookup_name, which on kernels built without
 * CONFIG_KALLSYMS_ALL (this host's) knows no data symbol. */
SEC("tc") int percpu(struct __sk_buff *ctx)
{
	return bpf_this_cpu_ptr(&runqueues) ? 4 : 0;
}

/* A kfunc no kernel has, not weak: the load must be refused by name. */
extern int bpf_lab_missing_kfunc(void *ctx) __ksym;

SEC("tc") int strict(struct __sk_buff *ctx)
{
	return bpf_lab_missing_kfunc(ctx);
}

char LICENSE[] SEC("license") = "GPL";
