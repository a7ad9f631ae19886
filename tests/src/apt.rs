//! A private apt: fetches Debian kernels from other suites (bullseye, trixie,
//! sid) without touching the host's apt configuration.
//!
//! Each Debian release gets its own sources list, package lists and cache
//! under `target/kernels/apt/<codename>/`, handed to `apt-get`/`apt-cache`
//! with `-o Dir::Etc::sourcelist=… -o Dir::Etc::sourceparts=- -o
//! Dir::State::Lists=… -o Dir::Cache=…` (see apt.conf(5)). The host's
//! `/etc/apt` and `/var/lib/apt` are only read, never written.
//!
//! What is trusted: the index files are verified against Debian's archive
//! keyring (`/usr/share/keyrings/debian-archive-keyring.gpg`, package
//! `debian-archive-keyring`), named with `signed-by=`, so the check is the
//! same one apt makes for the host's own suites. A suite whose signature does
//! not verify fails its kernel's column with apt's message; there is no
//! `trusted=yes` fallback. Each downloaded `.deb` is then checked against the
//! SHA256 the signed index lists for it.
//!
//! One release per series keeps the choice of kernel exact: "6.12" means
//! Debian 13's 6.12, not the 6.12 backport that bookworm-security also
//! carries.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

/// Where a kernel series comes from: a Debian release and its suites.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Release {
    /// The kernel series, e.g. "5.10".
    pub series: &'static str,
    /// The Debian release that ships it, for messages and the README.
    pub debian: &'static str,
    /// Its codename, which names the private apt directory.
    pub codename: &'static str,
    /// `(archive, suite)` pairs: archive is `debian` or `debian-security`.
    pub suites: &'static [(&'static str, &'static str)],
}

/// The matrix's kernels: each Debian release's newest cloud kernel.
pub const RELEASES: &[Release] = &[
    Release {
        series: "5.10",
        debian: "Debian 11",
        codename: "bullseye",
        suites: &[
            ("debian", "bullseye"),
            ("debian-security", "bullseye-security"),
        ],
    },
    Release {
        series: "6.1",
        debian: "Debian 12",
        codename: "bookworm",
        suites: &[
            ("debian", "bookworm"),
            ("debian-security", "bookworm-security"),
        ],
    },
    Release {
        series: "6.12",
        debian: "Debian 13",
        codename: "trixie",
        suites: &[("debian", "trixie"), ("debian-security", "trixie-security")],
    },
    Release {
        series: "7.2",
        debian: "Debian unstable",
        codename: "sid",
        suites: &[("debian", "sid")],
    },
];

/// The default series of `make kernels`, oldest first.
pub fn default_series() -> Vec<String> {
    RELEASES.iter().map(|r| r.series.to_string()).collect()
}

pub fn release(series: &str) -> Option<&'static Release> {
    RELEASES.iter().find(|r| r.series == series)
}

/// The keyring every private suite is verified with.
pub const KEYRING: &str = "/usr/share/keyrings/debian-archive-keyring.gpg";

/// The mirror the host already uses: the first `http(s)` URI of the host's
/// apt sources whose path ends in `/debian` (one-line or deb822 format),
/// else deb.debian.org. `LAB_DEBIAN_MIRROR` overrides it.
pub fn host_mirror() -> String {
    if let Ok(m) = std::env::var("LAB_DEBIAN_MIRROR") {
        return m.trim_end_matches('/').to_string();
    }
    let mut texts = Vec::new();
    if let Ok(t) = fs::read_to_string("/etc/apt/sources.list") {
        texts.push(t);
    }
    if let Ok(dir) = fs::read_dir("/etc/apt/sources.list.d") {
        let mut paths: Vec<PathBuf> = dir.flatten().map(|e| e.path()).collect();
        paths.sort();
        texts.extend(paths.iter().filter_map(|p| fs::read_to_string(p).ok()));
    }
    texts
        .iter()
        .find_map(|t| mirror_in(t))
        .unwrap_or_else(|| "http://deb.debian.org/debian".to_string())
}

/// The Debian mirror named in one sources file, if any.
pub fn mirror_in(text: &str) -> Option<String> {
    text.lines()
        .map(str::trim)
        .filter(|l| !l.starts_with('#'))
        .flat_map(str::split_whitespace)
        .find(|w| {
            (w.starts_with("http://") || w.starts_with("https://"))
                && w.trim_end_matches('/').ends_with("/debian")
        })
        .map(|w| w.trim_end_matches('/').to_string())
}

/// A private apt state for one Debian release.
pub struct PrivateApt {
    pub release: &'static Release,
    dir: PathBuf,
}

