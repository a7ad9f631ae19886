//! One `load`: an [`ebpf_asm::object::Object`] (read from clang's ELF or
//! ours, or made from a `.s` file) becomes kernel objects in one pass, in
//! the order libbpf makes them (`tools/lib/bpf/libbpf.c`, read, not copied):
//!
//! 1. BTF: `.BTF` with its DATASECs given their ELF sizes and offsets
//!    (`ebpf_asm::btf::fixup`), loaded with `BPF_BTF_LOAD`;
//! 2. maps: one per BTF-defined map in `.maps` (type, key and value size,
//!    max_entries, map_flags read from the BTF VAR, as `parse_btf_map_def`
//!    reads them), then one single-entry array per data section: `.rodata*`
//!    is `BPF_F_RDONLY_PROG` and frozen with `BPF_MAP_FREEZE` after its
//!    `const volatile` values are set (`--set NAME=VALUE`, found through the
//!    section's symbols), `.data*` and `.bss*` writable;
//! 3. relocations, per program: `R_BPF_64_64` on an `lddw` against a map
//!    symbol becomes `BPF_PSEUDO_MAP_FD`, against data
//!    `BPF_PSEUDO_MAP_VALUE` plus the offset (symbol value plus the
//!    implicit addend in `imm`); a bpf-to-bpf call (`BPF_PSEUDO_CALL`, with
//!    or without `R_BPF_64_32`) pulls the called function into the program,
//!    appended after it, and its `imm` is set to the new distance; so does
//!    an `lddw` of a function (a callback for `bpf_loop`), which becomes
//!    `BPF_PSEUDO_FUNC`; the func_info and line_info of every appended
//!    function follow it; a call or `lddw` against an undefined `__ksym`
//!    extern is resolved against the running kernel ([`crate::ksym`]:
//!    kfuncs, typed and typeless ksyms, weak ones), and the CO-RE records
//!    of `.BTF.ext` against its BTF ([`ebpf_asm::btf::core`]);
//! 4. programs: every program of [`Object::programs`] (or the one named),
//!    loaded with `BPF_PROG_LOAD`, `prog_btf_fd`, `func_info`, `line_info`,
//!    and the line info as the source map of its verifier log.
//!
//! The layouts are `include/uapi/linux/bpf.h`'s (`struct bpf_insn`, the
//! `BPF_PSEUDO_*` forms of `lddw` and `call`). ELF problems are
//! [`Error::Elf`] naming the section and offset; kernel refusals keep their
//! errno and hint and say which map or program they were about.

use std::collections::HashSet;
use std::path::Path;

use byteorder::{ByteOrder, LittleEndian};
use std::os::fd::{AsFd, AsRawFd, BorrowedFd};

use ebpf_asm::btf::ext::{BtfExt, FuncInfo, LineInfo, ProgInfo};
use ebpf_asm::btf::Btf;
use ebpf_asm::object::{ElfError, MapDecl, Object, ProgramRef, RelocType, SectionKind};
use ebpf_asm::opcode::{
    BPF_CALL, BPF_DW, BPF_IMM, BPF_JMP, BPF_LD, BPF_PSEUDO_BTF_ID, BPF_PSEUDO_CALL,
    BPF_PSEUDO_FUNC, BPF_PSEUDO_KFUNC_CALL,
};

use crate::asm::{kernel_name, patch_map_ref};
use crate::btf::{LoadedBtf, ProgBtf};
use crate::declared::{self, MapPin};
use crate::error::{Error, Result};
use crate::kconfig;
use crate::ksym::{ksyms_of, ExternKind, Kernel, Resolved};
use crate::map::{Map, MapBtf, MapFlags, MapSpec, BPF_ANY};
use crate::prog::{LoadOptions, Program};
use crate::types::{AttachType, MapType, ProgType};
use crate::verifier::{SourceLine, SourceMap};
use ebpf_asm::btf::fixup::KCONFIG_SECTION;

/// `sizeof(struct bpf_insn)` (bpf.h).
const INSN: u64 = 8;
/// The largest data section made into a map value: the kernel caps array
/// values at `KMALLOC_MAX_SIZE`; refusing early gives a clearer message.
const MAX_DATA_SECTION: u64 = 64 << 20;

/// The program type a section name implies, in libbpf's naming (`tc`,
/// `classifier`, `tc/...`, `tcx/...`, `xdp`, `socket`, `action`): the one
/// rule for `.s` files and objects.
pub fn prog_type_for_section(section: &str) -> Option<ProgType> {
    let head = section.split('/').next().unwrap_or(section);
    match head {
        "tc" | "classifier" | "tcx" | "tc_packet_hook" => Some(ProgType::SchedCls),
        "action" => Some(ProgType::SchedAct),
        "xdp" | "xdp.frags" => Some(ProgType::Xdp),
        "socket" => Some(ProgType::SocketFilter),
        "tp_btf" | "fentry" | "fexit" => Some(ProgType::Tracing),
        "raw_tp" | "raw_tracepoint" => Some(ProgType::RawTracepoint),
        "tp" | "tracepoint" => Some(ProgType::Tracepoint),
        "kprobe" | "kretprobe" => Some(ProgType::Kprobe),
        _ => None,
    }
}

/// For a `BPF_PROG_TYPE_TRACING` section, `tp_btf/NAME`, `fentry/NAME` or
/// `fexit/NAME`: its `expected_attach_type` and the hook's name, which
/// [`load`] looks up in vmlinux BTF for `attach_btf_id` (the
/// `btf_trace_NAME` typedef, or the FUNC), as libbpf does.
pub fn tracing_hook_for_section(section: &str) -> Option<(AttachType, &str)> {
    let (head, name) = section.split_once('/')?;
    let at = match head {
        "tp_btf" => AttachType::TraceRawTp,
        "fentry" => AttachType::TraceFentry,
        "fexit" => AttachType::TraceFexit,
        _ => return None,
    };
    (!name.is_empty()).then_some((at, name))
}

/// How to load an object.
#[derive(Debug, Clone, Default)]
pub struct LoadSpec<'a> {
    /// The file the object came from, for messages and line info.
    pub file_name: &'a str,
    /// Load only this program (by [`Object::programs`]' names).
    pub program: Option<&'a str>,
    /// The program type for every program (default: from its section).
    pub prog_type: Option<ProgType>,
    /// `--set NAME=VALUE`: data objects to write before their section's
    /// map is filled (and, for `.rodata`, frozen).
    pub sets: &'a [(String, i64)],
    /// Maps made elsewhere (the lab's), by name: for relocations against
    /// undefined symbols of that name, and in place of a `.maps`
    /// declaration of that name (its type and sizes must match).
    pub extern_maps: &'a [(&'a str, BorrowedFd<'a>)],
    /// (section index, byte offset) of `lddw`s against an extern map that
    /// take a pointer into its value even at offset 0 (a `.s` file's
    /// `r1 = map + 0 ll`); others with addend 0 take the map itself.
    pub extern_value_refs: &'a [(usize, u64)],
    /// Where maps declared with `__uint(pinning, LIBBPF_PIN_BY_NAME)` are
    /// pinned, each as `PIN_ROOT/NAME` (libbpf's `pin_root_path`; default
    /// [`crate::pin::BPFFS_ROOT`]).
    pub pin_root: Option<&'a Path>,
    /// Keep the level-2 verifier log and stats.
    pub verbose: bool,
}

/// Where a map of an object came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MapOrigin {
    /// Declared in `.maps`.
    Declared,
    /// Made for a data section (`.rodata`, `.data`, `.bss`...).
    Data {
        /// True for `.rodata*`: read-only for programs and frozen.
        frozen: bool,
    },
    /// `.kconfig`: the values of the object's `__kconfig` externs
    /// ([`crate::kconfig`]), read-only for programs and frozen.
    Kconfig,
}

