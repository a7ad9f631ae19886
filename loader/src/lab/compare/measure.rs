//! The measurements of `redirect-lab compare`, small and bounded: a UDP
//! flood from the host side (a socket bound to veth1@1 with
//! `SO_BINDTODEVICE`) to 10.0.2.11:7777 in netns_2, and a UDP ping-pong for
//! round-trip times. Every loop stops at a packet count or a deadline,
//! whichever comes first. CPU time comes from [`super::super::cpu`], the
//! meter `make bench` uses too.

use std::io;
use std::net::UdpSocket;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use super::super::cpu::{thread_cpu_ns, CpuMeter};
use super::super::traffic::{recv_one, LISTEN_ADDR};
use super::super::{Lab, LabError};

/// How far one run may go: whichever limit comes first ends it.
#[derive(Clone, Copy, Debug)]
pub struct Limits {
    pub packets: u64,
    pub time: Duration,
}

/// One flood: what left the sender, what reached the socket in netns_2.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Flood {
    pub sent: u64,
    pub received: u64,
    /// How long the sender sent for.
    pub seconds: f64,
    /// Sender + receiver + ksoftirqd CPU time during the run.
    pub cpu_ns: u64,
}

impl Flood {
    /// Datagrams delivered to the socket per second of sending.
    pub fn pps(&self) -> f64 {
        self.received as f64 / self.seconds
    }

    /// CPU per delivered datagram; `None` when nothing was delivered.
    pub fn cpu_ns_per_packet(&self) -> Option<f64> {
        (self.received > 0).then(|| self.cpu_ns as f64 / self.received as f64)
    }
}

fn failed(what: &str) -> impl Fn(io::Error) -> LabError + '_ {
    move |e| LabError::Failed(format!("{what}: {}", crate::error::io_text(&e)))
}

/// Floods `payload`-byte datagrams through the lab for at most `limits`.
pub fn udp_flood(lab: &Lab, payload: usize, limits: Limits) -> Result<Flood, LabError> {
    let rx = lab.udp_listener()?;
    let tx = lab.host_udp_socket()?;
    tx.connect(LISTEN_ADDR)
        .map_err(failed("connecting the sender"))?;
    rx.set_read_timeout(Some(Duration::from_millis(20)))
        .map_err(failed("SO_RCVTIMEO"))?;
    let stop = AtomicBool::new(false);
    // The receiver drains after the sender stops, but never past this.
    let hard_deadline = Instant::now() + limits.time + Duration::from_secs(1);
    let meter = CpuMeter::start();
    let (sent, seconds, sender_cpu, received, receiver_cpu) = std::thread::scope(|s| {
        let receiver = s.spawn(|| {
            let cpu0 = thread_cpu_ns();
            let mut buf = [0u8; 2048];
            let mut received = 0u64;
            loop {
                match rx.recv(&mut buf) {
                    Ok(_) => received += 1,
                    // A timeout with the sender done: the socket is empty.
                    Err(_) if stop.load(Ordering::Acquire) => break,
                    Err(_) => {}
                }
                if Instant::now() > hard_deadline {
                    break;
                }
            }
            (received, thread_cpu_ns().saturating_sub(cpu0))
        });
        let data = vec![0xa5u8; payload];
        let cpu0 = thread_cpu_ns();
        let start = Instant::now();
        let mut sent = 0u64;
        while sent < limits.packets && start.elapsed() < limits.time {
            // ENOBUFS and the like: the packet was not sent; go on.
            if tx.send(&data).is_ok() {
                sent += 1;
            }
        }
        let seconds = start.elapsed().as_secs_f64();
        let sender_cpu = thread_cpu_ns().saturating_sub(cpu0);
        stop.store(true, Ordering::Release);
        let (received, receiver_cpu) = receiver.join().unwrap_or((0, 0));
        (sent, seconds, sender_cpu, received, receiver_cpu)
    });
    Ok(Flood {
        sent,
        received,
        seconds,
        cpu_ns: meter.finish(sender_cpu + receiver_cpu),
    })
}

/// Round trips in microseconds: one datagram at a time from the host side,
/// echoed by a socket in netns_2. A probe that gets no answer within
/// `per_probe` is counted as lost, not as a time.
pub fn udp_rtt(lab: &Lab, limits: Limits, per_probe: Duration) -> Result<Vec<f64>, LabError> {
    let echo = lab.udp_listener()?;
    let tx = lab.host_udp_socket()?;
    tx.connect(LISTEN_ADDR)
        .map_err(failed("connecting the sender"))?;
    let start = Instant::now();
    let end = start + limits.time;
    let stop = AtomicBool::new(false);
    std::thread::scope(|s| {
        s.spawn(|| {
            while !stop.load(Ordering::Acquire) && Instant::now() < end {
                let slice = (Instant::now() + Duration::from_millis(20)).min(end);
                if let Ok(Some(d)) = recv_one(&echo, slice) {
                    let _ = echo.send_to(&d.payload, d.from);
                }
            }
        });
        let result = ping_pong(&tx, limits, end, per_probe);
        stop.store(true, Ordering::Release);
        result
    })
}

fn ping_pong(
    tx: &UdpSocket,
    limits: Limits,
    end: Instant,
    per_probe: Duration,
) -> Result<Vec<f64>, LabError> {
    let mut rtts = Vec::new();
    for seq in 0..limits.packets {
        let now = Instant::now();
        if now >= end {
            break;
        }
        let msg = seq.to_be_bytes();
        let t0 = Instant::now();
        tx.send(&msg).map_err(failed("sending a probe"))?;
        let deadline = (t0 + per_probe).min(end);
        // Skip late answers to earlier probes: only this one counts.
        while let Some(d) = recv_one(tx, deadline).map_err(failed("waiting for an echo"))? {
            if d.payload == msg {
                rtts.push(t0.elapsed().as_secs_f64() * 1e6);
                break;
            }
        }
    }
    Ok(rtts)
}

/// The nearest-rank percentile `p` (0..=100) of `v`; `None` when empty.
pub fn percentile(v: &[f64], p: f64) -> Option<f64> {
    if v.is_empty() {
        return None;
    }
    let mut s = v.to_vec();
    s.sort_by(f64::total_cmp);
    let rank = ((p / 100.0) * s.len() as f64).ceil() as usize;
    Some(s[rank.clamp(1, s.len()) - 1])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_by_nearest_rank() {
        let v: Vec<f64> = (1..=100).map(f64::from).collect();
        assert_eq!(percentile(&v, 50.0), Some(50.0));
        assert_eq!(percentile(&v, 99.0), Some(99.0));
        assert_eq!(percentile(&[3.0, 1.0, 2.0], 50.0), Some(2.0));
        assert_eq!(percentile(&[], 50.0), None);
    }

    #[test]
    fn nothing_delivered_has_no_cost_per_packet() {
        let f = Flood {
            sent: 10,
            received: 0,
            seconds: 1.0,
            cpu_ns: 100,
        };
        assert_eq!(f.cpu_ns_per_packet(), None);
        assert_eq!(f.pps(), 0.0);
    }
}
