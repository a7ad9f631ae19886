//! Ring buffer maps (`BPF_MAP_TYPE_RINGBUF`, Linux 5.8): creating one and
//! reading its records from user space.
//!
//! Follows `include/uapi/linux/bpf.h` (the `BPF_RINGBUF_*` constants) and the
//! layout `kernel/bpf/ringbuf.c` gives the map's mmap()able memory:
//!
//! ```text
//! offset 0              one page:  consumer_pos (u64)         mmap RW
//! offset page           one page:  producer_pos (u64)         mmap RO
//! offset 2 * page       data, max_entries bytes, then the
//!                       same data again                       mmap RO
//! ```
//!
//! The kernel maps the data pages twice in a row, so a record that starts
//! near the end and wraps around is still one contiguous slice here: the
//! reader never copies or stitches.
//!
//! Each record starts with an 8-byte header (`BPF_RINGBUF_HDR_SZ`): a `u32`
//! length whose bit 31 (`BPF_RINGBUF_BUSY_BIT`) says the producer has
//! reserved but not yet submitted it and whose bit 30
//! (`BPF_RINGBUF_DISCARD_BIT`) says it was discarded, then a `u32` page
//! offset the kernel uses to find the map from a record. Records are padded
//! to 8 bytes. The producer publishes `producer_pos` and each header with
//! release stores; the reader reads them with acquire loads and hands a
//! record back by storing `consumer_pos` with release ordering, after it has
//! finished reading the record.
//!
//! Besides `bpf::sys` and `lab::sys`, this is the one module with `unsafe`
//! code: the mmap()ed memory is shared with the kernel, so every access is a
//! raw-pointer access.

use std::io;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, FromRawFd, OwnedFd};
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::time::Duration;

use crate::error::{Error, Result, SysError};
use crate::map::{Map, MapSpec};
use crate::types::MapType;

/// `BPF_RINGBUF_BUSY_BIT` (include/uapi/linux/bpf.h): the record is
/// reserved, not yet submitted or discarded.
pub const BPF_RINGBUF_BUSY_BIT: u32 = 1 << 31;
/// `BPF_RINGBUF_DISCARD_BIT` (include/uapi/linux/bpf.h): the record was
/// discarded; skip it.
pub const BPF_RINGBUF_DISCARD_BIT: u32 = 1 << 30;
/// `BPF_RINGBUF_HDR_SZ` (include/uapi/linux/bpf.h): the record header, a
/// `u32` length and a `u32` page offset.
pub const BPF_RINGBUF_HDR_SZ: u32 = 8;

/// `BPF_RB_NO_WAKEUP` (include/uapi/linux/bpf.h), for the `flags` argument
/// of `bpf_ringbuf_output`/`submit`/`discard`: don't wake the reader.
pub const BPF_RB_NO_WAKEUP: u64 = 1 << 0;
/// `BPF_RB_FORCE_WAKEUP` (include/uapi/linux/bpf.h): wake the reader even
/// when it has not caught up.
pub const BPF_RB_FORCE_WAKEUP: u64 = 1 << 1;

/// The system's page size (`sysconf(_SC_PAGESIZE)`).
pub fn page_size() -> usize {
    // SAFETY: sysconf has no memory preconditions; _SC_PAGESIZE is valid.
    let n = unsafe { libc::sysconf(libc::_SC_PAGESIZE) };
    if n > 0 {
        n as usize
    } else {
        4096
    }
}

/// Checks what `ringbuf_map_alloc` checks (kernel/bpf/ringbuf.c): the data
/// size is a power of two and a multiple of the page size.
pub fn check_max_entries(max_entries: u32, page_size: usize) -> Result<()> {
    if max_entries == 0 || !max_entries.is_power_of_two() || (max_entries as usize) % page_size != 0
    {
        let up = (max_entries.max(1) as usize)
            .next_power_of_two()
            .max(page_size);
        return Err(Error::Input(format!(
            "ring buffer max_entries {max_entries} must be a power of two and a multiple of the \
             page size ({page_size}); the kernel refuses anything else with EINVAL (try {up})"
        )));
    }
    Ok(())
}

