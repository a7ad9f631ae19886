//! The raw `bpf(2)` system call and the `union bpf_attr` layouts it reads.
//!
//! Follows `include/uapi/linux/bpf.h` (torvalds/linux, current master for the
//! fields newer than Debian's 6.1 headers: `log_true_size`, the `tcx` part of
//! `link_create`) and the bpf(2) man page.
//!
//! `union bpf_attr` is one big union; every command reads only its own part.
//! Instead of one huge union, this module has one `#[repr(C)]` struct per
//! command's part, laid out field by field as the header declares it. The
//! kernel accepts any `size` argument: it copies `min(size, sizeof(union
//! bpf_attr))` bytes, requires every byte past its own union to be zero
//! (`bpf_check_uarg_tail_zero`), and requires every byte past the command's
//! last field to be zero (`CHECK_ATTR`). So passing a smaller, fully
//! zero-initialised struct and its exact size is what the kernel expects; the
//! structs below derive `Default` so that padding-free zero is the start.
//!
//! With `lab::sys` (the lab's socket options, mount and poll), this is one of
//! the two modules of the crate with `unsafe` code.

use std::ffi::CStr;
use std::io;
use std::os::fd::{FromRawFd, OwnedFd, RawFd};

/// `enum bpf_cmd` values (include/uapi/linux/bpf.h).
pub mod cmd {
    pub const BPF_MAP_CREATE: u32 = 0;
    pub const BPF_MAP_LOOKUP_ELEM: u32 = 1;
    pub const BPF_MAP_UPDATE_ELEM: u32 = 2;
    pub const BPF_MAP_DELETE_ELEM: u32 = 3;
    pub const BPF_MAP_GET_NEXT_KEY: u32 = 4;
    pub const BPF_PROG_LOAD: u32 = 5;
    pub const BPF_OBJ_PIN: u32 = 6;
    pub const BPF_OBJ_GET: u32 = 7;
    pub const BPF_PROG_TEST_RUN: u32 = 10;
    pub const BPF_PROG_GET_NEXT_ID: u32 = 11;
    pub const BPF_MAP_GET_NEXT_ID: u32 = 12;
    pub const BPF_PROG_GET_FD_BY_ID: u32 = 13;
    pub const BPF_MAP_GET_FD_BY_ID: u32 = 14;
    pub const BPF_OBJ_GET_INFO_BY_FD: u32 = 15;
    pub const BPF_BTF_LOAD: u32 = 18;
    pub const BPF_BTF_GET_FD_BY_ID: u32 = 19;
    pub const BPF_MAP_FREEZE: u32 = 22;
    pub const BPF_BTF_GET_NEXT_ID: u32 = 23;
    pub const BPF_LINK_CREATE: u32 = 28;
    pub const BPF_LINK_GET_FD_BY_ID: u32 = 30;
    pub const BPF_LINK_GET_NEXT_ID: u32 = 31;

    /// The kernel's own name for a command number, for error messages.
    pub fn name(cmd: u32) -> &'static str {
        match cmd {
            BPF_MAP_CREATE => "BPF_MAP_CREATE",
            BPF_MAP_LOOKUP_ELEM => "BPF_MAP_LOOKUP_ELEM",
            BPF_MAP_UPDATE_ELEM => "BPF_MAP_UPDATE_ELEM",
            BPF_MAP_DELETE_ELEM => "BPF_MAP_DELETE_ELEM",
            BPF_MAP_GET_NEXT_KEY => "BPF_MAP_GET_NEXT_KEY",
            BPF_PROG_LOAD => "BPF_PROG_LOAD",
            BPF_OBJ_PIN => "BPF_OBJ_PIN",
            BPF_OBJ_GET => "BPF_OBJ_GET",
            BPF_PROG_TEST_RUN => "BPF_PROG_TEST_RUN",
            BPF_PROG_GET_NEXT_ID => "BPF_PROG_GET_NEXT_ID",
            BPF_MAP_GET_NEXT_ID => "BPF_MAP_GET_NEXT_ID",
            BPF_PROG_GET_FD_BY_ID => "BPF_PROG_GET_FD_BY_ID",
            BPF_MAP_GET_FD_BY_ID => "BPF_MAP_GET_FD_BY_ID",
            BPF_OBJ_GET_INFO_BY_FD => "BPF_OBJ_GET_INFO_BY_FD",
            BPF_BTF_LOAD => "BPF_BTF_LOAD",
            BPF_BTF_GET_FD_BY_ID => "BPF_BTF_GET_FD_BY_ID",
            BPF_BTF_GET_NEXT_ID => "BPF_BTF_GET_NEXT_ID",
            BPF_MAP_FREEZE => "BPF_MAP_FREEZE",
            BPF_LINK_CREATE => "BPF_LINK_CREATE",
            BPF_LINK_GET_FD_BY_ID => "BPF_LINK_GET_FD_BY_ID",
            BPF_LINK_GET_NEXT_ID => "BPF_LINK_GET_NEXT_ID",
            _ => "BPF_(unknown command)",
        }
    }
}

