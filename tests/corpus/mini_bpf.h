/* SPDX-License-Identifier: GPL-2.0 */
/*
 * mini_bpf.h - the few uapi declarations the corpus programs need, written
 * here because libbpf's headers are not installed: integer types, the
 * contexts (include/uapi/linux/bpf.h), helper ids (enum bpf_func_id, same
 * header) and libbpf's map-definition macros (tools/lib/bpf/bpf_helpers.h
 * defines __uint/__type/SEC the same way).
 */
#ifndef MINI_BPF_H
#define MINI_BPF_H

typedef unsigned char __u8;
typedef unsigned short __u16;
typedef unsigned int __u32;
typedef unsigned long long __u64;
typedef int __s32;
typedef long long __s64;

struct __sk_buff {
	__u32 len, pkt_type, mark, queue_mapping, protocol, vlan_present;
	__u32 vlan_tci, vlan_proto, priority, ingress_ifindex, ifindex, tc_index;
	__u32 cb[5];
	__u32 hash, tc_classid, data, data_end;
};

struct xdp_md {
	__u32 data, data_end, data_meta, ingress_ifindex, rx_queue_index;
	__u32 egress_ifindex;
};

/* enum bpf_map_type */
#define BPF_MAP_TYPE_HASH 1
#define BPF_MAP_TYPE_ARRAY 2
#define BPF_MAP_TYPE_PERCPU_ARRAY 6
#define BPF_MAP_TYPE_DEVMAP 14
#define BPF_MAP_TYPE_RINGBUF 27

#define SEC(name) __attribute__((section(name), used))
#define __uint(name, val) int (*name)[val]
#define __type(name, val) typeof(val) *name
#define __noinline __attribute__((noinline))
#define __ksym __attribute__((section(".ksyms")))

/* enum bpf_func_id */
static void *(*bpf_map_lookup_elem)(void *map, const void *key) = (void *)1;
static long (*bpf_map_update_elem)(void *map, const void *key, const void *value, __u64 flags) = (void *)2;
static __u64 (*bpf_ktime_get_ns)(void) = (void *)5;
static long (*bpf_trace_printk)(const char *fmt, __u32 fmt_size, ...) = (void *)6;
static __u64 (*bpf_get_current_pid_tgid)(void) = (void *)14;
static long (*bpf_redirect)(__u32 ifindex, __u64 flags) = (void *)23;
static long (*bpf_redirect_map)(void *map, __u64 key, __u64 flags) = (void *)51;
static long (*bpf_ringbuf_output)(void *ringbuf, void *data, __u64 size, __u64 flags) = (void *)130;
static void *(*bpf_ringbuf_reserve)(void *ringbuf, __u64 size, __u64 flags) = (void *)131;
static void (*bpf_ringbuf_submit)(void *data, __u64 flags) = (void *)132;
static long (*bpf_loop)(__u32 nr_loops, void *callback_fn, void *callback_ctx, __u64 flags) = (void *)181;

#define bpf_printk(fmt, ...)                                              \
	({                                                                \
		static const char ____fmt[] = fmt;                        \
		bpf_trace_printk(____fmt, sizeof(____fmt), ##__VA_ARGS__); \
	})

#endif
