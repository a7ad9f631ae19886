//! Fetches Debian's cloud kernels and prepares what a VM boot needs:
//! `vmlinuz` and the few modules the behaviour suite uses, decompressed, in
//! the order `finit_module` must load them.
//!
//! Packages come through a private apt state per Debian release
//! ([`crate::apt`]), so the host's apt configuration is never touched. The
//! package layout is probed, not assumed from the version: an `-unsigned` or
//! signed `linux-image-*`, or sid's split `linux-binary-*`/`linux-modules-*`/
//! `linux-base-*`; `vmlinuz` under `boot/` or `usr/lib/modules/REL/`;
//! modules as `.ko`, `.ko.xz` or `.ko.zst`, or built in (`modules.builtin`).
//! The packages ship no `modules.dep` (`depmod(8)` writes it at install
//! time), so a module's dependencies are read from its own `.modinfo`
//! section, the `depends=` entry that `modpost` stores, and loaded first.
//!
//! Everything is cached under `target/kernels/<series>/`; a prepared kernel is
//! marked by a `ready` file naming its ABI, and every `.deb` is checked
//! against the signed index's SHA256, so a second run costs one
//! `apt-cache search` and no download.

use std::collections::{BTreeMap, HashSet};
use std::fmt;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

use crate::apt::{self, PackageInfo, PrivateApt};

/// The modules the behaviour suite needs on a kernel that does not build them
/// in (Debian's cloud flavour ships them as modules): veth pairs, the clsact
/// qdisc (`sch_ingress.ko` provides both ingress and clsact) and the cls_bpf
/// classifier. netkit (drivers/net/netkit.c, Linux 6.7) is not one of them:
/// `config NETKIT` is a `bool` in drivers/net/Kconfig, so a kernel builds it
/// in or lacks it and no package has a `netkit.ko`. Debian 6.12 and 7.2 set
/// `CONFIG_NETKIT=y` (their `modules.builtin` lists
/// `kernel/drivers/net/netkit.ko`); 5.10 and 6.1 predate it, and `--mode
/// netkit` is n/a there by its own probe. `nf_conntrack` is for the
/// `kfunc-module` behaviour: its kfuncs (`bpf_skb_ct_lookup`, 5.18) are in
/// the module's own BTF, where a program reaches them through `fd_array`;
/// loading it registers no hooks (a netns takes conntrack only when a rule
/// asks for it), so the other behaviours see no change.
pub const SUITE_MODULES: &[&str] = &["veth", "sch_ingress", "cls_bpf", "nf_conntrack"];

/// The marker of a prepared kernel. Its name changes with the module set
/// (the `.3`: `nf_conntrack` added to [`SUITE_MODULES`]), so a cache
/// prepared for fewer modules is prepared again instead of booting
/// without them.
pub const READY: &str = "ready.3";

/// A kernel ready to boot.
#[derive(Clone, Debug)]
pub struct PreparedKernel {
    pub series: String,
    /// The kernel's ABI name as Debian spells it in package names, e.g.
    /// `6.1.0-57-cloud-amd64` or `7.2.13+deb14-cloud-amd64`.
    pub package: String,
    /// The kernel release (`uname -r`), e.g. `6.1.0-56-cloud-amd64`.
    pub release: String,
    pub vmlinuz: PathBuf,
    /// Decompressed module files, in load order (dependencies first).
    pub modules: Vec<PathBuf>,
}

#[derive(Debug)]
pub struct KernelError(pub String);

impl fmt::Display for KernelError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for KernelError {}

impl From<String> for KernelError {
    fn from(s: String) -> Self {
        KernelError(s)
    }
}

fn err<T>(msg: impl Into<String>) -> Result<T, KernelError> {
    Err(KernelError(msg.into()))
}

/// One progress line on stderr, prefixed like every runner message.
fn progress(series: &str, msg: impl fmt::Display) {
    eprintln!("kernel-matrix: {series}: {msg}");
}