/// `BPF_OBJ_NAME_LEN` (include/uapi/linux/bpf.h): object names are 15 bytes
/// plus a NUL.
pub const BPF_OBJ_NAME_LEN: usize = 16;
/// `BPF_TAG_SIZE` (include/uapi/linux/bpf.h): a program tag is the first 8
/// bytes of a SHA-1 over its instructions.
pub const BPF_TAG_SIZE: usize = 8;

/// Marker for the attr structs: plain old data, valid for any bit pattern,
/// and passed to the kernel by pointer.
///
/// # Safety
/// Implementors must be `#[repr(C)]`, contain only integers and integer
/// arrays, and have no bytes the kernel could read as uninitialised
/// (explicit padding fields, zeroed by `Default`).
pub unsafe trait Attr: Default {}

/// The `BPF_MAP_CREATE` part of `union bpf_attr`.
#[repr(C)]
#[derive(Debug, Default, Clone, Copy)]
pub struct MapCreateAttr {
    /// `map_type`: one of `enum bpf_map_type`.
    pub map_type: u32,
    /// `key_size`: size of a key in bytes.
    pub key_size: u32,
    /// `value_size`: size of a value in bytes.
    pub value_size: u32,
    /// `max_entries`: capacity of the map.
    pub max_entries: u32,
    /// `map_flags`: `BPF_F_*` map creation flags.
    pub map_flags: u32,
    /// `inner_map_fd`: template for map-in-map types.
    pub inner_map_fd: u32,
    /// `numa_node`: only read with `BPF_F_NUMA_NODE`.
    pub numa_node: u32,
    /// `map_name[BPF_OBJ_NAME_LEN]`.
    pub map_name: [u8; BPF_OBJ_NAME_LEN],
    /// `map_ifindex`: offload device, 0 for none.
    pub map_ifindex: u32,
    /// `btf_fd`: BTF describing key and value, 0 for none.
    pub btf_fd: u32,
    /// `btf_key_type_id`.
    pub btf_key_type_id: u32,
    /// `btf_value_type_id`.
    pub btf_value_type_id: u32,
    /// `btf_vmlinux_value_type_id`.
    pub btf_vmlinux_value_type_id: u32,
    /// `map_extra`: per-map-type extra (bloom filter hash count).
    pub map_extra: u64,
}
// SAFETY: repr(C), integers only, no implicit padding (checked by the layout
// assertions at the bottom of this file).
unsafe impl Attr for MapCreateAttr {}

