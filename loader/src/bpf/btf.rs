//! Loading BTF into the kernel (`BPF_BTF_LOAD`) and the per-program BTF
//! `BPF_PROG_LOAD` takes: `prog_btf_fd`, `func_info` and `line_info`.
//!
//! Follows the `BPF_BTF_LOAD` and `BPF_PROG_LOAD` parts of
//! `include/uapi/linux/bpf.h` (`struct bpf_func_info`, `struct
//! bpf_line_info`). The bytes come from `ebpf_asm::btf`: [`ebpf_asm::btf::gen`]
//! for programs we assemble, the `.BTF`/`.BTF.ext` sections for objects.
//! With it the kernel knows each function's name and prototype, `bpftool
//! prog show` prints a `btf_id`, `bpftool prog dump xlated linum` prints the
//! source lines, and the verifier log quotes the source line of each
//! instruction it reports.
//!
//! It also finds the kernel's own BTF objects (vmlinux's and each loaded
//! module's, `BPF_BTF_GET_NEXT_ID`, `BPF_BTF_GET_FD_BY_ID` and `struct
//! bpf_btf_info`): a call to a module's kfunc names its module by an fd of
//! that module's BTF object.

use std::os::fd::{AsFd, BorrowedFd, OwnedFd};

use ebpf_asm::btf::ext::{FUNC_INFO_SIZE, LINE_INFO_SIZE};
use ebpf_asm::btf::gen;

use crate::error::{Error, Result, SysError};
use crate::sys::{self, cmd, BpfBtfInfo, BtfLoadAttr, GetIdAttr};

/// The BTF log buffer: type sections of our programs are small; the kernel
/// needs no more than this to say why it refused one.
const BTF_LOG_SIZE: usize = 256 << 10;

/// BTF loaded into the kernel. Dropping it closes the fd; programs that use
/// it keep their own reference.
#[derive(Debug)]
pub struct LoadedBtf {
    fd: OwnedFd,
}

impl LoadedBtf {
    /// `BPF_BTF_LOAD` of raw BTF bytes (header, types, strings). A refusal
    /// carries the errno and the kernel's BTF log.
    pub fn load(bytes: &[u8]) -> Result<LoadedBtf> {
        crate::prog::prepare_memlock();
        if bytes.is_empty() {
            return Err(Error::Input("BTF is empty".into()));
        }
        let mut log = vec![0u8; BTF_LOG_SIZE];
        let mut attr = BtfLoadAttr {
            btf: bytes.as_ptr() as u64,
            btf_size: u32::try_from(bytes.len())
                .map_err(|_| Error::Input("BTF larger than 4 GiB".into()))?,
            btf_log_buf: log.as_mut_ptr() as u64,
            btf_log_size: log.len() as u32,
            btf_log_level: 1,
            ..Default::default()
        };
        let fd = sys::bpf_fd(cmd::BPF_BTF_LOAD, &mut attr).map_err(|e| {
            let end = log.iter().position(|&b| b == 0).unwrap_or(log.len());
            let text = String::from_utf8_lossy(&log[..end]).trim().to_string();
            let hint = if text.is_empty() {
                "the kernel refused the BTF without a log (CONFIG_DEBUG_INFO_BTF missing, or \
                 a kernel older than 5.0)"
                    .to_string()
            } else {
                format!("the kernel's BTF log says:\n{text}")
            };
            SysError::with_hint("BPF_BTF_LOAD", &e, hint)
        })?;
        Ok(LoadedBtf { fd })
    }
}

impl LoadedBtf {
    /// Another fd for the same BTF (`dup`), for each program that uses it.
    pub fn try_clone(&self) -> Result<LoadedBtf> {
        let fd = self
            .fd
            .try_clone()
            .map_err(|e| Error::io("duplicating the BTF fd", e))?;
        Ok(LoadedBtf { fd })
    }
}

