//! `kernel-matrix` (`make kernels`): runs the kernel-behaviour suite on
//! Debian's newest 5.10, 6.1, 6.12 and 7.2 cloud kernels in QEMU and on the
//! host kernel, then prints and writes `target/kernel-matrix.md` and
//! `target/kernel-matrix.json`. Exits non-zero if any cell failed, including
//! a kernel that could not be fetched, panicked, hung or stopped early.
//!
//! Usage: `kernel-matrix [--timeout SECS] [--kernels 5.10,7.2] [--no-host]
//! [--slots N] [--out FILE] [--cache DIR] [--logs LABEL=FILE,...]`.
//! `--cache` moves the kernel cache away from `target/kernels/` (the
//! robustness test uses a scratch one). With `--logs` nothing
//! is built or booted: the given saved outputs (a `console.log`, a host run)
//! are parsed into the matrix, which is how the runner itself is tested.
//!
//! Schedule: the kernels and the host run as jobs on `--slots` workers,
//! longest first by the time each took last run (recorded in
//! `target/kernels/<label>/elapsed`), the classic LPT rule for finishing a
//! batch early. The default is one slot per job, all at once: measured on
//! this 2-core machine with the kernels cached, 4 VMs plus the host take
//! 16.7 s all at once, 30.2 s on 2 slots and 51.3 s on 1, because a TCG
//! guest is idle much of its run (boot delays, the suite's waits for
//! packets), so overlapping them wins. `make bench` (benchmark 5) measures
//! both schedules in the same run.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use lab_tests::behaviours::REGISTRY;
use lab_tests::kernels::{self, PreparedKernel};
use lab_tests::matrix::{Column, Matrix, Row};
use lab_tests::report::{parse_run, RunResult};
use lab_tests::vm;
use loader::error::io_text;

/// The per-kernel limit the issue sets: two minutes, boot included.
const DEFAULT_TIMEOUT_SECS: u64 = 120;
const STATIC_TARGET: &str = "x86_64-unknown-linux-gnu";

struct Options {
    timeout: Duration,
    series: Vec<String>,
    host: bool,
    out: Option<PathBuf>,
    logs: Vec<(String, PathBuf)>,
    slots: usize,
    /// Where kernels are cached and prepared; `target/kernels` by default.
    cache: Option<PathBuf>,
}

const USAGE: &str = "usage: kernel-matrix [--timeout SECS] [--kernels 5.10,6.1,6.12,7.2] [--no-host] [--slots N] [--out FILE] [--cache DIR] [--logs LABEL=FILE,...]";

fn parse_args() -> Result<Options, String> {
    let mut o = Options {
        timeout: Duration::from_secs(DEFAULT_TIMEOUT_SECS),
        series: kernels_default(),
        host: true,
        out: None,
        logs: Vec::new(),
        slots: 0,
        cache: None,
    };
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        match a.as_str() {
            "--timeout" => {
                let v = args.next().ok_or("--timeout needs seconds")?;
                let secs: u64 = v
                    .parse()
                    .map_err(|_| format!("--timeout: {v:?} is not a number of seconds"))?;
                o.timeout = Duration::from_secs(secs.clamp(5, DEFAULT_TIMEOUT_SECS));
            }
            "--kernels" => {
                let v = args
                    .next()
                    .ok_or("--kernels needs a list such as 5.10,7.2")?;
                o.series = v
                    .split(',')
                    .filter(|s| !s.is_empty())
                    .map(str::to_string)
                    .collect();
            }
            "--no-host" => o.host = false,
            "--slots" => {
                let v = args.next().ok_or("--slots needs a number")?;
                o.slots = v
                    .parse::<usize>()
                    .ok()
                    .filter(|n| *n > 0)
                    .ok_or_else(|| format!("--slots: {v:?} is not a positive number"))?;
            }
            "--out" => o.out = Some(args.next().ok_or("--out needs a file")?.into()),
            "--cache" => o.cache = Some(args.next().ok_or("--cache needs a directory")?.into()),
            "--logs" => {
                let v = args.next().ok_or("--logs needs LABEL=FILE,...")?;
                for item in v.split(',').filter(|s| !s.is_empty()) {
                    let (label, file) = item
                        .split_once('=')
                        .ok_or_else(|| format!("--logs: {item:?} is not LABEL=FILE"))?;
                    o.logs.push((label.to_string(), file.into()));
                }
            }
            "-h" | "--help" => {
                println!("{USAGE}");
                std::process::exit(0);
            }
            other => return Err(format!("unknown argument {other:?} (see --help)")),
        }
    }
    Ok(o)
}

fn kernels_default() -> Vec<String> {
    lab_tests::apt::default_series()
}

fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .map(Path::to_path_buf)
        .unwrap_or_else(|| PathBuf::from("."))
}

