//! Fetches Debian's cloud kernels with apt and prepares what a VM boot needs:
//! `vmlinuz` and the few modules the behaviour suite uses, decompressed, in
//! the order `finit_module` must load them.
//!
//! It follows the layout of a Debian `linux-image-*` package (`boot/vmlinuz-*`,
//! `lib/modules/<release>/kernel/...`, `modules.builtin`). The package ships
//! no `modules.dep` (`depmod(8)` writes it at install time), so a module's
//! dependencies are read from its own `.modinfo` section, the `depends=`
//! entry that `modpost` stores, and loaded before it.
//!
//! Everything is cached under `target/kernels/<series>/`; a prepared kernel is
//! marked by a `ready` file naming its package, so a second run costs one
//! `apt-cache search` and no download.

use std::collections::{BTreeMap, HashSet};
use std::fmt;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

/// The modules the behaviour suite needs on a kernel that does not build them
/// in (Debian's cloud flavour ships them as modules): veth pairs, the clsact
/// qdisc (`sch_ingress.ko` provides both ingress and clsact) and the cls_bpf
/// classifier.
pub const SUITE_MODULES: &[&str] = &["veth", "sch_ingress", "cls_bpf"];

/// A kernel series to test, such as "6.1": the newest Debian package
/// `linux-image-<series>.*-cloud-amd64-unsigned` is used.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Series(pub String);

