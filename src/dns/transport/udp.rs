//! The UDP query loop on Linux: one OS thread per SO_REUSEPORT socket, moving datagrams
//! in batches with `recvmmsg`/`sendmmsg`.
//!
//! Why not a tokio task: each `recv_from().await` is a readiness check, a `recvfrom`, and
//! on an empty queue an `epoll_wait` and a wake-up through the runtime; under load this
//! costs more than answering. A blocking thread that takes up to [`BATCH`] datagrams per
//! system call and sends the answers with one more pays a fraction of that per query, and
//! the kernel's reuseport hashing spreads clients over the threads. All buffers are
//! allocated once per thread; answering does not allocate.
//!
//! The threads check a stop flag at least every [`POLL`] (the socket has a receive
//! timeout), so shutdown takes at most that long.

use std::io;
use std::os::fd::AsRawFd;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use arc_swap::ArcSwap;

use super::config::DnsServerConfig;
use crate::dns::rrl::udp_answer;
use crate::dns::stats::Transport;
use crate::dns::update::{self, UdpReply};
use crate::dns::view::snapshot::DnsSnapshot;
use crate::metrics::{DNS_QUERY_DURATION, UDP_COALESCE_WAITS_TOTAL};

/// Datagrams per system call.
pub const BATCH: usize = 32;
/// Largest query we read; longer datagrams are truncated by the kernel (and then
/// answered FORMERR or dropped by the parser).
const MAX_QUERY: usize = 4096;
/// How often an idle thread looks at the stop flag.
const POLL: Duration = Duration::from_millis(100);

/// The running UDP threads; dropping this stops them (and waits for them).
pub struct UdpWorkers {
    stop: Arc<AtomicBool>,
    threads: Vec<std::thread::JoinHandle<()>>,
}

impl UdpWorkers {
    /// Must be called inside the tokio runtime: RFC 2136 UPDATEs received by the threads
    /// are handed to it (they wait on Raft).
    pub fn spawn(
        sockets: Vec<std::net::UdpSocket>,
        snapshot: Arc<ArcSwap<DnsSnapshot>>,
        config: DnsServerConfig,
    ) -> io::Result<UdpWorkers> {
        let rt = tokio::runtime::Handle::current();
        let stop = Arc::new(AtomicBool::new(false));
        let mut threads = Vec::with_capacity(sockets.len());
        for (i, socket) in sockets.into_iter().enumerate() {
            socket.set_nonblocking(false)?;
            socket.set_read_timeout(Some(POLL))?;
            let (stop, snapshot) = (stop.clone(), snapshot.clone());
            let env = WorkerEnv { config: config.clone(), rt: rt.clone(), reply: Arc::new(socket.try_clone()?) };
            threads.push(
                std::thread::Builder::new()
                    .name(format!("dns-udp-{i}"))
                    .spawn(move || worker(&socket, &snapshot, &stop, &env))?,
            );
        }
        Ok(UdpWorkers { stop, threads })
    }
}

impl Drop for UdpWorkers {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        for t in self.threads.drain(..) {
            let _ = t.join();
        }
    }
}

/// Per-thread buffers for one batch. The `mmsghdr`s point into the other fields, so the
/// struct lives in a `Box` and is never moved after [`Batch::new`].
struct Batch {
    queries: Box<[[u8; MAX_QUERY]]>,
    answers: Vec<Vec<u8>>,
    addrs: [libc::sockaddr_storage; BATCH],
    recv_iov: [libc::iovec; BATCH],
    recv_hdr: [libc::mmsghdr; BATCH],
    send_iov: [libc::iovec; BATCH],
    send_hdr: [libc::mmsghdr; BATCH],
}

impl Batch {
    fn new() -> Box<Batch> {
        let mut b = Box::new(Batch {
            queries: vec![[0u8; MAX_QUERY]; BATCH].into_boxed_slice(),
            answers: (0..BATCH).map(|_| Vec::with_capacity(MAX_QUERY)).collect(),
            addrs: zeroed(),
            recv_iov: zeroed(),
            recv_hdr: zeroed(),
            send_iov: zeroed(),
            send_hdr: zeroed(),
        });
        for i in 0..BATCH {
            b.recv_iov[i] = libc::iovec { iov_base: b.queries[i].as_mut_ptr().cast(), iov_len: MAX_QUERY };
        }
        b
    }

