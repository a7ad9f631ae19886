//! A writer for the "newc" cpio format, the archive the kernel unpacks into
//! its initial root file system (`-initrd` for QEMU).
//!
//! It follows the kernel's `Documentation/driver-api/early-userspace/buffer-format.rst`
//! (and `init/initramfs.c`, which reads it): every entry is a 110-byte ASCII
//! header ("070701" then thirteen 8-digit hex fields), the NUL-terminated name
//! padded to a multiple of 4 bytes, then the data padded to a multiple of 4.
//! The archive ends with an entry named `TRAILER!!!`.

use std::io::{self, Write};

/// The magic that opens each newc header (no checksum variant).
const NEWC_MAGIC: &[u8; 6] = b"070701";
/// The name of the entry that ends every archive.
const TRAILER: &str = "TRAILER!!!";

// File type bits of `st_mode`, from include/uapi/linux/stat.h.
const S_IFDIR: u32 = 0o040000;
const S_IFREG: u32 = 0o100000;
const S_IFCHR: u32 = 0o020000;

/// Writes a newc archive entry by entry. Inode numbers are assigned in order,
/// so each file is distinct (the kernel hard-links entries that share an inode
/// number and have nlink > 1; we always write nlink 1 for files).
pub struct CpioWriter<W: Write> {
    out: W,
    next_ino: u32,
    written: u64,
}

/// One header's fields, in the order the format stores them.
struct Header<'a> {
    mode: u32,
    nlink: u32,
    filesize: u32,
    rdevmajor: u32,
    rdevminor: u32,
    name: &'a str,
}

impl<W: Write> CpioWriter<W> {
    pub fn new(out: W) -> Self {
        CpioWriter {
            out,
            next_ino: 1,
            written: 0,
        }
    }

    /// A directory. Parents must be written before their children, as the
    /// kernel creates each path as it reads it.
    pub fn dir(&mut self, path: &str, perm: u32) -> io::Result<()> {
        self.entry(
            Header {
                mode: S_IFDIR | (perm & 0o7777),
                nlink: 2,
                filesize: 0,
                rdevmajor: 0,
                rdevminor: 0,
                name: path,
            },
            &[],
        )
    }

    /// A regular file with the given permission bits.
    pub fn file(&mut self, path: &str, perm: u32, data: &[u8]) -> io::Result<()> {
        let filesize = u32::try_from(data.len()).map_err(|_| {
            io::Error::new(
                io::ErrorKind::InvalidInput,
                format!("{path}: newc cannot hold a file of 4 GiB or more"),
            )
        })?;
        self.entry(
            Header {
                mode: S_IFREG | (perm & 0o7777),
                nlink: 1,
                filesize,
                rdevmajor: 0,
                rdevminor: 0,
                name: path,
            },
            data,
        )
    }

    /// A character device node, such as `dev/console` (5, 1): the kernel opens
    /// it for PID 1's stdin/stdout/stderr before devtmpfs is mounted.
    pub fn char_device(&mut self, path: &str, perm: u32, major: u32, minor: u32) -> io::Result<()> {
        self.entry(
            Header {
                mode: S_IFCHR | (perm & 0o7777),
                nlink: 1,
                filesize: 0,
                rdevmajor: major,
                rdevminor: minor,
                name: path,
            },
            &[],
        )
    }

    /// Writes the trailer and returns the underlying writer.
    pub fn finish(mut self) -> io::Result<W> {
        self.entry_with_ino(
            0,
            Header {
                mode: 0,
                nlink: 1,
                filesize: 0,
                rdevmajor: 0,
                rdevminor: 0,
                name: TRAILER,
            },
            &[],
        )?;
        self.out.flush()?;
        Ok(self.out)
    }

    fn entry(&mut self, h: Header<'_>, data: &[u8]) -> io::Result<()> {
        if h.name.is_empty() || h.name.contains('\0') || h.name.starts_with('/') {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                format!(
                    "cpio entry name {:?} must be relative, non-empty, without NUL",
                    h.name
                ),
            ));
        }
        let ino = self.next_ino;
        self.next_ino += 1;
        self.entry_with_ino(ino, h, data)
    }

    fn entry_with_ino(&mut self, ino: u32, h: Header<'_>, data: &[u8]) -> io::Result<()> {
        // namesize counts the terminating NUL.
        let namesize = h.name.len() as u32 + 1;
        let mut head = Vec::with_capacity(110 + h.name.len() + 4);
        head.extend_from_slice(NEWC_MAGIC);
        // ino, mode, uid, gid, nlink, mtime, filesize, devmajor, devminor,
        // rdevmajor, rdevminor, namesize, check. mtime 0 keeps the archive
        // reproducible; uid/gid 0 is root, which owns everything in the VM.
        let fields = [
            ino,
            h.mode,
            0,
            0,
            h.nlink,
            0,
            h.filesize,
            0,
            0,
            h.rdevmajor,
            h.rdevminor,
            namesize,
            0,
        ];
        for f in fields {
            head.extend_from_slice(format!("{f:08x}").as_bytes());
        }
        head.extend_from_slice(h.name.as_bytes());
        head.push(0);
        pad4(&mut head, self.written);
        self.out.write_all(&head)?;
        self.written += head.len() as u64;
        self.out.write_all(data)?;
        self.written += data.len() as u64;
        let pad = (4 - (self.written % 4) as usize) % 4;
        self.out.write_all(&[0u8; 3][..pad])?;
        self.written += pad as u64;
        Ok(())
    }
}

