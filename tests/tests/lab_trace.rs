//! `up --trace` and `trace`: the bpf_trace_printk variant reports each
//! step of the redirect in tracefs's `trace_pipe`, as the seed's does.
//! `trace_pipe` is one shared, consuming reader per machine, so this is the
//! only test that reads it, in a binary of its own.

mod lab_common;

use std::time::Duration;

use lab_common::*;
use loader::lab::trace::{follow, TraceLimits};
use loader::lab::UpOptions;

#[test]
fn the_trace_variant_reports_each_step() {
    let g = LabGuard::up(
        "trc",
        &UpOptions {
            trace: true,
            ..Default::default()
        },
    );
    let lab = &g.lab;
    // Drop whatever earlier programs left in the (consuming) pipe, then
    // start the reader; it stops at the verdict line or after 5 s.
    let drain = TraceLimits {
        timeout: Some(Duration::from_millis(300)),
        ..Default::default()
    };
    follow(drain, &mut std::io::sink()).expect("drain trace_pipe");
    let reader = std::thread::spawn(|| {
        let mut out = Vec::new();
        let limits = TraceLimits {
            count: Some(200),
            timeout: Some(Duration::from_secs(5)),
            // Unfiltered, so the test sees the empty line a stray `\n` in
            // one of the program's strings would add after its message.
            only: None,
            until: Some("redirect: result: 7"),
        };
        follow(limits, &mut out).expect("read trace_pipe");
        String::from_utf8_lossy(&out).into_owned()
    });
    std::thread::sleep(Duration::from_millis(300));
    let listener = spawn_listener(lab, 1, DELIVERY_TIMEOUT, false);
    send_n(lab, "traced", 1);
    assert_eq!(
        listener.join().expect("listener").len(),
        1,
        "the trace variant still redirects"
    );
    let text = reader.join().expect("reader");
    for step in [
        "redirect: handling packet",
        "redirect: checking ethernet header for IPv4 proto: 800",
        "redirect: checking destination address: a00020b",
        "redirect: rewriting destination MAC",
        "redirect: performing redirect",
        "redirect: result: 7",
    ] {
        assert!(text.contains(step), "{step:?} in the trace:\n{text}");
    }
    let lines: Vec<&str> = text.lines().collect();
    for pair in lines.windows(2) {
        assert!(
            !(pair[0].contains("bpf_trace_printk: redirect: ") && pair[1].trim().is_empty()),
            "an empty line follows {:?}: a format string ends in \\n\n{text}",
            pair[0]
        );
    }
}
