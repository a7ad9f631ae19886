//! Prints, in inspect mode, the messages that set up a veth pair with a
//! clsact qdisc in a throwaway namespace: `cargo run -p netlink --example explain`
//! (as root).
use netlink::netns::NetnsGuard;
use netlink::{inspect, Handle};

fn main() {
    if !netlink::is_root() {
        eprintln!("explain: needs root (it creates a network namespace); run it with sudo");
        std::process::exit(1);
    }
    if let Err(e) = run() {
        eprintln!("explain: {e}");
        std::process::exit(1);
    }
}

fn run() -> netlink::Result<()> {
    let ns = NetnsGuard::unique("nl-explain")?;
    let mut h = Handle::in_netns(&ns)?;
    h.set_inspect(Some(inspect::stderr_printer()));
    let v = h.link_add_veth("veth1", "veth2", None)?;
    h.link_set_up(v)?;
    h.qdisc_add_clsact(v)?;
    if let Err(e) = h.qdisc_add_clsact(v) {
        eprintln!("as expected: {e}");
    }
    Ok(())
}