/// A kernel ready to boot.
#[derive(Clone, Debug)]
pub struct PreparedKernel {
    pub series: String,
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

fn err<T>(msg: impl Into<String>) -> Result<T, KernelError> {
    Err(KernelError(msg.into()))
}

/// Package names for a series, e.g. "6.1" matches `linux-image-6.1.0-56-...`
/// but not `linux-image-6.10...` or `linux-image-6.12...`.
pub fn matching_packages(series: &str, apt_cache_output: &str) -> Vec<String> {
    let prefix = format!("linux-image-{series}.");
    apt_cache_output
        .lines()
        .filter_map(|l| l.split_whitespace().next())
        .filter(|name| name.starts_with(&prefix) && name.ends_with("-cloud-amd64-unsigned"))
        .map(str::to_string)
        .collect()
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

/// Finds the newest package for `series`: `apt-cache search`, and if nothing
/// matches, one `apt-get update` and a second search.
pub fn find_package(series: &str) -> Result<Option<String>, KernelError> {
    let pattern = format!(
        "^linux-image-{}\\..*-cloud-amd64-unsigned$",
        series.replace('.', "\\.")
    );
    let search = || -> Result<Vec<String>, KernelError> {
        let out = Command::new("apt-cache")
            .args(["search", "--names-only", &pattern])
            .output()
            .map_err(|e| KernelError(format!("cannot run apt-cache: {e}")))?;
        Ok(matching_packages(
            series,
            &String::from_utf8_lossy(&out.stdout),
        ))
    };
    let mut found = search()?;
    if found.is_empty() {
        eprintln!("kernel-matrix: no {series} cloud kernel known to apt; running apt-get update");
        let st = Command::new("apt-get")
            .args(["update", "-qq"])
            .status()
            .map_err(|e| KernelError(format!("cannot run apt-get update: {e}")))?;
        if !st.success() {
            eprintln!("kernel-matrix: apt-get update failed ({st})");
        }
        found = search()?;
    }
    Ok(newest(&found).cloned())
}

/// Makes sure the newest kernel of `series` is downloaded and prepared under
/// `cache_root/<series>/`. With no network or apt, a kernel prepared earlier
/// is used.
pub fn prepare(series: &str, cache_root: &Path) -> Result<PreparedKernel, KernelError> {
    let dir = cache_root.join(series);
    fs::create_dir_all(&dir)
        .map_err(|e| KernelError(format!("cannot create {}: {e}", dir.display())))?;
    let cached = read_ready(&dir);
    let package = match find_package(series) {
        Ok(Some(p)) => p,
        Ok(None) | Err(_) => match &cached {
            Some(k) => {
                eprintln!(
                    "kernel-matrix: apt found no {series} kernel; using cached {}",
                    k.package
                );
                return Ok(k.clone());
            }
            None => {
                return err(format!(
                    "no package linux-image-{series}.*-cloud-amd64-unsigned found by apt-cache \
                     (is deb.debian.org bookworm in /etc/apt/sources.list?) and none cached in {}",
                    dir.display()
                ))
            }
        },
    };
    if let Some(k) = cached {
        if k.package == package {
            return Ok(k);
        }
        eprintln!(
            "kernel-matrix: {series}: {} is newer than cached {}",
            package, k.package
        );
    }
    download_and_extract(series, &package, &dir)
}

fn read_ready(dir: &Path) -> Option<PreparedKernel> {
    let text = fs::read_to_string(dir.join("ready")).ok()?;
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

fn download_and_extract(
    series: &str,
    package: &str,
    dir: &Path,
) -> Result<PreparedKernel, KernelError> {
    let debs = dir.join("debs");
    fs::create_dir_all(&debs).map_err(|e| KernelError(format!("{}: {e}", debs.display())))?;
    let deb = find_deb(&debs, package);
    let deb = match deb {
        Some(d) => d,
        None => {
            eprintln!("kernel-matrix: downloading {package} (about 35 MB)");
            run(
                Command::new("apt-get")
                    .args(["download", "-q", package])
                    .current_dir(&debs),
                &format!("apt-get download {package}"),
            )?;
            find_deb(&debs, package).ok_or_else(|| {
                KernelError(format!(
                    "apt-get download left no {package}_*.deb in {}",
                    debs.display()
                ))
            })?
        }
    };
    let tree = dir.join("extract");
    let _ = fs::remove_dir_all(&tree);
    run(
        Command::new("dpkg-deb").arg("-x").arg(&deb).arg(&tree),
        &format!("dpkg-deb -x {}", deb.display()),
    )?;
    let result = prepare_from_tree(series, package, &tree, dir);
    // The extracted tree is ~150 MB; the .deb stays as the cache.
    let _ = fs::remove_dir_all(&tree);
    result
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

fn prepare_from_tree(
    series: &str,
    package: &str,
    tree: &Path,
    dir: &Path,
) -> Result<PreparedKernel, KernelError> {
    let boot = tree.join("boot");
    let vmlinuz_src = fs::read_dir(&boot)
        .map_err(|e| KernelError(format!("{}: {e}", boot.display())))?
        .flatten()
        .map(|e| e.path())
        .find(|p| {
            p.file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| n.starts_with("vmlinuz-"))
        })
        .ok_or_else(|| KernelError(format!("{package}: no boot/vmlinuz-* in the package")))?;
    let release = vmlinuz_src
        .file_name()
        .and_then(|n| n.to_str())
        .and_then(|n| n.strip_prefix("vmlinuz-"))
        .unwrap_or_default()
        .to_string();
    let moddir = tree.join("lib/modules").join(&release);
    // The package ships no modules.dep (depmod writes it at install time), so
    // dependencies come from each module's own `.modinfo` "depends=" entry.
    let builtin = fs::read_to_string(moddir.join("modules.builtin")).unwrap_or_default();
    let mut files = BTreeMap::new();
    index_modules(&moddir.join("kernel"), &mut files)?;
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
    fs::write(dir.join("ready"), ready).map_err(|e| KernelError(format!("ready file: {e}")))?;
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
        let out = "linux-image-6.1.0-9-cloud-amd64-unsigned - Linux 6.1\n\
                   linux-image-6.1.0-56-cloud-amd64-unsigned - Linux 6.1\n\
                   linux-image-6.12.99+deb12-cloud-amd64-unsigned - Linux 6.12\n\
                   linux-image-6.12.117+deb12-cloud-amd64-unsigned - Linux 6.12\n\
                   linux-image-6.12.117+deb12-cloud-amd64-dbg - debug\n";
        let p61 = matching_packages("6.1", out);
        assert_eq!(p61.len(), 2, "6.1 must not match 6.12: {p61:?}");
        assert_eq!(
            newest(&p61).unwrap(),
            "linux-image-6.1.0-56-cloud-amd64-unsigned"
        );
        let p612 = matching_packages("6.12", out);
        assert_eq!(
            newest(&p612).unwrap(),
            "linux-image-6.12.117+deb12-cloud-amd64-unsigned"
        );
        assert!(matching_packages("6.6", out).is_empty());
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