/// The kernel ABIs of a series among package names: `linux-image-ABI` and
/// `linux-image-ABI-unsigned` both give ABI, which must start with
/// "`series`." (so "6.1" matches `6.1.0-56` but not `6.12.117+deb13`) and be
/// the cloud flavour.
pub fn abis_of(series: &str, names: &[String]) -> Vec<String> {
    let prefix = format!("{series}.");
    let mut abis: Vec<String> = names
        .iter()
        .filter_map(|n| n.strip_prefix("linux-image-"))
        .map(|n| n.strip_suffix("-unsigned").unwrap_or(n))
        .filter(|abi| abi.starts_with(&prefix) && abi.ends_with("-cloud-amd64"))
        .map(str::to_string)
        .collect();
    abis.sort();
    abis.dedup();
    abis
}

/// Splits a package name into numeric runs so that `6.1.0-56` sorts after
/// `6.1.0-9` and `6.12.117+deb12` after `6.12.99+deb12`.
fn version_key(name: &str) -> Vec<u64> {
    name.split(|c: char| !c.is_ascii_digit())
        .filter(|s| !s.is_empty())
        .map(|s| s.parse().unwrap_or(u64::MAX))
        .collect()
}

/// The newest package of a list (by numeric version, not by text).
pub fn newest(packages: &[String]) -> Option<&String> {
    packages.iter().max_by_key(|p| version_key(p))
}

/// The newest ABI of `series` in the private apt's lists (fetched the first
/// time; a second run reads the lists already there and downloads nothing).
fn newest_abi(apt: &PrivateApt, series: &str, force_update: bool) -> Result<String, KernelError> {
    if force_update || !apt.updated() {
        progress(
            series,
            format_args!(
                "apt-get update for {} ({}), private lists in {}",
                apt.release.codename,
                apt.release.debian,
                apt.dir().join("lists").display()
            ),
        );
        apt.update()?;
    }
    let names = apt.search(&format!("^linux-image-{}\\.", series.replace('.', "\\.")))?;
    newest(&abis_of(series, &names)).cloned().ok_or_else(|| {
        KernelError(format!(
            "no linux-image-{series}.*-cloud-amd64 package in {} ({})",
            apt.release.codename, apt.release.debian
        ))
    })
}

/// Makes sure the newest kernel of `series` is downloaded and prepared under
/// `cache_root/<series>/`. Without network, a kernel prepared earlier is used.
pub fn prepare(series: &str, cache_root: &Path) -> Result<PreparedKernel, KernelError> {
    let release = apt::release(series).ok_or_else(|| {
        KernelError(format!(
            "unknown kernel series {series:?}: the matrix knows {}",
            apt::default_series().join(", ")
        ))
    })?;
    let dir = cache_root.join(series);
    fs::create_dir_all(&dir)
        .map_err(|e| KernelError(format!("cannot create {}: {e}", dir.display())))?;
    // Tests and the runner may prepare the same kernel at once (apt's own
    // lock would fail the second): one preparer per series at a time.
    let lock_path = dir.join("lock");
    let lock = fs::File::create(&lock_path)
        .map_err(|e| KernelError(format!("{}: {e}", lock_path.display())))?;
    crate::sys::lock_exclusive(&lock)
        .map_err(|e| KernelError(format!("flock {}: {e}", lock_path.display())))?;
    let cached = read_ready(&dir);
    let apt = PrivateApt::new(release, cache_root, &apt::host_mirror())?;
    let fresh_lists = !apt.updated();
    let abi = match newest_abi(&apt, series, false) {
        Ok(a) => a,
        Err(e) => match cached {
            Some(k) => {
                progress(series, format_args!("{e}; using cached {}", k.package));
                return Ok(k);
            }
            None => return Err(e),
        },
    };
    if let Some(k) = cached {
        if k.package == abi {
            progress(series, format_args!("{abi}: cached, ready"));
            return Ok(k);
        }
        progress(
            series,
            format_args!("{abi} is newer than cached {}", k.package),
        );
    }
    match fetch(&apt, series, &abi, &dir) {
        Ok(k) => Ok(k),
        // Lists from an earlier run may name a package the mirror has since
        // removed: update once and try the newest ABI again.
        Err(e) if !fresh_lists => {
            progress(series, format_args!("{e}; refreshing the package lists"));
            // The first failure stays in the reason: when the refresh fails
            // too (no network), it is the one that says what went wrong.
            newest_abi(&apt, series, true)
                .and_then(|abi| fetch(&apt, series, &abi, &dir))
                .map_err(|again| {
                    KernelError(format!("{e}; after refreshing the package lists: {again}"))
                })
        }
        Err(e) => Err(e),
    }
}

