//! Named network namespaces, compatible with iproute2's `ip netns`.
//!
//! A named namespace is a bind mount of a namespace file at
//! `/run/netns/NAME` (iproute2 `ip/ipnetns.c` does the same, so `ip netns
//! list` and `ip netns exec NAME` see ours). The bind mount keeps the
//! namespace alive with no process in it.
//!
//! `setns(2)` and `unshare(2)` act on the *calling thread*; so every switch
//! happens on a short-lived thread of its own ([`Netns::run`], [`run_in`])
//! and the caller's thread never changes namespace. See namespaces(7),
//! network_namespaces(7) and setns(2).
//!
//! Deleting a namespace is where the seed's Makefile trips: the kernel
//! destroys a namespace (and the veth devices in it) asynchronously after
//! the last reference goes, so `ip netns del` returns while the veth peers,
//! which may live in *other* namespaces, still exist, and creating them again
//! fails with "File exists". [`Netns::delete`] first deletes the devices in
//! it with `RTM_DELLINK` (which returns only once they are unregistered),
//! then unmounts.

use crate::error::{Error, Result};
use crate::handle::Handle;
use crate::sys;
use std::fs::{self, File, OpenOptions};
use std::io::Write;
use std::os::fd::{AsFd, BorrowedFd};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU32, Ordering};

/// iproute2's `NETNS_RUN_DIR`.
pub const NETNS_RUN_DIR: &str = "/run/netns";

/// An open network namespace: its name and an fd on `/run/netns/NAME`.
#[derive(Debug)]
pub struct Netns {
    name: String,
    file: File,
}

fn check_name(name: &str) -> Result<()> {
    if name.is_empty() || name.contains('/') || name == "." || name == ".." || name.contains('\0') {
        return Err(Error::Invalid(format!(
            "netns name {name:?}: it must be a non-empty file name without '/'"
        )));
    }
    Ok(())
}

/// `/run/netns/NAME`.
pub fn path_of(name: &str) -> PathBuf {
    Path::new(NETNS_RUN_DIR).join(name)
}

/// Makes `/run/netns` exist and be a shared mount point, as iproute2 does,
/// so a namespace mounted here also shows up in mount namespaces created
/// later (for example by `ip netns exec`).
fn prepare_run_dir() -> Result<()> {
    // Two threads making it a mount point at once would stack two mounts,
    // and namespaces mounted on the lower one would vanish from view.
    static ONCE: std::sync::Mutex<()> = std::sync::Mutex::new(());
    let _serial = ONCE.lock().unwrap_or_else(|p| p.into_inner());
    let dir = Path::new(NETNS_RUN_DIR);
    fs::create_dir_all(dir).map_err(|e| Error::io(format!("mkdir {NETNS_RUN_DIR}"), e))?;
    if is_shared_mount(dir) {
        return Ok(());
    }
    match sys::mount_make_shared(dir) {
        Ok(()) => Ok(()),
        // EINVAL: not a mount point yet. Bind it onto itself, then retry.
        Err(e) if e.raw_os_error() == Some(libc::EINVAL) => {
            sys::mount_bind_self(dir).map_err(|e| {
                Error::io(format!("mount --bind {NETNS_RUN_DIR} {NETNS_RUN_DIR}"), e)
            })?;
            sys::mount_make_shared(dir)
                .map_err(|e| Error::io(format!("mount --make-rshared {NETNS_RUN_DIR}"), e))
        }
        Err(e) => Err(Error::io(
            format!("mount --make-rshared {NETNS_RUN_DIR}"),
            e,
        )),
    }
}

/// Whether `/proc/self/mountinfo` lists `dir` as a mount point with `shared:` propagation.
fn is_shared_mount(dir: &Path) -> bool {
    let Ok(info) = fs::read_to_string("/proc/self/mountinfo") else {
        return false;
    };
    let d = dir.to_string_lossy();
    info.lines().any(|l| {
        let mut f = l.split(' ');
        f.nth(4) == Some(&*d) && l.contains(" shared:")
    })
}

/// Whether `/proc/self/mountinfo` has a mount at `path`.
pub fn is_mounted(path: &Path) -> bool {
    let p = path.to_string_lossy();
    fs::read_to_string("/proc/self/mountinfo")
        .map(|info| info.lines().any(|l| l.split(' ').nth(4) == Some(&*p)))
        .unwrap_or(false)
}

