//! `status`'s direction counters on a real lab: with the program attached,
//! datagrams to netns_2 bypass netns_1's IP stack, but the ICMP port
//! unreachable netns_2 answers (no listener) is forwarded back by it, so
//! `Ip ForwDatagrams` of netns_1 counts the way back, and netns_2's
//! `Udp NoPorts` / `Icmp OutDestUnreachs` show why.

mod lab_common;

use loader::lab::status::Netns2Udp;
use loader::lab::UpOptions;

use lab_common::*;

fn snapshot(g: &LabGuard) -> (u64, Netns2Udp) {
    let st = g.lab.status().expect("status");
    let fwd = st.netns_1_forwarded.expect("Ip ForwDatagrams of netns_1");
    let udp = st.netns_2_udp.expect("UDP counters of netns_2");
    (fwd, udp)
}

#[test]
fn status_counts_the_way_back_and_says_why() {
    require_root();
    let g = LabGuard::try_up("cnt", &UpOptions::default()).expect("up");
    let (fwd0, udp0) = snapshot(&g);

    // Nobody listens: each datagram is answered with an ICMP error that
    // netns_1's stack forwards back to the host.
    send_n(&g.lab, "nobody", 2);
    assert!(
        eventually(DELIVERY_TIMEOUT, || {
            let (fwd, udp) = snapshot(&g);
            udp.no_ports == udp0.no_ports + 2
                && udp.icmp_out_dest_unreachs == udp0.icmp_out_dest_unreachs + 2
                && fwd == fwd0 + 2
        }),
        "before {:?}, after {:?}",
        (fwd0, udp0),
        snapshot(&g)
    );

    // With a listener: delivered, no error, nothing comes back through netns_1.
    let (fwd1, udp1) = snapshot(&g);
    let listener = spawn_listener(&g.lab, 1, DELIVERY_TIMEOUT, false);
    send_n(&g.lab, "heard", 1);
    assert_eq!(listener.join().expect("listener").len(), 1);
    let (fwd2, udp2) = snapshot(&g);
    assert_eq!(udp2.in_datagrams, udp1.in_datagrams + 1);
    assert_eq!(udp2.no_ports, udp1.no_ports);
    assert_eq!(fwd2, fwd1, "one-way UDP must not cross netns_1's stack");

    let text = g.lab.status().expect("status").to_string();
    assert!(text.contains("the way back"), "{text}");
    assert!(text.contains("NoPorts"), "{text}");
}
