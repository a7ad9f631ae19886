//! Programs: `BPF_PROG_LOAD` with the verifier log, `BPF_PROG_TEST_RUN`,
//! program info, pinning, and walking the kernel's loaded programs.
//!
//! Follows the `BPF_PROG_LOAD`, `BPF_PROG_TEST_RUN`, `BPF_OBJ_GET_INFO_BY_FD`
//! and `BPF_PROG_GET_NEXT_ID` sections of `include/uapi/linux/bpf.h`, and the
//! log-buffer rules of `kernel/bpf/log.c` (ENOSPC when the log does not fit).

use std::ffi::CString;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd};
use std::path::Path;

use crate::error::{too_old_hint, Error, Result, SysError};
use crate::sys::{self, cmd, BpfProgInfo, GetIdAttr, InfoAttr, ProgLoadAttr, TestRunAttr};
use crate::types::{AttachType, ProgType};
use crate::verifier::{self, SourceMap};

/// The largest verifier log buffer the loader will offer (the kernel's own
/// limit for `log_size` is `UINT_MAX >> 2`; 16 MiB holds any sane program).
pub const MAX_LOG_SIZE: usize = 16 << 20;
/// The first log buffer size on a retry.
const FIRST_LOG_SIZE: usize = 64 << 10;
/// `BPF_LOG_LEVEL1` (include/linux/bpf_verifier.h, uapi-stable values):
/// the path the verifier walked, with register states at branches.
pub const BPF_LOG_LEVEL1: u32 = 1;
/// `BPF_LOG_LEVEL2`: every instruction with full register state.
pub const BPF_LOG_LEVEL2: u32 = 2;
/// `BPF_LOG_STATS`: verification time and stack depth lines.
pub const BPF_LOG_STATS: u32 = 4;

/// How to load a program.
#[derive(Debug, Clone)]
pub struct LoadOptions<'a> {
    /// The program type (`BPF_PROG_TYPE_SCHED_CLS` for TC).
    pub prog_type: ProgType,
    /// `expected_attach_type`: needed for TCX links on some kernels, and for
    /// program types whose context depends on the hook.
    pub expected_attach_type: Option<AttachType>,
    /// The license string; "GPL" unlocks GPL-only helpers.
    pub license: &'a str,
    /// The program name (at most 15 bytes; the kernel allows `[A-Za-z0-9_.]`).
    pub name: &'a str,
    /// Keep the level-2 log and the stats of an accepted program.
    pub verbose: bool,
    /// Instruction slot -> source line, to annotate verifier logs.
    pub source_map: Option<&'a SourceMap>,
    /// `attach_btf_id`: for `BPF_PROG_TYPE_TRACING`, the vmlinux BTF id of
    /// the hook (a FUNC for fentry, a `btf_trace_NAME` TYPEDEF for
    /// `tp_btf`); 0 otherwise. See `bpf::tracing`.
    pub attach_btf_id: u32,
    /// The program's BTF: `prog_btf_fd`, `func_info`, `line_info`.
    pub btf: Option<&'a crate::btf::ProgBtf>,
    /// `fd_array`: the BTF object fds of modules whose kfuncs the program
    /// calls; a call's `off` is its module's index here (0 is vmlinux, so
    /// entry 0 is never read). Empty: no `fd_array`.
    pub fd_array: &'a [i32],
}

impl<'a> LoadOptions<'a> {
    /// Options for a program of `prog_type` named `name`, license "GPL".
    pub fn new(prog_type: ProgType, name: &'a str) -> LoadOptions<'a> {
        LoadOptions {
            prog_type,
            expected_attach_type: None,
            license: "GPL",
            name,
            verbose: false,
            source_map: None,
            attach_btf_id: 0,
            btf: None,
            fd_array: &[],
        }
    }
}

/// A loaded program. Dropping it closes the fd; the kernel frees the program
/// when nothing else (a pin, an attachment, another fd) holds it.
#[derive(Debug)]
pub struct Program {
    fd: OwnedFd,
    verifier_log: Option<String>,
}

/// One `BPF_PROG_TEST_RUN` request.
#[derive(Debug, Clone, Default)]
pub struct TestRun<'a> {
    /// The packet (for SCHED_CLS/XDP: starting with the Ethernet header).
    pub data_in: &'a [u8],
    /// Capacity for the packet after the run; `None` means
    /// `data_in.len() + 256` (programs may grow the packet).
    pub data_out_size: Option<usize>,
    /// Context in (`struct __sk_buff` for SCHED_CLS), or empty.
    pub ctx_in: &'a [u8],
    /// Capacity for the context after the run (0: don't read it back).
    pub ctx_out_size: usize,
    /// Runs to average the duration over (0 and 1 both mean once).
    pub repeat: u32,
    /// `flags` (`BPF_F_TEST_RUN_ON_CPU` ...).
    pub flags: u32,
}

