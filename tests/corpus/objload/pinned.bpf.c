/* A map pinned by name: `__uint(pinning, LIBBPF_PIN_BY_NAME)` makes the
 * loader share it through the pin PIN_ROOT/NAME (/sys/fs/bpf/NAME for
 * libbpf by default), reusing the pinned map when it exists and matches.
 * The test renames `shared_count` to a name of its own, so that runs do
 * not meet. Built by tests/tests/loader_map_pinning.rs. */
#include <linux/bpf.h>

#define SEC(n) __attribute__((section(n), used))
#define __uint(name, val) int (*name)[val]
#define __type(name, val) typeof(val) *name
#define LIBBPF_PIN_BY_NAME 1 /* tools/lib/bpf/libbpf.h, enum libbpf_pin_type */

static void *(*bpf_map_lookup_elem)(void *map, const void *key) = (void *)1;

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u64);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} shared_count SEC(".maps");

/* Counts its runs in the shared map and returns the count. */
SEC("tc") int count(struct __sk_buff *skb)
{
	__u32 zero = 0;
	__u64 *n = bpf_map_lookup_elem(&shared_count, &zero);

	if (!n)
		return -1;
	*n += 1;
	return *n;
}

char LICENSE[] SEC("license") = "GPL";
