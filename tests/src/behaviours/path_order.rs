//! Issue 15's behaviour: the path lengths of `redirect-lab compare` are
//! ordered as the theory predicts. One datagram through each of three labs
//! (netns_1 forwarding, `up --mode egress`, `up --mode peer`), followed
//! with the path tracer exactly as compare does
//! ([`loader::lab::compare::trace`]): peer has fewer events than egress,
//! and egress fewer than forwarding, in the tracepoint layer, and in the
//! function layer where this kernel loads fentry (else that part is n/a,
//! with the tracer's refusal as the note).

use loader::lab::compare::trace::{self, Traced};
use loader::lab::mode;
use loader::lab::path::Tracer;
use loader::lab::UpOptions;

use crate::report::Verdict;
use crate::topology::LabGuard;

/// The three labs, in the order the theory ranks them (longest first).
const LABS: [(&str, Option<&str>); 3] = [
    ("forwarding", None),
    ("egress", Some("egress")),
    ("peer", Some("peer")),
];

fn up(tag: &str, m: Option<&str>) -> Result<Result<LabGuard, Verdict>, String> {
    let options = match m {
        Some(name) => UpOptions {
            mode: mode::find(name)?,
            ..UpOptions::default()
        },
        None => UpOptions {
            no_program: true,
            ..UpOptions::default()
        },
    };
    match LabGuard::try_up(tag, &options) {
        Ok(g) => Ok(Ok(g)),
        Err(e) if m.is_some_and(|name| e.contains(&format!("mode {name} needs"))) => {
            Ok(Err(Verdict::NotApplicable(format!(
                "this kernel refused mode {}: {}",
                m.unwrap_or_default(),
                e.lines().last().unwrap_or(&e)
            ))))
        }
        Err(e) => Err(e),
    }
}

/// `a > b > c` of one layer, or why not.
fn ordered(layer: &str, paths: &[Traced], function: bool) -> Result<String, String> {
    let n: Vec<usize> = paths
        .iter()
        .map(|t| trace::count(&t.steps, function))
        .collect();
    let text = format!(
        "{layer}: forwarding {} > egress {} > peer {}",
        n[0], n[1], n[2]
    );
    if n[0] > n[1] && n[1] > n[2] {
        Ok(text)
    } else {
        let show = |t: &Traced| {
            t.steps
                .iter()
                .filter(|s| s.function == function)
                .map(|s| s.label())
                .collect::<Vec<_>>()
                .join(" ")
        };
        Err(format!(
            "{text} is not the predicted order; forwarding: {}; egress: {}; peer: {}",
            show(&paths[0]),
            show(&paths[1]),
            show(&paths[2])
        ))
    }
}

/// peer < egress < forwarding, in events per datagram, in each layer.
pub fn peer_egress_forwarding() -> Result<Verdict, String> {
    let mut guards = Vec::new();
    for (i, (_, m)) in LABS.iter().enumerate() {
        match up(&format!("po{i}"), *m)? {
            Ok(g) => guards.push(g),
            Err(v) => return Ok(v),
        }
    }
    let btf = loader::tracing::vmlinux().map_err(|e| e.to_string())?;
    let mut tracer = Tracer::attach(&btf, &trace::functions()).map_err(|e| e.to_string())?;
    let mut paths = Vec::new();
    for (g, (name, _)) in guards.iter().zip(LABS) {
        let t = trace::trace(&g.lab, &mut tracer).map_err(|e| format!("{name}: {e}"))?;
        if !t.delivered {
            return Ok(Verdict::Fail(format!(
                "{name}: the traced datagram did not reach the socket"
            )));
        }
        paths.push(t);
    }
    // Every path in full on the console (the VM's log keeps it), for the
    // README's reading of each kernel; the verdict note has the counts.
    for (t, (name, _)) in paths.iter().zip(LABS) {
        let all: Vec<String> = t
            .steps
            .iter()
            .map(|s| format!("{}:{}", s.layer(), s.label()))
            .collect();
        eprintln!("path-order: {name}: {}", all.join(" "));
    }
    let fentries = tracer.hooks.iter().filter(|h| h.function).count();
    let refused = tracer.function_layer_refused.clone();
    drop(tracer);
    let tp = match ordered("tp_btf", &paths, false) {
        Ok(t) => t,
        Err(e) => return Ok(Verdict::Fail(e)),
    };
    let fentry = match (&refused, fentries) {
        (Some(why), _) => format!("fentry n/a ({})", why.split(" (").next().unwrap_or(why)),
        (None, 0) => "fentry n/a (no function attached)".to_string(),
        (None, _) => match ordered("fentry", &paths, true) {
            Ok(t) => t,
            Err(e) => return Ok(Verdict::Fail(e)),
        },
    };
    // The shortest path in full, so the matrix shows what differs by kernel.
    let peer: Vec<String> = paths[2]
        .steps
        .iter()
        .filter(|s| !s.function)
        .map(|s| s.label())
        .collect();
    Ok(Verdict::Pass(Some(format!(
        "{tp}; {fentry}; peer (tp_btf): {}",
        peer.join(" ")
    ))))
}