/// What a test run returned.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TestRunResult {
    /// The program's return value (`TC_ACT_*` for SCHED_CLS, `XDP_*` for XDP).
    pub retval: u32,
    /// Mean nanoseconds per run, as the kernel measured it.
    pub duration_ns: u32,
    /// The packet after the run.
    pub data_out: Vec<u8>,
    /// The context after the run (empty unless asked for).
    pub ctx_out: Vec<u8>,
}

/// What `BPF_OBJ_GET_INFO_BY_FD` says about a program.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProgInfo {
    /// Kernel-wide program id.
    pub id: u32,
    /// Raw program type (see [`ProgType::from_raw`]).
    pub prog_type: u32,
    /// The program's name.
    pub name: String,
    /// The tag: first 8 bytes of SHA-1 over the instructions (map fds zeroed).
    pub tag: [u8; sys::BPF_TAG_SIZE],
    /// Size of the translated (kernel-rewritten) instructions, in bytes.
    pub xlated_len: u32,
    /// Size of the JIT-compiled code, in bytes (0 when not JITed).
    pub jited_len: u32,
    /// Load time, nanoseconds since boot.
    pub load_time_ns: u64,
    /// Uid that loaded it.
    pub created_by_uid: u32,
    /// Number of maps it uses.
    pub nr_map_ids: u32,
    /// True when its license is GPL-compatible.
    pub gpl_compatible: bool,
    /// Instructions the verifier processed (Linux 5.16+, else 0).
    pub verified_insns: u32,
}

impl ProgInfo {
    /// The tag as 16 hex digits, as bpftool prints it.
    pub fn tag_hex(&self) -> String {
        hex(&self.tag)
    }

    /// The type's short name (`sched_cls`), or the number.
    pub fn type_name(&self) -> String {
        ProgType::from_raw(self.prog_type)
            .map(|t| t.short_name().to_string())
            .unwrap_or_else(|| format!("type {}", self.prog_type))
    }
}

/// Lowercase hex of `bytes`.
pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Copies `name` into a kernel object name field, checking what the kernel
/// checks (`bpf_obj_name_cpy`: at most 15 bytes, `[A-Za-z0-9_.]`).
pub(crate) fn obj_name(name: &str, what: &str) -> Result<[u8; sys::BPF_OBJ_NAME_LEN]> {
    let mut out = [0u8; sys::BPF_OBJ_NAME_LEN];
    if name.len() >= sys::BPF_OBJ_NAME_LEN {
        return Err(Error::Input(format!(
            "{what} name {name:?} is {} bytes; the kernel allows at most {} (BPF_OBJ_NAME_LEN - 1)",
            name.len(),
            sys::BPF_OBJ_NAME_LEN - 1
        )));
    }
    if let Some(c) = name
        .chars()
        .find(|c| !(c.is_ascii_alphanumeric() || *c == '_' || *c == '.'))
    {
        return Err(Error::Input(format!(
            "{what} name {name:?} has {c:?}; the kernel allows only letters, digits, '_' and '.'"
        )));
    }
    out[..name.len()].copy_from_slice(name.as_bytes());
    Ok(out)
}

fn name_from(field: &[u8]) -> String {
    let end = field.iter().position(|&b| b == 0).unwrap_or(field.len());
    String::from_utf8_lossy(&field[..end]).into_owned()
}

