//! The vmlinux BTF index (`ebpf_asm::btf::vmlinux`) against an independent
//! oracle on this host: `bpftool btf dump file /sys/kernel/btf/vmlinux format
//! c` gives a `vmlinux.h`; a C program compiled against it by clang-19 prints
//! `offsetof` of every member the path tracer reads, finds each bitfield's
//! bits by setting it in a zeroed struct, and prints enum values. Our offsets,
//! found from the raw BTF, must equal the compiler's.
//!
//! Needs /sys/kernel/btf/vmlinux, bpftool and clang-19; without them the test
//! says so and passes (CI has all three).

use ebpf_asm::btf::vmlinux::Vmlinux;
use std::process::Command;

/// The members the path tracer reads (issue 12).
const PATHS: &[&str] = &[
    "sk_buff.dev",
    "sk_buff.len",
    "sk_buff.protocol",
    "sk_buff.mark",
    "sk_buff.head",
    "sk_buff.data",
    "sk_buff.network_header",
    "sk_buff.transport_header",
    "sk_buff.pkt_type",
    "sk_buff.skb_iif",
    "net_device.ifindex",
    "net_device.name",
    "net_device.nd_net.net",
    "net.ns.inum",
    // fib.s: the flow and the route's device.
    "flowi4.saddr",
    "flowi4.daddr",
    "flowi4.__fl_common.flowic_iif",
    "flowi4.uli.ports.dport",
    "fib_nh_common.nhc_dev",
    // neigh.s: the neighbour entry and its table.
    "neighbour.tbl",
    "neighbour.dev",
    "neighbour.nud_state",
    "neighbour.primary_key",
    "neigh_table.family",
];

/// Bitfields: the oracle cannot take their offsetof, so it sets them.
const BITFIELDS: &[&str] = &["sk_buff.pkt_type"];

const ENUMS: &[&str] = &[
    "SKB_DROP_REASON_OTHERHOST",
    "SKB_DROP_REASON_NOT_SPECIFIED",
    "SKB_CONSUMED",
];

fn tools() -> Option<Vec<u8>> {
    let raw = std::fs::read("/sys/kernel/btf/vmlinux").ok()?;
    for t in ["bpftool", "clang-19"] {
        if Command::new(t).arg("--version").output().is_err() {
            eprintln!("{t} is missing: skipped");
            return None;
        }
    }
    Some(raw)
}

fn oracle_source(vm: &Vmlinux) -> String {
    let mut c = String::from(
        "#define BPF_NO_PRESERVE_ACCESS_INDEX\n#include \"vmlinux.h\"\n\
         int printf(const char *, ...);\n\
         void *memset(void *, int, unsigned long);\n\
         static unsigned char buf[65536];\n\
         int main(void) {\n",
    );
    for p in PATHS {
        let (root, rest) = p.split_once('.').unwrap();
        if BITFIELDS.contains(p) {
            // Set every bit of the field in a zeroed struct, then report the
            // first set bit and how many are set: its bit offset and width.
            c += &format!(
                "  {{ struct {root} *s = (void *)buf; memset(buf, 0, sizeof(buf)); s->{rest} = -1;\n\
                 \x20   int first = -1, n = 0; for (unsigned i = 0; i < sizeof(*s) * 8; i++)\n\
                 \x20     if (buf[i / 8] >> (i % 8) & 1) {{ if (first < 0) first = i; n++; }}\n\
                 \x20   printf(\"{p} %d %d\\n\", first, n); }}\n"
            );
        } else {
            c += &format!(
                "  printf(\"{p} %d 0\\n\", (int)(__builtin_offsetof(struct {root}, {rest}) * 8));\n"
            );
        }
    }
    for e in ENUMS {
        if vm.enum_value(e).is_some() {
            c += &format!("  printf(\"{e} %lld\\n\", (long long){e});\n");
        }
    }
    c + "  return 0;\n}\n"
}