fn read_ready(dir: &Path) -> Option<PreparedKernel> {
    let text = fs::read_to_string(dir.join(READY)).ok()?;
    let mut lines = text.lines();
    let series = lines.next()?.to_string();
    let package = lines.next()?.to_string();
    let release = lines.next()?.to_string();
    let vmlinuz = dir.join("vmlinuz");
    let modules: Vec<PathBuf> = lines.map(|m| dir.join("modules").join(m)).collect();
    if !vmlinuz.is_file() || modules.iter().any(|m| !m.is_file()) {
        return None;
    }
    Some(PreparedKernel {
        series,
        package,
        release,
        vmlinuz,
        modules,
    })
}

fn run(cmd: &mut Command, what: &str) -> Result<(), KernelError> {
    let out = cmd
        .output()
        .map_err(|e| KernelError(format!("{what}: cannot start: {e}")))?;
    if !out.status.success() {
        return err(format!(
            "{what} failed ({}): {}",
            out.status,
            String::from_utf8_lossy(&out.stderr).trim()
        ));
    }
    Ok(())
}

/// True for the packages a split kernel is made of (sid: `linux-binary-`,
/// `linux-modules-`, `linux-base-`), of this ABI only.
fn is_kernel_part(name: &str, abi: &str) -> bool {
    ["linux-binary-", "linux-modules-", "linux-base-"]
        .iter()
        .any(|p| name.starts_with(p))
        && name.ends_with(abi)
}

/// Downloads the packages of one ABI and prepares it. The layout is found
/// by probing the packages, never from the version number: the `-unsigned`
/// image first, then the signed one (bullseye-security's pool may lack the
/// unsigned file); an image that is only a meta package pulls in the parts
/// its `Depends` names (sid's `linux-binary-`/`-modules-`/`-base-`).
fn fetch(
    apt: &PrivateApt,
    series: &str,
    abi: &str,
    dir: &Path,
) -> Result<PreparedKernel, KernelError> {
    let debs = dir.join("debs");
    fs::create_dir_all(&debs).map_err(|e| KernelError(format!("{}: {e}", debs.display())))?;
    let mut why = Vec::new();
    for image in [
        format!("linux-image-{abi}-unsigned"),
        format!("linux-image-{abi}"),
    ] {
        let info = match apt.show(&image) {
            Ok(i) => i,
            Err(_) => continue,
        };
        let mut set = vec![info.clone()];
        for dep in info.depends.iter().filter(|d| is_kernel_part(d, abi)) {
            set.push(apt.show(dep)?);
        }
        let files: Result<Vec<PathBuf>, String> = set
            .iter()
            .map(|p| {
                fetch_deb(p, &debs, |pkg, to| {
                    progress(series, format_args!("downloading {pkg} ({})", mib(p.size)));
                    apt.download(pkg, to)
                })
            })
            .collect();
        match files {
            Ok(files) => return unpack(series, abi, &files, dir),
            Err(e) => {
                progress(series, format_args!("{e}; trying the next package layout"));
                why.push(e);
            }
        }
    }
    if why.is_empty() {
        why.push(format!(
            "apt knows neither linux-image-{abi}-unsigned nor linux-image-{abi}"
        ));
    }
    err(why.join("; "))
}

fn mib(bytes: u64) -> String {
    if bytes < 1_000_000 {
        format!("{:.1} kB", bytes as f64 / 1e3)
    } else {
        format!("{:.1} MB", bytes as f64 / 1e6)
    }
}

/// The SHA256 of a file, as `sha256sum` prints it.
fn sha256_of(path: &Path) -> Result<String, String> {
    let out = Command::new("sha256sum")
        .arg(path)
        .output()
        .map_err(|e| format!("cannot run sha256sum: {e}"))?;
    String::from_utf8_lossy(&out.stdout)
        .split_whitespace()
        .next()
        .map(str::to_string)
        .ok_or_else(|| format!("sha256sum {}: no output", path.display()))
}