/// A map made for an object.
#[derive(Debug)]
pub struct ObjectMap {
    /// The symbol (a `.maps` entry) or the section name.
    pub name: String,
    pub origin: MapOrigin,
    pub map_type: MapType,
    pub key_size: u32,
    pub value_size: u32,
    pub max_entries: u32,
    pub flags: MapFlags,
    /// Its pin by name (`__uint(pinning, LIBBPF_PIN_BY_NAME)`), if any.
    pub pin: Option<MapPin>,
    pub map: Map,
}

/// A program loaded from an object.
#[derive(Debug)]
pub struct ObjectProgram {
    /// The function symbol's name.
    pub name: String,
    /// Its section.
    pub section: String,
    pub prog_type: ProgType,
    /// Instruction slots loaded (with appended subprograms).
    pub slots: usize,
    /// The functions appended after it, in order.
    pub subprograms: Vec<String>,
    pub program: Program,
}

/// Everything one [`load`] made. Dropping it closes every fd; pins and
/// attachments keep their objects.
#[derive(Debug)]
pub struct LoadedObject {
    pub programs: Vec<ObjectProgram>,
    pub maps: Vec<ObjectMap>,
    /// The object's BTF in the kernel, when it had `.BTF`.
    pub btf: Option<LoadedBtf>,
    /// What the user should know but that did not stop the load.
    pub warnings: Vec<String>,
}

impl LoadedObject {
    /// The program named `name`.
    pub fn program(&self, name: &str) -> Option<&Program> {
        self.programs
            .iter()
            .find(|p| p.name == name)
            .map(|p| &p.program)
    }

    /// The map named `name` (a `.maps` symbol or a section name).
    pub fn map(&self, name: &str) -> Option<&Map> {
        self.maps.iter().find(|m| m.name == name).map(|m| &m.map)
    }
}

/// `FILE: ` for messages, or nothing when the object has no file name.
fn prefix(file: &str) -> String {
    if file.is_empty() {
        String::new()
    } else {
        format!("{file}: ")
    }
}

fn elf(file: &str, e: ElfError) -> Error {
    Error::Elf(format!("{}{e}", prefix(file)))
}

fn elf_at(file: &str, section: &str, offset: u64, message: impl Into<String>) -> Error {
    elf(
        file,
        ElfError {
            section: Some(section.to_string()),
            offset: Some(offset),
            message: message.into(),
        },
    )
}

/// Says which map or program a kernel error was about, keeping its errno.
pub(crate) fn about(e: Error, what: &str) -> Error {
    match e {
        Error::Sys(mut s) => {
            s.hint = Some(match s.hint {
                Some(h) => format!("{what}: {h}"),
                None => what.to_string(),
            });
            Error::Sys(s)
        }
        Error::Input(m) => Error::Input(format!("{what}: {m}")),
        Error::Elf(m) => Error::Elf(format!("{what}: {m}")),
        other => other,
    }
}

/// Loads `obj`: BTF, maps, relocations, programs (see the module doc).
pub fn load(obj: &Object, spec: &LoadSpec<'_>) -> Result<LoadedObject> {
    let file = spec.file_name;
    let license = obj.license().ok_or_else(|| {
        Error::Elf(format!(
            "{}no \"license\" section; add char LICENSE[] SEC(\"license\") = \"GPL\"; \
             (or .license in a .s file)",
            prefix(file)
        ))
    })?;
    let mut warnings = Vec::new();

    // 1. BTF.
    let btf = match obj.btf() {
        Some(b) => Some(b.map_err(|e| elf(file, e))?),
        None => None,
    };
    let ext = match obj.btf_ext() {
        Some(e) => Some(e.map_err(|e| elf(file, e))?),
        None => None,
    };
    let mut loaded_btf = None;
    let ksyms = btf.as_ref().map(ksyms_of).unwrap_or_default();
    let kcfg = match &btf {
        Some(b) => kconfig::externs_of(b, obj).map_err(|e| about(e, "section .kconfig"))?,
        None => Vec::new(),
    };
    if let Some(btf) = &btf {
        let mut fixed = btf.clone();
        // .kconfig has no ELF section: its layout is ours to give.
        fixed.set_datasec_layout(KCONFIG_SECTION, kconfig::value_size(&kcfg), &|n| {
            kcfg.iter()
                .find(|e| e.name == n)
                .map(|e| (e.offset, e.size))
        });
        // Externs first: it gives .ksyms the size fixup_datasecs wants.
        fixed.fixup_externs();
        // __hidden global subprograms are verified as static, as libbpf
        // verifies them (a program's own function stays as it is).
        let programs = obj.programs();
        let hidden: Vec<&str> = obj
            .symbols
            .iter()
            .filter(|y| {
                y.kind == ebpf_asm::object::SymbolType::Func
                    && y.binding != ebpf_asm::object::Binding::Local
                    && matches!(
                        y.visibility,
                        ebpf_asm::object::Visibility::Hidden
                            | ebpf_asm::object::Visibility::Internal
                    )
                    && !programs.iter().any(|p| p.name == y.name)
            })
            .map(|y| y.name.as_str())
            .collect();
        fixed.make_funcs_static(&hidden);
        let fixup = fixed.fixup_datasecs(
            &|name| obj.section(name).and_then(|s| u32::try_from(s.size).ok()),
            &|sec, var| {
                let idx = obj.section_index(sec)?;
                obj.symbols
                    .iter()
                    .find(|y| y.name == var && y.section == Some(idx))
                    .and_then(|y| u32::try_from(y.value).ok())
            },
        );
        // libbpf goes on without BTF when it cannot be fixed up or the
        // kernel refuses it; so do we, and say so (programs then load
        // without func/line info).
        match fixup {
            Err(e) => warnings.push(format!(
                "{}section .BTF: {e}; loading without BTF",
                prefix(file)
            )),
            Ok(()) => match LoadedBtf::load(&fixed.encode()) {
                Ok(b) => loaded_btf = Some(b),
                Err(e) => warnings.push(format!(
                    "{}the kernel refused the object's BTF, loading without it: {e}",
                    prefix(file)
                )),
            },
        }
    }

    // 2. Maps.
    let decls = obj.declared_maps(btf.as_ref()).map_err(|e| elf(file, e))?;
    let mut maps = Vec::new();
    let typed = TypedMaps {
        btf: btf.as_ref(),
        loaded: loaded_btf.as_ref(),
    };
    let pin_root = spec.pin_root.unwrap_or(Path::new(crate::pin::BPFFS_ROOT));
    for d in &decls {
        let what = format!("map {}", d.name);
        // A map made elsewhere (the lab's, pinned) stands in for the
        // declaration, if it is the map the object declares.
        let given = spec
            .extern_maps
            .iter()
            .find(|(n, _)| *n == d.name)
            .map(|(_, fd)| *fd);
        let m = declared::make(d, given, pin_root, &typed, &mut warnings);
        maps.push(m.map_err(|e| about(e, &what))?);
    }
    // maps[i] is decls[i]'s until the data maps follow.
    declared::fill_map_slots(&decls, &maps)?;
    let data_maps = create_data_maps(obj, &typed, spec, &mut warnings)?;
    let kconfig_map = if kcfg.is_empty() {
        None
    } else {
        maps.push(create_kconfig_map(&kcfg, &typed, &mut warnings)?);
        Some(maps.len() - 1)
    };
    // (section index, index into maps) for data sections.
    let mut data_of = Vec::new();
    for (section, m) in data_maps {
        data_of.push((section, maps.len()));
        maps.push(m);
    }

    // 3 and 4. Programs.
    let all = obj.programs();
    let chosen: Vec<&ProgramRef> = match spec.program {
        Some(want) => {
            let p = all.iter().find(|p| p.name == want).ok_or_else(|| {
                let names: Vec<&str> = all.iter().map(|p| p.name.as_str()).collect();
                Error::Input(format!(
                    "{}no program named {want:?}; the object has {names:?}",
                    prefix(file)
                ))
            })?;
            vec![p]
        }
        None => all.iter().collect(),
    };
    if chosen.is_empty() {
        return Err(Error::Elf(format!(
            "{}no programs (global functions in executable sections other than .text)",
            prefix(file)
        )));
    }
    let kernel = Kernel::new();
    let ctx = Ctx {
        obj,
        file,
        spec,
        decls: &decls,
        maps: &maps,
        data_of: &data_of,
        btf: btf.as_ref(),
        ext: ext.as_ref(),
        ksyms: &ksyms,
        kcfg: &kcfg,
        kconfig_map,
        kernel: &kernel,
        notes: Default::default(),
        module_btfs: Default::default(),
    };
    let mut programs = Vec::new();
    for p in chosen {
        let what = format!("program {} (section {})", p.name, p.section);
        let prog_type = spec
            .prog_type
            .or_else(|| prog_type_for_section(&p.section))
            .ok_or_else(|| {
                Error::Input(format!(
                    "{}{what}: cannot tell the program type from the section name \
                     (tc, xdp, socket, action...); give it with --type",
                    prefix(file)
                ))
            })?;
        let linked = ctx.link(p)?;
        let name = kernel_name(&p.name);
        let mut opts = LoadOptions::new(prog_type, &name);
        opts.license = license;
        opts.verbose = spec.verbose;
        opts.source_map = linked.source_map.as_ref();
        let fd_array = ctx.fd_array();
        opts.fd_array = &fd_array;
        let prog_btf = match (&loaded_btf, linked.info.func_info.is_empty()) {
            (Some(b), false) => Some(ProgBtf::new(
                b.try_clone().map_err(|e| about(e, &what))?,
                &linked.info,
            )),
            _ => None,
        };
        opts.btf = prog_btf.as_ref();
        if prog_type == ProgType::Tracing {
            let (at, hook) = tracing_hook_for_section(&p.section).ok_or_else(|| {
                Error::Input(format!(
                    "{}{what}: a tracing program's section names its hook: tp_btf/NAME, \
                     fentry/NAME or fexit/NAME",
                    prefix(file)
                ))
            })?;
            let btf = kernel.btf().map_err(|e| about(e, &what))?;
            let id = match at {
                AttachType::TraceRawTp => btf.tracepoint(hook).map(|t| t.btf_id),
                _ => btf.function(hook).map(|(id, _)| id),
            }
            .map_err(|e| Error::Input(format!("{}{what}: {e}", prefix(file))))?;
            opts.expected_attach_type = Some(at);
            opts.attach_btf_id = id;
        }
        // A refusal may be the unapplied CO-RE offsets': say so with it.
        let program = Program::load_with(&linked.code, &opts).map_err(|e| about(e, &what))?;
        programs.push(ObjectProgram {
            name: p.name.clone(),
            section: p.section.clone(),
            prog_type,
            slots: linked.code.len() / INSN as usize,
            subprograms: linked.subprograms,
            program,
        });
    }
    warnings.extend(ctx.notes.into_inner());
    declared::fill_prog_slots(&decls, &maps, &programs, &mut warnings)?;
    // Last, so that a refused load leaves no pin behind.
    declared::pin_new(&maps)?;
    Ok(LoadedObject {
        programs,
        maps,
        btf: loaded_btf,
        warnings,
    })
}

