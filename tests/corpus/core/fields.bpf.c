// CO-RE differential fixture (ebpf-asm/tests/core_clang.rs). One source,
// compiled three ways with clang-19 -O2 -g -target bpf:
//   (none)              the "object": CO-RE accesses against the local layout;
//   -DTARGET            the same accesses against the "kernel" layout, so clang
//                       itself computes every relocation's value for it;
//   -DTARGET -DNO_CORE  plain loads against the kernel layout, no relocations.
// Resolving the object's relocations against the -DTARGET object's BTF must
// give the values clang computed there, and the plain loads' offsets.

#ifdef NO_CORE
#define __pai
#else
#define __pai __attribute__((preserve_access_index))
#endif
#define SEC(x) __attribute__((section(x), used))

#ifndef TARGET
enum e { E_A = 1, E_B = 2 };
struct s {
	int a;
	int b;
	unsigned int w;
	unsigned int f : 3, g : 5;
	char arr[4];
	struct {
		int c;
	};
	unsigned long long big;
	int gone;
} __pai;
struct s___v2 {
	int b;
} __pai;
#else
enum e { E_B = 20, E_C = 30, E_A = 10 };
struct s {
	long pad;
	union {
		int a;
		long zz;
	};
	short extra;
	int b;
	unsigned short w;
	char arr[8];
	int c;
	unsigned int x : 9, f : 3, g : 7;
	unsigned int big;
} __pai;
#endif

SEC("tc") int get_a(struct s *p) { return p->a; }
SEC("tc") int get_b(struct s *p) { return p->b; }
SEC("tc") int get_w(struct s *p) { return p->w; }
SEC("tc") int get_c(struct s *p) { return p->c; }
SEC("tc") int get_arr2(struct s *p) { return p->arr[2]; }
SEC("tc") int get_b1(struct s *p) { return p[1].b; }
SEC("tc") long get_big(struct s *p) { return p->big; }

#ifndef NO_CORE
// __builtin_preserve_field_info kinds are enum bpf_core_relo_kind 0-5.
SEC("tc") long g_info(struct s *p)
{
	return __builtin_preserve_field_info(p->g, 0) +
	       (__builtin_preserve_field_info(p->g, 1) << 8) +
	       (__builtin_preserve_field_info(p->g, 3) << 16) +
	       (__builtin_preserve_field_info(p->g, 4) << 24) +
	       ((long)__builtin_preserve_field_info(p->g, 5) << 32);
}
SEC("tc") long f_info(struct s *p)
{
	return __builtin_preserve_field_info(p->f, 4) +
	       (__builtin_preserve_field_info(p->f, 5) << 8) +
	       (__builtin_preserve_field_info(p->a, 3) << 16) +
	       (__builtin_preserve_field_info(p->arr, 1) << 24) +
	       ((long)__builtin_preserve_field_info(p->b, 2) << 32);
}
// __builtin_preserve_type_info: 0 exists, 1 size, 2 matches.
SEC("tc") long type_info(struct s *p)
{
	return __builtin_preserve_type_info(*(struct s *)0, 1) +
	       (__builtin_preserve_type_info(*(struct s *)0, 0) << 16) +
	       ((long)__builtin_preserve_type_info(*(enum e *)0, 2) << 32);
}
// __builtin_btf_type_id: 0 local id, 1 target id.
SEC("tc") long type_id(struct s *p)
{
	return __builtin_btf_type_id(*(struct s *)0, 1);
}
// __builtin_preserve_enum_value: 0 exists, 1 value.
SEC("tc") long enum_info(struct s *p)
{
	return __builtin_preserve_enum_value(*(typeof(enum e) *)E_A, 1) +
	       (__builtin_preserve_enum_value(*(typeof(enum e) *)E_B, 1) << 8) +
	       ((long)__builtin_preserve_enum_value(*(typeof(enum e) *)E_B, 0) << 32);
}
#endif

#ifndef TARGET
// Only the object has these: what the "kernel" lacks, and a flavor.
SEC("tc") long local_only(struct s *p)
{
	return __builtin_preserve_field_info(p->gone, 2) +
	       (__builtin_preserve_field_info(((struct s___v2 *)p)->b, 0) << 8);
}
SEC("tc") int get_gone(struct s *p) { return p->gone; }
#endif

char _license[] SEC("license") = "GPL";