/// The total size of a record with `len` bytes of data: header plus data,
/// rounded up to 8 bytes.
pub fn record_span(len: u32) -> u64 {
    (u64::from(len) + u64::from(BPF_RINGBUF_HDR_SZ) + 7) & !7
}

/// One mmap()ed region; unmapped on drop.
#[derive(Debug)]
struct Mapping {
    addr: *mut u8,
    len: usize,
}

impl Mapping {
    fn new(fd: BorrowedFd<'_>, len: usize, prot: i32, offset: usize) -> io::Result<Mapping> {
        // SAFETY: a fresh shared mapping of a kernel object chosen by the
        // kernel (addr NULL); it aliases no Rust memory. The fd is valid for
        // the call; the mapping keeps the map alive after it.
        let addr = unsafe {
            libc::mmap(
                std::ptr::null_mut(),
                len,
                prot,
                libc::MAP_SHARED,
                fd.as_raw_fd(),
                offset as libc::off_t,
            )
        };
        if addr == libc::MAP_FAILED {
            return Err(io::Error::last_os_error());
        }
        Ok(Mapping {
            addr: addr as *mut u8,
            len,
        })
    }
}

impl Drop for Mapping {
    fn drop(&mut self) {
        // SAFETY: `addr`/`len` are exactly what mmap returned, unmapped once;
        // no reference into the mapping outlives the RingBuf that owns it
        // (record slices borrow the RingBuf).
        unsafe {
            libc::munmap(self.addr as *mut libc::c_void, self.len);
        }
    }
}

/// A ring buffer map and its reader.
///
/// Create one with [`RingBuf::create`] (or wrap an existing map with
/// [`RingBuf::from_map`]), give [`RingBuf::map`]'s fd to the programs that
/// write it (`r1 = NAME ll` before `bpf_ringbuf_output`/`reserve`), then
/// call [`RingBuf::poll`] or [`RingBuf::consume`].
#[derive(Debug)]
pub struct RingBuf {
    map: Map,
    /// The consumer page (RW).
    consumer: Mapping,
    /// The producer page followed by the data, twice (RO).
    producer: Mapping,
    /// Data size (`max_entries`).
    size: u64,
    page: usize,
    epoll: OwnedFd,
}

impl RingBuf {
    /// Creates a `BPF_MAP_TYPE_RINGBUF` of `max_entries` bytes of data
    /// named `name`, and maps it for reading.
    pub fn create(name: &str, max_entries: u32) -> Result<RingBuf> {
        check_max_entries(max_entries, page_size())?;
        let map = Map::create(&MapSpec {
            map_type: MapType::RingBuf,
            key_size: 0,
            value_size: 0,
            max_entries,
            flags: 0,
            name,
        })?;
        RingBuf::from_map(map)
    }

    /// Maps an existing ring buffer map (from an object, a pin or an id).
    pub fn from_map(map: Map) -> Result<RingBuf> {
        if map.map_type() != MapType::RingBuf.raw() {
            return Err(Error::Input(format!(
                "map type {} is not BPF_MAP_TYPE_RINGBUF ({})",
                map.map_type(),
                MapType::RingBuf.raw()
            )));
        }
        let info = map.info()?;
        let page = page_size();
        check_max_entries(info.max_entries, page)?;
        let size = info.max_entries as usize;
        let mmap_err = |what: &str, e: io::Error| {
            Error::Input(format!(
                "mmap of ring buffer {:?} ({what}) failed: {}; a ring buffer's consumer page \
                 maps read-write, everything else read-only",
                info.name,
                crate::error::io_text(&e)
            ))
        };
        let consumer = Mapping::new(map.as_fd(), page, libc::PROT_READ | libc::PROT_WRITE, 0)
            .map_err(|e| mmap_err("consumer page", e))?;
        let producer = Mapping::new(map.as_fd(), page + 2 * size, libc::PROT_READ, page)
            .map_err(|e| mmap_err("producer page and data", e))?;
        let epoll = epoll_for(map.as_fd())?;
        Ok(RingBuf {
            map,
            consumer,
            producer,
            size: size as u64,
            page,
            epoll,
        })
    }