/// Reads ELF `bytes` with [`Object::from_elf`] and loads them.
pub fn load_elf(bytes: &[u8], spec: &LoadSpec<'_>) -> Result<LoadedObject> {
    let obj = Object::from_elf(bytes).map_err(|e| elf(spec.file_name, e))?;
    load(&obj, spec)
}

/// The object's BTF, parsed and loaded, for typing maps' keys and values
/// as libbpf does: `__type(key, T)` / `__type(value, T)` of a `.maps`
/// definition, and the DATASEC of a data section as its map's value.
pub(crate) struct TypedMaps<'a> {
    btf: Option<&'a Btf>,
    loaded: Option<&'a LoadedBtf>,
}

impl TypedMaps<'_> {
    /// (key, value) type ids of map `name`'s `__type` members.
    pub(crate) fn declared(&self, name: &str) -> (u32, u32) {
        let Some(btf) = self.btf else {
            return (0, 0);
        };
        let var = btf
            .types
            .iter()
            .find(|t| matches!(t.data, ebpf_asm::btf::TypeData::Var { .. }) && btf.name(t) == name);
        let Some(ebpf_asm::btf::TypeData::Var { ty, .. }) = var.map(|v| &v.data) else {
            return (0, 0);
        };
        let st = btf.type_by_id(btf.skip_modifiers(*ty));
        let Some(ebpf_asm::btf::TypeData::Struct { members, .. }) = st.map(|t| &t.data) else {
            return (0, 0);
        };
        let pointee = |member: &str| {
            members
                .iter()
                .find(|m| btf.str_at(m.name_off) == Some(member))
                .and_then(|m| btf.type_by_id(btf.skip_modifiers(m.ty)))
                .and_then(|t| match t.data {
                    ebpf_asm::btf::TypeData::Ptr { ty } => Some(ty),
                    _ => None,
                })
                .unwrap_or(0)
        };
        (pointee("key"), pointee("value"))
    }

    /// The DATASEC type id of section `name`.
    fn datasec(&self, name: &str) -> u32 {
        let Some(btf) = self.btf else { return 0 };
        btf.types
            .iter()
            .position(|t| {
                matches!(t.data, ebpf_asm::btf::TypeData::Datasec { .. }) && btf.name(t) == name
            })
            .map_or(0, |i| i as u32 + 1)
    }

    /// Creates the map with its types when there are any, and without them
    /// if the kernel refuses them (as libbpf retries), saying so.
    pub(crate) fn create(
        &self,
        spec: &MapSpec<'_>,
        (key, value): (u32, u32),
        warnings: &mut Vec<String>,
    ) -> Result<Map> {
        // The types whose maps the kernel refuses BTF for (ENOTSUPP: their
        // values are fds or ifindexes, not data); libbpf leaves it out too.
        let untyped = matches!(
            spec.map_type,
            MapType::PerfEventArray
                | MapType::CgroupArray
                | MapType::StackTrace
                | MapType::ArrayOfMaps
                | MapType::HashOfMaps
                | MapType::Devmap
                | MapType::DevmapHash
                | MapType::Cpumap
                | MapType::Xskmap
                | MapType::Sockmap
                | MapType::Sockhash
                | MapType::Queue
                | MapType::Stack
        );
        let Some(loaded) = self.loaded.filter(|_| !untyped && (key != 0 || value != 0)) else {
            return Map::create(spec);
        };
        let with = MapBtf {
            btf: loaded.as_fd(),
            key_type_id: key,
            value_type_id: value,
        };
        match Map::create_with_btf(spec, Some(&with)) {
            Ok(m) => Ok(m),
            Err(e) => {
                let m = Map::create(spec)?;
                warnings.push(format!(
                    "map {}: created without BTF key/value types, which the kernel refused \
                     ({e})",
                    spec.name
                ));
                Ok(m)
            }
        }
    }
}