/// The `BPF_MAP_*_ELEM`, `BPF_MAP_GET_NEXT_KEY` and `BPF_MAP_FREEZE` part of
/// `union bpf_attr` (`map_fd`, `key`, `value`/`next_key`, `flags`).
#[repr(C)]
#[derive(Debug, Default, Clone, Copy)]
pub struct MapElemAttr {
    /// `map_fd`.
    pub map_fd: u32,
    /// Padding before the 8-byte aligned `key` (`__aligned_u64`).
    pub _pad0: u32,
    /// `key`: user pointer to the key.
    pub key: u64,
    /// `value` or `next_key` (a union in the header): user pointer.
    pub value_or_next_key: u64,
    /// `flags`: `BPF_ANY`, `BPF_NOEXIST`, `BPF_EXIST`, `BPF_F_LOCK`.
    pub flags: u64,
}
// SAFETY: repr(C), integers only, padding is an explicit field.
unsafe impl Attr for MapElemAttr {}

/// The `BPF_PROG_LOAD` part of `union bpf_attr`.
#[repr(C)]
#[derive(Debug, Default, Clone, Copy)]
pub struct ProgLoadAttr {
    /// `prog_type`: one of `enum bpf_prog_type`.
    pub prog_type: u32,
    /// `insn_cnt`: number of 8-byte instruction slots.
    pub insn_cnt: u32,
    /// `insns`: user pointer to `struct bpf_insn[insn_cnt]`.
    pub insns: u64,
    /// `license`: user pointer to a NUL-terminated license string.
    pub license: u64,
    /// `log_level`: 0 none, 1 the verifier's path, 2 every instruction, 4 stats.
    pub log_level: u32,
    /// `log_size`: size of the user log buffer.
    pub log_size: u32,
    /// `log_buf`: user pointer to the log buffer.
    pub log_buf: u64,
    /// `kern_version`: unused except by old kprobe programs.
    pub kern_version: u32,
    /// `prog_flags`: `BPF_F_STRICT_ALIGNMENT` and friends.
    pub prog_flags: u32,
    /// `prog_name[BPF_OBJ_NAME_LEN]`.
    pub prog_name: [u8; BPF_OBJ_NAME_LEN],
    /// `prog_ifindex`: offload device; unused here, always 0.
    pub prog_ifindex: u32,
    /// `expected_attach_type`: one of `enum bpf_attach_type`.
    pub expected_attach_type: u32,
    /// `prog_btf_fd`.
    pub prog_btf_fd: u32,
    /// `func_info_rec_size`.
    pub func_info_rec_size: u32,
    /// `func_info`.
    pub func_info: u64,
    /// `func_info_cnt`.
    pub func_info_cnt: u32,
    /// `line_info_rec_size`.
    pub line_info_rec_size: u32,
    /// `line_info`.
    pub line_info: u64,
    /// `line_info_cnt`.
    pub line_info_cnt: u32,
    /// `attach_btf_id`.
    pub attach_btf_id: u32,
    /// `attach_prog_fd` / `attach_btf_obj_fd` (a union in the header).
    pub attach_prog_fd: u32,
    /// `core_relo_cnt`.
    pub core_relo_cnt: u32,
    /// `fd_array`.
    pub fd_array: u64,
    /// `core_relos`.
    pub core_relos: u64,
    /// `core_relo_rec_size`.
    pub core_relo_rec_size: u32,
    /// `log_true_size` (Linux 6.4+, output): the log size the verifier
    /// needed. Older kernels leave it 0; zero input is accepted everywhere.
    pub log_true_size: u32,
}
// SAFETY: repr(C), integers only, no implicit padding (asserted below).
unsafe impl Attr for ProgLoadAttr {}

/// The `BPF_BTF_LOAD` part of `union bpf_attr`, up to `btf_log_true_size`
/// (Linux 6.4+, output; older kernels accept it as zero input).
#[repr(C)]
#[derive(Debug, Default, Clone, Copy)]
pub struct BtfLoadAttr {
    /// `btf`: user pointer to the raw BTF (header, types, strings).
    pub btf: u64,
    /// `btf_log_buf`: user pointer to the log buffer.
    pub btf_log_buf: u64,
    /// `btf_size`.
    pub btf_size: u32,
    /// `btf_log_size`.
    pub btf_log_size: u32,
    /// `btf_log_level`.
    pub btf_log_level: u32,
    /// `btf_log_true_size` (output).
    pub btf_log_true_size: u32,
}
// SAFETY: repr(C), integers only, no padding (asserted below).
unsafe impl Attr for BtfLoadAttr {}

