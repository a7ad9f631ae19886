//! Our own traffic generators and sinks for the forwarding benchmark: a
//! batched UDP flood (sendmmsg/recvmmsg), a TCP bulk stream, a UDP ping-pong
//! for round-trip times, and iperf3 as an outside reference when installed.
//!
//! Each side runs in a namespace the lab created: a socket is created by a
//! thread that has entered the namespace (setns), and keeps that namespace
//! for its life. Every loop is bounded twice, by a packet or byte count and
//! by a deadline, so a broken path ends a run quickly instead of hanging it.

use super::sys;
use std::io::{self, Read, Write};
use std::net::{Ipv4Addr, SocketAddrV4, TcpListener, TcpStream, UdpSocket};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Two namespaces and the addresses traffic flows between.
#[derive(Clone, Debug)]
pub struct Path2 {
    /// Where the senders run (the lab's host side).
    pub client_ns: PathBuf,
    /// Where the receivers run (the lab's netns_2).
    pub server_ns: PathBuf,
    /// The receiver's address (10.0.2.11 in the lab).
    pub server_ip: Ipv4Addr,
}

/// Runs `f` on a fresh thread that has entered the network namespace `ns`.
pub fn in_netns<T: Send + 'static>(
    ns: &Path,
    f: impl FnOnce() -> io::Result<T> + Send + 'static,
) -> io::Result<T> {
    let ns = ns.to_path_buf();
    std::thread::spawn(move || {
        sys::enter_netns(&ns)?;
        f()
    })
    .join()
    .map_err(|_| io::Error::other("thread in netns panicked"))?
}

/// How far one run may go: whichever limit comes first ends it.
#[derive(Clone, Copy, Debug)]
pub struct Limits {
    pub max_packets: u64,
    pub max_time: Duration,
}

/// One UDP flood: what left the sender and what reached the socket.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct UdpFlood {
    pub sent: u64,
    pub received: u64,
    /// How long the sender sent for.
    pub seconds: f64,
    /// CPU time spent on the path: see [`CpuMeter`].
    pub cpu_ns: u64,
}

impl UdpFlood {
    /// Datagrams delivered to the receiving socket per second of sending.
    pub fn delivered_pps(&self) -> f64 {
        self.received as f64 / self.seconds
    }

    /// The fraction (0..=1) of sent datagrams that never reached the socket.
    pub fn loss(&self) -> f64 {
        if self.sent == 0 {
            return f64::NAN;
        }
        1.0 - (self.received.min(self.sent) as f64 / self.sent as f64)
    }

    /// CPU nanoseconds per delivered datagram: what the path costs the
    /// machine, independent of how much CPU other processes took meanwhile.
    pub fn cpu_ns_per_packet(&self) -> f64 {
        self.cpu_ns as f64 / self.received as f64
    }
}

// The CPU meter lives in the loader, which `redirect-lab compare` shares.
pub use loader::lab::cpu::{thread_cpu_ns, CpuMeter};