/// A path as a C string, with a clear error for interior NULs.
pub(crate) fn c_path(path: &Path) -> Result<CString> {
    use std::os::unix::ffi::OsStrExt;
    CString::new(path.as_os_str().as_bytes())
        .map_err(|_| Error::Input(format!("path {} contains a NUL byte", path.display())))
}

/// Kernels before 5.11 charge BPF programs and maps to `RLIMIT_MEMLOCK`,
/// whose small default makes loads fail with EPERM even for root; 5.11
/// moved to memory-cgroup accounting. Raise the limit once on such kernels,
/// as libbpf does.
pub(crate) fn prepare_memlock() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        if crate::error::kernel_version().is_some_and(|v| v < (5, 11)) {
            // Best effort: without CAP_SYS_RESOURCE the load's own EPERM
            // explains the failure.
            let _ = sys::raise_memlock_rlimit();
        }
    });
}

/// One load attempt: returns the fd, or the errno and whatever log there is.
fn try_load(
    insns: &[u8],
    license: &CString,
    name: &[u8; sys::BPF_OBJ_NAME_LEN],
    opts: &LoadOptions<'_>,
    log_level: u32,
    log: &mut Vec<u8>,
) -> std::result::Result<OwnedFd, (std::io::Error, u32)> {
    let mut attr = ProgLoadAttr {
        prog_type: opts.prog_type.raw(),
        insn_cnt: (insns.len() / 8) as u32,
        insns: insns.as_ptr() as u64,
        license: license.as_ptr() as u64,
        prog_name: *name,
        expected_attach_type: opts.expected_attach_type.map(AttachType::raw).unwrap_or(0),
        attach_btf_id: opts.attach_btf_id,
        ..Default::default()
    };
    if let Some(b) = opts.btf {
        attr.prog_btf_fd = b.btf.as_fd().as_raw_fd() as u32;
        attr.func_info_rec_size = crate::btf::ProgBtf::FUNC_INFO_REC_SIZE;
        attr.func_info = b.func_info.as_ptr() as u64;
        attr.func_info_cnt = b.func_info_cnt();
        attr.line_info_rec_size = crate::btf::ProgBtf::LINE_INFO_REC_SIZE;
        attr.line_info = b.line_info.as_ptr() as u64;
        attr.line_info_cnt = b.line_info_cnt();
    }
    if !opts.fd_array.is_empty() {
        attr.fd_array = opts.fd_array.as_ptr() as u64;
    }
    if log_level != 0 {
        attr.log_level = log_level;
        attr.log_size = log.len() as u32;
        attr.log_buf = log.as_mut_ptr() as u64;
    }
    sys::bpf_fd(cmd::BPF_PROG_LOAD, &mut attr).map_err(|e| (e, attr.log_true_size))
}

fn log_text(buf: &[u8]) -> String {
    let end = buf.iter().position(|&b| b == 0).unwrap_or(buf.len());
    String::from_utf8_lossy(&buf[..end]).into_owned()
}

/// Loads with a log at `level`, growing the buffer on ENOSPC up to
/// [`MAX_LOG_SIZE`]. Returns the load result and the log (and whether it
/// was truncated).
fn load_with_log(
    insns: &[u8],
    license: &CString,
    name: &[u8; sys::BPF_OBJ_NAME_LEN],
    opts: &LoadOptions<'_>,
    level: u32,
) -> (std::result::Result<OwnedFd, std::io::Error>, String, bool) {
    let mut size = FIRST_LOG_SIZE;
    loop {
        let mut log = vec![0u8; size];
        match try_load(insns, license, name, opts, level, &mut log) {
            Ok(fd) => return (Ok(fd), log_text(&log), false),
            Err((e, true_size))
                if e.raw_os_error() == Some(libc::ENOSPC) && size < MAX_LOG_SIZE =>
            {
                // Linux 6.4+ says exactly how much it needed; older kernels
                // leave `log_true_size` at 0, so grow geometrically.
                let want = if true_size as usize > size {
                    true_size as usize
                } else {
                    size * 4
                };
                size = want.min(MAX_LOG_SIZE);
            }
            Err((e, _)) => {
                let truncated = e.raw_os_error() == Some(libc::ENOSPC);
                return (Err(e), log_text(&log), truncated);
            }
        }
    }
}