/// The `BPF_OBJ_PIN` / `BPF_OBJ_GET` part of `union bpf_attr`.
#[repr(C)]
#[derive(Debug, Default, Clone, Copy)]
pub struct ObjAttr {
    /// `pathname`: user pointer to a NUL-terminated bpffs path.
    pub pathname: u64,
    /// `bpf_fd`: the object to pin (0 for `BPF_OBJ_GET`).
    pub bpf_fd: u32,
    /// `file_flags`: `BPF_F_RDONLY` / `BPF_F_WRONLY` for `BPF_OBJ_GET`.
    pub file_flags: u32,
}
// SAFETY: repr(C), integers only, no padding.
unsafe impl Attr for ObjAttr {}

/// The `BPF_PROG_TEST_RUN` part of `union bpf_attr` (`test` in the header).
#[repr(C)]
#[derive(Debug, Default, Clone, Copy)]
pub struct TestRunAttr {
    /// `prog_fd`.
    pub prog_fd: u32,
    /// `retval` (output): the program's return value (`r0`).
    pub retval: u32,
    /// `data_size_in`.
    pub data_size_in: u32,
    /// `data_size_out` (in/out): size of `data_out`; ENOSPC if too small.
    pub data_size_out: u32,
    /// `data_in`: user pointer to the packet.
    pub data_in: u64,
    /// `data_out`: user pointer receiving the packet after the run.
    pub data_out: u64,
    /// `repeat`: how many runs to average `duration` over.
    pub repeat: u32,
    /// `duration` (output): mean nanoseconds per run.
    pub duration: u32,
    /// `ctx_size_in`.
    pub ctx_size_in: u32,
    /// `ctx_size_out` (in/out).
    pub ctx_size_out: u32,
    /// `ctx_in`: user pointer to the context (`struct __sk_buff` for TC).
    pub ctx_in: u64,
    /// `ctx_out`: user pointer receiving the context after the run.
    pub ctx_out: u64,
    /// `flags`: `BPF_F_TEST_RUN_ON_CPU`, `BPF_F_TEST_XDP_LIVE_FRAMES`.
    pub flags: u32,
    /// `cpu`.
    pub cpu: u32,
    /// `batch_size`.
    pub batch_size: u32,
    /// Tail padding: the header's struct is 8-byte aligned.
    pub _pad0: u32,
}
// SAFETY: repr(C), integers only, padding is an explicit field.
unsafe impl Attr for TestRunAttr {}

/// The `BPF_*_GET_NEXT_ID` and `BPF_*_GET_FD_BY_ID` part of `union bpf_attr`.
#[repr(C)]
#[derive(Debug, Default, Clone, Copy)]
pub struct GetIdAttr {
    /// `start_id` / `prog_id` / `map_id` / `link_id` (a union in the header).
    pub start_id: u32,
    /// `next_id` (output of `GET_NEXT_ID`).
    pub next_id: u32,
    /// `open_flags`.
    pub open_flags: u32,
}
// SAFETY: repr(C), u32 fields only.
unsafe impl Attr for GetIdAttr {}

/// The `BPF_OBJ_GET_INFO_BY_FD` part of `union bpf_attr` (`info`).
#[repr(C)]
#[derive(Debug, Default, Clone, Copy)]
pub struct InfoAttr {
    /// `bpf_fd`: a program, map, link or BTF fd.
    pub bpf_fd: u32,
    /// `info_len` (in/out): size of the buffer; the kernel writes back how
    /// much it filled.
    pub info_len: u32,
    /// `info`: user pointer to `struct bpf_prog_info` / `bpf_map_info` / ...
    pub info: u64,
}
// SAFETY: repr(C), integers only, no padding.
unsafe impl Attr for InfoAttr {}