/// The `.kconfig` map: one frozen, program-read-only array entry holding
/// every `__kconfig` extern's value at its offset, as libbpf makes it.
fn create_kconfig_map(
    kcfg: &[kconfig::KcfgExtern],
    typed: &TypedMaps<'_>,
    warnings: &mut Vec<String>,
) -> Result<ObjectMap> {
    let what = "map .kconfig";
    let kernel = Kernel::new();
    let config = std::cell::OnceCell::new();
    let config_fn = || -> Result<&std::collections::HashMap<String, String>> {
        match config.get_or_init(|| {
            kconfig::running_config()
                .map(|(c, _)| c)
                .map_err(|e| e.to_string())
        }) {
            Ok(c) => Ok(c),
            Err(e) => Err(Error::Input(e.clone())),
        }
    };
    let facts = kconfig::Facts {
        config: &config_fn,
        release: &kconfig::osrelease,
        has_syscall_wrapper: &|| kernel.has_syscall_wrapper(),
        has_bpf_cookie: &kconfig::probe_bpf_cookie,
    };
    let data = kconfig::values(kcfg, &facts)?;
    single_entry_array(KCONFIG_SECTION, MapOrigin::Kconfig, &data, typed, warnings)
        .map_err(|e| about(e, what))
}

/// A one-entry array named after section `name`, typed by its DATASEC,
/// holding `data`; read-only for programs and frozen unless `origin` is
/// writable data. libbpf makes its internal maps (`.rodata`, `.data`,
/// `.bss`, `.kconfig`) this way.
fn single_entry_array(
    name: &str,
    origin: MapOrigin,
    data: &[u8],
    typed: &TypedMaps<'_>,
    warnings: &mut Vec<String>,
) -> Result<ObjectMap> {
    let frozen = matches!(
        origin,
        MapOrigin::Kconfig | MapOrigin::Data { frozen: true }
    );
    let flags = if frozen {
        MapFlags::RDONLY_PROG
    } else {
        MapFlags::empty()
    };
    let value_size = data.len() as u32;
    let map = typed.create(
        &MapSpec {
            map_type: MapType::Array,
            key_size: 4,
            value_size,
            max_entries: 1,
            flags: flags.bits(),
            name: &kernel_name(name),
        },
        (0, typed.datasec(name)),
        warnings,
    )?;
    map.update(&0u32.to_ne_bytes(), data, BPF_ANY)?;
    if frozen {
        map.freeze()?;
    }
    Ok(ObjectMap {
        name: name.to_string(),
        origin,
        map_type: MapType::Array,
        key_size: 4,
        value_size,
        max_entries: 1,
        flags,
        pin: None,
        map,
    })
}

/// One array map per non-empty data section, filled with the section's
/// bytes after `spec.sets` are written into them; `.rodata*` frozen.
fn create_data_maps(
    obj: &Object,
    typed: &TypedMaps<'_>,
    spec: &LoadSpec<'_>,
    warnings: &mut Vec<String>,
) -> Result<Vec<(usize, ObjectMap)>> {
    let file = spec.file_name;
    let btf = typed.btf;
    let mut values: Vec<(usize, Vec<u8>)> = Vec::new();
    for (i, s) in obj.sections.iter().enumerate() {
        if !s.kind.is_global_data() || s.size == 0 {
            continue;
        }
        if s.size > MAX_DATA_SECTION {
            return Err(elf_at(
                file,
                &s.name,
                0,
                format!("{} bytes, too large for a map value", s.size),
            ));
        }
        let data = if s.is_nobits() {
            vec![0u8; s.size as usize]
        } else {
            s.data.clone()
        };
        values.push((i, data));
    }
    for (name, value) in spec.sets {
        let sym = obj.data_symbol(name, btf).ok_or_else(|| {
            Error::Input(format!(
                "--set {name}: no such global in the object's .rodata/.data/.bss; it has {:?} \
                 (a `const volatile` global the compiler kept: is it used?)",
                obj.data_symbol_names()
            ))
        })?;
        let Some((_, data)) = values.iter_mut().find(|(i, _)| *i == sym.section) else {
            return Err(Error::Input(format!("--set {name}: its section is empty")));
        };
        if !matches!(sym.size, 1 | 2 | 4 | 8) {
            return Err(Error::Input(format!(
                "--set {name}: it is {} bytes; only 1, 2, 4 and 8-byte integers can be set",
                sym.size
            )));
        }
        let bits = sym.size * 8;
        let fits = bits == 64 || (*value >= -(1i64 << (bits - 1)) && *value < (1i64 << bits));
        if !fits {
            return Err(Error::Input(format!(
                "--set {name}={value}: does not fit its {} bytes",
                sym.size
            )));
        }
        let start = usize::try_from(sym.offset).unwrap_or(usize::MAX);
        let end = start.saturating_add(sym.size as usize);
        let Some(slot) = data.get_mut(start..end) else {
            return Err(elf_at(
                file,
                &obj.sections[sym.section].name,
                sym.offset,
                format!("symbol {name} ({} bytes) runs past the section", sym.size),
            ));
        };
        // Two's complement, little-endian, in the symbol's width.
        LittleEndian::write_uint(slot, *value as u64 & width_mask(bits), sym.size as usize);
    }
    let mut out = Vec::new();
    for (i, data) in values {
        let s = &obj.sections[i];
        let origin = MapOrigin::Data {
            frozen: s.kind == SectionKind::Rodata,
        };
        let m = single_entry_array(&s.name, origin, &data, typed, warnings)
            .map_err(|e| about(e, &format!("map for section {}", s.name)))?;
        out.push((i, m));
    }
    Ok(out)
}

/// What linking needs to see.
struct Ctx<'a> {
    obj: &'a Object,
    file: &'a str,
    spec: &'a LoadSpec<'a>,
    decls: &'a [MapDecl],
    maps: &'a [ObjectMap],
    data_of: &'a [(usize, usize)],
    btf: Option<&'a Btf>,
    ext: Option<&'a BtfExt>,
    /// The object's `__ksym` externs, by name.
    ksyms: &'a std::collections::HashMap<String, ExternKind>,
    /// The object's `__kconfig` externs, laid out, and their map's index
    /// in `maps`.
    kcfg: &'a [kconfig::KcfgExtern],
    kconfig_map: Option<usize>,
    /// The running kernel, read when an extern needs it.
    kernel: &'a Kernel,
    /// Warnings from linking (poisoned CO-RE instructions).
    notes: std::cell::RefCell<Vec<String>>,
    /// The BTF objects of the modules whose kfuncs the programs call: a
    /// call's `off` is 1 + the index here (its slot in `fd_array`).
    module_btfs: std::cell::RefCell<Vec<(String, std::os::fd::OwnedFd)>>,
}

/// A function copied into the linked program.
#[derive(Debug, Clone)]
struct Unit {
    section: usize,
    /// Byte range in the section.
    start: u64,
    size: u64,
    /// First slot in the linked program.
    placed: u64,
    name: String,
}

/// One program, relocated and linked.
struct Linked {
    code: Vec<u8>,
    subprograms: Vec<String>,
    info: ProgInfo,
    source_map: Option<SourceMap>,
}