/// Floods `payload`-byte datagrams from the client namespace to
/// `server_ip:port` with sendmmsg batches, counting what the receiver in the
/// server namespace gets with recvmmsg.
pub fn udp_flood(p: &Path2, port: u16, payload: usize, limits: Limits) -> io::Result<UdpFlood> {
    let addr = SocketAddrV4::new(p.server_ip, port);
    let rx = in_netns(&p.server_ns, move || {
        let s = UdpSocket::bind(addr)?;
        sys::set_rcvbuf(&s, 32 << 20)?;
        s.set_read_timeout(Some(Duration::from_millis(20)))?;
        Ok(s)
    })?;
    let tx = in_netns(&p.client_ns, move || {
        let s = UdpSocket::bind("0.0.0.0:0")?;
        s.connect(addr)?;
        Ok(s)
    })?;

    let stop = Arc::new(AtomicBool::new(false));
    let stop_rx = stop.clone();
    let hard_deadline = Instant::now() + limits.max_time + Duration::from_secs(2);
    let meter = CpuMeter::start();
    let receiver = std::thread::spawn(move || -> io::Result<(u64, u64)> {
        let cpu0 = thread_cpu_ns();
        let mut bufs = vec![vec![0u8; 2048]; 64];
        let mut received = 0u64;
        loop {
            let got = sys::recvmmsg(&rx, &mut bufs)?;
            received += got.len() as u64;
            // Once the sender is done, drain until the socket is empty.
            if got.is_empty() && stop_rx.load(Ordering::Acquire) || Instant::now() > hard_deadline {
                return Ok((received, thread_cpu_ns().saturating_sub(cpu0)));
            }
        }
    });

    let data = vec![0xa5u8; payload];
    let batch: Vec<&[u8]> = (0..32).map(|_| data.as_slice()).collect();
    let cpu0 = thread_cpu_ns();
    let start = Instant::now();
    let mut sent = 0u64;
    let mut result = Ok(());
    while sent < limits.max_packets && start.elapsed() < limits.max_time {
        let want = (limits.max_packets - sent).min(batch.len() as u64) as usize;
        match sys::sendmmsg(&tx, &batch[..want]) {
            Ok(n) => sent += n as u64,
            Err(e) => {
                result = Err(e);
                break;
            }
        }
    }
    let seconds = start.elapsed().as_secs_f64();
    let sender_cpu = thread_cpu_ns().saturating_sub(cpu0);
    stop.store(true, Ordering::Release);
    let (received, receiver_cpu) = receiver
        .join()
        .map_err(|_| io::Error::other("UDP receiver panicked"))??;
    result?;
    Ok(UdpFlood {
        sent,
        received,
        seconds,
        cpu_ns: meter.finish(sender_cpu + receiver_cpu),
    })
}

/// One TCP bulk transfer, as the receiver saw it.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct TcpStreamResult {
    pub bytes: u64,
    pub seconds: f64,
    /// CPU time spent on the transfer: see [`CpuMeter`].
    pub cpu_ns: u64,
}

impl TcpStreamResult {
    pub fn mbit_per_s(&self) -> f64 {
        self.bytes as f64 * 8.0 / self.seconds / 1e6
    }

    /// CPU microseconds per MiB delivered.
    pub fn cpu_us_per_mib(&self) -> f64 {
        self.cpu_ns as f64 / 1e3 / (self.bytes as f64 / f64::from(1u32 << 20))
    }
}