    /// Receives up to BATCH datagrams, blocking until the first one (or the timeout).
    fn recv(&mut self, fd: i32) -> io::Result<usize> {
        for i in 0..BATCH {
            let hdr = &mut self.recv_hdr[i].msg_hdr;
            hdr.msg_name = (&mut self.addrs[i] as *mut libc::sockaddr_storage).cast();
            hdr.msg_namelen = size_of::<libc::sockaddr_storage>() as libc::socklen_t;
            hdr.msg_iov = &mut self.recv_iov[i];
            hdr.msg_iovlen = 1;
            hdr.msg_control = std::ptr::null_mut();
            hdr.msg_controllen = 0;
            hdr.msg_flags = 0;
            self.recv_hdr[i].msg_len = 0;
        }
        // SAFETY: every header points at live buffers of the advertised sizes in `self`.
        let n = unsafe {
            libc::recvmmsg(fd, self.recv_hdr.as_mut_ptr(), BATCH as u32, libc::MSG_WAITFORONE, std::ptr::null_mut())
        };
        if n < 0 {
            return Err(io::Error::last_os_error());
        }
        Ok(n as usize)
    }

    /// Sends `answers[i]` to `addrs[i]` for each listed slot; a datagram the kernel
    /// refuses is skipped.
    fn send(&mut self, fd: i32, slots: &[usize]) {
        for (k, &i) in slots.iter().enumerate() {
            self.send_iov[k] =
                libc::iovec { iov_base: self.answers[i].as_ptr() as *mut _, iov_len: self.answers[i].len() };
            let hdr = &mut self.send_hdr[k].msg_hdr;
            hdr.msg_name = (&mut self.addrs[i] as *mut libc::sockaddr_storage).cast();
            hdr.msg_namelen = self.recv_hdr[i].msg_hdr.msg_namelen;
            hdr.msg_iov = &mut self.send_iov[k];
            hdr.msg_iovlen = 1;
            hdr.msg_control = std::ptr::null_mut();
            hdr.msg_controllen = 0;
            hdr.msg_flags = 0;
        }
        let mut done = 0;
        while done < slots.len() {
            // SAFETY: headers `done..slots.len()` point at live answer buffers and addresses.
            let n = unsafe { libc::sendmmsg(fd, self.send_hdr[done..].as_mut_ptr(), (slots.len() - done) as u32, 0) };
            if n < 0 {
                let e = io::Error::last_os_error();
                if e.kind() == io::ErrorKind::Interrupted {
                    continue;
                }
                // The first message failed (unreachable peer, buffer full): skip it.
                tracing::debug!(error = %e, "udp send");
                done += 1;
            } else {
                done += n as usize;
            }
        }
    }
}

/// An all-zero C struct (or array of them).
fn zeroed<T: Copy>() -> T {
    // SAFETY: only used for libc's plain C structs (sockaddr_storage, iovec, mmsghdr), for
    // which all-zero bytes (null pointers, zero lengths) are a valid value.
    unsafe { std::mem::zeroed() }
}

/// What a worker needs besides its socket: the policies (cookies, RRL), and the way to
/// hand UPDATEs to the runtime and answer them later.
struct WorkerEnv {
    config: DnsServerConfig,
    rt: tokio::runtime::Handle,
    reply: Arc<std::net::UdpSocket>,
}

/// The peer of datagram `i` of the batch (IPv4 or IPv6).
fn peer_of(batch: &Batch, i: usize) -> Option<std::net::SocketAddr> {
    use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr};
    let storage = &batch.addrs[i];
    match i32::from(storage.ss_family) {
        libc::AF_INET => {
            // SAFETY: the kernel wrote a sockaddr_in for AF_INET; storage is large and aligned enough.
            let a = unsafe { &*(storage as *const libc::sockaddr_storage).cast::<libc::sockaddr_in>() };
            Some(SocketAddr::from((Ipv4Addr::from(u32::from_be(a.sin_addr.s_addr)), u16::from_be(a.sin_port))))
        }
        libc::AF_INET6 => {
            // SAFETY: as above, for AF_INET6 and sockaddr_in6.
            let a = unsafe { &*(storage as *const libc::sockaddr_storage).cast::<libc::sockaddr_in6>() };
            let ip = Ipv6Addr::from(a.sin6_addr.s6_addr);
            Some(SocketAddr::V6(std::net::SocketAddrV6::new(
                ip,
                u16::from_be(a.sin6_port),
                a.sin6_flowinfo,
                a.sin6_scope_id,
            )))
        }
        _ => None,
    }
}

