//! Section names give the program type and, for tracing programs, the
//! hook: `tests/corpus/tracing.bpf.c` (clang-19) has a `tp/...` tracepoint
//! program, a `kprobe/...` one that calls the `bpf_rcu_read_lock` kfunc, and
//! a `tp_btf/kfree_skb` one, and all three load with no `--type`: the
//! tp_btf program as `BPF_PROG_TYPE_TRACING` with `BPF_TRACE_RAW_TP` and the
//! `btf_trace_kfree_skb` id from vmlinux BTF (the kernel refuses a tracing
//! program without a valid `attach_btf_id`: "Tracing programs must provide
//! btf_id"). Needs root, clang-19 and bpftool.

use std::path::Path;
use std::process::Command;

use loader::load::{load_elf, LoadSpec};
use loader::ProgType;

#[test]
fn tracing_sections_load_without_a_type() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("corpus/tracing.bpf.c");
    let out = std::env::temp_dir().join(format!("sections-{}.o", std::process::id()));
    let st = Command::new("clang-19")
        .args(["-O2", "-g", "-target", "bpf", "-mcpu=v3", "-c"])
        .arg(&src)
        .arg("-o")
        .arg(&out)
        .status()
        .expect("clang-19 runs (CI installs it)");
    assert!(st.success(), "clang-19 failed on {}", src.display());
    let elf = std::fs::read(&out).unwrap();
    let _ = std::fs::remove_file(&out);

    let loaded = load_elf(
        &elf,
        &LoadSpec {
            file_name: "tracing.bpf.c",
            ..Default::default()
        },
    )
    .unwrap_or_else(|e| panic!("{e}"));
    let types: Vec<(&str, ProgType)> = loaded
        .programs
        .iter()
        .map(|p| (p.name.as_str(), p.prog_type))
        .collect();
    assert!(
        types.contains(&("on_receive", ProgType::Tracepoint)),
        "{types:?}"
    );
    assert!(types.contains(&("on_xmit", ProgType::Kprobe)), "{types:?}");
    assert!(types.contains(&("on_drop", ProgType::Tracing)), "{types:?}");

    // bpftool sees a loaded tracing program of that name.
    let id = loaded.program("on_drop").unwrap().info().unwrap().id;
    let o = Command::new("bpftool")
        .args(["prog", "show", "id", &id.to_string()])
        .output()
        .expect("bpftool runs");
    let shown = String::from_utf8_lossy(&o.stdout);
    assert!(
        shown.contains("tracing") && shown.contains("on_drop"),
        "{shown}"
    );
}
