//! `redirect-lab compare`: the JSON it prints (parsed with serde_json), its
//! refusals, and that its labs are gone afterwards, also when it fails half
//! way.

mod lab_common;

use std::path::Path;
use std::process::Command;

use lab_common::{redirect_lab_binary, require_root};
use loader::lab::compare::{self, LabUp, Sizes};
use loader::lab::NETNS_RUN_DIR;

/// Network namespaces whose name starts with `base`.
fn namespaces_of(base: &str) -> Vec<String> {
    std::fs::read_dir(NETNS_RUN_DIR)
        .map(|d| {
            d.filter_map(Result::ok)
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .filter(|n| n.starts_with(base))
                .collect()
        })
        .unwrap_or_default()
}

#[test]
fn json_has_forwarding_and_each_mode_measured() {
    require_root();
    let svg_path = std::env::temp_dir().join(format!("lab-compare-{}.svg", std::process::id()));
    let out = Command::new(redirect_lab_binary())
        .args(["compare", "--modes", "egress,peer", "--reps", "2"])
        .args(["--seconds", "0.15", "--json", "--svg"])
        .arg(&svg_path)
        .output()
        .expect("run redirect-lab compare");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "compare failed: {stderr}");
    let v: serde_json::Value =
        serde_json::from_slice(&out.stdout).expect("compare --json prints one JSON object");
    let modes = v["modes"].as_array().expect("a modes array");
    let names: Vec<&str> = modes.iter().map(|m| m["mode"].as_str().unwrap()).collect();
    assert_eq!(names, ["forwarding", "egress", "peer"]);
    for m in modes {
        let name = m["mode"].as_str().unwrap();
        for key in ["path", "path_len", "skipped", "ratio_vs_forwarding"] {
            assert!(m.get(key).is_some(), "{name}: no {key}");
        }
        assert!(m["error"].is_null(), "{name}: {}", m["error"]);
        let cpu = m["cpu_ns_per_packet"].as_f64().expect("cpu_ns_per_packet");
        let (lo, hi) = (
            m["cpu_ns_min"].as_f64().unwrap(),
            m["cpu_ns_max"].as_f64().unwrap(),
        );
        assert!(
            cpu > 0.0 && lo <= cpu && cpu <= hi,
            "{name}: cpu {lo} {cpu} {hi}"
        );
        assert!(m["pps"].as_f64().unwrap() > 0.0, "{name}: pps");
        assert!(
            m["delivered"].as_u64().unwrap() > 0,
            "{name}: nothing delivered"
        );
        assert!(m["delivered"].as_u64() <= m["sent"].as_u64(), "{name}");
        let (p50, p99) = (
            m["rtt_p50_us"].as_f64().unwrap(),
            m["rtt_p99_us"].as_f64().unwrap(),
        );
        assert!(p50 > 0.0 && p50 <= p99, "{name}: rtt {p50} {p99}");
        // No path tracer yet: the path columns say so instead of guessing.
        assert!(m["path"].is_null() && m["path_len"].is_null() && m["skipped"].is_null());
        assert!(m["path_note"].as_str().unwrap().contains("not measured"));
    }
    let r = &modes[0]["ratio_vs_forwarding"];
    assert_eq!(r["cpu_ns_per_packet"].as_f64(), Some(1.0));
    assert_eq!(r["pps"].as_f64(), Some(1.0));
    let egress = &modes[1];
    let ratio = egress["ratio_vs_forwarding"]["cpu_ns_per_packet"]
        .as_f64()
        .unwrap();
    let expect = egress["cpu_ns_per_packet"].as_f64().unwrap()
        / modes[0]["cpu_ns_per_packet"].as_f64().unwrap();
    assert!(
        (ratio - expect).abs() < 0.01 * expect.max(1.0),
        "{ratio} vs {expect}"
    );
    assert_eq!(egress["needs"]["mac_rewrite"], true);
    assert_eq!(modes[2]["needs"]["mac_rewrite"], false);
    assert_eq!(modes[0]["needs"]["route"], true);

    // The figure: well-formed XML, a way per mode in its own colour, a
    // labelled bar per mode.
    let text = std::fs::read_to_string(&svg_path).expect("compare --svg wrote the file");
    let _ = std::fs::remove_file(&svg_path);
    let doc = roxmltree::Document::parse(&text).expect("the SVG is well-formed XML");
    assert_eq!(doc.root_element().tag_name().name(), "svg");
    let paths: Vec<_> = doc
        .descendants()
        .filter(|n| n.has_tag_name("polyline") && n.attribute("class") == Some("path"))
        .collect();
    let ids: Vec<&str> = paths.iter().filter_map(|n| n.attribute("id")).collect();
    assert_eq!(ids, ["path-forwarding", "path-egress", "path-peer"]);
    let colours: std::collections::HashSet<_> =
        paths.iter().filter_map(|n| n.attribute("stroke")).collect();
    assert_eq!(colours.len(), 3, "one colour per mode");
    let texts: Vec<&str> = doc.descendants().filter_map(|n| n.text()).collect();
    for label in [
        "veth1@1",
        "veth2@2",
        "netns_1",
        "CPU per delivered 64 B UDP datagram",
    ] {
        assert!(texts.iter().any(|t| t.contains(label)), "no label {label}");
    }
    for name in names {
        assert!(texts.contains(&name), "no bar labelled {name}");
    }
    // peer skips veth2@1: its way has one point fewer than egress's.
    let points = |n: &roxmltree::Node| n.attribute("points").unwrap().split(' ').count();
    assert_eq!(points(&paths[2]) + 1, points(&paths[1]));

    // Every lab it brought up is gone.
    let base = stderr
        .split_whitespace()
        .skip_while(|w| *w != "labs")
        .nth(1)
        .and_then(|w| w.strip_suffix("-0"))
        .expect("compare names its labs on stderr")
        .to_string();
    assert_eq!(namespaces_of(&base), Vec::<String>::new());
}

