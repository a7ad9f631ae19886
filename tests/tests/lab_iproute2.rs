//! The lab as iproute2 and bpftool see it: a user checks our hand-built
//! namespaces, filter and program with the usual tools. Each tool is
//! optional on a user's machine (the lab needs none); CI installs them, and
//! where one is missing its check is skipped with a note.

mod lab_common;

use std::process::Command;

use lab_common::*;
use loader::lab::UpOptions;

/// Runs a tool; `None` if it is not installed. A tool that runs and fails
/// fails the test.
fn tool(cmd: &str, args: &[&str]) -> Option<String> {
    let out = match Command::new(cmd).args(args).output() {
        Ok(o) => o,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            eprintln!("note: {cmd} is not installed; skipping its check");
            return None;
        }
        Err(e) => panic!("running {cmd}: {e}"),
    };
    assert!(
        out.status.success(),
        "{cmd} {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    Some(String::from_utf8_lossy(&out.stdout).into_owned())
}

#[test]
fn ip_tc_and_bpftool_show_the_lab() {
    let g = LabGuard::up("ipr", &UpOptions::default());
    let names = g.names().clone();
    let report = g.report.clone().expect("report");
    let id = report.prog_id.expect("program id").to_string();
    let tag = report.prog_tag.expect("tag");

    if let Some(list) = tool("ip", &["netns", "list"]) {
        for ns in names.namespaces() {
            assert!(
                list.lines()
                    .any(|l| l.split_whitespace().next() == Some(ns)),
                "{ns} in:\n{list}"
            );
        }
        let links = tool("ip", &["-n", &names.netns_1, "-o", "link", "show"]).expect("ip");
        assert!(
            links.contains("veth1@2") && links.contains("veth2@1"),
            "{links}"
        );
        let addrs = tool(
            "ip",
            &["-n", &names.netns_2, "-o", "addr", "show", "dev", "veth2@2"],
        )
        .expect("ip");
        assert!(addrs.contains("10.0.2.11/24"), "{addrs}");
        let mac = tool(
            "ip",
            &["-n", &names.netns_2, "link", "show", "dev", "veth2@2"],
        )
        .expect("ip");
        assert!(mac.contains("link/ether 02:00:00:00:00:00"), "{mac}");
        let routes = tool(
            "ip",
            &[
                "-n",
                names.host.as_deref().expect("isolated"),
                "route",
                "show",
            ],
        )
        .expect("ip");
        assert!(routes.contains("10.0.2.0/24 dev veth1@1"), "{routes}");
    }

    if let Some(filters) = tool(
        "tc",
        &[
            "-n",
            &names.netns_1,
            "filter",
            "show",
            "dev",
            "veth1@2",
            "ingress",
        ],
    ) {
        assert!(filters.contains("bpf"), "{filters}");
        assert!(filters.contains("direct-action"), "{filters}");
        assert!(
            filters.contains("redirect-lab"),
            "our filter name:\n{filters}"
        );
        assert!(
            filters.contains(&format!("id {id}")),
            "program id {id}:\n{filters}"
        );
        assert!(
            filters.contains(&format!("tag {tag}")),
            "tag {tag}:\n{filters}"
        );
        let qdiscs = tool(
            "tc",
            &["-n", &names.netns_1, "qdisc", "show", "dev", "veth1@2"],
        )
        .expect("tc");
        assert!(qdiscs.contains("clsact"), "{qdiscs}");
    }

    if let Some(prog) = tool("bpftool", &["prog", "show", "id", &id]) {
        assert!(prog.contains("sched_cls"), "{prog}");
        assert!(prog.contains("name redirect"), "{prog}");
        assert!(prog.contains(&format!("tag {tag}")), "{prog}");
    }
}