impl Program {
    /// Loads raw instruction bytes (8-byte slots, host byte order) as a
    /// program of `prog_type`.
    pub fn load(prog_type: ProgType, insns: &[u8], license: &str, name: &str) -> Result<Program> {
        let mut opts = LoadOptions::new(prog_type, name);
        opts.license = license;
        Program::load_with(insns, &opts)
    }

    /// Loads raw instruction bytes with full options.
    ///
    /// The first attempt has no log (fast, and what an accepted program
    /// costs). If the kernel refuses it, the load is repeated at log level 1
    /// to get the verifier's reasons. With `verbose`, the only attempt uses
    /// level 2 plus stats, and the log is kept on the program.
    pub fn load_with(insns: &[u8], opts: &LoadOptions<'_>) -> Result<Program> {
        prepare_memlock();
        const CMD: &str = "BPF_PROG_LOAD";
        if insns.is_empty() || insns.len() % 8 != 0 {
            return Err(Error::Input(format!(
                "program {:?}: {} bytes of instructions; it must be a non-empty multiple of 8 \
                 (one struct bpf_insn per 8-byte slot)",
                opts.name,
                insns.len()
            )));
        }
        if insns.len() / 8 > u32::MAX as usize {
            return Err(Error::Input(
                "program has more than 2^32 instructions".into(),
            ));
        }
        let name = obj_name(opts.name, "program")?;
        let license = CString::new(opts.license)
            .map_err(|_| Error::Input("license contains a NUL byte".into()))?;

        if opts.verbose {
            let level = BPF_LOG_LEVEL2 | BPF_LOG_STATS;
            let (res, log, truncated) = load_with_log(insns, &license, &name, opts, level);
            return match res {
                Ok(fd) => Ok(Program {
                    fd,
                    verifier_log: Some(match opts.source_map {
                        Some(m) => verifier::annotate(&log, m),
                        None => log,
                    }),
                }),
                Err(e) => Err(load_error(CMD, &e, opts, &log, truncated)),
            };
        }

        let first = try_load(insns, &license, &name, opts, 0, &mut Vec::new());
        let err = match first {
            Ok(fd) => {
                return Ok(Program {
                    fd,
                    verifier_log: None,
                })
            }
            Err((e, _)) => e,
        };
        if err.raw_os_error() == Some(libc::EPERM) {
            return Err(SysError::new(CMD, &err).into());
        }
        let (res, log, truncated) = load_with_log(insns, &license, &name, opts, BPF_LOG_LEVEL1);
        match res {
            // Accepted with a log but not without: can happen only if the
            // failure was transient (EAGAIN, memory). Take the fd.
            Ok(fd) => Ok(Program {
                fd,
                verifier_log: None,
            }),
            Err(e) => Err(load_error(CMD, &e, opts, &log, truncated)),
        }
    }

    /// Wraps an fd that is known to be a program (from a pin or an id).
    pub fn from_fd(fd: OwnedFd) -> Program {
        Program {
            fd,
            verifier_log: None,
        }
    }

    /// The verbose verifier log of an accepted program (`verbose` loads only).
    pub fn verifier_log(&self) -> Option<&str> {
        self.verifier_log.as_deref()
    }

    /// The verifier's stats line from the verbose log.
    pub fn verifier_stats(&self) -> Option<&str> {
        self.verifier_log.as_deref().and_then(verifier::stats_line)
    }

    /// Gives up the fd (for callers that store it elsewhere).
    pub fn into_fd(self) -> OwnedFd {
        self.fd
    }

    /// `BPF_OBJ_GET_INFO_BY_FD` on this program.
    pub fn info(&self) -> Result<ProgInfo> {
        prog_info(self.fd.as_fd())
    }