#[test]
fn labs_are_removed_when_a_run_fails_half_way() {
    require_root();
    let base = netlink::netns::unique_name("Lcmp");
    let modes = compare::parse_modes(Some("egress")).unwrap();
    let sizes = Sizes {
        reps: 1,
        ..Sizes::default()
    };
    let mut seen_up = Vec::new();
    let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        compare::run(&modes, sizes, &base, &mut |step| {
            if step.starts_with("run") {
                seen_up = namespaces_of(&base);
                panic!("failing on purpose at {step}");
            }
        })
    }));
    assert!(result.is_err(), "the run was meant to fail");
    // Both labs (forwarding and egress) were up: three namespaces each.
    assert_eq!(seen_up.len(), 6, "{seen_up:?}");
    assert_eq!(namespaces_of(&base), Vec::<String>::new());

    // A guard alone: up, then an error return.
    let prefix = format!("{base}-g");
    let f = || -> Result<(), String> {
        let (_lab, _notes) = LabUp::up(&prefix, None).map_err(|e| e.to_string())?;
        assert!(Path::new(NETNS_RUN_DIR)
            .join(format!("{prefix}_netns_1"))
            .exists());
        Err("measurement failed".into())
    };
    assert!(f().is_err());
    assert_eq!(namespaces_of(&prefix), Vec::<String>::new());
}

#[test]
fn bad_flags_are_refused_before_anything_is_built() {
    for (args, want) in [
        (&["--modes", "egress,bogus"][..], "unknown mode \"bogus\""),
        (&["--seconds", "0"][..], "--seconds 0"),
        (&["--reps", "0"][..], "--reps 0"),
    ] {
        let out = Command::new(redirect_lab_binary())
            .arg("compare")
            .args(args)
            .output()
            .expect("run redirect-lab compare");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success(), "{args:?} succeeded");
        assert!(err.contains(want), "{args:?}: {err}");
        assert!(out.stdout.is_empty(), "{args:?} printed a table");
    }
}