impl Netns {
    /// Creates a new named network namespace: `ip netns add NAME`.
    ///
    /// On a fresh thread: `unshare(CLONE_NEWNET)`, then bind-mount
    /// `/proc/thread-self/ns/net` onto `/run/netns/NAME`. Fails with EEXIST
    /// if the name is taken.
    pub fn create(name: &str) -> Result<Netns> {
        check_name(name)?;
        if !sys::is_root() {
            return Err(Error::io(
                format!("ip netns add {name}"),
                std::io::Error::from_raw_os_error(libc::EPERM),
            ));
        }
        prepare_run_dir()?;
        let path = path_of(name);
        // The mount point: an empty file, created exclusively so that two
        // creators of the same name cannot both succeed.
        OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o000)
            .open(&path)
            .map_err(|e| Error::io(format!("create {}", path.display()), e))?;
        let mounted = std::thread::scope(|s| {
            s.spawn(|| -> std::io::Result<()> {
                sys::unshare_net()?;
                // /proc/thread-self, not /proc/self: only this thread moved.
                sys::mount_bind(Path::new("/proc/thread-self/ns/net"), &path)
            })
            .join()
        });
        let mounted = match mounted {
            Ok(r) => r,
            Err(p) => std::panic::resume_unwind(p),
        };
        if let Err(e) = mounted {
            let _ = fs::remove_file(&path);
            return Err(Error::io(
                format!("unshare + mount --bind for netns {name}"),
                e,
            ));
        }
        Netns::open(name)
    }

    /// Opens an existing named namespace: `/run/netns/NAME`.
    pub fn open(name: &str) -> Result<Netns> {
        check_name(name)?;
        let path = path_of(name);
        let file = File::open(&path).map_err(|e| match e.kind() {
            std::io::ErrorKind::NotFound => {
                Error::NotFound(format!("netns {name} ({})", path.display()))
            }
            _ => Error::io(format!("open {}", path.display()), e),
        })?;
        Ok(Netns {
            name: name.to_string(),
            file,
        })
    }

    /// The name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// `/run/netns/NAME`.
    pub fn path(&self) -> PathBuf {
        path_of(&self.name)
    }

    /// Runs `f` on a new thread that has entered this namespace, and returns
    /// its result. The caller's thread is unaffected. A panic in `f` is
    /// propagated.
    pub fn run<T: Send>(&self, f: impl FnOnce() -> T + Send) -> Result<T> {
        let fd = self.file.as_fd();
        let r = std::thread::scope(|s| {
            s.spawn(|| -> Result<T> {
                sys::setns_net(fd)
                    .map_err(|e| Error::io(format!("setns into netns {}", self.name), e))?;
                Ok(f())
            })
            .join()
        });
        match r {
            Ok(r) => r,
            Err(p) => std::panic::resume_unwind(p),
        }
    }

    /// Deletes the named namespace, waiting until its devices are gone:
    /// every link but loopback is deleted with `RTM_DELLINK` first (a veth
    /// takes its peer, wherever it lives), then `/run/netns/NAME` is
    /// unmounted (`MNT_DETACH`) and removed. `ip netns del NAME`, without the race.
    pub fn delete(name: &str) -> Result<()> {
        let ns = Netns::open(name)?;
        let mut h = Handle::in_netns(&ns)?;
        for _round in 0..3 {
            let links = h.links()?;
            let doomed: Vec<_> = links
                .iter()
                .filter(|l| l.flags & crate::consts::IFF_LOOPBACK == 0)
                .collect();
            if doomed.is_empty() {
                break;
            }
            for l in doomed {
                match h.link_del(l.ifindex) {
                    Ok(()) => {}
                    // Gone already: the peer of a veth we just deleted.
                    Err(e) if e.errno() == Some(libc::ENODEV) => {}
                    // Devices that cannot be deleted (physical ones) go
                    // back to the initial namespace on their own.
                    Err(e) if e.errno() == Some(libc::EOPNOTSUPP) => {}
                    Err(e) => return Err(e),
                }
            }
        }
        drop(h);
        drop(ns);
        let path = path_of(name);
        sys::umount_detach(&path)
            .map_err(|e| Error::io(format!("umount {}", path.display()), e))?;
        fs::remove_file(&path).map_err(|e| Error::io(format!("rm {}", path.display()), e))
    }

    /// Deletes this namespace (see [`Netns::delete`]).
    pub fn destroy(self) -> Result<()> {
        let name = self.name.clone();
        drop(self);
        Netns::delete(&name)
    }

    /// Writes a sysctl inside this namespace: `path` is relative to
    /// `/proc/sys` (`net/ipv4/conf/veth1@2/proxy_arp`). `/proc/sys/net`
    /// shows the namespace of the thread that opens it, hence the switch.
    pub fn sysctl_write(&self, path: &str, value: &str) -> Result<()> {
        let full = sysctl_path(path)?;
        self.run(|| {
            OpenOptions::new()
                .write(true)
                .open(&full)
                .and_then(|mut f| f.write_all(value.as_bytes()))
        })?
        .map_err(|e| {
            Error::io(
                format!(
                    "ip netns exec {} sysctl -w {}={value}",
                    self.name,
                    path.replace('/', ".")
                ),
                e,
            )
        })
    }

    /// Reads a sysctl inside this namespace (trailing newline removed).
    pub fn sysctl_read(&self, path: &str) -> Result<String> {
        let full = sysctl_path(path)?;
        self.run(|| fs::read_to_string(&full))?
            .map(|s| s.trim_end().to_string())
            .map_err(|e| Error::io(format!("ip netns exec {} sysctl {path}", self.name), e))
    }
}

