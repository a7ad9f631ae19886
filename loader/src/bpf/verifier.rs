//! Reading the verifier log: find the refused instruction and the verifier's
//! own words, map instruction indices back to assembly source lines, and
//! recognise the rejections that have a plain explanation.
//!
//! The log format is the one `kernel/bpf/verifier.c` prints through
//! `kernel/bpf/disasm.c` (`print_bpf_insn`): each instruction it walks is a
//! line `IDX: (OPCODE) TEXT`, the error is printed after the last one, and
//! the stats line (`processed N insns (limit ...) ...`) closes the log.
//! Documentation: `Documentation/bpf/verifier.rst`.

use std::fmt;

use crate::error::{errno_label, errno_text};
use crate::types::ProgType;

/// Where an instruction came from in the assembly source.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SourceLine {
    /// The source file, as the user named it (`bpf-src/redirect.s`).
    pub file: String,
    /// 1-based line number.
    pub line: u32,
    /// The source text of that line, trimmed.
    pub text: String,
}

impl fmt::Display for SourceLine {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}: {}", self.file, self.line, self.text)
    }
}

/// Instruction slot index -> source line, for programs from our assembler.
/// The verifier counts 8-byte slots (an `lddw` takes two), like this map.
pub type SourceMap = Vec<Option<SourceLine>>;

/// A program the verifier refused.
#[derive(Debug, Clone)]
pub struct VerifierError {
    /// The errno of the failed `BPF_PROG_LOAD` (EACCES or EINVAL mostly).
    pub errno: i32,
    /// The program's type.
    pub prog_type: ProgType,
    /// The program's name.
    pub name: String,
    /// The whole log, annotated with source lines when they are known.
    pub log: String,
    /// True when even the largest buffer (16 MiB) could not hold the log.
    pub log_truncated: bool,
    /// The verifier's own error text (the lines after the last instruction).
    pub message: String,
    /// The instruction the verifier stopped at, if the log names one.
    pub insn: Option<usize>,
    /// That instruction's source line, when the program came from `.s`.
    pub source: Option<SourceLine>,
    /// A helper the kernel does not know: (id, name).
    pub unknown_helper: Option<(i64, Option<String>)>,
    /// What to do about it.
    pub hint: Option<String>,
}

impl fmt::Display for VerifierError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "BPF_PROG_LOAD failed: the verifier rejected program \"{}\" ({}): {} ({})",
            self.name,
            self.prog_type,
            errno_label(self.errno),
            errno_text(self.errno)
        )?;
        for l in self.message.lines() {
            writeln!(f, "  {l}")?;
        }
        if let Some(i) = self.insn {
            match &self.source {
                Some(s) => writeln!(f, "  at instruction {i}: {s}")?,
                None => writeln!(f, "  at instruction {i}")?,
            }
        }
        if let Some(h) = &self.hint {
            writeln!(f, "hint: {h}")?;
        }
        writeln!(
            f,
            "--- verifier log{} ---",
            if self.log_truncated {
                " (truncated at 16 MiB)"
            } else {
                ""
            }
        )?;
        f.write_str(self.log.trim_end())?;
        write!(f, "\n--- end of verifier log ---")
    }
}

/// The instruction index of a log line `IDX: (OPCODE) ...`, if it is one.
pub fn insn_index(line: &str) -> Option<usize> {
    let (idx, rest) = line.split_once(": (")?;
    if idx.is_empty() || !idx.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    // The opcode is two hex digits and a ')'.
    let rest = rest.as_bytes();
    if rest.len() < 3 || rest[2] != b')' || !rest[..2].iter().all(u8::is_ascii_hexdigit) {
        return None;
    }
    idx.parse().ok()
}

/// True for the lines that close every log (stats), not part of an error.
fn is_stats_line(line: &str) -> bool {
    line.starts_with("processed ")
        || line.starts_with("verification time")
        || line.starts_with("stack depth")
        || line.starts_with("max_states_per_insn")
}

/// The verifier's stats line (`processed 24 insns (limit 1000000) ...`).
pub fn stats_line(log: &str) -> Option<&str> {
    log.lines().rev().find(|l| l.starts_with("processed "))
}