/// A package's `.deb` in `debs`, checked against the index's SHA256: a good
/// cached file is used as is ("cached"), anything else is downloaded with
/// `download` and checked again. A truncated or corrupt file is an error
/// that names the package, and is removed so the next run starts clean.
pub fn fetch_deb(
    info: &PackageInfo,
    debs: &Path,
    download: impl Fn(&str, &Path) -> Result<(), String>,
) -> Result<PathBuf, String> {
    let find = || find_deb(debs, &info.package);
    if let Some(path) = find() {
        if sha256_of(&path)? == info.sha256 {
            eprintln!(
                "kernel-matrix: cached {} ({})",
                info.package,
                mib(info.size)
            );
            return Ok(path);
        }
        let _ = fs::remove_file(&path);
    }
    let start = std::time::Instant::now();
    download(&info.package, debs)?;
    let path = find().ok_or_else(|| {
        format!(
            "download of {} left no {}_*.deb in {}",
            info.package,
            info.package,
            debs.display()
        )
    })?;
    let got = sha256_of(&path)?;
    if got != info.sha256 {
        let len = fs::metadata(&path).map(|m| m.len()).unwrap_or(0);
        let _ = fs::remove_file(&path);
        return Err(format!(
            "{}: downloaded file is truncated or corrupt ({len} of {} bytes, SHA256 {got} is not the index's {})",
            info.package, info.size, info.sha256
        ));
    }
    eprintln!(
        "kernel-matrix: done {} ({}) in {:.1}s",
        info.package,
        mib(info.size),
        start.elapsed().as_secs_f64()
    );
    Ok(path)
}

fn find_deb(debs: &Path, package: &str) -> Option<PathBuf> {
    let prefix = format!("{package}_");
    fs::read_dir(debs)
        .ok()?
        .flatten()
        .map(|e| e.path())
        .find(|p| {
            p.file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| n.starts_with(&prefix) && n.ends_with(".deb"))
        })
}

/// Extracts every package of a kernel into one tree, prepares it, and
/// removes the tree (about 150 MB; the `.deb` files stay as the cache).
fn unpack(
    series: &str,
    abi: &str,
    debs: &[PathBuf],
    dir: &Path,
) -> Result<PreparedKernel, KernelError> {
    let tree = dir.join("extract");
    let _ = fs::remove_dir_all(&tree);
    for deb in debs {
        progress(
            series,
            format_args!(
                "unpacking {}",
                deb.file_name().unwrap_or_default().to_string_lossy()
            ),
        );
        run(
            Command::new("dpkg-deb").arg("-x").arg(deb).arg(&tree),
            &format!("dpkg-deb -x {}", deb.display()),
        )?;
    }
    let result = prepare_from_tree(series, abi, &tree, dir);
    let _ = fs::remove_dir_all(&tree);
    result
}

/// Where a kernel's files are in an unpacked package tree. Debian has moved
/// them: `boot/vmlinuz-REL` and `lib/modules/REL/` (bookworm and older),
/// `usr/lib/modules/REL/vmlinuz` with the modules beside it (sid's split
/// packages). Both are probed.
pub fn find_layout(tree: &Path) -> Result<(PathBuf, String, PathBuf), KernelError> {
    let boot = tree.join("boot");
    if let Ok(entries) = fs::read_dir(&boot) {
        for p in entries.flatten().map(|e| e.path()) {
            let name = p.file_name().and_then(|n| n.to_str()).unwrap_or_default();
            if let Some(rel) = name.strip_prefix("vmlinuz-") {
                let rel = rel.to_string();
                let moddir = ["lib/modules", "usr/lib/modules"]
                    .iter()
                    .map(|m| tree.join(m).join(&rel))
                    .find(|d| d.is_dir())
                    .unwrap_or_else(|| tree.join("lib/modules").join(&rel));
                return Ok((p, rel, moddir));
            }
        }
    }
    for base in ["usr/lib/modules", "lib/modules"] {
        if let Ok(entries) = fs::read_dir(tree.join(base)) {
            for d in entries.flatten().map(|e| e.path()) {
                if d.join("vmlinuz").is_file() {
                    let rel = d
                        .file_name()
                        .unwrap_or_default()
                        .to_string_lossy()
                        .into_owned();
                    return Ok((d.join("vmlinuz"), rel, d));
                }
            }
        }
    }
    err("no boot/vmlinuz-* and no {usr/,}lib/modules/*/vmlinuz in the packages")
}