    /// The instructions as the kernel keeps them after verification
    /// ("xlated", what `bpftool prog dump xlated` shows): context accesses
    /// rewritten to the real `sk_buff` fields, helper calls resolved, map
    /// pointers hidden. A second `BPF_OBJ_GET_INFO_BY_FD` with a buffer in
    /// `xlated_prog_insns`.
    pub fn xlated_insns(&self) -> Result<Vec<u8>> {
        let len = self.info()?.xlated_len as usize;
        let mut buf = vec![0u8; len];
        let mut info = BpfProgInfo {
            xlated_prog_len: len as u32,
            xlated_prog_insns: buf.as_mut_ptr() as u64,
            ..Default::default()
        };
        obj_info(self.fd.as_fd(), &mut info)?;
        if info.xlated_prog_insns == 0 {
            return Err(Error::Input(
                "the kernel withheld the translated instructions (kernel.kptr_restrict or \
                 lockdown; bpf_dump_raw_ok() said no)"
                    .into(),
            ));
        }
        buf.truncate((info.xlated_prog_len as usize).min(len));
        Ok(buf)
    }

    /// Runs the program once (or `repeat` times) on a packet with
    /// `BPF_PROG_TEST_RUN`, without attaching it anywhere.
    pub fn test_run(&self, run: &TestRun<'_>) -> Result<TestRunResult> {
        const CMD: &str = "BPF_PROG_TEST_RUN";
        let out_size = run.data_out_size.unwrap_or(run.data_in.len() + 256);
        let mut data_out = vec![0u8; out_size];
        let mut ctx_out = vec![0u8; run.ctx_out_size];
        let too_big = |what: &str| Error::Input(format!("test run {what} is larger than 4 GiB"));
        let mut attr = TestRunAttr {
            prog_fd: self.fd.as_raw_fd() as u32,
            data_size_in: u32::try_from(run.data_in.len()).map_err(|_| too_big("data"))?,
            data_size_out: u32::try_from(out_size).map_err(|_| too_big("data_out"))?,
            data_in: run.data_in.as_ptr() as u64,
            data_out: data_out.as_mut_ptr() as u64,
            repeat: run.repeat,
            flags: run.flags,
            ..Default::default()
        };
        if !run.ctx_in.is_empty() {
            attr.ctx_size_in = u32::try_from(run.ctx_in.len()).map_err(|_| too_big("ctx"))?;
            attr.ctx_in = run.ctx_in.as_ptr() as u64;
        }
        if run.ctx_out_size > 0 {
            attr.ctx_size_out = u32::try_from(run.ctx_out_size).map_err(|_| too_big("ctx_out"))?;
            attr.ctx_out = ctx_out.as_mut_ptr() as u64;
        }
        if let Err(e) = sys::bpf(cmd::BPF_PROG_TEST_RUN, &mut attr) {
            let hint = match e.raw_os_error() {
                Some(libc::EINVAL) => test_input_hint(run.data_in.len()),
                // The kernel writes back the sizes it needed, even on ENOSPC.
                Some(libc::ENOSPC)
                    if run.ctx_out_size > 0 && attr.ctx_size_out as usize > run.ctx_out_size =>
                {
                    format!(
                        "the context after the run is {} bytes, larger than the {}-byte ctx_out \
                         buffer; give ctx_out_size >= {}",
                        attr.ctx_size_out, run.ctx_out_size, attr.ctx_size_out
                    )
                }
                Some(libc::ENOSPC) => format!(
                    "the packet after the run is {} bytes, larger than the {out_size}-byte \
                     data_out buffer; give a larger data_out size",
                    attr.data_size_out
                ),
                Some(libc::EOPNOTSUPP) | Some(524) => {
                    "this program type has no test-run support in this kernel".into()
                }
                _ => "the test run failed".into(),
            };
            return Err(SysError::with_hint(CMD, &e, hint).into());
        }
        data_out.truncate((attr.data_size_out as usize).min(out_size));
        ctx_out.truncate((attr.ctx_size_out as usize).min(run.ctx_out_size));
        Ok(TestRunResult {
            retval: attr.retval,
            duration_ns: attr.duration,
            data_out,
            ctx_out,
        })
    }

    /// Pins the program at `path` on bpffs (mounting /sys/fs/bpf if needed).
    pub fn pin(&self, path: impl AsRef<Path>) -> Result<()> {
        crate::pin::pin(self.fd.as_fd(), path.as_ref())
    }