/// Coalescing (`dns.udp_coalesce_us`): when the last read found queries already waiting
/// (load) but took a small batch (not saturated), wait before the next read so that more
/// arrive and one read and one send carry them. Each send that finds the client's socket
/// idle wakes the client, and that wake-up is charged to the sending thread: at 40k
/// queries/s it was most of the kernel time of `sendmmsg` (docs/performance.md). Idle or
/// light traffic (reads that block) and saturation (full batches) never wait.
struct Coalescer {
    wait: Duration,
    last_read: Duration,
    last_n: usize,
}

impl Coalescer {
    fn new(wait: Duration) -> Coalescer {
        Coalescer { wait, last_read: Duration::MAX, last_n: 0 }
    }

    /// How long to wait before the next read, if at all.
    fn wait(&self) -> Option<Duration> {
        (!self.wait.is_zero() && self.last_read < self.wait && self.last_n < BATCH / 2).then_some(self.wait)
    }

    /// A read took `took` and returned `n` datagrams.
    fn read(&mut self, took: Duration, n: usize) {
        (self.last_read, self.last_n) = (took, n);
    }
}

fn worker(socket: &std::net::UdpSocket, snapshot: &ArcSwap<DnsSnapshot>, stop: &AtomicBool, env: &WorkerEnv) {
    let fd = socket.as_raw_fd();
    let duration = DNS_QUERY_DURATION.with_label_values(&[Transport::Udp.as_str()]);
    let mut batch = Batch::new();
    let mut slots = [0usize; BATCH];
    let mut coalescer = Coalescer::new(env.config.udp_coalesce);
    while !stop.load(Ordering::Relaxed) {
        if let Some(wait) = coalescer.wait() {
            UDP_COALESCE_WAITS_TOTAL.inc();
            std::thread::sleep(wait);
        }
        let before = Instant::now();
        let got = batch.recv(fd);
        coalescer.read(before.elapsed(), got.as_ref().map_or(0, |n| *n));
        let n = match got {
            Ok(n) => n,
            Err(e)
                if matches!(
                    e.kind(),
                    io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut | io::ErrorKind::Interrupted
                ) =>
            {
                continue
            }
            Err(e) => {
                // ICMP errors from earlier sends surface here; keep going.
                tracing::debug!(error = %e, "udp recv");
                continue;
            }
        };
        // One snapshot per batch: a batch is answered from one consistent zone version.
        let snap = snapshot.load();
        let mut answered = 0;
        for i in 0..n.min(BATCH) {
            let len = (batch.recv_hdr[i].msg_len as usize).min(MAX_QUERY);
            let Some(peer) = peer_of(&batch, i) else { continue };
            let query = &batch.queries[i][..len];
            if let Some(u) = env.config.update.as_ref() {
                if update::is_update(query) {
                    u.spawn_udp(query.to_vec(), peer, UdpReply::Std(env.reply.clone()), &env.rt);
                    continue;
                }
            }
            let start = Instant::now();
            let c = &env.config;
            let ok = udp_answer(&snap, query, peer.ip(), &c.policy, &c.rrl, &mut batch.answers[i]);
            duration.observe(start.elapsed().as_secs_f64());
            if ok {
                if let Some(u) = env.config.update.as_ref() {
                    update::signed::finish(&u.keys(), query, &mut batch.answers[i]);
                }
                slots[answered] = i;
                answered += 1;
            }
        }
        drop(snap);
        if answered > 0 {
            batch.send(fd, &slots[..answered]);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_a_busy_unsaturated_loop_waits_for_more_queries() {
        let us = Duration::from_micros;
        let mut c = Coalescer::new(us(400));
        assert_eq!(c.wait(), None, "the first read does not wait");
        c.read(us(5), 3);
        assert_eq!(c.wait(), Some(us(400)), "queries were waiting, few of them: wait");
        c.read(us(900), 1);
        assert_eq!(c.wait(), None, "the read blocked (light traffic): answer at once");
        c.read(us(5), BATCH / 2);
        assert_eq!(c.wait(), None, "big batches (saturation): read at once");
        c.read(us(5), 0);
        assert_eq!(c.wait(), Some(us(400)));
        let mut off = Coalescer::new(Duration::ZERO);
        off.read(Duration::ZERO, 1);
        assert_eq!(off.wait(), None, "0 turns it off");
    }
}
