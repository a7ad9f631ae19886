//! `redirect-lab`: the command line of the eBPF packet-redirect lab.
fn main() {
    eprintln!("redirect-lab: not built yet");
    std::process::exit(1);
}