/// Streams bytes from the client namespace to `server_ip:port` for at most
/// `max_time` or `max_bytes`, in 128 KiB writes; the receiver in the server
/// namespace reads until EOF and times from accept to EOF.
pub fn tcp_stream(
    p: &Path2,
    port: u16,
    max_bytes: u64,
    max_time: Duration,
) -> io::Result<TcpStreamResult> {
    let addr = SocketAddrV4::new(p.server_ip, port);
    let listener = in_netns(&p.server_ns, move || {
        let l = TcpListener::bind(addr)?;
        l.set_nonblocking(true)?;
        Ok(l)
    })?;
    let accept_deadline = Instant::now() + Duration::from_secs(3);
    let read_deadline = Instant::now() + max_time + Duration::from_secs(5);
    let meter = CpuMeter::start();
    let receiver = std::thread::spawn(move || -> io::Result<TcpStreamResult> {
        let cpu0 = thread_cpu_ns();
        let (mut conn, _) = loop {
            match listener.accept() {
                Ok(c) => break c,
                Err(e)
                    if e.kind() == io::ErrorKind::WouldBlock
                        && Instant::now() < accept_deadline =>
                {
                    std::thread::sleep(Duration::from_millis(1));
                }
                Err(e) => return Err(io::Error::new(e.kind(), format!("TCP accept: {e}"))),
            }
        };
        conn.set_nonblocking(false)?;
        conn.set_read_timeout(Some(Duration::from_secs(2)))?;
        let start = Instant::now();
        let mut buf = vec![0u8; 256 << 10];
        let mut bytes = 0u64;
        loop {
            match conn.read(&mut buf) {
                Ok(0) => break,
                Ok(n) => bytes += n as u64,
                Err(e) => {
                    return Err(io::Error::new(
                        e.kind(),
                        format!("TCP read after {bytes} bytes: {e}"),
                    ))
                }
            }
            if Instant::now() > read_deadline {
                return Err(io::Error::new(
                    io::ErrorKind::TimedOut,
                    "TCP receiver passed its deadline",
                ));
            }
        }
        Ok(TcpStreamResult {
            bytes,
            seconds: start.elapsed().as_secs_f64(),
            cpu_ns: thread_cpu_ns().saturating_sub(cpu0),
        })
    });

    let sent = in_netns(&p.client_ns, move || {
        TcpStream::connect_timeout(&addr.into(), Duration::from_secs(2))
    })
    .and_then(|mut conn| {
        let cpu0 = thread_cpu_ns();
        conn.set_write_timeout(Some(Duration::from_secs(2)))?;
        let chunk = vec![0x5au8; 128 << 10];
        let start = Instant::now();
        let mut sent = 0u64;
        while sent < max_bytes && start.elapsed() < max_time {
            conn.write_all(&chunk)?;
            sent += chunk.len() as u64;
        }
        conn.shutdown(std::net::Shutdown::Write)?;
        Ok((sent, thread_cpu_ns().saturating_sub(cpu0)))
    });
    let got = receiver
        .join()
        .map_err(|_| io::Error::other("TCP receiver panicked"))?;
    let (sent, sender_cpu) =
        sent.map_err(|e| io::Error::new(e.kind(), format!("TCP sender: {e}")))?;
    let mut got = got?;
    got.cpu_ns = meter.finish(got.cpu_ns + sender_cpu);
    if got.bytes != sent {
        return Err(io::Error::other(format!(
            "TCP: sent {sent} bytes but {} arrived",
            got.bytes
        )));
    }
    Ok(got)
}

/// Round-trip times in microseconds of `limits.max_packets` UDP ping-pongs
/// (8-byte sequence numbers echoed by a server in the server namespace).
/// A lost ping or pong costs a 200 ms timeout and is left out of the samples;
/// if more than half are lost the run is an error.
pub fn udp_ping_pong(p: &Path2, port: u16, limits: Limits) -> io::Result<Vec<f64>> {
    let addr = SocketAddrV4::new(p.server_ip, port);
    let echo = in_netns(&p.server_ns, move || {
        let s = UdpSocket::bind(addr)?;
        s.set_read_timeout(Some(Duration::from_millis(50)))?;
        Ok(s)
    })?;
    let stop = Arc::new(AtomicBool::new(false));
    let stop_echo = stop.clone();
    let hard_deadline = Instant::now() + limits.max_time + Duration::from_secs(2);
    let server = std::thread::spawn(move || {
        let mut buf = [0u8; 64];
        while !stop_echo.load(Ordering::Acquire) && Instant::now() < hard_deadline {
            if let Ok((n, from)) = echo.recv_from(&mut buf) {
                let _ = echo.send_to(&buf[..n], from);
            }
        }
    });
    let result = (|| {
        let s = in_netns(&p.client_ns, move || {
            let s = UdpSocket::bind("0.0.0.0:0")?;
            s.connect(addr)?;
            s.set_read_timeout(Some(Duration::from_millis(200)))?;
            Ok(s)
        })?;
        let mut rtts = Vec::new();
        let mut lost = 0u64;
        let start = Instant::now();
        let mut buf = [0u8; 64];
        for seq in 0..limits.max_packets {
            if start.elapsed() > limits.max_time {
                break;
            }
            let t0 = Instant::now();
            s.send(&seq.to_le_bytes())?;
            // Skip late pongs of earlier, timed-out pings.
            loop {
                match s.recv(&mut buf) {
                    Ok(8) if buf[..8] == seq.to_le_bytes() => {
                        rtts.push(t0.elapsed().as_secs_f64() * 1e6);
                        break;
                    }
                    Ok(_) => continue,
                    Err(e)
                        if matches!(
                            e.kind(),
                            io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
                        ) =>
                    {
                        lost += 1;
                        break;
                    }
                    Err(e) => return Err(e),
                }
            }
        }
        if rtts.is_empty() || lost > rtts.len() as u64 {
            return Err(io::Error::other(format!(
                "UDP ping-pong to {addr}: {lost} lost, {} answered",
                rtts.len()
            )));
        }
        Ok(rtts)
    })();
    stop.store(true, Ordering::Release);
    let _ = server.join();
    result
}