/// Builds `lab-init` and `behaviour-suite` statically (glibc, crt-static) in
/// a target dir of their own, so the changed RUSTFLAGS never invalidate the
/// normal build. Returns the directory holding the two binaries.
fn build_static(root: &Path) -> Result<PathBuf, String> {
    let target_dir = match std::env::var_os("CARGO_TARGET_DIR") {
        Some(d) => PathBuf::from(d).join("static"),
        None => root.join("target").join("static"),
    };
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    eprintln!("kernel-matrix: building static lab-init and behaviour-suite");
    let st = Command::new(cargo)
        .current_dir(root)
        .env("RUSTFLAGS", "-C target-feature=+crt-static")
        .env("CARGO_TARGET_DIR", &target_dir)
        .args([
            "build",
            "--release",
            "--target",
            STATIC_TARGET,
            "-p",
            "lab-tests",
        ])
        .args(["--bin", "lab-init", "--bin", "behaviour-suite"])
        .status()
        .map_err(|e| format!("cannot run cargo: {}", io_text(&e)))?;
    if !st.success() {
        return Err(format!("static build failed ({st})"));
    }
    Ok(target_dir.join(STATIC_TARGET).join("release"))
}

/// Prepares, packs and boots one kernel; returns its column.
fn vm_column(series: &str, cache: &Path, bins: &Path, timeout: Duration) -> Column {
    let fail = |why: String, release: Option<String>| Column {
        label: series.to_string(),
        release,
        run: RunResult::failed(why),
    };
    let k: PreparedKernel = match kernels::prepare(series, cache) {
        Ok(k) => k,
        Err(e) => return fail(format!("kernel not available: {e}"), None),
    };
    let release = Some(k.release.clone());
    let initrd = cache.join(series).join("initramfs.cpio");
    let image = match vm::build_initramfs(
        &bins.join("lab-init"),
        &bins.join("behaviour-suite"),
        &k.modules,
    ) {
        Ok(i) => i,
        Err(e) => return fail(format!("initramfs: {e}"), release),
    };
    if let Err(e) = std::fs::write(&initrd, image) {
        return fail(format!("{}: {}", initrd.display(), io_text(&e)), release);
    }
    let boot = match vm::boot(&k.vmlinuz, &initrd, timeout) {
        Ok(b) => b,
        Err(e) => return fail(format!("qemu: {e}"), release),
    };
    let log = cache.join(series).join("console.log");
    let _ = std::fs::write(&log, &boot.output);
    eprintln!(
        "kernel-matrix: {series} ({}) finished in {:.1}s{}; console in {}",
        k.release,
        boot.elapsed.as_secs_f64(),
        if boot.timed_out {
            " (KILLED on timeout)"
        } else {
            ""
        },
        log.display()
    );
    Column {
        label: series.to_string(),
        release,
        run: parse_run(&boot.output, boot.timed_out),
    }
}

/// Runs the same static suite binary on the host kernel.
fn host_column(bins: &Path, timeout: Duration, logdir: &Path) -> Column {
    let release = std::fs::read_to_string("/proc/sys/kernel/osrelease")
        .ok()
        .map(|s| s.trim().to_string());
    let start = Instant::now();
    let child = Command::new(bins.join("behaviour-suite"))
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn();
    let mut child = match child {
        Ok(c) => c,
        Err(e) => {
            return Column {
                label: "host".into(),
                release,
                run: RunResult::failed(format!("cannot run behaviour-suite: {}", io_text(&e))),
            }
        }
    };
    let mut stdout = child.stdout.take();
    let reader = std::thread::spawn(move || {
        let mut buf = Vec::new();
        if let Some(s) = stdout.as_mut() {
            let _ = std::io::Read::read_to_end(s, &mut buf);
        }
        buf
    });
    let mut timed_out = false;
    loop {
        match child.try_wait() {
            Ok(Some(_)) => break,
            Ok(None) if start.elapsed() >= timeout => {
                timed_out = true;
                let _ = child.kill();
                let _ = child.wait();
                break;
            }
            Ok(None) => std::thread::sleep(Duration::from_millis(50)),
            Err(_) => break,
        }
    }
    let out = String::from_utf8_lossy(&reader.join().unwrap_or_default()).into_owned();
    let _ = std::fs::write(logdir.join("host.log"), &out);
    eprintln!(
        "kernel-matrix: host finished in {:.1}s",
        start.elapsed().as_secs_f64()
    );
    Column {
        label: "host".into(),
        release,
        run: parse_run(&out, timed_out),
    }
}