/// The `BPF_LINK_CREATE` part of `union bpf_attr` (`link_create`), with the
/// `tcx` member of its inner union (Linux 6.6+).
#[repr(C)]
#[derive(Debug, Default, Clone, Copy)]
pub struct LinkCreateAttr {
    /// `prog_fd`.
    pub prog_fd: u32,
    /// `target_fd` / `target_ifindex` (a union in the header).
    pub target_fd_or_ifindex: u32,
    /// `attach_type`: one of `enum bpf_attach_type`.
    pub attach_type: u32,
    /// `flags`: for TCX, `BPF_F_BEFORE` / `BPF_F_AFTER` / `BPF_F_REPLACE`...
    pub flags: u32,
    /// `tcx.relative_fd` / `tcx.relative_id`.
    pub tcx_relative_fd: u32,
    /// Padding before the 8-byte `expected_revision`.
    pub _pad0: u32,
    /// `tcx.expected_revision`: 0 means "don't care".
    pub tcx_expected_revision: u64,
}
// SAFETY: repr(C), integers only, padding is an explicit field.
unsafe impl Attr for LinkCreateAttr {}

/// `struct bpf_btf_info` (include/uapi/linux/bpf.h): what
/// `BPF_OBJ_GET_INFO_BY_FD` says of a BTF object. `name` and `kernel_btf`
/// came with module BTF (5.11); older kernels fill less.
#[repr(C)]
#[derive(Debug, Default, Clone, Copy)]
pub struct BpfBtfInfo {
    /// `btf`: user pointer for the raw BTF, or 0 for none.
    pub btf: u64,
    pub btf_size: u32,
    pub id: u32,
    /// `name`: user pointer to a buffer of `name_len` bytes.
    pub name: u64,
    pub name_len: u32,
    /// `kernel_btf`: 1 for vmlinux's and modules' BTF, 0 for loaded BTF.
    pub kernel_btf: u32,
}
// SAFETY: repr(C), integers only (pointers travel as u64), no padding.
unsafe impl Attr for BpfBtfInfo {}

/// `struct bpf_prog_info` (include/uapi/linux/bpf.h), as of Linux 6.1.
/// Newer kernels have more fields; the kernel fills only `info_len` bytes.
#[repr(C)]
#[derive(Debug, Default, Clone, Copy)]
pub struct BpfProgInfo {
    pub type_: u32,
    pub id: u32,
    pub tag: [u8; BPF_TAG_SIZE],
    pub jited_prog_len: u32,
    pub xlated_prog_len: u32,
    pub jited_prog_insns: u64,
    pub xlated_prog_insns: u64,
    pub load_time: u64,
    pub created_by_uid: u32,
    pub nr_map_ids: u32,
    pub map_ids: u64,
    pub name: [u8; BPF_OBJ_NAME_LEN],
    pub ifindex: u32,
    /// `gpl_compatible:1` and 31 bits of padding.
    pub gpl_compatible: u32,
    pub netns_dev: u64,
    pub netns_ino: u64,
    pub nr_jited_ksyms: u32,
    pub nr_jited_func_lens: u32,
    pub jited_ksyms: u64,
    pub jited_func_lens: u64,
    pub btf_id: u32,
    pub func_info_rec_size: u32,
    pub func_info: u64,
    pub nr_func_info: u32,
    pub nr_line_info: u32,
    pub line_info: u64,
    pub jited_line_info: u64,
    pub nr_jited_line_info: u32,
    pub line_info_rec_size: u32,
    pub jited_line_info_rec_size: u32,
    pub nr_prog_tags: u32,
    pub prog_tags: u64,
    pub run_time_ns: u64,
    pub run_cnt: u64,
    pub recursion_misses: u64,
    pub verified_insns: u32,
    pub attach_btf_obj_id: u32,
    pub attach_btf_id: u32,
    pub _pad0: u32,
}
// SAFETY: repr(C), integers only, padding is an explicit field.
unsafe impl Attr for BpfProgInfo {}