/// Sends pings until one comes back (at most `tries`), so that ARP (answered
/// by proxy ARP in the lab) and neighbour entries are settled before the
/// first measured packet. Without it the first burst of a flood would wait
/// in the neighbour queue (3 packets long) and be dropped there. Proxy ARP
/// answers after a random delay of up to `proxy_delay` (0.8 s by default),
/// so give it several seconds of tries.
pub fn warm_up(p: &Path2, port: u16, tries: u64) -> io::Result<()> {
    let limits = Limits {
        max_packets: 1,
        max_time: Duration::from_secs(1),
    };
    let mut last = None;
    for _ in 0..tries {
        match udp_ping_pong(p, port, limits) {
            Ok(_) => return Ok(()),
            Err(e) => last = Some(e),
        }
    }
    Err(last.unwrap_or_else(|| io::Error::other("no warm-up attempted")))
}

/// Where iperf3 is, if it is installed.
pub fn iperf3_path() -> Option<PathBuf> {
    find_tool("iperf3")
}

/// Looks a program up on PATH (and in the sbin directories, which root's
/// PATH has but a `sudo -E` one may not).
pub fn find_tool(name: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .chain(["/usr/sbin", "/sbin", "/usr/bin", "/bin"].map(PathBuf::from))
        .map(|d| d.join(name))
        .find(|p| p.is_file())
}

