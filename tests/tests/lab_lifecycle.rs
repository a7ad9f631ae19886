//! The lab's life cycle: `up` is idempotent, `down` is complete, and both
//! cope with a half-built lab. The seed's `make down && make up` fails with
//! "File exists" because namespace teardown is asynchronous; here `up` runs
//! right after the previous lab and must succeed every time.

mod lab_common;

use std::path::Path;
use std::time::Duration;

use lab_common::*;
use lab_tests::program::{load_variant, Variant};
use loader::lab::{Lab, UpOptions};

/// Everything of the lab's that could outlive it: `/run/netns` entries,
/// mounts, bpffs pins.
fn leftovers(prefix: &str) -> Vec<String> {
    let mut left = Vec::new();
    if let Ok(rd) = std::fs::read_dir("/run/netns") {
        for e in rd.flatten() {
            let name = e.file_name().to_string_lossy().into_owned();
            if name.starts_with(prefix) {
                left.push(format!("/run/netns/{name}"));
            }
        }
    }
    let mounts = std::fs::read_to_string("/proc/self/mountinfo").expect("mountinfo");
    left.extend(
        mounts
            .lines()
            .filter(|l| l.contains(prefix))
            .map(|l| format!("mount: {l}")),
    );
    if let Ok(rd) = std::fs::read_dir("/sys/fs/bpf") {
        for e in rd.flatten() {
            let name = e.file_name().to_string_lossy().into_owned();
            if name.contains(prefix) {
                left.push(format!("pin /sys/fs/bpf/{name}"));
            }
        }
    }
    left
}

#[test]
fn up_three_times_then_down_twice_leaves_nothing() {
    require_root();
    let prefix = unique_prefix("cyc");
    let lab = Lab::new(Some(&prefix)).expect("prefix");
    // Torn down even if an assertion below fails.
    let guard = LabGuard {
        lab: lab.clone(),
        report: None,
    };
    let mut prog_ids = Vec::new();
    for round in 0..3 {
        let mut out = Vec::new();
        let report = lab
            .up(&UpOptions::default(), &mut out)
            .unwrap_or_else(|e| panic!("up #{}: {e}", round + 1));
        prog_ids.push(report.prog_id.expect("program id"));
        assert!(lab.is_up());
        // Each rebuilt lab works, not only exists.
        let listener = spawn_listener(&lab, 1, DELIVERY_TIMEOUT, false);
        send_n(&lab, &format!("round{round}"), 1);
        assert_eq!(listener.join().expect("listener").len(), 1, "round {round}");
    }
    let first = lab.down().expect("first down");
    assert!(!first.removed.is_empty(), "the first down removes the lab");
    let second = lab.down().expect("second down succeeds on an absent lab");
    assert!(second.removed.is_empty(), "{second}");
    assert!(!lab.is_up());
    assert_eq!(leftovers(&prefix), Vec::<String>::new());
    // With its filter and namespaces gone, the kernel frees every program
    // the three rounds loaded (after an RCU grace period).
    for id in prog_ids {
        assert!(
            eventually(Duration::from_secs(5), || loader::Program::from_id(id)
                .is_err()),
            "program {id} still loaded after down"
        );
    }
    drop(guard);
}

#[test]
fn down_removes_a_half_built_lab() {
    require_root();
    let prefix = unique_prefix("half");
    let lab = Lab::new(Some(&prefix)).expect("prefix");
    let _guard = LabGuard {
        lab: lab.clone(),
        report: None,
    };
    // As if `up` stopped after netns_1 and its first veth: a namespace with
    // a veth pair inside, and netns_2's mount point created but not mounted.
    let ns1 = netlink::Netns::create(&lab.names.netns_1).expect("netns_1");
    let mut h = netlink::Handle::in_netns(&ns1).expect("handle");
    h.link_add_veth("veth1@2", "veth2@1", None).expect("veth");
    drop(h);
    drop(ns1);
    let stray = Path::new("/run/netns").join(&lab.names.netns_2);
    std::fs::write(&stray, b"").expect("stray mount point");
    assert!(!lab.is_up());

    let report = lab.down().expect("down on a half-built lab");
    assert_eq!(report.removed.len(), 2, "{report}");
    assert_eq!(leftovers(&prefix), Vec::<String>::new());
    // And up works right after.
    let mut out = Vec::new();
    lab.up(&UpOptions::default(), &mut out)
        .expect("up after a half-built lab");
    assert!(lab.is_up());
}

#[test]
fn up_refuses_a_bad_program_and_leaves_the_running_lab_alone() {
    require_root();
    let prefix = unique_prefix("bad");
    let lab = Lab::new(Some(&prefix)).expect("prefix");
    let _guard = LabGuard {
        lab: lab.clone(),
        report: None,
    };
    // A lab that is up, with its program.
    let mut out = Vec::new();
    lab.up(&UpOptions::default(), &mut out).expect("first up");
    let before = lab.status().expect("status").filters[0].filter.id;
    // A packet read without the bounds check: the verifier refuses it, and
    // the error shows its reason and our source line. `up` loads the
    // program before it tears anything down, so the running lab stays.
    let source = loader::lab::up::ProgramSource::Text {
        name: "unchecked.s".into(),
        text:
            "\t.license \"GPL\"\n\tr2 = *(u32 *)(r1 +76)\n\tr0 = *(u8 *)(r2 +0)\n\tr0 = 0\n\texit\n"
                .into(),
    };
    let mut out = Vec::new();
    let err = lab
        .up(
            &UpOptions {
                source,
                ..Default::default()
            },
            &mut out,
        )
        .expect_err("the verifier must refuse it")
        .to_string();
    assert!(err.contains("invalid access to packet"), "{err}");
    assert!(err.contains("unchecked.s:3"), "{err}");
    assert!(err.contains("the running lab was left alone"), "{err}");
    let st = lab.status().expect("the lab is still up");
    assert_eq!(st.filters.len(), 1, "{st}");
    assert_eq!(st.filters[0].filter.id, before, "the same program: {st}");
}

#[test]
fn attach_puts_a_caller_loaded_program_where_up_would_and_replaces_it() {
    let g = LabGuard::up(
        "att",
        &UpOptions {
            no_program: true,
            ..Default::default()
        },
    );
    let load = |target| load_variant(&Variant::to(target)).expect("load redirect.s");
    let (a, b) = (load(1), load(2));
    let id_of = |p: &loader::Program| p.info().expect("prog info").id;
    let first = g
        .lab
        .attach(&a)
        .expect("attach to a lab up without a program");
    let st = g.lab.status().expect("status");
    assert_eq!(st.filters.len(), 1, "{st}");
    assert_eq!(st.filters[0].filter.id, Some(id_of(&a)), "{st}");
    assert_eq!(first.prio, loader::lab::plan::FILTER_PRIO);
    // Attaching again replaces the lab's one filter, as `up` does.
    let second = g.lab.attach(&b).expect("attach again");
    assert_eq!((second.prio, second.handle), (first.prio, first.handle));
    let st = g.lab.status().expect("status");
    assert_eq!(st.filters.len(), 1, "still one filter: {st}");
    assert_eq!(st.filters[0].filter.id, Some(id_of(&b)), "{st}");
}

#[test]
fn attach_says_the_lab_is_down() {
    require_root();
    let lab = Lab::new(Some(&unique_prefix("attdown"))).expect("prefix");
    let p = load_variant(&Variant::to(1)).expect("load redirect.s");
    let e = lab.attach(&p).expect_err("no lab").to_string();
    assert!(
        e.contains("not up") && e.contains("redirect-lab up --prefix"),
        "{e}"
    );
}