/// `struct bpf_map_info` (include/uapi/linux/bpf.h), as of Linux 6.1.
#[repr(C)]
#[derive(Debug, Default, Clone, Copy)]
pub struct BpfMapInfo {
    pub type_: u32,
    pub id: u32,
    pub key_size: u32,
    pub value_size: u32,
    pub max_entries: u32,
    pub map_flags: u32,
    pub name: [u8; BPF_OBJ_NAME_LEN],
    pub ifindex: u32,
    pub btf_vmlinux_value_type_id: u32,
    pub netns_dev: u64,
    pub netns_ino: u64,
    pub btf_id: u32,
    pub btf_key_type_id: u32,
    pub btf_value_type_id: u32,
    pub _pad0: u32,
    pub map_extra: u64,
}
// SAFETY: repr(C), integers only, padding is an explicit field.
unsafe impl Attr for BpfMapInfo {}

/// `struct bpf_link_info` (include/uapi/linux/bpf.h): `type`, `id`,
/// `prog_id`, then a union per link type. The union is kept as raw words;
/// for TCX links (`BPF_LINK_TYPE_TCX`) its first two `u32` are `ifindex`
/// and `attach_type`.
#[repr(C)]
#[derive(Debug, Default, Clone, Copy)]
pub struct BpfLinkInfo {
    pub type_: u32,
    pub id: u32,
    pub prog_id: u32,
    /// Padding before the 8-byte aligned union.
    pub _pad0: u32,
    /// The per-type union, as 32-bit words.
    pub union_words: [u32; 16],
}
// SAFETY: repr(C), integers only, padding is an explicit field.
unsafe impl Attr for BpfLinkInfo {}

/// Calls `bpf(cmd, attr, sizeof(*attr))` and returns the raw result, or the
/// errno on failure.
pub fn bpf<A: Attr>(cmd: u32, attr: &mut A) -> Result<i64, io::Error> {
    let size = std::mem::size_of::<A>();
    // SAFETY: `attr` is a valid, exclusively borrowed `#[repr(C)]` struct of
    // `size` bytes (the `Attr` contract); the kernel reads at most `size`
    // bytes from it and may write outputs back into it. Any user pointers
    // inside were set by the caller from live buffers that outlive this call.
    let ret = unsafe {
        libc::syscall(
            libc::SYS_bpf,
            cmd as libc::c_long,
            attr as *mut A as *mut libc::c_void,
            size as libc::c_long,
        )
    };
    if ret < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(ret as i64)
    }
}

/// Like [`bpf`], for commands that return a new file descriptor.
pub fn bpf_fd<A: Attr>(cmd: u32, attr: &mut A) -> Result<OwnedFd, io::Error> {
    let fd = bpf(cmd, attr)?;
    let raw = RawFd::try_from(fd).map_err(|_| io::Error::from_raw_os_error(libc::EBADF))?;
    // SAFETY: the kernel just returned this descriptor for this call; nothing
    // else owns it, so the OwnedFd becomes its only owner and closes it.
    Ok(unsafe { OwnedFd::from_raw_fd(raw) })
}

/// `BPF_FS_MAGIC` (include/uapi/linux/magic.h): `f_type` of a bpffs mount.
pub const BPF_FS_MAGIC: i64 = 0xcafe4a11;

/// The filesystem magic (`statfs.f_type`) of the filesystem holding `path`.
pub fn statfs_type(path: &CStr) -> Result<i64, io::Error> {
    let mut st = std::mem::MaybeUninit::<libc::statfs>::zeroed();
    // SAFETY: `path` is NUL-terminated, `st` is a writable statfs buffer.
    let ret = unsafe { libc::statfs(path.as_ptr(), st.as_mut_ptr()) };
    if ret != 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: statfs returned 0, so it filled the struct (and it was zeroed).
    let st = unsafe { st.assume_init() };
    // `f_type` is i64 on 64-bit targets and i32 on 32-bit ones.
    #[allow(clippy::useless_conversion)]
    Ok(i64::from(st.f_type))
}