fn main() {
    let opts = match parse_args() {
        Ok(o) => o,
        Err(e) => {
            eprintln!("kernel-matrix: {e}");
            std::process::exit(2);
        }
    };
    if !opts.logs.is_empty() {
        let columns = opts
            .logs
            .iter()
            .map(|(label, file)| Column {
                label: label.clone(),
                release: None,
                run: match std::fs::read(file) {
                    Ok(b) => parse_run(&String::from_utf8_lossy(&b), false),
                    Err(e) => RunResult::failed(format!(
                        "cannot read {}: {}",
                        file.display(),
                        io_text(&e)
                    )),
                },
            })
            .collect();
        finish(columns, opts.out, Instant::now(), &workspace_root());
    }
    if opts.host && !netlink::is_root() {
        eprintln!("kernel-matrix: needs root for the host column (namespaces, BPF); run as root or pass --no-host");
        std::process::exit(1);
    }
    let start = Instant::now();
    let root = workspace_root();
    let cache = opts
        .cache
        .clone()
        .unwrap_or_else(|| root.join("target").join("kernels"));
    if let Err(e) = std::fs::create_dir_all(&cache) {
        eprintln!(
            "kernel-matrix: cannot create {}: {}",
            cache.display(),
            io_text(&e)
        );
        std::process::exit(1);
    }
    let bins = match build_static(&root) {
        Ok(b) => b,
        Err(e) => {
            eprintln!("kernel-matrix: {e}");
            std::process::exit(1);
        }
    };

    // One job per kernel plus the host, run on `slots` workers, longest
    // first by last run's time (see the module comment).
    let mut jobs: Vec<String> = opts.series.clone();
    if opts.host {
        jobs.push("host".into());
    }
    let last = |label: &str| -> f64 {
        std::fs::read_to_string(cache.join(label).join("elapsed"))
            .ok()
            .and_then(|t| t.trim().parse().ok())
            .unwrap_or(f64::MAX)
    };
    let slots = if opts.slots == 0 {
        jobs.len().max(1)
    } else {
        opts.slots
    };
    let mut order: Vec<usize> = (0..jobs.len()).collect();
    order.sort_by(|a, b| last(&jobs[*b]).total_cmp(&last(&jobs[*a])));
    eprintln!(
        "kernel-matrix: {} job(s) on {} slot(s), in this order: {}",
        jobs.len(),
        slots,
        order
            .iter()
            .map(|i| jobs[*i].as_str())
            .collect::<Vec<_>>()
            .join(", ")
    );
    let next = std::sync::atomic::AtomicUsize::new(0);
    let results: Vec<std::sync::Mutex<Option<Column>>> =
        jobs.iter().map(|_| std::sync::Mutex::new(None)).collect();
    std::thread::scope(|s| {
        for _ in 0..slots.min(jobs.len()) {
            s.spawn(|| loop {
                let n = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                let Some(&i) = order.get(n) else { break };
                let label = &jobs[i];
                let t = Instant::now();
                let run = || {
                    if label == "host" {
                        host_column(&bins, opts.timeout, &cache)
                    } else {
                        vm_column(label, &cache, &bins, opts.timeout)
                    }
                };
                let col = std::panic::catch_unwind(std::panic::AssertUnwindSafe(run))
                    .unwrap_or_else(|_| Column {
                        label: label.clone(),
                        release: None,
                        run: RunResult::failed("runner thread panicked"),
                    });
                let _ = std::fs::create_dir_all(cache.join(label));
                let _ = std::fs::write(
                    cache.join(label).join("elapsed"),
                    format!("{:.1}\n", t.elapsed().as_secs_f64()),
                );
                if let Ok(mut slot) = results[i].lock() {
                    *slot = Some(col);
                }
            });
        }
    });
    let columns: Vec<Column> = results
        .into_iter()
        .zip(&jobs)
        .map(|(m, label)| {
            m.into_inner().ok().flatten().unwrap_or_else(|| Column {
                label: label.clone(),
                release: None,
                run: RunResult::failed("never ran"),
            })
        })
        .collect();

    finish(columns, opts.out, start, &root);
}

/// Prints and writes the matrix, then exits: 1 if any cell failed.
fn finish(columns: Vec<Column>, out: Option<PathBuf>, start: Instant, root: &Path) -> ! {
    let matrix = Matrix {
        rows: REGISTRY
            .iter()
            .map(|b| Row {
                id: b.id.into(),
                title: b.title.into(),
                min_kernel: b.min_kernel.into(),
            })
            .collect(),
        columns,
    };
    let md = format!(
        "# Kernel-behaviour matrix\n\nWritten by `make kernels` in {:.0}s.\n\n{}",
        start.elapsed().as_secs_f64(),
        matrix.to_markdown()
    );
    println!("{md}");
    let out = out.unwrap_or_else(|| root.join("target").join("kernel-matrix.md"));
    if let Err(e) = std::fs::write(&out, &md) {
        eprintln!(
            "kernel-matrix: cannot write {}: {}",
            out.display(),
            io_text(&e)
        );
        std::process::exit(1);
    }
    let json = out.with_extension("json");
    if let Err(e) = std::fs::write(&json, matrix.to_json()) {
        eprintln!(
            "kernel-matrix: cannot write {}: {}",
            json.display(),
            io_text(&e)
        );
        std::process::exit(1);
    }
    eprintln!(
        "kernel-matrix: wrote {} and {}",
        out.display(),
        json.display()
    );
    std::process::exit(if matrix.is_red() { 1 } else { 0 });
}