/// Pads `buf` with NULs so that `start + buf.len()` is a multiple of 4.
fn pad4(buf: &mut Vec<u8>, start: u64) {
    while (start + buf.len() as u64) % 4 != 0 {
        buf.push(0);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn field(entry: &[u8], i: usize) -> u32 {
        let s = std::str::from_utf8(&entry[6 + 8 * i..6 + 8 * (i + 1)]).unwrap();
        u32::from_str_radix(s, 16).unwrap()
    }

    #[test]
    fn header_layout_and_alignment() {
        let mut w = CpioWriter::new(Vec::new());
        w.file("init", 0o755, b"hello").unwrap();
        let out = w.finish().unwrap();
        assert_eq!(&out[..6], b"070701");
        assert_eq!(field(&out, 1), S_IFREG | 0o755);
        assert_eq!(field(&out, 6), 5, "filesize");
        assert_eq!(field(&out, 11), 5, "namesize counts the NUL");
        // 110 header + "init\0" = 115, padded to 116; data at 116..121, padded to 124.
        assert_eq!(&out[110..115], b"init\0");
        assert_eq!(&out[116..121], b"hello");
        assert_eq!(&out[121..124], &[0, 0, 0]);
        assert_eq!(&out[124..130], b"070701");
        assert_eq!(&out[124 + 110..124 + 120], b"TRAILER!!!");
        assert_eq!(out.len() % 4, 0);
    }

    #[test]
    fn device_node_fields() {
        let mut w = CpioWriter::new(Vec::new());
        w.char_device("dev/console", 0o600, 5, 1).unwrap();
        let out = w.finish().unwrap();
        assert_eq!(field(&out, 1), S_IFCHR | 0o600);
        assert_eq!(field(&out, 9), 5);
        assert_eq!(field(&out, 10), 1);
    }

    #[test]
    fn rejects_absolute_and_empty_names() {
        let mut w = CpioWriter::new(Vec::new());
        assert!(w.file("/init", 0o755, b"").is_err());
        assert!(w.dir("", 0o755).is_err());
        assert!(w.file("a\0b", 0o644, b"").is_err());
    }

    /// Cross-checks with GNU cpio when it is installed: it must list our
    /// entries and extract our bytes unchanged.
    #[test]
    fn gnu_cpio_reads_our_archive() {
        if std::process::Command::new("cpio")
            .arg("--version")
            .output()
            .is_err()
        {
            eprintln!("cpio not installed; skipping the cross-check");
            return;
        }
        let mut w = CpioWriter::new(Vec::new());
        w.dir("dir", 0o755).unwrap();
        let payload: Vec<u8> = (0..1001u32).map(|i| (i * 7) as u8).collect();
        w.file("dir/odd", 0o644, &payload).unwrap();
        w.file("x", 0o600, b"").unwrap();
        w.file("abc", 0o600, b"1234").unwrap();
        let archive = w.finish().unwrap();

        let dir = std::env::temp_dir().join(format!("lab-cpio-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let arch_path = dir.join("a.cpio");
        std::fs::write(&arch_path, &archive).unwrap();
        let run = |args: &[&str]| {
            std::process::Command::new("sh")
                .arg("-c")
                .arg(format!(
                    "cd {} && cpio {} < a.cpio",
                    dir.display(),
                    args.join(" ")
                ))
                .output()
                .unwrap()
        };
        let list = run(&["-t", "--quiet"]);
        assert!(list.status.success(), "{list:?}");
        let names = String::from_utf8_lossy(&list.stdout);
        assert_eq!(
            names.lines().collect::<Vec<_>>(),
            ["dir", "dir/odd", "x", "abc"]
        );
        let ex = run(&["-id", "--quiet", "--no-absolute-filenames"]);
        assert!(ex.status.success(), "{ex:?}");
        assert_eq!(std::fs::read(dir.join("dir/odd")).unwrap(), payload);
        assert_eq!(std::fs::read(dir.join("abc")).unwrap(), b"1234");
        let _ = std::fs::remove_dir_all(&dir);
    }
}