fn prepare_from_tree(
    series: &str,
    package: &str,
    tree: &Path,
    dir: &Path,
) -> Result<PreparedKernel, KernelError> {
    let (vmlinuz_src, release, moddir) =
        find_layout(tree).map_err(|e| KernelError(format!("{package}: {e}")))?;
    // The package ships no modules.dep (depmod writes it at install time), so
    // dependencies come from each module's own `.modinfo` "depends=" entry.
    let builtin = fs::read_to_string(moddir.join("modules.builtin")).unwrap_or_default();
    let mut files = BTreeMap::new();
    if moddir.join("kernel").is_dir() {
        index_modules(&moddir.join("kernel"), &mut files)?;
    }
    let mut contents: BTreeMap<String, Vec<u8>> = BTreeMap::new();
    let order = load_order(&builtin, SUITE_MODULES, |name| {
        let path = files.get(name).ok_or_else(|| {
            KernelError(format!(
                "module {name} is neither built in nor shipped in {package}"
            ))
        })?;
        let bytes = read_module(path)?;
        let deps =
            modinfo_depends(&bytes).map_err(|e| KernelError(format!("{}: {e}", path.display())))?;
        contents.insert(name.to_string(), bytes);
        Ok(deps)
    })?;

    let mods_out = dir.join("modules");
    let _ = fs::remove_dir_all(&mods_out);
    fs::create_dir_all(&mods_out)
        .map_err(|e| KernelError(format!("{}: {e}", mods_out.display())))?;
    let mut names = Vec::new();
    for name in &order {
        let dst = mods_out.join(format!("{name}.ko"));
        let bytes = contents
            .get(name)
            .ok_or_else(|| KernelError(format!("module {name} was ordered but not read")))?;
        fs::write(&dst, bytes).map_err(|e| KernelError(format!("{}: {e}", dst.display())))?;
        names.push(format!("{name}.ko"));
    }
    fs::copy(&vmlinuz_src, dir.join("vmlinuz"))
        .map_err(|e| KernelError(format!("{}: {e}", vmlinuz_src.display())))?;
    let ready = format!("{series}\n{package}\n{release}\n{}", names.join("\n"));
    fs::write(dir.join(READY), ready).map_err(|e| KernelError(format!("ready file: {e}")))?;
    progress(
        series,
        format_args!(
            "{release} ready: modules {}",
            if names.is_empty() {
                "all built in".to_string()
            } else {
                names.join(", ")
            }
        ),
    );
    read_ready(dir)
        .ok_or_else(|| KernelError(format!("{}: prepared kernel is incomplete", dir.display())))
}

/// Maps module name (with `_`, as the kernel spells it) to its file.
fn index_modules(dir: &Path, out: &mut BTreeMap<String, PathBuf>) -> Result<(), KernelError> {
    let entries = fs::read_dir(dir).map_err(|e| KernelError(format!("{}: {e}", dir.display())))?;
    for e in entries.flatten() {
        let p = e.path();
        if p.is_dir() {
            index_modules(&p, out)?;
        } else if let Some(name) = p.file_name().and_then(|n| n.to_str()) {
            if name.contains(".ko") {
                out.insert(module_name(name), p);
            }
        }
    }
    Ok(())
}

/// A module file, decompressed: `.ko` as is, `.ko.xz` through `xz -dc`,
/// `.ko.zst` through `zstd -dc`.
fn read_module(path: &Path) -> Result<Vec<u8>, KernelError> {
    let name = path.to_string_lossy();
    let tool = if name.ends_with(".xz") {
        Some(("xz", "apt-get install xz-utils"))
    } else if name.ends_with(".zst") {
        Some(("zstd", "apt-get install zstd"))
    } else {
        None
    };
    let Some((tool, hint)) = tool else {
        return fs::read(path).map_err(|e| KernelError(format!("{}: {e}", path.display())));
    };
    let out = Command::new(tool)
        .arg("-dc")
        .arg(path)
        .output()
        .map_err(|e| KernelError(format!("cannot run {tool} ({hint}): {e}")))?;
    if !out.status.success() {
        return err(format!(
            "{tool} -dc {} failed: {}",
            path.display(),
            String::from_utf8_lossy(&out.stderr).trim()
        ));
    }
    Ok(out.stdout)
}