    /// Opens a pinned program.
    pub fn from_pin(path: impl AsRef<Path>) -> Result<Program> {
        let fd = crate::pin::get(path.as_ref())?;
        // Pins can hold maps and links too.
        if crate::pin::obj_kind(fd.as_fd()) != Some(crate::pin::ObjKind::Prog) {
            return Err(Error::Input(format!(
                "{} is pinned but is not a BPF program",
                path.as_ref().display()
            )));
        }
        Ok(Program::from_fd(fd))
    }

    /// Opens a loaded program by id (`BPF_PROG_GET_FD_BY_ID`).
    pub fn from_id(id: u32) -> Result<Program> {
        let mut attr = GetIdAttr {
            start_id: id,
            ..Default::default()
        };
        let fd = sys::bpf_fd(cmd::BPF_PROG_GET_FD_BY_ID, &mut attr).map_err(|e| {
            SysError::with_hint(
                "BPF_PROG_GET_FD_BY_ID",
                &e,
                format!("no program with id {id} (it may have been unloaded)"),
            )
        })?;
        Ok(Program::from_fd(fd))
    }

    /// Ids of every program loaded in the kernel (`BPF_PROG_GET_NEXT_ID`).
    pub fn ids() -> Result<Vec<u32>> {
        next_ids(cmd::BPF_PROG_GET_NEXT_ID)
    }

    /// Info on every loaded program, skipping ones unloaded meanwhile.
    pub fn list() -> Result<Vec<ProgInfo>> {
        let mut out = Vec::new();
        for id in Program::ids()? {
            match Program::from_id(id) {
                Ok(p) => out.push(p.info()?),
                Err(e) if e.errno() == Some(libc::ENOENT) => continue,
                Err(e) => return Err(e),
            }
        }
        Ok(out)
    }
}

impl AsFd for Program {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.fd.as_fd()
    }
}

fn load_error(
    cmd: &'static str,
    e: &std::io::Error,
    opts: &LoadOptions<'_>,
    log: &str,
    truncated: bool,
) -> Error {
    let errno = e.raw_os_error().unwrap_or(libc::EIO);
    if errno == libc::EPERM {
        return SysError::new(cmd, e).into();
    }
    if log.trim().is_empty() {
        // No log: the kernel refused before the verifier ran. The usual
        // reasons are a program or attach type it does not have.
        let hint =
            too_old_hint(opts.prog_type.kernel_name(), opts.prog_type.since())
                .or_else(|| {
                    let at = opts.expected_attach_type?;
                    too_old_hint(at.kernel_name(), at.since())
                })
                .unwrap_or_else(|| match errno {
                    libc::E2BIG => "the program is too large, or this kernel's union bpf_attr is \
                                older than the loader's (non-zero unknown fields)"
                        .into(),
                    libc::EINVAL => format!(
                    "the kernel refused the load attributes before verifying (program type {}, \
                     expected attach type {}, name {:?}, license {:?})",
                    opts.prog_type,
                    opts.expected_attach_type.map(|a| a.kernel_name()).unwrap_or("none"),
                    opts.name,
                    opts.license
                ),
                    _ => "the kernel refused the program without a verifier log".into(),
                });
        return SysError::with_hint(cmd, e, hint).into();
    }
    let helper_name = |id: i64| crate::asm::helper_name(id);
    Error::Verifier(Box::new(verifier::analyse(
        errno,
        opts.prog_type,
        opts.name,
        log,
        truncated,
        opts.source_map,
        &helper_name,
    )))
}

/// `BPF_OBJ_GET_INFO_BY_FD` for a program fd.
pub fn prog_info(fd: BorrowedFd<'_>) -> Result<ProgInfo> {
    let mut info = BpfProgInfo::default();
    obj_info(fd, &mut info)?;
    Ok(ProgInfo {
        id: info.id,
        prog_type: info.type_,
        name: name_from(&info.name),
        tag: info.tag,
        xlated_len: info.xlated_prog_len,
        jited_len: info.jited_prog_len,
        load_time_ns: info.load_time,
        created_by_uid: info.created_by_uid,
        nr_map_ids: info.nr_map_ids,
        gpl_compatible: info.gpl_compatible & 1 == 1,
        verified_insns: info.verified_insns,
    })
}