impl PrivateApt {
    /// Writes the sources list under `kernels_root/apt/<codename>/` (the
    /// lists and cache directories are created empty the first time).
    pub fn new(
        release: &'static Release,
        kernels_root: &Path,
        mirror: &str,
    ) -> Result<Self, String> {
        let dir = kernels_root.join("apt").join(release.codename);
        for sub in ["lists/partial", "cache/archives/partial"] {
            fs::create_dir_all(dir.join(sub))
                .map_err(|e| format!("cannot create {}: {e}", dir.join(sub).display()))?;
        }
        // debian-security lives beside debian on the same host.
        let base = mirror.trim_end_matches('/');
        let security = base
            .strip_suffix("/debian")
            .map(|h| format!("{h}/debian-security"))
            .unwrap_or_else(|| "http://deb.debian.org/debian-security".into());
        let list: String = release
            .suites
            .iter()
            .map(|(archive, suite)| {
                let uri = if *archive == "debian-security" {
                    &security
                } else {
                    base
                };
                format!("deb [signed-by={KEYRING}] {uri} {suite} main\n")
            })
            .collect();
        let sources = dir.join("sources.list");
        if fs::read_to_string(&sources).ok().as_deref() != Some(list.as_str()) {
            fs::write(&sources, list).map_err(|e| format!("{}: {e}", sources.display()))?;
            // Lists fetched for another mirror would mislead apt-cache.
            let _ = fs::remove_file(dir.join("updated"));
        }
        Ok(PrivateApt { release, dir })
    }

    /// This release's private apt directory, `<cache>/apt/<codename>/`.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The `-o` options that point apt at this private state.
    pub fn options(&self) -> Vec<String> {
        let d = |p: &str| self.dir.join(p).display().to_string();
        vec![
            "-o".into(),
            format!("Dir::Etc::sourcelist={}", d("sources.list")),
            "-o".into(),
            "Dir::Etc::sourceparts=-".into(),
            "-o".into(),
            format!("Dir::State::Lists={}", d("lists")),
            "-o".into(),
            format!("Dir::Cache={}", d("cache")),
            // The host's dpkg status is read by apt-cache; nothing here is
            // installed, so an empty one keeps the host out of the answers.
            "-o".into(),
            "Dir::State::status=/dev/null".into(),
            "-o".into(),
            "APT::Get::List-Cleanup=0".into(),
        ]
    }

    fn command(&self, tool: &str) -> Command {
        let mut c = Command::new(tool);
        c.args(self.options());
        c
    }

    /// True once `update` has succeeded for the current sources list.
    pub fn updated(&self) -> bool {
        self.dir.join("updated").is_file()
    }

    /// `apt-get update` on the private state. Fails on any index apt could
    /// not fetch or verify (apt prints those as `W:`/`E:` lines).
    pub fn update(&self) -> Result<(), String> {
        let out = self
            .command("apt-get")
            .args(["update", "-q"])
            .output()
            .map_err(|e| format!("cannot run apt-get: {e}"))?;
        let stderr = String::from_utf8_lossy(&out.stderr);
        let bad: Vec<&str> = stderr
            .lines()
            .filter(|l| l.starts_with("E:") || l.starts_with("W:"))
            .collect();
        if !out.status.success() || !bad.is_empty() {
            return Err(format!(
                "apt-get update for {} failed: {}",
                self.release.codename,
                if bad.is_empty() {
                    stderr.trim()
                } else {
                    bad[0]
                }
            ));
        }
        fs::write(self.dir.join("updated"), "").map_err(|e| e.to_string())?;
        Ok(())
    }

    /// Names of every package matching an `apt-cache search` regex.
    pub fn search(&self, pattern: &str) -> Result<Vec<String>, String> {
        let out = self
            .command("apt-cache")
            .args(["search", "--names-only", pattern])
            .output()
            .map_err(|e| format!("cannot run apt-cache: {e}"))?;
        Ok(String::from_utf8_lossy(&out.stdout)
            .lines()
            .filter_map(|l| l.split_whitespace().next())
            .map(str::to_string)
            .collect())
    }

    /// The index record of a package's candidate version.
    pub fn show(&self, package: &str) -> Result<PackageInfo, String> {
        let out = self
            .command("apt-cache")
            .args(["show", "--no-all-versions", package])
            .output()
            .map_err(|e| format!("cannot run apt-cache: {e}"))?;
        if !out.status.success() {
            return Err(format!(
                "apt-cache show {package}: {}",
                String::from_utf8_lossy(&out.stderr).trim()
            ));
        }
        PackageInfo::parse(&String::from_utf8_lossy(&out.stdout))
            .ok_or_else(|| format!("apt-cache show {package}: no Package/Size/SHA256 fields"))
    }