/// `mount -t bpf bpf <target>`.
pub fn mount_bpffs(target: &CStr) -> Result<(), io::Error> {
    let source = c"bpf";
    let fstype = c"bpf";
    // SAFETY: all strings are NUL-terminated and live across the call; data
    // is NULL, which mount(2) accepts for bpffs.
    let ret = unsafe {
        libc::mount(
            source.as_ptr(),
            target.as_ptr(),
            fstype.as_ptr(),
            0,
            std::ptr::null(),
        )
    };
    if ret != 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

/// Raises `RLIMIT_MEMLOCK` to infinity: kernels before 5.11 charge BPF
/// memory to it, and its small default makes loads fail with EPERM there.
/// Newer kernels use memcg accounting and ignore it.
pub fn raise_memlock_rlimit() -> Result<(), io::Error> {
    let lim = libc::rlimit {
        rlim_cur: libc::RLIM_INFINITY,
        rlim_max: libc::RLIM_INFINITY,
    };
    // SAFETY: `lim` is a valid rlimit that lives across the call.
    let ret = unsafe { libc::setrlimit(libc::RLIMIT_MEMLOCK, &lim) };
    if ret != 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

/// The effective user id (for "needs root" messages before any syscall).
pub fn geteuid() -> u32 {
    // SAFETY: geteuid has no preconditions and cannot fail.
    unsafe { libc::geteuid() }
}

// Layout checks against the offsets in include/uapi/linux/bpf.h: a wrong
// field order or a missed padding word fails the build, not a test run.
const _: () = {
    use std::mem::{offset_of, size_of};
    assert!(offset_of!(MapCreateAttr, map_name) == 28);
    assert!(offset_of!(MapCreateAttr, map_extra) == 64);
    assert!(size_of::<MapCreateAttr>() == 72);
    assert!(offset_of!(MapElemAttr, key) == 8);
    assert!(size_of::<MapElemAttr>() == 32);
    assert!(offset_of!(ProgLoadAttr, prog_name) == 48);
    assert!(offset_of!(ProgLoadAttr, expected_attach_type) == 68);
    assert!(offset_of!(ProgLoadAttr, fd_array) == 120);
    assert!(offset_of!(ProgLoadAttr, log_true_size) == 140);
    assert!(size_of::<ProgLoadAttr>() == 144);
    assert!(offset_of!(ProgLoadAttr, prog_btf_fd) == 72);
    assert!(offset_of!(ProgLoadAttr, func_info) == 80);
    assert!(offset_of!(ProgLoadAttr, line_info) == 96);
    assert!(offset_of!(ProgLoadAttr, line_info_cnt) == 104);
    assert!(offset_of!(BtfLoadAttr, btf_size) == 16);
    assert!(offset_of!(BtfLoadAttr, btf_log_true_size) == 28);
    assert!(size_of::<BtfLoadAttr>() == 32);
    assert!(size_of::<ObjAttr>() == 16);
    assert!(offset_of!(TestRunAttr, ctx_in) == 48);
    assert!(offset_of!(TestRunAttr, batch_size) == 72);
    assert!(size_of::<TestRunAttr>() == 80);
    assert!(size_of::<GetIdAttr>() == 12);
    assert!(offset_of!(BpfBtfInfo, name) == 16);
    assert!(offset_of!(BpfBtfInfo, kernel_btf) == 28);
    assert!(size_of::<BpfBtfInfo>() == 32);
    assert!(size_of::<InfoAttr>() == 16);
    assert!(offset_of!(LinkCreateAttr, tcx_expected_revision) == 24);
    assert!(size_of::<LinkCreateAttr>() == 32);
    assert!(offset_of!(BpfProgInfo, name) == 64);
    assert!(offset_of!(BpfProgInfo, netns_dev) == 88);
    assert!(offset_of!(BpfProgInfo, run_time_ns) == 192);
    assert!(size_of::<BpfProgInfo>() == 232);
    assert!(offset_of!(BpfMapInfo, netns_dev) == 48);
    assert!(size_of::<BpfMapInfo>() == 88);
    assert!(offset_of!(BpfLinkInfo, union_words) == 16);
};