impl Ctx<'_> {
    /// An error at byte `offset` of `section`, with the source line there
    /// when the object's line info has one (`bad.c:3: ...`, `devmap.s:40: ...`).
    fn err(&self, section: usize, offset: u64, m: impl Into<String>) -> Error {
        let name = self
            .obj
            .sections
            .get(section)
            .map_or("?", |s| s.name.as_str());
        let mut m = m.into();
        if let Some(src) = self.source_at(name, offset) {
            m = format!("{m}\n  at {src}");
        }
        elf_at(self.file, name, offset, m)
    }

    /// `FILE:LINE: TEXT` of the line info record covering byte `offset`
    /// of section `section` (`.BTF.ext` counts bytes in the ELF).
    fn source_at(&self, section: &str, offset: u64) -> Option<String> {
        let (btf, ext) = (self.btf?, self.ext?);
        let rec = ext
            .line_info
            .iter()
            .flatten()
            .filter(|s| btf.str_at(s.sec_name_off) == Some(section))
            .flat_map(|s| s.records.iter())
            .filter(|r| u64::from(r.insn_off) <= offset)
            .max_by_key(|r| r.insn_off)?;
        Some(format!(
            "{}:{}: {}",
            btf.str_at(rec.file_name_off).unwrap_or("?"),
            rec.line(),
            btf.str_at(rec.line_off).unwrap_or("").trim()
        ))
    }

    /// Copies the program's function, applies its relocations, and appends
    /// every function it calls (transitively), fixing each call's `imm`.
    fn link(&self, p: &ProgramRef) -> Result<Linked> {
        let mut code = Vec::new();
        let mut units: Vec<Unit> = Vec::new();
        self.place(
            &mut code,
            &mut units,
            p.section_index,
            p.offset,
            p.size,
            &p.name,
        )?;
        let mut i = 0;
        while i < units.len() {
            let u = units[i].clone();
            self.relocate(&mut code, &mut units, &u)?;
            i += 1;
        }
        let info = self.btf_info(&units);
        let source_map = self.source_map(&info, code.len() / INSN as usize);
        Ok(Linked {
            code,
            subprograms: units.iter().skip(1).map(|u| u.name.clone()).collect(),
            info,
            source_map,
        })
    }

    /// Appends bytes `[start, start + size)` of `section` as a new unit.
    fn place(
        &self,
        code: &mut Vec<u8>,
        units: &mut Vec<Unit>,
        section: usize,
        start: u64,
        size: u64,
        name: &str,
    ) -> Result<u64> {
        let s = &self.obj.sections[section];
        if size == 0 || size % INSN != 0 || start % INSN != 0 {
            return Err(self.err(
                section,
                start,
                format!(
                    "function {name:?} is {size} bytes at {start}; it must be a non-empty \
                     multiple of 8 (struct bpf_insn) on an instruction"
                ),
            ));
        }
        let end = start
            .checked_add(size)
            .and_then(|e| usize::try_from(e).ok())
            .unwrap_or(usize::MAX);
        let bytes = s.data.get(start as usize..end).ok_or_else(|| {
            self.err(
                section,
                start,
                format!("function {name:?} ({size} bytes) runs past the section"),
            )
        })?;
        let placed = code.len() as u64 / INSN;
        code.extend_from_slice(bytes);
        units.push(Unit {
            section,
            start,
            size,
            placed,
            name: name.to_string(),
        });
        Ok(placed)
    }

    /// The linked slot of byte `offset` of `section`, placing the function
    /// holding it when it is not in the program yet.
    fn slot_of(
        &self,
        code: &mut Vec<u8>,
        units: &mut Vec<Unit>,
        section: usize,
        offset: u64,
        from: (usize, u64),
    ) -> Result<u64> {
        if let Some(u) = units
            .iter()
            .find(|u| u.section == section && u.start <= offset && offset < u.start + u.size)
        {
            return Ok(u.placed + (offset - u.start) / INSN);
        }
        let target = self.obj.sections.get(section);
        if target.map(|s| s.kind) != Some(SectionKind::Program) {
            return Err(self.err(
                from.0,
                from.1,
                "a call whose target is not in an executable section",
            ));
        }
        let f = self.obj.function_at(section, offset).ok_or_else(|| {
            self.err(
                from.0,
                from.1,
                format!(
                    "a call to byte {offset} of {}, where no function is",
                    self.obj.sections[section].name
                ),
            )
        })?;
        let name = if f.name.is_empty() {
            self.obj.sections[section].name.clone()
        } else {
            f.name.clone()
        };
        let placed = self.place(code, units, section, f.offset, f.size, &name)?;
        Ok(placed + (offset - f.offset) / INSN)
    }

    /// Applies the relocations and fixes the calls of one placed unit.
    fn relocate(&self, code: &mut Vec<u8>, units: &mut Vec<Unit>, u: &Unit) -> Result<()> {
        let sec = &self.obj.sections[u.section];
        self.core_relocate(code, u)?;
        let relocs: Vec<_> = sec
            .relocations
            .iter()
            .filter(|r| r.offset >= u.start && r.offset < u.start + u.size)
            .copied()
            .collect();
        let mut handled = HashSet::new();
        for r in &relocs {
            if r.offset % INSN != 0 {
                return Err(self.err(
                    u.section,
                    r.offset,
                    format!("{} relocation not on an instruction", r.kind.name()),
                ));
            }
            let at = u.placed + (r.offset - u.start) / INSN;
            let b = (at * INSN) as usize;
            let sym = self.obj.symbols.get(r.symbol).ok_or_else(|| {
                self.err(
                    u.section,
                    r.offset,
                    format!("relocation names symbol {}, which does not exist", r.symbol),
                )
            })?;
            let imm = imm_at(code, at);
            match r.kind {
                RelocType::Ld64 => {
                    if code[b] != BPF_LD | BPF_DW | BPF_IMM {
                        return Err(self.err(
                            u.section,
                            r.offset,
                            format!(
                                "R_BPF_64_64 against {} on an instruction that is not lddw",
                                sym.name
                            ),
                        ));
                    }
                    let callback = sym
                        .section
                        .and_then(|t| self.obj.sections.get(t))
                        .is_some_and(|t| t.kind == SectionKind::Program);
                    if callback {
                        // A function's address (`bpf_loop(n, fn, ...)`):
                        // BPF_PSEUDO_FUNC with imm the distance to it, in
                        // instructions; the addend is a byte offset into
                        // the symbol (the section symbol, for static ones).
                        let target = i64::try_from(sym.value)
                            .ok()
                            .and_then(|v| v.checked_add(i64::from(imm)))
                            .and_then(|t| u64::try_from(t).ok())
                            .filter(|t| t % INSN == 0)
                            .ok_or_else(|| {
                                self.err(
                                    u.section,
                                    r.offset,
                                    format!(
                                        "lddw of function {} + {imm}, not an instruction",
                                        sym.name
                                    ),
                                )
                            })?;
                        let tsec = sym.section.unwrap_or(u.section);
                        let t = self.slot_of(code, units, tsec, target, (u.section, r.offset))?;
                        code[b + 1] = (code[b + 1] & 0x0f) | (BPF_PSEUDO_FUNC << 4);
                        set_imm(code, at, t as i64 - (at as i64 + 1));
                        set_imm(code, at + 1, 0);
                    } else {
                        self.map_ref(code, at, u.section, r.offset, sym, imm)?;
                    }
                }
                RelocType::Call32 => {
                    if code[b] != BPF_JMP | BPF_CALL || code[b + 1] >> 4 != BPF_PSEUDO_CALL {
                        return Err(self.err(
                            u.section,
                            r.offset,
                            format!("R_BPF_64_32 against {} on an instruction that is not a bpf-to-bpf call", sym.name),
                        ));
                    }
                    let Some(tsec) = sym.section else {
                        // A kfunc: BPF_PSEUDO_KFUNC_CALL, imm its vmlinux
                        // FUNC id, off 0 (vmlinux); 0 for a missing weak one.
                        if self.ksyms.get(&sym.name) != Some(&ExternKind::Kfunc) {
                            return Err(self.err(
                                u.section,
                                r.offset,
                                format!(
                                    "a call to {}, which this object neither defines nor \
                                     declares as a kfunc (extern ... __ksym in .ksyms)",
                                    sym.name
                                ),
                            ));
                        }
                        let weak = sym.binding == ebpf_asm::object::Binding::Weak;
                        let (id, off) = match self
                            .resolve_extern(&sym.name, ExternKind::Kfunc, weak)
                            .map_err(|e| self.err(u.section, r.offset, e.to_string()))?
                        {
                            Resolved::BtfId(id) => (id, 0),
                            Resolved::ModuleBtfId { module, id } => {
                                let (off, _) = self
                                    .module_btf(&module)
                                    .map_err(|e| self.err(u.section, r.offset, e.to_string()))?;
                                (id, off)
                            }
                            _ => (0, 0),
                        };
                        code[b + 1] = (code[b + 1] & 0x0f) | (BPF_PSEUDO_KFUNC_CALL << 4);
                        LittleEndian::write_i16(&mut code[b + 2..b + 4], off);
                        set_imm(code, at, i64::from(id));
                        handled.insert(r.offset);
                        continue;
                    };
                    // The target: the symbol's offset plus the distance in
                    // imm, counted from the next instruction (for a global
                    // function imm is -1; for a static one the symbol is the
                    // section and imm says where).
                    let target = i64::try_from(sym.value)
                        .ok()
                        .and_then(|v| v.checked_add((i64::from(imm) + 1) * INSN as i64));
                    let target = target.and_then(|t| u64::try_from(t).ok()).ok_or_else(|| {
                        self.err(
                            u.section,
                            r.offset,
                            format!("a call before the start of {}", sym.name),
                        )
                    })?;
                    let slot = self.slot_of(code, units, tsec, target, (u.section, r.offset))?;
                    set_imm(code, at, slot as i64 - (at as i64 + 1));
                }
                other => {
                    return Err(self.err(
                        u.section,
                        r.offset,
                        format!(
                            "{} in a program section (only data sections use it)",
                            other.name()
                        ),
                    ))
                }
            }
            handled.insert(r.offset);
        }
        // Calls (and function addresses) within the section that need no
        // relocation: the target is `imm + 1` instructions on, in the same
        // section (a hand-written `call pc+N`, `r2 = func[N]`).
        let mut slot = 0;
        while slot < u.size / INSN {
            let off = u.start + slot * INSN;
            let at = u.placed + slot;
            let b = (at * INSN) as usize;
            let code0 = code[b];
            let lddw = code0 == BPF_LD | BPF_DW | BPF_IMM;
            let local = (lddw && code[b + 1] >> 4 == BPF_PSEUDO_FUNC)
                || (code0 == BPF_JMP | BPF_CALL && code[b + 1] >> 4 == BPF_PSEUDO_CALL);
            if local && !handled.contains(&off) {
                let imm = imm_at(code, at);
                let target = off as i64 + (i64::from(imm) + 1) * INSN as i64;
                let target = u64::try_from(target)
                    .map_err(|_| self.err(u.section, off, "a call before the section's start"))?;
                let t = self.slot_of(code, units, u.section, target, (u.section, off))?;
                set_imm(code, at, t as i64 - (at as i64 + 1));
            }
            slot += if lddw { 2 } else { 1 };
        }
        Ok(())
    }

    /// Patches the `lddw` at linked slot `at` for a reference to `sym`.
    fn map_ref(
        &self,
        code: &mut [u8],
        at: u64,
        section: usize,
        offset: u64,
        sym: &ebpf_asm::object::Symbol,
        addend: i32,
    ) -> Result<()> {
        let slot = at as usize;
        let given = self.spec.extern_maps.iter().any(|(n, _)| *n == sym.name);
        if let (None, false, Some(&kind)) = (sym.section, given, self.ksyms.get(&sym.name)) {
            return self.ksym_ref(code, at, section, offset, sym, kind);
        }
        if let (None, false, Some(e), Some(m)) = (
            sym.section,
            given,
            self.kcfg.iter().find(|e| e.name == sym.name),
            self.kconfig_map,
        ) {
            let off = i64::from(e.offset) + i64::from(addend);
            if !(0..i64::from(e.offset + e.size)).contains(&off) || off < i64::from(e.offset) {
                return Err(self.err(
                    section,
                    offset,
                    format!(
                        "lddw of __kconfig extern {:?} + {addend}, past its {} bytes",
                        sym.name, e.size
                    ),
                ));
            }
            return patch_map_ref(
                code,
                slot,
                self.maps[m].map.as_fd().as_raw_fd(),
                Some(off as i32),
            );
        }
        let Some(target) = sym.section else {
            let fd = self
                .spec
                .extern_maps
                .iter()
                .find(|(n, _)| *n == sym.name)
                .map(|(_, fd)| fd.as_raw_fd())
                .ok_or_else(|| {
                    self.err(
                        section,
                        offset,
                        format!(
                            "lddw of {:?}, which is neither a map in .maps nor data in this \
                             object, and was not given as a map (declare it in .maps, or \
                             create it first and pass it, as the lab does)",
                            sym.name
                        ),
                    )
                })?;
            let value = addend != 0 || self.spec.extern_value_refs.contains(&(section, offset));
            return patch_map_ref(code, slot, fd, value.then_some(addend));
        };
        let tsec = &self.obj.sections[target];
        match tsec.kind {
            SectionKind::Maps => {
                let i = self
                    .decls
                    .iter()
                    .position(|d| d.offset == sym.value || d.name == sym.name)
                    .ok_or_else(|| {
                        self.err(
                            section,
                            offset,
                            format!(
                                "lddw of {:?} in .maps, which declares no map there",
                                sym.name
                            ),
                        )
                    })?;
                patch_map_ref(code, slot, self.maps[i].map.as_fd().as_raw_fd(), None)
            }
            k if k.is_global_data() => {
                let &(_, m) = self
                    .data_of
                    .iter()
                    .find(|(s, _)| *s == target)
                    .ok_or_else(|| {
                        self.err(
                            section,
                            offset,
                            format!("lddw into {}, which is empty", tsec.name),
                        )
                    })?;
                let off = i64::try_from(sym.value)
                    .ok()
                    .and_then(|v| v.checked_add(i64::from(addend)))
                    .unwrap_or(-1);
                if !(0..i64::try_from(tsec.size).unwrap_or(i64::MAX)).contains(&off) {
                    return Err(self.err(
                        section,
                        offset,
                        format!(
                            "lddw of {:?} points {off} bytes into {} ({} bytes)",
                            sym.name, tsec.name, tsec.size
                        ),
                    ));
                }
                patch_map_ref(
                    code,
                    slot,
                    self.maps[m].map.as_fd().as_raw_fd(),
                    Some(off as i32),
                )
            }
            _ => Err(self.err(
                section,
                offset,
                format!(
                    "lddw of {:?} in section {}, which is neither a map nor data",
                    sym.name, tsec.name
                ),
            )),
        }
    }

    /// Applies the CO-RE records (`.BTF.ext` core_relo) of unit `u`
    /// against the running kernel's BTF ([`ebpf_asm::btf::core`]).
    fn core_relocate(&self, code: &mut [u8], u: &Unit) -> Result<()> {
        let (Some(btf), Some(ext)) = (self.btf, self.ext) else {
            return Ok(());
        };
        let name = &self.obj.sections[u.section].name;
        let records = ext
            .core_relo
            .iter()
            .flatten()
            .filter(|s| btf.str_at(s.sec_name_off) == Some(name.as_str()))
            .flat_map(|s| s.records.iter())
            .filter(|r| (u.start..u.start + u.size).contains(&u64::from(r.insn_off)));
        for r in records {
            let off = u64::from(r.insn_off);
            let kernel = self
                .kernel
                .btf()
                .map_err(|e| self.err(u.section, off, e.to_string()))?;
            let res = ebpf_asm::btf::core::resolve(btf, kernel, r)
                .map_err(|e| self.err(u.section, off, e.to_string()))?;
            let b = ((u.placed + (off - u.start) / INSN) * INSN) as usize;
            let end = (b + 16).min(code.len());
            // A poisoned instruction (no kernel match) is refused by the
            // verifier only if reached: say where it is.
            if let Some(w) = ebpf_asm::btf::core::patch(&mut code[b..end], &res)
                .map_err(|e| self.err(u.section, off, e.to_string()))?
            {
                self.notes.borrow_mut().push(format!(
                    "{}section {name} at offset {off:#x}: {w}",
                    prefix(self.file)
                ));
            }
        }
        Ok(())
    }

    /// Extern `name` resolved against the kernel, and its declaration
    /// checked against the kernel's as libbpf checks it: a weak one that
    /// disagrees is missing (0), any other is refused.
    fn resolve_extern(&self, name: &str, kind: ExternKind, weak: bool) -> Result<Resolved> {
        let r = self.kernel.resolve(name, kind, weak)?;
        let Some(btf) = self.btf else { return Ok(r) };
        let want = match kind {
            ExternKind::Kfunc => ebpf_asm::btf::Kind::Func,
            ExternKind::TypedKsym => ebpf_asm::btf::Kind::Var,
            ExternKind::TypelessKsym => return Ok(r),
        };
        let Some(local) = btf
            .types
            .iter()
            .position(|t| t.kind() == want && btf.name(t) == name)
            .map(|i| i as u32 + 1)
        else {
            return Ok(r);
        };
        if self.kernel.agrees(btf, local, &r)? {
            return Ok(r);
        }
        let (what, kid) = match (&r, kind) {
            (Resolved::BtfId(id), ExternKind::Kfunc) => ("prototype", format!("vmlinux [{id}]")),
            (Resolved::BtfId(id), _) => ("type", format!("vmlinux [{id}]")),
            (Resolved::ModuleBtfId { module, id }, ExternKind::Kfunc) => {
                ("prototype", format!("{module} [{id}]"))
            }
            (Resolved::ModuleBtfId { module, id }, _) => ("type", format!("{module} [{id}]")),
            _ => ("type", String::new()),
        };
        if weak {
            self.notes.borrow_mut().push(format!(
                "__weak extern {name}: its {what} [{local}] disagrees with the kernel's \
                 ({kid}), so it counts as missing, as libbpf counts it"
            ));
            return Ok(Resolved::Missing);
        }
        Err(Error::Input(format!(
            "extern {name}: its {what} in the object's BTF [{local}] disagrees with the \
             kernel's ({kid}) in kind, parameter count or a parameter's kind (libbpf's \
             bpf_core_types_are_compat; a forward-declared struct is not a struct): declare \
             it as the kernel does (bpftool btf dump file /sys/kernel/btf/vmlinux format c)"
        )))
    }

    /// Module `module`'s BTF object: its `fd_array` index (the `off` of a
    /// call to its kfuncs) and its fd, opened once per load.
    fn module_btf(&self, module: &str) -> Result<(i16, i32)> {
        let mut v = self.module_btfs.borrow_mut();
        let at = match v.iter().position(|(m, _)| m == module) {
            Some(i) => i,
            None => {
                let fd = crate::btf::module_btf_fd(module)?;
                v.push((module.to_string(), fd));
                v.len() - 1
            }
        };
        let off = i16::try_from(at + 1)
            .map_err(|_| Error::Input("kfuncs from more than 32767 modules".into()))?;
        Ok((off, v[at].1.as_raw_fd()))
    }

    /// `fd_array` for `BPF_PROG_LOAD`: entry 0 unused (`off` 0 is vmlinux),
    /// then each module's BTF fd; empty when no module is called.
    fn fd_array(&self) -> Vec<i32> {
        let v = self.module_btfs.borrow();
        if v.is_empty() {
            return Vec::new();
        }
        std::iter::once(-1)
            .chain(v.iter().map(|(_, fd)| fd.as_raw_fd()))
            .collect()
    }

    /// Patches the `lddw` at linked slot `at` for `__ksym` extern `sym`:
    /// `BPF_PSEUDO_BTF_ID` with the vmlinux id of a typed ksym or a kfunc
    /// (`insn[1].imm` 0: vmlinux), or the address of a typeless one.
    fn ksym_ref(
        &self,
        code: &mut [u8],
        at: u64,
        section: usize,
        offset: u64,
        sym: &ebpf_asm::object::Symbol,
        kind: ExternKind,
    ) -> Result<()> {
        let weak = sym.binding == ebpf_asm::object::Binding::Weak;
        let r = self
            .resolve_extern(&sym.name, kind, weak)
            .map_err(|e| self.err(section, offset, e.to_string()))?;
        let b = (at * INSN) as usize;
        let (src, lo, hi) = match r {
            Resolved::BtfId(id) => (BPF_PSEUDO_BTF_ID, i64::from(id), 0),
            // A module's variable: the second half holds its BTF's fd.
            Resolved::ModuleBtfId { module, id } => {
                let (_, fd) = self
                    .module_btf(&module)
                    .map_err(|e| self.err(section, offset, e.to_string()))?;
                (BPF_PSEUDO_BTF_ID, i64::from(id), i64::from(fd))
            }
            Resolved::Addr(a) => (0, i64::from(a as u32), i64::from((a >> 32) as u32)),
            Resolved::Missing => (0, 0, 0),
        };
        code[b + 1] = (code[b + 1] & 0x0f) | (src << 4);
        set_imm(code, at, lo);
        set_imm(code, at + 1, hi);
        Ok(())
    }

    /// The func_info and line_info of the linked program: each unit's
    /// records from `.BTF.ext`, moved to where the unit was placed.
    fn btf_info(&self, units: &[Unit]) -> ProgInfo {
        let (Some(btf), Some(ext)) = (self.btf, self.ext) else {
            return ProgInfo::default();
        };
        let mut out = ProgInfo::default();
        for u in units {
            let name = &self.obj.sections[u.section].name;
            // insn_off in instructions of the section (base 0).
            let info = ext.prog_info(btf, name, 0);
            let lo = u.start / INSN;
            let hi = (u.start + u.size) / INSN;
            let moved = |off: u32| u64::from(off) - lo + u.placed;
            out.func_info.extend(
                info.func_info
                    .iter()
                    .filter(|r| (lo..hi).contains(&u64::from(r.insn_off)))
                    .map(|r| FuncInfo {
                        insn_off: moved(r.insn_off) as u32,
                        ..*r
                    }),
            );
            out.line_info.extend(
                info.line_info
                    .iter()
                    .filter(|r| (lo..hi).contains(&u64::from(r.insn_off)))
                    .map(|r| LineInfo {
                        insn_off: moved(r.insn_off) as u32,
                        ..*r
                    }),
            );
        }
        out.func_info.sort_by_key(|r| r.insn_off);
        out.line_info.sort_by_key(|r| r.insn_off);
        out
    }

    /// Slot -> source line from the line info: each record holds until the
    /// next one.
    fn source_map(&self, info: &ProgInfo, slots: usize) -> Option<SourceMap> {
        let btf = self.btf?;
        if info.line_info.is_empty() {
            return None;
        }
        let mut map: SourceMap = vec![None; slots];
        for (i, r) in info.line_info.iter().enumerate() {
            let end = info
                .line_info
                .get(i + 1)
                .map_or(slots, |n| n.insn_off as usize)
                .min(slots);
            let line = SourceLine {
                file: btf.str_at(r.file_name_off).unwrap_or("").to_string(),
                line: r.line(),
                text: btf.str_at(r.line_off).unwrap_or("").trim().to_string(),
            };
            for s in map.iter_mut().take(end).skip(r.insn_off as usize) {
                *s = Some(line.clone());
            }
        }
        Some(map)
    }
}