    /// The map, to pass to programs and to pin.
    pub fn map(&self) -> &Map {
        &self.map
    }

    /// The data size in bytes (`max_entries`).
    pub fn size(&self) -> u64 {
        self.size
    }

    fn consumer_pos(&self) -> &AtomicU64 {
        // SAFETY: the consumer page is mapped, page-aligned (so 8-aligned),
        // at least 8 bytes, and lives as long as `self`; the kernel only
        // reads it, so an atomic view is the right one.
        unsafe { &*(self.consumer.addr as *const AtomicU64) }
    }

    fn producer_pos(&self) -> &AtomicU64 {
        // SAFETY: as for consumer_pos; the kernel writes producer_pos with
        // release stores, so it is read atomically.
        unsafe { &*(self.producer.addr as *const AtomicU64) }
    }

    /// Bytes submitted or reserved but not yet consumed.
    pub fn pending(&self) -> u64 {
        let prod = self.producer_pos().load(Ordering::Acquire);
        let cons = self.consumer_pos().load(Ordering::Relaxed);
        prod.wrapping_sub(cons)
    }

    /// Calls `f` on each submitted record's data, in order, until the
    /// buffer is empty or the next record is still busy (reserved, not yet
    /// submitted). Discarded records are skipped. Each record is released
    /// back to the kernel after `f` returns. Returns how many records `f`
    /// saw.
    pub fn consume(&mut self, mut f: impl FnMut(&[u8])) -> Result<usize> {
        let mut seen = 0;
        let mut cons = self.consumer_pos().load(Ordering::Relaxed);
        loop {
            let prod = self.producer_pos().load(Ordering::Acquire);
            if cons >= prod {
                break;
            }
            let off = (cons & (self.size - 1)) as usize;
            // SAFETY: off < size, so the header lies in the first copy of
            // the data (which starts one page into the RO mapping); headers
            // are 8-aligned. The kernel writes `len` with a release store.
            let len_word =
                unsafe { &*(self.producer.addr.add(self.page + off) as *const AtomicU32) };
            let len = len_word.load(Ordering::Acquire);
            if len & BPF_RINGBUF_BUSY_BIT != 0 {
                break;
            }
            let data_len = len & !(BPF_RINGBUF_BUSY_BIT | BPF_RINGBUF_DISCARD_BIT);
            let span = record_span(data_len);
            if span > self.size || cons + span > prod {
                return Err(Error::Input(format!(
                    "ring buffer {:?}: record at position {cons} claims {data_len} bytes, past \
                     what the producer published ({prod}); the map is corrupt",
                    self.map.info().map(|i| i.name).unwrap_or_default()
                )));
            }
            if len & BPF_RINGBUF_DISCARD_BIT == 0 {
                let start = self.page + off + BPF_RINGBUF_HDR_SZ as usize;
                // SAFETY: off + span <= 2 * size because off < size and
                // span <= size, and the data is mapped twice, so the record
                // is in bounds and contiguous. The producer finished writing
                // it before its release store of `len` (acquired above), and
                // it stays untouched until consumer_pos moves past it.
                let rec = unsafe {
                    std::slice::from_raw_parts(self.producer.addr.add(start), data_len as usize)
                };
                f(rec);
                seen += 1;
            }
            cons += span;
            // Release: our reads of the record happen before the kernel may
            // reuse its space.
            self.consumer_pos().store(cons, Ordering::Release);
        }
        Ok(seen)
    }

    /// Like [`RingBuf::consume`], returning owned copies.
    pub fn consume_vec(&mut self) -> Result<Vec<Vec<u8>>> {
        let mut out = Vec::new();
        self.consume(|r| out.push(r.to_vec()))?;
        Ok(out)
    }