/// `kernel/net/sched/cls_bpf.ko.xz` -> `cls_bpf`; `-` becomes `_`, as in the
/// kernel's own module names.
pub fn module_name(path: &str) -> String {
    let file = path.rsplit('/').next().unwrap_or(path);
    let stem = file.split(".ko").next().unwrap_or(file);
    stem.replace('-', "_")
}

/// The `depends=` list of a module's `.modinfo` section (NUL-separated
/// `key=value` strings, see `include/linux/moduleparam.h`'s MODULE_INFO).
pub fn modinfo_depends(elf: &[u8]) -> Result<Vec<String>, String> {
    use object::{Object, ObjectSection};
    let file = object::File::parse(elf).map_err(|e| format!("not an ELF module: {e}"))?;
    let section = file
        .section_by_name(".modinfo")
        .ok_or("no .modinfo section")?;
    let data = section.data().map_err(|e| format!(".modinfo: {e}"))?;
    Ok(data
        .split(|b| *b == 0)
        .filter_map(|entry| entry.strip_prefix(b"depends="))
        .flat_map(|deps| {
            String::from_utf8_lossy(deps)
                .split(',')
                .filter(|d| !d.is_empty())
                .map(|d| d.replace('-', "_"))
                .collect::<Vec<_>>()
        })
        .collect())
}