/// The `imm` of the instruction at linked slot `at` (`struct bpf_insn`:
/// code, regs, off, then the little-endian s32 at byte 4).
fn imm_at(code: &[u8], at: u64) -> i32 {
    let b = (at * INSN) as usize;
    LittleEndian::read_i32(&code[b + 4..b + 8])
}

/// Sets the `imm` of the instruction at linked slot `at`.
fn set_imm(code: &mut [u8], at: u64, imm: i64) {
    let b = (at * INSN) as usize;
    LittleEndian::write_i32(&mut code[b + 4..b + 8], imm as i32);
}

/// The low `bits` bits set.
fn width_mask(bits: u64) -> u64 {
    if bits >= 64 {
        u64::MAX
    } else {
        (1u64 << bits) - 1
    }
}

/// The names of the program sections with code, for listings.
pub fn program_sections(obj: &Object) -> Vec<String> {
    obj.sections
        .iter()
        .filter(|s| s.kind == SectionKind::Program && s.size > 0)
        .map(|s| s.name.clone())
        .collect()
}

/// The program section named `section`, or the only one with code besides
/// `.text`: its index. For listings (`disasm`), which show one section.
pub fn pick_section(obj: &Object, section: Option<&str>) -> Result<usize> {
    let names = program_sections(obj);
    if let Some(want) = section {
        return obj
            .section_index(want)
            .filter(|&i| obj.sections[i].kind == SectionKind::Program)
            .ok_or_else(|| {
                Error::Elf(format!(
                    "no program section {want:?}; the object has {names:?}"
                ))
            });
    }
    let candidates: Vec<&String> = if names.len() == 1 {
        names.iter().collect()
    } else {
        names.iter().filter(|n| *n != ".text").collect()
    };
    match candidates.as_slice() {
        [one] => obj
            .section_index(one)
            .ok_or_else(|| Error::Elf("no program section".into())),
        [] => Err(Error::Elf("no executable section with code".into())),
        _ => Err(Error::Elf(format!(
            "several program sections {names:?}; choose one with --section"
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn section_names_give_program_types() {
        assert_eq!(prog_type_for_section("tc"), Some(ProgType::SchedCls));
        assert_eq!(
            prog_type_for_section("tcx/ingress"),
            Some(ProgType::SchedCls)
        );
        assert_eq!(prog_type_for_section("xdp"), Some(ProgType::Xdp));
        assert_eq!(prog_type_for_section("kprobe/x"), Some(ProgType::Kprobe));
        assert_eq!(prog_type_for_section("tp_btf/x"), Some(ProgType::Tracing));
        assert_eq!(prog_type_for_section("perf_event"), None);
        assert_eq!(
            tracing_hook_for_section("tp_btf/kfree_skb"),
            Some((AttachType::TraceRawTp, "kfree_skb"))
        );
        assert_eq!(
            tracing_hook_for_section("fexit/ip_rcv"),
            Some((AttachType::TraceFexit, "ip_rcv"))
        );
        assert_eq!(tracing_hook_for_section("fentry/"), None);
        assert_eq!(tracing_hook_for_section("tc"), None);
    }

    #[test]
    fn picks_the_only_program_section() {
        let p = ebpf_asm::assemble(".section xdp\n.name a\nr0 = 2\nexit\n", &Default::default())
            .unwrap();
        let obj = Object::from_program_with_btf(&p, "a.s");
        let i = pick_section(&obj, None).unwrap();
        assert_eq!(obj.sections[i].name, "xdp");
        assert!(pick_section(&obj, Some("tc")).is_err());
        assert_eq!(program_sections(&obj), vec!["xdp".to_string()]);
    }

    /// Kernel-free: a call through `R_BPF_64_32` to a function in `.text`
    /// and a hand-written same-section `call pc+N` are both linked, each
    /// callee appended once, each `imm` the new distance.
    #[test]
    fn calls_are_linked_without_a_kernel() {
        use ebpf_asm::object::{Binding, Section, Symbol, SymbolType};
        let insn = |code: u8, regs: u8, imm: i32| {
            let mut b = [0u8; 8];
            b[0] = code;
            b[1] = regs;
            b[4..].copy_from_slice(&imm.to_le_bytes());
            b
        };
        let call = insn(BPF_JMP | BPF_CALL, BPF_PSEUDO_CALL << 4, -1);
        let exit = insn(0x95, 0, 0);
        let mov = |v| insn(0xb7, 0, v);
        let mut obj = Object::new();
        let text = obj.add_section(Section::new(".text", SectionKind::Program));
        // sub: r0 = 42; exit. local: r0 = 7; exit.
        for i in [mov(42), exit, mov(7), exit] {
            obj.sections[text].push_bytes(&i);
        }
        let tc = obj.add_section(Section::new("tc", SectionKind::Program));
        // call sub (relocated); call pc+1 (to the local function: slot 3); exit; local.
        for i in [
            call,
            insn(BPF_JMP | BPF_CALL, BPF_PSEUDO_CALL << 4, 1),
            exit,
            mov(1),
            exit,
        ] {
            obj.sections[tc].push_bytes(&i);
        }
        let f = |name: &str, section, value, size, binding| Symbol {
            name: name.into(),
            section: Some(section),
            value,
            size,
            kind: SymbolType::Func,
            binding,
            visibility: ebpf_asm::object::Visibility::Default,
        };
        obj.symbols.push(f("sub", text, 0, 16, Binding::Local));
        obj.symbols.push(f("other", text, 16, 16, Binding::Local));
        obj.symbols.push(f("prog", tc, 0, 24, Binding::Global));
        obj.symbols.push(f("local", tc, 24, 16, Binding::Local));
        obj.sections[tc]
            .relocations
            .push(ebpf_asm::object::Relocation {
                offset: 0,
                symbol: 0,
                kind: RelocType::Ld64,
            });
        let spec = LoadSpec::default();
        let link = |obj: &Object| {
            let ctx = Ctx {
                obj,
                file: "t.o",
                spec: &spec,
                decls: &[],
                maps: &[],
                data_of: &[],
                btf: None,
                ext: None,
                ksyms: &Default::default(),
                kcfg: &[],
                kconfig_map: None,
                kernel: &Kernel::new(),
                notes: Default::default(),
                module_btfs: Default::default(),
            };
            ctx.link(&obj.program("prog").unwrap())
        };
        // R_BPF_64_64 on a call is refused with its section and offset.
        let e = link(&obj).err().unwrap().to_string();
        assert!(
            e.contains("t.o: section tc at offset 0x0") && e.contains("not lddw"),
            "{e}"
        );
        obj.sections[tc].relocations[0].kind = RelocType::Call32;
        let l = link(&obj).unwrap();
        // prog (3 slots), then sub (2) for the first call, then local (2).
        assert_eq!(l.subprograms, ["sub", "local"]);
        assert_eq!(l.code.len(), 7 * 8);
        assert_eq!(imm_at(&l.code, 0), 3 - 1, "call sub: slot 3");
        assert_eq!(imm_at(&l.code, 1), 5 - 2, "call local: slot 5");
        assert_eq!(imm_at(&l.code, 3), 42);
        assert_eq!(imm_at(&l.code, 5), 1);
    }

    #[test]
    fn a_missing_license_is_named_before_any_syscall() {
        let obj = Object::new();
        let e = load(&obj, &LoadSpec::default()).unwrap_err().to_string();
        assert!(e.contains("license"), "{e}");
    }
}