/// Splits a log into (last instruction index, error text after it).
pub fn find_error(log: &str) -> (Option<usize>, String) {
    let lines: Vec<&str> = log.lines().collect();
    let last_insn = lines.iter().rposition(|l| insn_index(l).is_some());
    let insn = last_insn.and_then(|p| insn_index(lines[p]));
    let start = last_insn.map(|p| p + 1).unwrap_or(0);
    let mut msg: Vec<&str> = lines[start..]
        .iter()
        .copied()
        .filter(|l| !l.trim().is_empty() && !is_stats_line(l))
        .collect();
    // A log without instruction lines (rejected before the walk: bad opcode,
    // jump out of range) still ends in its error; keep the last few lines.
    if last_insn.is_none() && msg.len() > 4 {
        msg.drain(..msg.len() - 4);
    }
    (insn, msg.join("\n"))
}

/// Parses the helper id from "invalid func unknown#195" (the kernel has no
/// helper with that id) or "unknown func bpf_foo#12" / "program of this type
/// cannot use helper bpf_foo#12" (the helper exists, not for this type).
pub fn unknown_helper_id(log: &str) -> Option<(i64, Option<String>, bool)> {
    for line in log.lines().rev() {
        for (pat, exists) in [
            ("invalid func unknown#", false),
            ("unknown func ", true),
            ("cannot use helper ", true),
        ] {
            if let Some(pos) = line.find(pat) {
                let rest = &line[pos + pat.len()..];
                let (name, id) = match rest.split_once('#') {
                    Some((n, id)) if exists => (Some(n.to_string()), id),
                    _ => (None, rest),
                };
                let digits: String = id
                    .chars()
                    .take_while(|c| c.is_ascii_digit() || *c == '-')
                    .collect();
                if let Ok(id) = digits.parse() {
                    return Some((id, name, exists));
                }
            }
        }
    }
    None
}

/// Appends `; file:line: text` to every instruction line of the log that the
/// source map knows.
pub fn annotate(log: &str, map: &SourceMap) -> String {
    let mut out = String::with_capacity(log.len() + log.len() / 2);
    for line in log.lines() {
        out.push_str(line);
        if let Some(src) = insn_index(line)
            .and_then(|i| map.get(i))
            .and_then(|s| s.as_ref())
        {
            out.push_str("    ; ");
            out.push_str(&src.to_string());
        }
        out.push('\n');
    }
    out
}