impl AsFd for LoadedBtf {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.fd.as_fd()
    }
}

/// What `BPF_PROG_LOAD` takes about a program's BTF: the BTF object and the
/// `struct bpf_func_info` / `struct bpf_line_info` arrays (instruction
/// offsets in instructions, not bytes).
#[derive(Debug)]
pub struct ProgBtf {
    /// The loaded BTF the records refer to.
    pub btf: LoadedBtf,
    /// `func_info`: `func_info_cnt` records of `FUNC_INFO_SIZE` bytes.
    pub func_info: Vec<u8>,
    /// `line_info`: `line_info_cnt` records of `LINE_INFO_SIZE` bytes.
    pub line_info: Vec<u8>,
}

impl ProgBtf {
    /// `func_info_rec_size`.
    pub const FUNC_INFO_REC_SIZE: u32 = FUNC_INFO_SIZE;
    /// `line_info_rec_size`.
    pub const LINE_INFO_REC_SIZE: u32 = LINE_INFO_SIZE;

    /// Generates the BTF of an assembled one-section program (its FUNC and
    /// FUNC_PROTO, one line per instruction pointing at `file_name`) and
    /// loads it.
    pub fn for_program(prog: &ebpf_asm::Program, file_name: &str) -> Result<ProgBtf> {
        let out = gen::generate(&gen::Input::from_program(prog, file_name));
        let btf = LoadedBtf::load(&out.btf_bytes())?;
        let info = out.ext.prog_info(&out.btf, prog.section(), 0);
        Ok(ProgBtf {
            btf,
            func_info: info.func_info_bytes(),
            line_info: info.line_info_bytes(),
        })
    }

    /// The records of one linked program over loaded BTF.
    pub fn new(btf: LoadedBtf, info: &ebpf_asm::btf::ext::ProgInfo) -> ProgBtf {
        ProgBtf {
            btf,
            func_info: info.func_info_bytes(),
            line_info: info.line_info_bytes(),
        }
    }

    /// `func_info_cnt`.
    pub fn func_info_cnt(&self) -> u32 {
        (self.func_info.len() / FUNC_INFO_SIZE as usize) as u32
    }

    /// `line_info_cnt`.
    pub fn line_info_cnt(&self) -> u32 {
        (self.line_info.len() / LINE_INFO_SIZE as usize) as u32
    }
}

/// An fd of the kernel's BTF object for module `module` (the BTF
/// `/sys/kernel/btf/MODULE` shows, listed by `bpftool btf list` as
/// `name MODULE`), found by walking the kernel's BTF ids.
pub fn module_btf_fd(module: &str) -> Result<OwnedFd> {
    for id in crate::prog::next_ids(cmd::BPF_BTF_GET_NEXT_ID)? {
        let mut attr = GetIdAttr {
            start_id: id,
            ..Default::default()
        };
        let fd = match sys::bpf_fd(cmd::BPF_BTF_GET_FD_BY_ID, &mut attr) {
            Ok(fd) => fd,
            // Freed since it was listed.
            Err(e) if e.raw_os_error() == Some(libc::ENOENT) => continue,
            Err(e) => return Err(SysError::new("BPF_BTF_GET_FD_BY_ID", &e).into()),
        };
        let mut name = [0u8; 64];
        let mut info = BpfBtfInfo {
            name: name.as_mut_ptr() as u64,
            name_len: name.len() as u32,
            ..Default::default()
        };
        crate::prog::obj_info(fd.as_fd(), &mut info)?;
        let len = name.iter().position(|&b| b == 0).unwrap_or(name.len());
        if info.kernel_btf != 0 && &name[..len] == module.as_bytes() {
            return Ok(fd);
        }
    }
    Err(Error::Input(format!(
        "the kernel has no BTF object named {module} (bpftool btf list shows them): the \
         module is not loaded, or was built without CONFIG_DEBUG_INFO_BTF_MODULES"
    )))
}
