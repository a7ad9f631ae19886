// SPDX-License-Identifier: GPL-2.0
/*
 * tracing.bpf.c - corpus for tests/tests/asm_llvm_files.rs: three tracing
 * programs sharing one ring buffer, bpf_loop with a callback (a function
 * address: `r2 = callback ll`), a kfunc (an undefined symbol: `call NAME`),
 * several bpf_printk strings and a per-CPU array.
 */
#include "mini_bpf.h"

extern void bpf_rcu_read_lock(void) __ksym;
extern void bpf_rcu_read_unlock(void) __ksym;

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 1 << 16);
} trace_events SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u64);
} drops SEC(".maps");

const volatile __u32 sample_rate = 1;

struct trace_event {
	__u64 pid_tgid;
	__u64 ts;
	__u32 where;
	char tag[12];
};

static int sum_cb(__u32 i, void *ctx)
{
	*(__u64 *)ctx += i;
	return 0;
}

static __noinline int emit(__u32 where)
{
	struct trace_event e = {};

	e.pid_tgid = bpf_get_current_pid_tgid();
	e.ts = bpf_ktime_get_ns();
	e.where = where;
	__builtin_memcpy(e.tag, "path-trace", 11);
	if (bpf_ringbuf_output(&trace_events, &e, sizeof(e), 0)) {
		__u32 k = 0;
		__u64 *d = bpf_map_lookup_elem(&drops, &k);

		if (d)
			*d += 1;
		bpf_printk("ringbuf full at %u", where);
		return 1;
	}
	return 0;
}

SEC("tp/net/netif_receive_skb")
int on_receive(void *ctx)
{
	__u64 sum = 0;

	if (sample_rate == 0)
		return 0;
	bpf_loop(4, sum_cb, &sum, 0);
	bpf_printk("receive sum %llu", sum);
	return emit(1);
}

SEC("kprobe/dev_queue_xmit")
int on_xmit(void *ctx)
{
	bpf_rcu_read_lock();
	emit(2);
	bpf_rcu_read_unlock();
	return 0;
}

SEC("tp_btf/kfree_skb")
int on_drop(__u64 *ctx)
{
	bpf_printk("drop");
	return emit(3);
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