    /// Consumes what is there; if nothing is, waits up to `timeout` on the
    /// map fd with `epoll_wait` (the kernel wakes it when a record is
    /// submitted to a reader that has caught up) and consumes again.
    /// Returns how many records `f` saw (0 when the timeout passed).
    pub fn poll(&mut self, timeout: Duration, mut f: impl FnMut(&[u8])) -> Result<usize> {
        let n = self.consume(&mut f)?;
        if n > 0 {
            return Ok(n);
        }
        if self.wait(timeout)? {
            self.consume(&mut f)
        } else {
            Ok(0)
        }
    }

    /// Like [`RingBuf::poll`], returning owned copies.
    pub fn poll_vec(&mut self, timeout: Duration) -> Result<Vec<Vec<u8>>> {
        let mut out = Vec::new();
        self.poll(timeout, |r| out.push(r.to_vec()))?;
        Ok(out)
    }

    /// `epoll_wait` on the map fd: true when it became readable within
    /// `timeout`.
    pub fn wait(&self, timeout: Duration) -> Result<bool> {
        let ms = i32::try_from(timeout.as_millis()).unwrap_or(i32::MAX);
        let mut ev = libc::epoll_event { events: 0, u64: 0 };
        loop {
            // SAFETY: `ev` is a writable array of one epoll_event; the
            // epoll fd is ours and open.
            let n = unsafe { libc::epoll_wait(self.epoll.as_raw_fd(), &mut ev, 1, ms) };
            if n >= 0 {
                return Ok(n > 0);
            }
            let e = io::Error::last_os_error();
            if e.raw_os_error() != Some(libc::EINTR) {
                return Err(Error::io("epoll_wait on the ring buffer", e));
            }
        }
    }
}

impl AsFd for RingBuf {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.map.as_fd()
    }
}

/// An epoll instance watching `fd` for `EPOLLIN`.
fn epoll_for(fd: BorrowedFd<'_>) -> Result<OwnedFd> {
    // SAFETY: no pointers; returns a new fd or -1.
    let raw = unsafe { libc::epoll_create1(libc::EPOLL_CLOEXEC) };
    if raw < 0 {
        return Err(Error::io("epoll_create1", io::Error::last_os_error()));
    }
    // SAFETY: epoll_create1 just returned this fd; nothing else owns it.
    let epoll = unsafe { OwnedFd::from_raw_fd(raw) };
    let mut ev = libc::epoll_event {
        events: libc::EPOLLIN as u32,
        u64: 0,
    };
    // SAFETY: both fds are open; `ev` is a valid epoll_event for the call.
    let ret = unsafe {
        libc::epoll_ctl(
            epoll.as_raw_fd(),
            libc::EPOLL_CTL_ADD,
            fd.as_raw_fd(),
            &mut ev,
        )
    };
    if ret != 0 {
        let e = io::Error::last_os_error();
        return Err(SysError::with_hint(
            "epoll_ctl(EPOLL_CTL_ADD)",
            &e,
            "the ring buffer map fd cannot be polled (kernel older than 5.8?)",
        )
        .into());
    }
    Ok(epoll)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn max_entries_rules_match_the_kernel() {
        assert!(check_max_entries(4096, 4096).is_ok());
        assert!(check_max_entries(1 << 20, 4096).is_ok());
        for bad in [0, 1000, 2048, 4096 + 4096 * 2, 3 << 12] {
            let e = check_max_entries(bad, 4096).unwrap_err().to_string();
            assert!(e.contains("power of two"), "{e}");
        }
        let e = check_max_entries(5000, 4096).unwrap_err().to_string();
        assert!(e.contains("try 8192"), "{e}");
        let e = check_max_entries(100, 4096).unwrap_err().to_string();
        assert!(e.contains("try 4096"), "{e}");
    }

    #[test]
    fn records_are_padded_to_8_bytes() {
        assert_eq!(record_span(0), 8);
        assert_eq!(record_span(1), 16);
        assert_eq!(record_span(8), 16);
        assert_eq!(record_span(9), 24);
        assert_eq!(record_span(40), 48);
    }
}
