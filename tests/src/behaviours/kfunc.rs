//! A kfunc that a module defines: nf_conntrack's `bpf_skb_ct_lookup`
//! (`net/netfilter/nf_conntrack_bpf.c`, 5.18). Debian builds conntrack as a
//! module, so its kfuncs are in `/sys/kernel/btf/nf_conntrack`, not in
//! vmlinux BTF: the loader finds the FUNC there, opens that module's BTF
//! object, and calls it with `off` = the object's index in the program's
//! `fd_array` (`include/uapi/linux/bpf.h`, `BPF_PSEUDO_KFUNC_CALL`). A
//! wrong `off` or id is refused by the verifier, so a program that runs and
//! returns what only the kfunc returns proves the resolution. On a kernel
//! where conntrack is built in, the same object resolves in vmlinux BTF.
//!
//! The object is `tests/corpus/objload/ct_lookup.bpf.c`, compiled by
//! `tests/build.rs`: the guests have no compiler.

use loader::ksym::{ExternKind, Kernel, Resolved};
use loader::load::{load_elf, LoadSpec};

use crate::program;
use crate::report::Verdict;

/// clang-19's object of `ct_lookup.bpf.c` (empty when it was not built).
pub static CT_LOOKUP_O: &[u8] = include_bytes!(concat!(env!("OUT_DIR"), "/ct_lookup.o"));

/// The kfunc the object calls.
const KFUNC: &str = "bpf_skb_ct_lookup";

/// A lookup of a tuple no conntrack table holds returns NULL with
/// `opts.error` = -ENOENT, which the program returns.
pub fn module_kfunc() -> Result<Verdict, String> {
    if CT_LOOKUP_O.is_empty() {
        return Ok(Verdict::Fail(
            "the suite was built without clang-19, so it carries no ct_lookup.o".into(),
        ));
    }
    let kernel = Kernel::new();
    let from = match kernel.resolve(KFUNC, ExternKind::Kfunc, true) {
        Ok(Resolved::BtfId(id)) => format!("vmlinux BTF (id {id}, conntrack built in)"),
        Ok(Resolved::ModuleBtfId { module, id }) => {
            format!("{module}'s BTF (id {id}), through fd_array")
        }
        Ok(Resolved::Missing) => {
            return Ok(Verdict::NotApplicable(format!(
                "no FUNC {KFUNC} in vmlinux BTF nor in a loaded module's BTF (it came in 5.18)"
            )))
        }
        Ok(other) => return Ok(Verdict::Fail(format!("{KFUNC} resolved as {other:?}"))),
        Err(e) => return Ok(Verdict::Fail(format!("looking {KFUNC} up: {e}"))),
    };
    let loaded = load_elf(
        CT_LOOKUP_O,
        &LoadSpec {
            file_name: "ct_lookup.bpf.c",
            ..Default::default()
        },
    )
    .map_err(|e| format!("loading ct_lookup.o ({KFUNC} from {from}): {e}"))?;
    let prog = loaded
        .program("ct_lookup")
        .ok_or("ct_lookup.o has no program ct_lookup")?;
    let frame = program::udp_frame([10, 0, 2, 11], b"conntrack");
    let r = prog
        .test_run(&loader::TestRun {
            data_in: &frame,
            ..Default::default()
        })
        .map_err(|e| format!("BPF_PROG_TEST_RUN: {e}"))?;
    let enoent = (-libc::ENOENT) as u32;
    if r.retval != enoent {
        return Ok(Verdict::Fail(format!(
            "retval {} (as i32: {}), expected -ENOENT from {KFUNC} (from {from})",
            r.retval, r.retval as i32
        )));
    }
    Ok(Verdict::pass_with(format!("{KFUNC} from {from}: -ENOENT")))
}
