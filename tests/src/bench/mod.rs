//! `make bench`: every speed figure of the project, measured as a ratio
//! against a reference in the same run, printed as one Markdown table and
//! written to `target/bench.md`.
//!
//! 1. [`forwarding`]: the seed's claim, `bpf_redirect` against `netns_1`'s IP
//!    stack, in isolated labs (UDP pps and loss, TCP throughput, RTT);
//! 2. [`progcost`]: `BPF_PROG_TEST_RUN` of our `redirect.s` against clang's
//!    build of `bpf-src/redirect.bpf.c`;
//! 3. [`bringup`]: `redirect-lab up` against the seed's bpftool/clang/ip/tc path;
//! 4. [`asm`]: our assembler and disassembler against llvm-mc / llvm-objdump;
//! 5. [`kernels`]: the kernel matrix's wall time and per-kernel boot-to-result;
//! 6. [`forwarding::run_modes`]: every `up --mode` technique (egress, peer,
//!    neigh, fib, xdp, devmap, tcx, netkit) against netns_1 forwarding, on
//!    benchmark 1's metrics (netkit's rows say why where it cannot come up);
//!    [`modes_guest`] adds forwarding, egress, peer and netkit measured in
//!    Debian 6.12 and 7.2 guests under QEMU TCG (not in a smoke run);
//!
//! The rules of the harness ([`stats`], [`table`]): cases are interleaved
//! (A B A B ...) so drift hits every case alike; each figure is a median with
//! its min and max; a failure or a missing tool becomes a row that says so.
//! Nothing here asserts a speed: targets are printed as met or not met.
//!
//! [`Config::smoke`] shrinks every benchmark to a tiny size; the smoke test
//! (`tests/tests/bench_smoke.rs`) runs them all that way in `cargo test`.

pub mod asm;
pub mod bringup;
pub mod chart;
pub mod elf;
pub mod forwarding;
pub mod kernels;
pub mod modes_guest;
pub mod ours;
pub mod path;
pub mod progcost;
pub mod stats;
pub mod sys;
pub mod table;
pub mod traffic;

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU32, Ordering};
use table::Row;

/// How to run the benchmarks.
#[derive(Clone, Debug)]
pub struct Config {
    /// Tiny sizes (a few packets, a few thousand lines, one lab bring-up):
    /// enough to prove each benchmark runs and fills its rows.
    pub smoke: bool,
    /// Interleaved repetitions of each case.
    pub reps: usize,
    /// Scratch space for generated files and objects.
    pub workdir: PathBuf,
    /// The workspace root (where `bpf-src/`, `tests/bench/` and `target/` are).
    pub root: PathBuf,
    /// The `redirect-lab` binary, when built; otherwise the library is called.
    pub redirect_lab: Option<PathBuf>,
    /// Whether to run benchmark 5 by running `make kernels` when it has left
    /// no timings behind (it is minutes long, so the smoke test does not).
    pub run_kernel_matrix: bool,
}

impl Config {
    /// The configuration of `make bench` (`smoke = false`) or of the smoke test.
    pub fn new(smoke: bool) -> Config {
        let root = workspace_root();
        let workdir =
            std::env::temp_dir().join(format!("redirect-lab-bench-{}", std::process::id()));
        Config {
            smoke,
            reps: if smoke { 1 } else { 5 },
            workdir,
            redirect_lab: find_redirect_lab(),
            run_kernel_matrix: !smoke,
            root,
        }
    }
}

/// The workspace root: the parent of this package's directory.
pub fn workspace_root() -> PathBuf {
    let here = Path::new(env!("CARGO_MANIFEST_DIR"));
    here.parent().unwrap_or(here).to_path_buf()
}

/// `redirect-lab` next to the running binary (target/release/ for `make
/// bench`), or one directory up (a test binary in target/debug/deps/).
fn find_redirect_lab() -> Option<PathBuf> {
    let exe = std::env::current_exe().ok()?;
    let dir = exe.parent()?;
    [dir.join("redirect-lab"), dir.parent()?.join("redirect-lab")]
        .into_iter()
        .find(|p| p.is_file())
}

/// A name no other run, test or benchmark uses at the same time: a tag,
/// this process's id and a counter. Lab prefixes and seed namespaces use it.
pub fn unique_name(tag: &str) -> String {
    static NEXT: AtomicU32 = AtomicU32::new(0);
    format!(
        "{tag}{}n{}",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::Relaxed)
    )
}

/// One benchmark: its number and name, and how to run it.
pub type Bench = (&'static str, fn(&Config) -> Vec<Row>);

/// Every benchmark, in the order of the table.
pub const ALL: [Bench; 8] = [
    ("1. forwarding", forwarding::run),
    ("2. program cost", progcost::run),
    ("3. lab bring-up", bringup::run),
    ("4. assembler", asm::run),
    ("5. kernel matrix", kernels::run),
    ("6. redirect modes", forwarding::run_modes),
    // Its rows are benchmark 6's; its own entry so that `--only guest`
    // runs the guests alone. After the host's figures, so QEMU loads none.
    ("6. redirect modes, guest kernels", modes_guest::run),
    ("7. path tracer", path::run),
];

/// Runs the benchmarks whose names contain one of `only` (all when empty),
/// printing progress to stderr.
pub fn run_all(cfg: &Config, only: &[String]) -> Vec<Row> {
    let _ = std::fs::create_dir_all(&cfg.workdir);
    let mut rows = Vec::new();
    for (name, run) in ALL {
        if !only.is_empty() && !only.iter().any(|o| name.contains(o.as_str())) {
            continue;
        }
        eprintln!("bench: {name} ...");
        let t = std::time::Instant::now();
        let got = run(cfg);
        eprintln!(
            "bench: {name}: {} rows in {:.1} s",
            got.len(),
            t.elapsed().as_secs_f64()
        );
        rows.extend(got);
    }
    let _ = std::fs::remove_dir_all(&cfg.workdir);
    rows
}