/// `BPF_OBJ_GET_INFO_BY_FD` into one of the `bpf_*_info` structs.
pub(crate) fn obj_info<I: sys::Attr>(fd: BorrowedFd<'_>, info: &mut I) -> Result<()> {
    let mut attr = InfoAttr {
        bpf_fd: fd.as_raw_fd() as u32,
        info_len: std::mem::size_of::<I>() as u32,
        info: info as *mut I as u64,
    };
    sys::bpf(cmd::BPF_OBJ_GET_INFO_BY_FD, &mut attr).map_err(|e| {
        SysError::with_hint(
            "BPF_OBJ_GET_INFO_BY_FD",
            &e,
            "the fd is not a BPF object of the expected kind",
        )
    })?;
    Ok(())
}

/// Walks `BPF_*_GET_NEXT_ID` from 0 until ENOENT.
pub(crate) fn next_ids(command: u32) -> Result<Vec<u32>> {
    let mut ids = Vec::new();
    let mut attr = GetIdAttr::default();
    loop {
        match sys::bpf(command, &mut attr) {
            Ok(_) => {
                ids.push(attr.next_id);
                attr.start_id = attr.next_id;
            }
            Err(e) if e.raw_os_error() == Some(libc::ENOENT) => return Ok(ids),
            Err(e) => return Err(SysError::new(cmd::name(command), &e).into()),
        }
    }
}

/// The smallest packet a test run takes: an Ethernet header (ETH_HLEN,
/// include/uapi/linux/if_ether.h).
const TEST_RUN_MIN_DATA: usize = 14;

/// The largest packet an skb test run (sched_cls, sched_act,
/// socket_filter, cgroup_skb, ...) takes on x86-64 with 4 KiB pages.
/// net/bpf/test_run.c's bpf_test_init() copies the packet into one page
/// that also holds the headroom (NET_SKB_PAD, 64 bytes here) and the
/// tailroom for struct skb_shared_info (SKB_DATA_ALIGN'd to 320 bytes,
/// include/linux/skbuff.h), and refuses anything larger with EINVAL.
/// XDP runs differ (a 256-byte headroom, fragments for more).
const SKB_TEST_RUN_MAX_DATA: usize = 4096 - 64 - 320;

/// What to do about an EINVAL from `BPF_PROG_TEST_RUN`, from the packet size.
fn test_input_hint(len: usize) -> String {
    if len < TEST_RUN_MIN_DATA {
        format!(
            "the kernel refused the test input ({len} bytes of data): packet test runs \
             need at least {TEST_RUN_MIN_DATA} bytes (an Ethernet header)"
        )
    } else if len > SKB_TEST_RUN_MAX_DATA {
        format!(
            "the kernel refused the test input ({len} bytes of data): an skb test run (sched_cls and the other socket \
             buffer program types) takes at most {SKB_TEST_RUN_MAX_DATA} on x86-64: the \
             kernel copies it into one 4096-byte page beside 64 bytes of headroom and 320 \
             of struct skb_shared_info (net/bpf/test_run.c, bpf_test_init); send a shorter \
             packet"
        )
    } else {
        format!(
            "the kernel refused the test input ({len} bytes of data): recent kernels need a \
             full IPv4 header (34 bytes) when the EtherType is IPv4 and a full IPv6 header \
             (54 bytes) for IPv6; a context, if given, must be a valid struct __sk_buff / \
             xdp_md with only the writable fields set"
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_checked_like_the_kernel() {
        assert!(obj_name("redirect", "program").is_ok());
        assert!(obj_name("a.b_c9", "program").is_ok());
        let e = obj_name("sixteen_chars_xx", "program")
            .unwrap_err()
            .to_string();
        assert!(e.contains("at most 15"), "{e}");
        let e = obj_name("bad-name", "map").unwrap_err().to_string();
        assert!(e.contains("'-'"), "{e}");
    }

    #[test]
    fn bad_instruction_lengths_are_input_errors() {
        for bytes in [&[][..], &[0u8; 7][..], &[0u8; 12][..]] {
            let e = Program::load(ProgType::SchedCls, bytes, "GPL", "x").unwrap_err();
            assert!(matches!(e, Error::Input(_)), "{e}");
        }
    }
}