fn sysctl_path(path: &str) -> Result<PathBuf> {
    if path.split('/').any(|c| c == ".." || c.is_empty()) {
        return Err(Error::Invalid(format!(
            "sysctl path {path:?}: give it relative to /proc/sys, like net/ipv4/ip_forward"
        )));
    }
    Ok(Path::new("/proc/sys").join(path))
}

impl AsFd for Netns {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.file.as_fd()
    }
}

/// Runs `f` inside the named namespace on a dedicated thread: `ip netns exec NAME`.
pub fn run_in<T: Send>(name: &str, f: impl FnOnce() -> T + Send) -> Result<T> {
    Netns::open(name)?.run(f)
}

/// Writes a sysctl inside the named namespace (see [`Netns::sysctl_write`]).
pub fn sysctl_write(netns: &str, path: &str, value: &str) -> Result<()> {
    Netns::open(netns)?.sysctl_write(path, value)
}

/// The names under `/run/netns`: `ip netns list`.
pub fn list() -> Result<Vec<String>> {
    let mut v = Vec::new();
    let rd = match fs::read_dir(NETNS_RUN_DIR) {
        Ok(rd) => rd,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(v),
        Err(e) => return Err(Error::io(format!("read {NETNS_RUN_DIR}"), e)),
    };
    for e in rd.flatten() {
        v.push(e.file_name().to_string_lossy().into_owned());
    }
    v.sort();
    Ok(v)
}

/// A name no other process or thread will pick: `PREFIX-PID-N`. Tests use
/// it so that parallel runs never share a namespace.
pub fn unique_name(prefix: &str) -> String {
    static N: AtomicU32 = AtomicU32::new(0);
    format!(
        "{prefix}-{}-{}",
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed)
    )
}

/// A namespace deleted when dropped, even if a test panics.
#[derive(Debug)]
pub struct NetnsGuard {
    ns: Option<Netns>,
}

impl NetnsGuard {
    /// Creates `name` (see [`Netns::create`]).
    pub fn create(name: &str) -> Result<NetnsGuard> {
        Ok(NetnsGuard {
            ns: Some(Netns::create(name)?),
        })
    }

    /// Creates a namespace named `unique_name(prefix)`.
    pub fn unique(prefix: &str) -> Result<NetnsGuard> {
        NetnsGuard::create(&unique_name(prefix))
    }
}

impl std::ops::Deref for NetnsGuard {
    type Target = Netns;
    fn deref(&self) -> &Netns {
        // Only Drop takes it out.
        self.ns.as_ref().expect("NetnsGuard used after drop")
    }
}

impl Drop for NetnsGuard {
    fn drop(&mut self) {
        if let Some(ns) = self.ns.take() {
            let name = ns.name.clone();
            if let Err(e) = ns.destroy() {
                eprintln!("warning: could not delete netns {name}: {e}");
            }
        }
    }
}