/// The modules to load for `wanted`, dependencies first, each once. Built-in
/// modules (`modules.builtin`) need no file. `deps_of` names a module's
/// direct dependencies; a cycle is an error rather than an endless loop.
pub fn load_order(
    builtin: &str,
    wanted: &[&str],
    mut deps_of: impl FnMut(&str) -> Result<Vec<String>, KernelError>,
) -> Result<Vec<String>, KernelError> {
    let builtin: HashSet<String> = builtin.lines().map(module_name).collect();
    let mut order = Vec::new();
    let mut done = HashSet::new();
    fn visit(
        name: &str,
        builtin: &HashSet<String>,
        deps_of: &mut dyn FnMut(&str) -> Result<Vec<String>, KernelError>,
        stack: &mut Vec<String>,
        done: &mut HashSet<String>,
        order: &mut Vec<String>,
    ) -> Result<(), KernelError> {
        if builtin.contains(name) || done.contains(name) {
            return Ok(());
        }
        if stack.iter().any(|s| s == name) {
            return err(format!(
                "module dependency cycle: {} -> {name}",
                stack.join(" -> ")
            ));
        }
        stack.push(name.to_string());
        for d in deps_of(name)? {
            visit(&d, builtin, deps_of, stack, done, order)?;
        }
        stack.pop();
        done.insert(name.to_string());
        order.push(name.to_string());
        Ok(())
    }
    for name in wanted {
        let mut stack = Vec::new();
        visit(
            &module_name(name),
            &builtin,
            &mut deps_of,
            &mut stack,
            &mut done,
            &mut order,
        )?;
    }
    Ok(order)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn picks_the_newest_of_a_series_only() {
        let names: Vec<String> = [
            "linux-image-6.1.0-9-cloud-amd64-unsigned",
            "linux-image-6.1.0-56-cloud-amd64-unsigned",
            "linux-image-6.1.0-56-cloud-amd64",
            "linux-image-6.1.0-0.deb11.52-cloud-amd64",
            "linux-image-6.12.99+deb13-cloud-amd64-unsigned",
            "linux-image-6.12.117+deb13-cloud-amd64",
            "linux-image-6.12.117+deb13-cloud-amd64-dbg",
            "linux-image-6.1-cloud-amd64",
            "linux-image-7.2.13+deb14-cloud-amd64",
        ]
        .map(String::from)
        .to_vec();
        let a61 = abis_of("6.1", &names);
        assert_eq!(
            a61.len(),
            3,
            "6.1 must not match 6.12 or the meta package: {a61:?}"
        );
        assert_eq!(newest(&a61).unwrap(), "6.1.0-56-cloud-amd64");
        assert_eq!(
            newest(&abis_of("6.12", &names)).unwrap(),
            "6.12.117+deb13-cloud-amd64"
        );
        assert_eq!(abis_of("7.2", &names), ["7.2.13+deb14-cloud-amd64"]);
        assert!(abis_of("6.6", &names).is_empty());
    }

    #[test]
    fn split_kernel_parts_are_recognised_by_abi() {
        let abi = "7.2.13+deb14-cloud-amd64";
        assert!(is_kernel_part("linux-binary-7.2.13+deb14-cloud-amd64", abi));
        assert!(is_kernel_part("linux-base-7.2.13+deb14-cloud-amd64", abi));
        assert!(!is_kernel_part("linux-base", abi));
        assert!(!is_kernel_part("initramfs-tools", abi));
        assert!(!is_kernel_part(
            "linux-modules-7.2.12+deb14-cloud-amd64",
            abi
        ));
    }

    /// Both package layouts are found: bookworm's `boot/` and sid's
    /// `usr/lib/modules/REL/vmlinuz`.
    #[test]
    fn finds_vmlinuz_in_both_layouts() {
        let root = std::env::temp_dir().join(format!("lab-layout-{}", std::process::id()));
        let old = root.join("old");
        fs::create_dir_all(old.join("boot")).unwrap();
        fs::create_dir_all(old.join("lib/modules/5.10.0-46-cloud-amd64/kernel")).unwrap();
        fs::write(old.join("boot/vmlinuz-5.10.0-46-cloud-amd64"), b"k").unwrap();
        let (v, rel, m) = find_layout(&old).unwrap();
        assert_eq!(rel, "5.10.0-46-cloud-amd64");
        assert!(v.ends_with("boot/vmlinuz-5.10.0-46-cloud-amd64"));
        assert!(m.ends_with("lib/modules/5.10.0-46-cloud-amd64"));
        let new = root.join("new/usr/lib/modules/7.2.13+deb14-cloud-amd64");
        fs::create_dir_all(&new).unwrap();
        fs::write(new.join("vmlinuz"), b"k").unwrap();
        let (v, rel, m) = find_layout(&root.join("new")).unwrap();
        assert_eq!(rel, "7.2.13+deb14-cloud-amd64");
        assert_eq!(v, new.join("vmlinuz"));
        assert_eq!(m, new);
        assert!(find_layout(&root.join("none")).is_err());
        let _ = fs::remove_dir_all(&root);
    }

    /// A failed download and a truncated package each give one line naming
    /// the package; a good cached file is used without downloading.
    #[test]
    fn downloads_are_checked_against_the_index() {
        let debs = std::env::temp_dir().join(format!("lab-debs-{}", std::process::id()));
        fs::create_dir_all(&debs).unwrap();
        let body = b"a whole package".to_vec();
        let good = debs.join("probe");
        fs::write(&good, &body).unwrap();
        let info = PackageInfo {
            package: "linux-image-9.9-cloud-amd64".into(),
            version: "9.9-1".into(),
            size: body.len() as u64,
            sha256: sha256_of(&good).unwrap(),
            depends: vec![],
        };
        fs::remove_file(&good).unwrap();
        let deb = debs.join("linux-image-9.9-cloud-amd64_9.9-1_amd64.deb");

        let e = fetch_deb(&info, &debs, |_, _| {
            Err("apt-get download x: E: 404  Not Found".into())
        })
        .unwrap_err();
        assert!(e.contains("404") && !e.contains('\n'), "{e}");

        let e = fetch_deb(&info, &debs, |_, _| {
            fs::write(&deb, &body[..5]).map_err(|e| e.to_string())
        })
        .unwrap_err();
        assert!(e.contains("truncated") && e.contains(&info.package), "{e}");
        assert!(!deb.exists(), "a bad download must not stay in the cache");

        let p = fetch_deb(&info, &debs, |_, _| {
            fs::write(&deb, &body).map_err(|e| e.to_string())
        })
        .unwrap();
        assert_eq!(p, deb);
        let again = fetch_deb(&info, &debs, |_, _| {
            panic!("a good cached file needs no download")
        })
        .unwrap();
        assert_eq!(again, deb);
        let _ = fs::remove_dir_all(&debs);
    }

    fn graph<'a>(
        edges: &'a [(&'a str, &'a [&'a str])],
    ) -> impl FnMut(&str) -> Result<Vec<String>, KernelError> + 'a {
        move |name| {
            edges
                .iter()
                .find(|(n, _)| *n == name)
                .map(|(_, d)| d.iter().map(|s| s.to_string()).collect())
                .ok_or_else(|| KernelError(format!("module {name} unknown")))
        }
    }

    #[test]
    fn dependencies_load_first_and_once() {
        let edges: &[(&str, &[&str])] = &[
            ("cls_bpf", &[]),
            ("veth", &["page_pool", "base"]),
            ("sch_ingress", &["base"]),
            ("page_pool", &["base"]),
            ("base", &[]),
        ];
        let order = load_order("", &["veth", "sch_ingress", "cls_bpf"], graph(edges)).unwrap();
        assert_eq!(
            order,
            ["base", "page_pool", "veth", "sch_ingress", "cls_bpf"]
        );
    }

    #[test]
    fn builtin_modules_need_no_file_and_unknown_ones_are_named() {
        let edges: &[(&str, &[&str])] = &[("veth", &[])];
        let order = load_order(
            "kernel/net/sched/cls_bpf.ko\n",
            &["veth", "cls_bpf"],
            graph(edges),
        )
        .unwrap();
        assert_eq!(order, ["veth"]);
        let e = load_order("", &["sch_ingress"], graph(edges)).unwrap_err();
        assert!(e.0.contains("sch_ingress"), "{e}");
    }

    #[test]
    fn cycles_are_errors() {
        let edges: &[(&str, &[&str])] = &[("a", &["b"]), ("b", &["a"])];
        let e = load_order("", &["a"], graph(edges)).unwrap_err();
        assert!(e.0.contains("cycle"), "{e}");
    }

    #[test]
    fn modinfo_reader_takes_any_bytes() {
        assert!(modinfo_depends(b"").is_err());
        for _ in 0..2000 {
            let len = fastrand::usize(0..400);
            let mut b: Vec<u8> = (0..len).map(|_| fastrand::u8(..)).collect();
            if fastrand::bool() && b.len() > 4 {
                b[..4].copy_from_slice(b"\x7fELF");
            }
            let _ = modinfo_depends(&b);
        }
    }

    /// `depends=` comes out of an ELF `.modinfo` section: NUL-separated
    /// `key=value` entries, comma-separated names, `-` folded to `_`; a
    /// module without dependencies has an empty `depends=`.
    #[test]
    fn reads_depends_from_a_modinfo_section() {
        fn module(modinfo: &[u8]) -> Vec<u8> {
            use object::write::Object;
            use object::{Architecture, BinaryFormat, Endianness, SectionKind};
            let mut obj = Object::new(BinaryFormat::Elf, Architecture::X86_64, Endianness::Little);
            let id = obj.add_section(Vec::new(), b".modinfo".to_vec(), SectionKind::ReadOnlyData);
            obj.append_section_data(id, modinfo, 1);
            obj.write().expect("an ELF with one section")
        }
        let m = module(b"license=GPL\0depends=sch-ingress,veth\0vermagic=6.1.0 SMP\0");
        assert_eq!(modinfo_depends(&m).unwrap(), ["sch_ingress", "veth"]);
        let m = module(b"license=GPL\0depends=\0name=veth\0");
        assert_eq!(modinfo_depends(&m).unwrap(), Vec::<String>::new());
    }

    /// Reads the real `.modinfo` of a module of the running kernel, when one
    /// is installed as a file (the host may build everything in).
    #[test]
    fn reads_depends_from_a_real_module() {
        let Ok(rel) = fs::read_to_string("/proc/sys/kernel/osrelease") else {
            return;
        };
        let mut files = BTreeMap::new();
        if index_modules(
            &Path::new("/lib/modules").join(rel.trim()).join("kernel"),
            &mut files,
        )
        .is_err()
        {
            eprintln!("no module tree for the running kernel; skipping");
            return;
        }
        let Some(path) = files.values().next() else {
            return;
        };
        let bytes = read_module(path).unwrap();
        modinfo_depends(&bytes).unwrap();
    }
}