    /// `apt-get download` into `dir`.
    pub fn download(&self, package: &str, dir: &Path) -> Result<(), String> {
        let out = self
            .command("apt-get")
            .args(["download", "-q", package])
            .current_dir(dir)
            .output()
            .map_err(|e| format!("cannot run apt-get: {e}"))?;
        if !out.status.success() {
            let err = String::from_utf8_lossy(&out.stderr);
            let line = err
                .lines()
                .find(|l| l.starts_with("E:"))
                .unwrap_or(err.trim());
            return Err(format!("apt-get download {package}: {line}"));
        }
        Ok(())
    }
}

/// The fields of an index record the fetcher uses.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct PackageInfo {
    pub package: String,
    pub version: String,
    pub size: u64,
    pub sha256: String,
    /// Names only, without version constraints or alternatives.
    pub depends: Vec<String>,
}

impl PackageInfo {
    /// Parses the first record of `apt-cache show` output (RFC 822 style).
    pub fn parse(text: &str) -> Option<PackageInfo> {
        let mut p = PackageInfo::default();
        for line in text.lines() {
            if line.is_empty() {
                break;
            }
            let Some((k, v)) = line.split_once(':') else {
                continue;
            };
            let v = v.trim();
            match k {
                "Package" => p.package = v.to_string(),
                "Version" => p.version = v.to_string(),
                "Size" => p.size = v.parse().ok()?,
                "SHA256" => p.sha256 = v.to_string(),
                "Depends" => {
                    p.depends = v
                        .split(',')
                        .flat_map(|alt| alt.split('|'))
                        .filter_map(|d| d.split_whitespace().next())
                        .map(str::to_string)
                        .collect()
                }
                _ => {}
            }
        }
        (!p.package.is_empty() && !p.sha256.is_empty()).then_some(p)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_release_has_a_main_suite_and_a_unique_series() {
        for r in RELEASES {
            assert!(r.suites.iter().any(|(a, _)| *a == "debian"), "{r:?}");
            assert_eq!(RELEASES.iter().filter(|o| o.series == r.series).count(), 1);
        }
        assert_eq!(default_series(), ["5.10", "6.1", "6.12", "7.2"]);
    }

    #[test]
    fn finds_the_mirror_in_both_source_formats() {
        let deb822 = "Types: deb\nURIs: http://deb.debian.org/debian\nSuites: bookworm\n";
        assert_eq!(mirror_in(deb822).unwrap(), "http://deb.debian.org/debian");
        let one = "# deb http://old/debian x main\ndeb [arch=amd64] https://m.example/debian/ bookworm main\n";
        assert_eq!(mirror_in(one).unwrap(), "https://m.example/debian");
        assert_eq!(
            mirror_in("deb http://deb.debian.org/debian-security x main"),
            None
        );
    }

    #[test]
    fn sources_list_is_signed_and_private() {
        let root = std::env::temp_dir().join(format!("lab-apt-{}", std::process::id()));
        let apt =
            PrivateApt::new(release("5.10").unwrap(), &root, "http://m.example/debian").unwrap();
        let list = fs::read_to_string(root.join("apt/bullseye/sources.list")).unwrap();
        assert_eq!(
            list,
            format!(
                "deb [signed-by={KEYRING}] http://m.example/debian bullseye main\n\
                 deb [signed-by={KEYRING}] http://m.example/debian-security bullseye-security main\n"
            )
        );
        let opts = apt.options().join(" ");
        assert!(opts.contains("Dir::Etc::sourceparts=-"), "{opts}");
        assert!(opts.contains(&format!(
            "Dir::State::Lists={}",
            root.join("apt/bullseye/lists").display()
        )));
        assert!(!apt.updated());
        let _ = fs::remove_dir_all(&root);
    }

    #[test]
    fn parses_an_index_record() {
        let text = "Package: linux-image-7.2.13+deb14-cloud-amd64\nVersion: 7.2.13-1\n\
                    Depends: dracut | initramfs-tools (>= 0.120+deb8u2), linux-base-7.2.13+deb14-cloud-amd64 (= 7.2.13-1)\n\
                    Size: 1916\nSHA256: abcd\n\nPackage: other\n";
        let p = PackageInfo::parse(text).unwrap();
        assert_eq!(p.size, 1916);
        assert_eq!(p.version, "7.2.13-1");
        assert_eq!(
            p.depends,
            [
                "dracut",
                "initramfs-tools",
                "linux-base-7.2.13+deb14-cloud-amd64"
            ]
        );
        assert!(PackageInfo::parse("Package: x\nSize: many\nSHA256: a\n").is_none());
        assert!(PackageInfo::parse("").is_none());
    }
}