/// An iperf3 TCP run of `seconds` from the client namespace to an iperf3
/// server in the server namespace, entered with nsenter(1). Returns the
/// receiver's throughput in Mbit/s. Both processes are bounded by timeout(1).
pub fn iperf3_tcp(p: &Path2, port: u16, seconds: u32) -> io::Result<f64> {
    let iperf = iperf3_path()
        .ok_or_else(|| io::Error::new(io::ErrorKind::NotFound, "iperf3 not installed"))?;
    let limit = (seconds + 10).to_string();
    let mut server = Command::new("timeout")
        .arg(&limit)
        .arg("nsenter")
        .arg(format!("--net={}", p.server_ns.display()))
        .arg(&iperf)
        .args([
            "-s",
            "-1",
            "-B",
            &p.server_ip.to_string(),
            "-p",
            &port.to_string(),
        ])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()?;
    // The server needs a moment to listen; retry the client a few times.
    let mut out = None;
    for _ in 0..60 {
        let o = Command::new("timeout")
            .arg(&limit)
            .arg("nsenter")
            .arg(format!("--net={}", p.client_ns.display()))
            .arg(&iperf)
            .args([
                "-c",
                &p.server_ip.to_string(),
                "-p",
                &port.to_string(),
                "-t",
                &seconds.to_string(),
                "-J",
            ])
            .output()?;
        let text = String::from_utf8_lossy(&o.stdout).to_string();
        // iperf3 3.12 with -J exits 0 even when it could not connect, so
        // the JSON's error text, not the status, says whether to retry.
        if !text.contains("Connection refused") {
            out = Some(text);
            break;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let _ = server.kill();
    let _ = server.wait();
    let text = out.ok_or_else(|| io::Error::other("iperf3 client never connected"))?;
    parse_iperf3_received_bps(&text)
        .map(|bps| bps / 1e6)
        .ok_or_else(|| {
            // iperf3 -J reports failures as "error": "..." in the JSON.
            let why = text
                .find("\"error\"")
                .map(|i| text[i..].lines().next().unwrap_or("").to_string())
                .unwrap_or_else(|| text.chars().take(200).collect());
            io::Error::other(format!("iperf3 gave no result: {}", why.trim()))
        })
}

/// The receiver-side `bits_per_second` of iperf3's JSON summary
/// (`"end": {"sum_received": {..., "bits_per_second": N}}`), found by text
/// so the harness needs no JSON library.
pub fn parse_iperf3_received_bps(json: &str) -> Option<f64> {
    let at = json.find("\"sum_received\"")?;
    let rest = &json[at..];
    let end = rest.find('}')?;
    let obj = &rest[..end];
    let key = obj.find("\"bits_per_second\"")?;
    let value = obj[key + "\"bits_per_second\"".len()..]
        .trim_start()
        .strip_prefix(':')?;
    let num: String = value
        .trim_start()
        .chars()
        .take_while(|c| c.is_ascii_digit() || matches!(c, '.' | 'e' | 'E' | '+' | '-'))
        .collect();
    num.parse().ok().filter(|v: &f64| v.is_finite())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flood_arithmetic() {
        let f = UdpFlood {
            sent: 1000,
            received: 900,
            seconds: 0.5,
            cpu_ns: 900_000,
        };
        assert_eq!(f.delivered_pps(), 1800.0);
        assert!((f.loss() - 0.1).abs() < 1e-12);
        assert_eq!(f.cpu_ns_per_packet(), 1000.0);
        let none = UdpFlood {
            sent: 0,
            received: 0,
            seconds: 1.0,
            cpu_ns: 0,
        };
        assert!(none.loss().is_nan());
    }

    #[test]
    fn this_thread_has_used_cpu() {
        let a = thread_cpu_ns();
        let mut x = 0u64;
        for i in 0..2_000_000u64 {
            x = x.wrapping_mul(31).wrapping_add(i);
        }
        std::hint::black_box(x);
        let b = thread_cpu_ns();
        assert!(b > a, "{a} -> {b}");
        let m = CpuMeter::start();
        assert!(m.finish(5) >= 5);
    }

    #[test]
    fn iperf3_summary_is_found() {
        let json = r#"{"end": {"sum_sent": {"bytes": 10, "bits_per_second": 1.5e9},
            "sum_received": {"start": 0, "bytes": 9, "bits_per_second": 12345678.5, "sender": true}}}"#;
        assert_eq!(parse_iperf3_received_bps(json), Some(12_345_678.5));
        assert_eq!(parse_iperf3_received_bps("{}"), None);
        assert_eq!(
            parse_iperf3_received_bps(r#"{"sum_received": {"bits_per_second": "x"}}"#),
            None
        );
    }

    #[test]
    fn loopback_flood_ping_and_stream_in_our_own_namespace() {
        // The host namespace's loopback, through /proc/self/ns/net: the
        // generators themselves, without the lab.
        let ns = PathBuf::from("/proc/self/ns/net");
        if sys::enter_netns(&ns).is_err() {
            eprintln!("skipping: setns needs root");
            return;
        }
        let p = Path2 {
            client_ns: ns.clone(),
            server_ns: ns,
            server_ip: Ipv4Addr::LOCALHOST,
        };
        let port = 20_000 + (std::process::id() % 20_000) as u16;
        let limits = Limits {
            max_packets: 2000,
            max_time: Duration::from_millis(300),
        };
        let f = udp_flood(&p, port, 64, limits).unwrap();
        assert!(
            f.sent > 0 && f.received > 0 && f.received <= f.sent,
            "{f:?}"
        );
        let rtts = udp_ping_pong(
            &p,
            port + 1,
            Limits {
                max_packets: 50,
                ..limits
            },
        )
        .unwrap();
        assert!(!rtts.is_empty() && rtts.iter().all(|r| *r > 0.0));
        let t = tcp_stream(&p, port + 2, 4 << 20, Duration::from_millis(300)).unwrap();
        assert!(t.bytes > 0 && t.mbit_per_s() > 0.0, "{t:?}");
        assert!(
            f.cpu_ns > 0 && t.cpu_ns > 0,
            "CPU time is measured: {f:?} {t:?}"
        );
    }
}