#[test]
fn offsets_and_enums_match_the_compiler_on_bpftool_format_c() {
    let Some(raw) = tools() else { return };
    let vm = Vmlinux::parse(&raw).expect("vmlinux BTF parses");
    let dir = std::env::temp_dir().join(format!("btf-vmlinux-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let header = Command::new("bpftool")
        .args([
            "btf",
            "dump",
            "file",
            "/sys/kernel/btf/vmlinux",
            "format",
            "c",
        ])
        .output()
        .expect("bpftool runs");
    assert!(header.status.success(), "bpftool btf dump format c failed");
    std::fs::write(dir.join("vmlinux.h"), &header.stdout).unwrap();
    std::fs::write(dir.join("oracle.c"), oracle_source(&vm)).unwrap();
    let cc = Command::new("clang-19")
        .args(["-w", "-O0", "-o"])
        .arg(dir.join("oracle"))
        .arg(dir.join("oracle.c"))
        .output()
        .expect("clang-19 runs");
    assert!(
        cc.status.success(),
        "the oracle does not compile: {}",
        String::from_utf8_lossy(&cc.stderr)
    );
    let out = Command::new(dir.join("oracle"))
        .output()
        .expect("oracle runs");
    let _ = std::fs::remove_dir_all(&dir);
    let text = String::from_utf8(out.stdout).unwrap();
    let mut checked = 0;
    for line in text.lines() {
        let f: Vec<&str> = line.split_whitespace().collect();
        if f[0].contains('.') {
            let ours = vm.member(f[0]).unwrap_or_else(|e| panic!("{e}"));
            let want: (u32, u32) = (f[1].parse().unwrap(), f[2].parse().unwrap());
            assert_eq!(
                (ours.bit_offset, ours.bitfield_size),
                want,
                "{}: ours (bit offset, bitfield size) vs the compiler's",
                f[0]
            );
            if BITFIELDS.contains(&f[0]) {
                assert!(ours.bitfield_size > 0, "{} is a bitfield", f[0]);
            }
        } else {
            assert_eq!(vm.enum_value(f[0]), Some(f[1].parse().unwrap()), "{}", f[0]);
        }
        checked += 1;
    }
    assert!(checked > PATHS.len(), "oracle printed:\n{text}");
    // Through a typedef'd anonymous struct (possible_net_t) and a pointer's size.
    assert_eq!(vm.member("net_device.nd_net.net").unwrap().size, 8);
    assert!(vm.member("sk_buff.no_such_member").is_err());
    assert!(vm.member("no_such_struct.x").is_err());
}

#[test]
fn skb_functions_and_tracepoints() {
    let Ok(raw) = std::fs::read("/sys/kernel/btf/vmlinux") else {
        eprintln!("no vmlinux BTF: skipped");
        return;
    };
    let vm = Vmlinux::parse(&raw).expect("vmlinux BTF parses");
    let funcs = vm.skb_functions();
    assert!(funcs.len() > 300, "only {} skb functions", funcs.len());
    let find = |n: &str| funcs.iter().find(|f| f.name == n);
    // `int ip_rcv(struct sk_buff *skb, struct net_device *dev, ...)`: arg 0.
    let ip_rcv = find("ip_rcv").expect("ip_rcv takes an skb");
    assert_eq!((ip_rcv.arg, ip_rcv.nargs), (0, 4));
    // `int skb_do_redirect(struct sk_buff *skb)` and `__dev_queue_xmit`.
    assert_eq!(find("skb_do_redirect").expect("skb_do_redirect").arg, 0);
    assert_eq!(find("__dev_queue_xmit").expect("__dev_queue_xmit").arg, 0);
    // A function whose skb is not the first argument: ip_forward_finish(net, sk, skb).
    if let Some(f) = find("ip_forward_finish") {
        assert_eq!(f.arg, 2);
    }
    assert!(
        find("ip_route_input_noref").is_none() || find("ip_route_input_noref").unwrap().arg == 0
    );
    let (id, args) = vm.function("skb_do_redirect").unwrap();
    assert_eq!(id, find("skb_do_redirect").unwrap().btf_id);
    assert_eq!(args[0].c_type, "struct sk_buff *");
    assert_eq!(args[0].name, "skb");

    // Raw tracepoints and their arguments after `void *__data`.
    let q = vm.tracepoint("net_dev_queue").expect("net_dev_queue");
    assert_eq!(q.args.len(), 1);
    assert_eq!(q.args[0].c_type, "struct sk_buff *");
    let k = vm.tracepoint("kfree_skb").expect("kfree_skb");
    assert_eq!(k.args[0].c_type, "struct sk_buff *");
    assert_eq!(k.args[1].c_type, "void *");
    if k.args.len() >= 3 {
        assert_eq!(k.args[2].c_type, "enum skb_drop_reason");
    }
    let names = vm.tracepoint_names();
    for tp in [
        "netif_rx",
        "netif_receive_skb",
        "net_dev_start_xmit",
        "consume_skb",
    ] {
        assert!(names.iter().any(|n| n == tp), "{tp}");
    }
    assert!(vm.tracepoint("no_such_tracepoint").is_err());
    let reasons = vm
        .enum_values("skb_drop_reason")
        .expect("enum skb_drop_reason");
    assert!(reasons
        .iter()
        .any(|(n, _)| n == "SKB_DROP_REASON_OTHERHOST"));
    assert_eq!(
        vm.enum_value_in("skb_drop_reason", "SKB_DROP_REASON_OTHERHOST")
            .unwrap(),
        vm.enum_value("SKB_DROP_REASON_OTHERHOST").unwrap()
    );
}
