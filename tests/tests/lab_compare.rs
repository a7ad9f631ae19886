//! `redirect-lab compare`: the JSON it prints (parsed with serde_json), the
//! traced paths in it and in the figure, its refusals, and that its labs
//! are gone afterwards, also when it fails half way or is interrupted with
//! Ctrl-C (SIGINT).

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
        // The traced path: events in order, counted per layer.
        let path = m["path"]
            .as_array()
            .unwrap_or_else(|| panic!("{name}: no path: {}", m["path_error"]));
        let len = m["path_len"].as_u64().expect("path_len");
        assert!(len > 0, "{name}: empty path");
        assert_eq!(len as usize, path.len(), "{name}");
        let tp = m["path_len_tp_btf"].as_u64().unwrap();
        let tp_counted = path.iter().filter(|s| s["layer"] == "tp_btf").count();
        assert_eq!(tp as usize, tp_counted, "{name}");
        assert!(tp > 0, "{name}: no tracepoint event");
        assert!(
            m["path_delivered"].as_bool().unwrap(),
            "{name}: traced datagram lost"
        );
        assert!(m["skipped"].is_array(), "{name}: skipped");
    }
    // fentry: either attached (the counts are there) or refused, said once.
    let layer = &v["function_layer"];
    let fentry = layer["fentry_programs"].as_u64().unwrap() > 0;
    if !fentry {
        assert!(layer["refused"].is_string(), "{layer}");
        assert!(modes.iter().all(|m| m["path_len_fentry"].is_null()));
        assert_eq!(stderr.matches("fentry is refused").count(), 1, "{stderr}");
    }
    let in_netns_1 = |m: &serde_json::Value, hook: &str| {
        m["path"]
            .as_array()
            .unwrap()
            .iter()
            .any(|s| s["hook"] == hook && s["netns"] == "netns_1")
    };
    // Forwarding looks the route up in netns_1; egress and peer do not, and
    // say that they skip it; peer skips veth2@1's transmit too.
    assert!(
        in_netns_1(&modes[0], "fib_table_lookup"),
        "{}",
        modes[0]["path"]
    );
    assert!(
        !in_netns_1(&modes[1], "fib_table_lookup"),
        "{}",
        modes[1]["path"]
    );
    assert!(!in_netns_1(&modes[2], "fib_table_lookup"));
    assert_eq!(modes[0]["skipped"].as_array().unwrap().len(), 0);
    let skipped = |m: &serde_json::Value| -> Vec<String> {
        m["skipped"]
            .as_array()
            .unwrap()
            .iter()
            .map(|s| s.as_str().unwrap().to_string())
            .collect()
    };
    assert!(
        skipped(&modes[1]).contains(&"route lookup".to_string()),
        "{:?}",
        skipped(&modes[1])
    );
    assert!(!skipped(&modes[1]).contains(&"veth transmit".to_string()));
    for stage in ["route lookup", "veth transmit"] {
        assert!(
            skipped(&modes[2]).contains(&stage.to_string()),
            "{:?}",
            skipped(&modes[2])
        );
    }
    let events = modes[1]["skipped_events"][0].as_str().unwrap();
    assert!(events.contains("fib_table_lookup"), "{events}");
    // The order the theory predicts, in the tracepoint layer.
    let tp = |i: usize| modes[i]["path_len_tp_btf"].as_u64().unwrap();
    assert!(
        tp(2) < tp(1) && tp(1) < tp(0),
        "peer {} egress {} forwarding {}",
        tp(2),
        tp(1),
        tp(0)
    );
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

    // The figure: well-formed XML, a path per mode in its own colour with a
    // dot per traced event, a labelled bar per mode.
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
        "netns_1 IP stack",
        "CPU per delivered 64 B UDP datagram",
    ] {
        assert!(texts.iter().any(|t| t.contains(label)), "no label {label}");
    }
    for (m, line) in modes.iter().zip(&paths) {
        let name = m["mode"].as_str().unwrap();
        assert!(texts.contains(&name), "no bar labelled {name}");
        // Drawn from the measured events: one point and one dot per event.
        let len = m["path_len"].as_u64().unwrap() as usize;
        let points = line.attribute("points").unwrap().split(' ').count();
        assert_eq!(points, len, "{name}");
        let class = format!("event event-{name}");
        let dots = doc
            .descendants()
            .filter(|n| n.has_tag_name("circle") && n.attribute("class") == Some(class.as_str()))
            .count();
        assert_eq!(dots, len, "{name}");
        let legend = format!("{name}: {len} events");
        assert!(
            texts.iter().any(|t| t.starts_with(&legend)),
            "no legend {legend}"
        );
    }
    assert!(texts.iter().any(|t| t.contains("skips route lookup")));

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