/// Builds the error for a refused program from its log.
pub fn analyse(
    errno: i32,
    prog_type: ProgType,
    name: &str,
    log: &str,
    log_truncated: bool,
    source_map: Option<&SourceMap>,
    helper_name: &dyn Fn(i64) -> Option<String>,
) -> VerifierError {
    let (insn, message) = find_error(log);
    let source = match (insn, source_map) {
        (Some(i), Some(m)) => m.get(i).cloned().flatten(),
        _ => None,
    };
    let mut unknown_helper = None;
    let mut hint = None;
    if let Some((id, kname, exists)) = unknown_helper_id(log) {
        let hname = kname.or_else(|| helper_name(id));
        let shown = match &hname {
            Some(n) => format!("helper {n} (id {id})"),
            None => format!("helper id {id}"),
        };
        hint = Some(if exists {
            format!("{shown} exists but {prog_type} programs may not call it")
        } else {
            format!(
                "this kernel ({}) does not know {shown}; it is newer than the \
                 kernel, or the id is wrong",
                crate::error::kernel_release()
            )
        });
        unknown_helper = Some((id, hname));
    } else if message.contains("invalid access to packet")
        || message.contains("offset is outside of the packet")
    {
        hint = Some(
            "compare the packet pointer plus the access size against skb->data_end \
             (and branch away when it is past it) before every packet read or write"
                .into(),
        );
    } else if message.contains("R0 !read_ok") {
        hint = Some("set r0 (the return value) before exit".into());
    } else if message.contains("unreachable insn") {
        hint = Some("every instruction must be reachable; remove dead code after exit/ja".into());
    } else if message.is_empty() && log.trim().is_empty() {
        hint = Some(
            "the kernel gave no verifier log; the program type, attach type or a flag is \
             probably not supported by this kernel"
                .into(),
        );
    }
    let log = match source_map {
        Some(m) => annotate(log, m),
        None => log.to_string(),
    };
    VerifierError {
        errno,
        prog_type,
        name: name.to_string(),
        log,
        log_truncated,
        message,
        insn,
        source,
        unknown_helper,
        hint,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const LOG: &str = "func#0 @0\n\
0: R1=ctx() R10=fp0\n\
0: (61) r2 = *(u32 *)(r1 +76)         ; R1=ctx() R2_w=pkt(r=0)\n\
1: (71) r3 = *(u8 *)(r2 +12)\n\
invalid access to packet, off=12 size=1, R2(id=0,off=12,r=0)\n\
R2 offset is outside of the packet\n\
processed 2 insns (limit 1000000) max_states_per_insn 0 total_states 0 peak_states 0 mark_read 0\n";

    #[test]
    fn finds_the_refused_instruction_and_message() {
        let (insn, msg) = find_error(LOG);
        assert_eq!(insn, Some(1));
        assert_eq!(
            msg,
            "invalid access to packet, off=12 size=1, R2(id=0,off=12,r=0)\nR2 offset is outside of the packet"
        );
        assert_eq!(insn_index("0: R1=ctx() R10=fp0"), None);
        assert_eq!(insn_index("12: (b7) r0 = 0"), Some(12));
        assert_eq!(insn_index("x: (b7) r0 = 0"), None);
        assert!(stats_line(LOG).unwrap().starts_with("processed 2 insns"));
    }

    #[test]
    fn maps_to_source_and_annotates() {
        let map: SourceMap = vec![
            Some(SourceLine {
                file: "t.s".into(),
                line: 3,
                text: "r2 = *(u32 *)(r1 +76)".into(),
            }),
            Some(SourceLine {
                file: "t.s".into(),
                line: 4,
                text: "r3 = *(u8 *)(r2 +12)".into(),
            }),
        ];
        let e = analyse(
            libc::EACCES,
            ProgType::SchedCls,
            "t",
            LOG,
            false,
            Some(&map),
            &|_| None,
        );
        assert_eq!(e.source.as_ref().map(|s| s.line), Some(4));
        assert!(
            e.log
                .contains("1: (71) r3 = *(u8 *)(r2 +12)    ; t.s:4: r3"),
            "{}",
            e.log
        );
        let shown = e.to_string();
        assert!(shown.contains("at instruction 1: t.s:4:"), "{shown}");
        assert!(shown.contains("invalid access to packet"), "{shown}");
        assert!(shown.contains("EACCES"), "{shown}");
    }

    #[test]
    fn unknown_helpers_are_named() {
        let log = "0: (85) call unknown#999\ninvalid func unknown#999\nprocessed 1 insns\n";
        let e = analyse(
            libc::EINVAL,
            ProgType::SchedCls,
            "t",
            log,
            false,
            None,
            &|id| (id == 999).then(|| "bpf_future".to_string()),
        );
        assert_eq!(e.unknown_helper, Some((999, Some("bpf_future".into()))));
        assert!(e
            .hint
            .as_deref()
            .unwrap_or("")
            .contains("bpf_future (id 999)"));
        let log = "0: (85) call bpf_trace_printk#6\nunknown func bpf_trace_printk#6\n";
        assert_eq!(
            unknown_helper_id(log),
            Some((6, Some("bpf_trace_printk".into()), true))
        );
    }

    #[test]
    fn never_panics_on_random_logs() {
        let mut rng = fastrand::Rng::with_seed(1);
        let alphabet: Vec<char> = "0123456789: ()#\nabcdefinvalid func unknown#é-"
            .chars()
            .collect();
        for _ in 0..20_000 {
            let len = rng.usize(..80);
            let log: String = (0..len)
                .map(|_| alphabet[rng.usize(..alphabet.len())])
                .collect();
            let map: SourceMap = vec![None; rng.usize(..4)];
            let _ = analyse(
                libc::EACCES,
                ProgType::SchedCls,
                "t",
                &log,
                false,
                Some(&map),
                &|_| None,
            );
        }
    }

    #[test]
    fn never_panics_on_odd_logs() {
        for log in [
            "",
            "\n\n",
            ": (",
            "1: (",
            "99999999999999999999: (b7) x",
            "é: (zz)",
        ] {
            let _ = analyse(
                libc::EINVAL,
                ProgType::Xdp,
                "t",
                log,
                false,
                Some(&Vec::new()),
                &|_| None,
            );
        }
    }
}
