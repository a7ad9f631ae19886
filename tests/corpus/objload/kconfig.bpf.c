/* __kconfig externs (loader/src/bpf/kconfig.rs): values from the running
 * kernel's config (/boot/config-$(uname -r) or /proc/config.gz) and the
 * facts libbpf defines (LINUX_*). Built by tests/tests/loader_kconfig.rs
 * with clang-19; it runs each program and compares with `uname -r` and
 * `zcat /proc/config.gz`, and compares the .kconfig map's bytes with the
 * ones libbpf (bpftool prog loadall) writes for the same object. */
#include <linux/bpf.h>
#include <stdbool.h>

#define SEC(n) __attribute__((section(n), used))
#define __kconfig __attribute__((section(".kconfig")))
#define __weak __attribute__((weak))

enum libbpf_tristate { TRI_NO = 0, TRI_YES = 1, TRI_MODULE = 2 };

extern unsigned int LINUX_KERNEL_VERSION __kconfig;
extern bool LINUX_HAS_SYSCALL_WRAPPER __kconfig;
extern bool LINUX_HAS_BPF_COOKIE __kconfig;
extern int CONFIG_HZ __kconfig;
extern bool CONFIG_BPF_SYSCALL __kconfig;
extern enum libbpf_tristate CONFIG_NET_CLS_BPF __kconfig;
extern char CONFIG_LOCALVERSION[16] __kconfig;
/* no kernel has it: weak, so 0 */
extern bool CONFIG_LAB_NO_SUCH_OPTION __kconfig __weak;

SEC("tc") int version(struct __sk_buff *ctx)
{
	return LINUX_KERNEL_VERSION;
}

SEC("tc") int hz(struct __sk_buff *ctx)
{
	return CONFIG_HZ;
}

/* One bit or field each: 1 BPF_SYSCALL, 2-3 the NET_CLS_BPF tristate,
 * 4 the weak missing option, 5 the syscall wrapper, 6 the cookie helper. */
SEC("tc") int flags(struct __sk_buff *ctx)
{
	return CONFIG_BPF_SYSCALL | CONFIG_NET_CLS_BPF << 1 |
	       CONFIG_LAB_NO_SUCH_OPTION << 3 | LINUX_HAS_SYSCALL_WRAPPER << 4 |
	       LINUX_HAS_BPF_COOKIE << 5;
}

/* The first four bytes of CONFIG_LOCALVERSION, little-endian. */
SEC("tc") int localversion(struct __sk_buff *ctx)
{
	return CONFIG_LOCALVERSION[0] | CONFIG_LOCALVERSION[1] << 8 |
	       CONFIG_LOCALVERSION[2] << 16 | CONFIG_LOCALVERSION[3] << 24;
}

char LICENSE[] SEC("license") = "GPL";