/// The bpf link ids that exist (`bpftool -j link list`).
fn bpf_links() -> Vec<u64> {
    let out = Command::new("bpftool")
        .args(["-j", "link", "list"])
        .output()
        .expect("run bpftool link list");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap_or_default();
    v.as_array()
        .map(|a| a.iter().filter_map(|l| l["id"].as_u64()).collect())
        .unwrap_or_default()
}

/// The bpf link ids process `pid` holds an fd of (`link_id:` in fdinfo).
fn links_held_by(pid: u32) -> Vec<u64> {
    let dir = format!("/proc/{pid}/fdinfo");
    std::fs::read_dir(&dir)
        .map(|d| {
            d.filter_map(Result::ok)
                .filter_map(|e| std::fs::read_to_string(e.path()).ok())
                .filter_map(|t| {
                    t.lines()
                        .find_map(|l| l.strip_prefix("link_id:"))
                        .and_then(|v| v.trim().parse().ok())
                })
                .collect()
        })
        .unwrap_or_default()
}

#[test]
fn ctrl_c_removes_the_labs_and_leaves_no_bpf_link() {
    use std::io::{BufRead, BufReader};
    use std::process::Stdio;
    use std::sync::mpsc;
    use std::time::{Duration, Instant};
    require_root();
    let mut child = Command::new(redirect_lab_binary())
        .args(["compare", "--modes", "egress,peer", "--reps", "50"])
        .args(["--seconds", "0.5", "--json"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn redirect-lab compare");
    let stderr = child.stderr.take().unwrap();
    let (tx, rx) = mpsc::channel::<String>();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    let deadline = Instant::now() + Duration::from_secs(60);
    let mut lines = Vec::new();
    let mut signalled = false;
    let mut held = Vec::new();
    // Interrupt while the labs are up and the tracer is attached (it is
    // from "trace forwarding" on), noting the links it holds then.
    while Instant::now() < deadline {
        match rx.recv_timeout(Duration::from_millis(100)) {
            Ok(line) => {
                let trigger = line == "compare: trace forwarding";
                lines.push(line);
                if trigger && !signalled {
                    held = links_held_by(child.id());
                    let ok = Command::new("kill")
                        .args(["-INT", &child.id().to_string()])
                        .status()
                        .expect("run kill");
                    assert!(ok.success(), "kill -INT");
                    signalled = true;
                }
            }
            Err(mpsc::RecvTimeoutError::Timeout) => {
                if child.try_wait().unwrap().is_some() {
                    break;
                }
            }
            Err(mpsc::RecvTimeoutError::Disconnected) => break,
        }
    }
    let status = loop {
        if let Some(s) = child.try_wait().unwrap() {
            break s;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("compare did not end after SIGINT: {lines:#?}");
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    while let Ok(l) = rx.recv_timeout(Duration::from_millis(200)) {
        lines.push(l);
    }
    assert!(
        signalled,
        "compare never reached the trace phase: {lines:#?}"
    );
    assert_eq!(status.code(), Some(130), "{lines:#?}");
    assert!(
        lines.iter().any(|l| l.contains("interrupted")),
        "{lines:#?}"
    );
    let base = lines
        .iter()
        .find_map(|l| {
            l.split_whitespace()
                .skip_while(|w| *w != "labs")
                .nth(1)
                .and_then(|w| w.strip_suffix("-0"))
                .map(str::to_string)
        })
        .expect("compare names its labs on stderr");
    assert_eq!(namespaces_of(&base), Vec::<String>::new());
    // The tracer's links were held at the signal and are freed after it
    // (the kernel frees a closed link a little later: wait up to 5 s).
    assert!(!held.is_empty(), "no link held at the signal: {lines:#?}");
    let gone_by = Instant::now() + Duration::from_secs(5);
    let left = loop {
        let now = bpf_links();
        let left: Vec<u64> = held.iter().copied().filter(|id| now.contains(id)).collect();
        if left.is_empty() || Instant::now() > gone_by {
            break left;
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    assert_eq!(left, Vec::<u64>::new(), "bpf links left behind");
}
