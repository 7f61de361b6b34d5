//! UDP and TCP transports around [`answer_into`].
//!
//! UDP: a few sockets bound to the same address with SO_REUSEPORT (the kernel spreads
//! datagrams across them), one receive loop each, buffers reused, no task per query. On
//! Linux the loops are OS threads moving batches with recvmmsg/sendmmsg (`udp`).
//! TCP: an accept loop bounded by a connection limit, one task per connection reading
//! length-prefixed messages in order (pipelined queries are answered in turn), closed
//! after an idle timeout, and after a maximum lifetime or number of queries (so no client
//! holds a connection slot forever, however well it behaves).

use std::io;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use arc_swap::ArcSwap;
use prometheus::Histogram;
use socket2::{Domain, Protocol, Socket, Type};
use tokio::io::{AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::{TcpListener, TcpStream, UdpSocket};
use tokio::sync::{watch, Semaphore};
use tokio::task::JoinSet;
use tracing::Instrument;

use super::config::DnsServerConfig;
use super::tcp_limits::ClientSlots;
use crate::dns::answer::{answer_into, QueryContext};
use crate::dns::rrl::udp_answer;
use crate::dns::stats::{count_transport_drop, Transport};
use crate::dns::update;
use crate::dns::view::snapshot::DnsSnapshot;
use crate::dns::xfr::{self, XfrConfig};
use crate::metrics::{DNS_QUERY_DURATION, DNS_TCP_CLOSED_TOTAL, DNS_TCP_REFUSED_TOTAL};

/// Bound (but not yet serving) DNS sockets.
pub struct DnsServer {
    udp: Vec<std::net::UdpSocket>,
    tcp: std::net::TcpListener,
    local_addr: SocketAddr,
    snapshot: Arc<ArcSwap<DnsSnapshot>>,
    config: DnsServerConfig,
}

const BIND_ATTEMPTS: usize = 16;

impl DnsServer {
    /// Binds UDP and TCP on `addr` with the default configuration. With port 0 both
    /// transports get the same ephemeral port.
    pub fn bind(addr: SocketAddr, snapshot: Arc<ArcSwap<DnsSnapshot>>) -> io::Result<DnsServer> {
        Self::bind_with(addr, snapshot, DnsServerConfig::default())
    }

    pub fn bind_with(
        addr: SocketAddr,
        snapshot: Arc<ArcSwap<DnsSnapshot>>,
        config: DnsServerConfig,
    ) -> io::Result<DnsServer> {
        let mut last_err = None;
        for _ in 0..BIND_ATTEMPTS {
            match bind_pair(addr, config.udp_sockets.max(1)) {
                Ok((udp, tcp, local_addr)) => {
                    return Ok(DnsServer { udp, tcp, local_addr, snapshot, config });
                }
                // The UDP port picked for port 0 may be taken for TCP: pick again.
                Err(e) if addr.port() == 0 && e.kind() == io::ErrorKind::AddrInUse => last_err = Some(e),
                Err(e) => return Err(e),
            }
        }
        Err(last_err.unwrap_or_else(|| io::Error::new(io::ErrorKind::AddrInUse, "no free port")))
    }

    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    /// Serves until `shutdown` turns true (or its sender is dropped).
    pub async fn run(self, mut shutdown: watch::Receiver<bool>) -> io::Result<()> {
        let mut tasks = JoinSet::new();
        // QUORUMDNS_UDP_LOOP=tokio selects the portable task loop (for comparison).
        #[cfg(target_os = "linux")]
        let threads = std::env::var("QUORUMDNS_UDP_LOOP").map_or(true, |v| v != "tokio");
        #[cfg(not(target_os = "linux"))]
        let threads = false;
        #[cfg(target_os = "linux")]
        let mut udp_workers = None;
        if threads {
            #[cfg(target_os = "linux")]
            {
                udp_workers =
                    Some(super::udp::UdpWorkers::spawn(self.udp, self.snapshot.clone(), self.config.clone())?);
            }
        } else {
            for socket in self.udp {
                let socket = UdpSocket::from_std(socket)?;
                tasks.spawn(udp_loop(Arc::new(socket), self.snapshot.clone(), self.config.clone()));
            }
        }
        let listener = TcpListener::from_std(self.tcp)?;
        tasks.spawn(tcp_accept_loop(listener, self.snapshot, self.config, shutdown.clone()));
        tracing::info!(addr = %self.local_addr, "DNS server listening");
        let _ = shutdown.wait_for(|stop| *stop).await;
        tasks.shutdown().await;
        #[cfg(target_os = "linux")]
        let _ = tokio::task::spawn_blocking(move || drop(udp_workers)).await;
        Ok(())
    }
}

fn bind_pair(
    addr: SocketAddr,
    udp_count: usize,
) -> io::Result<(Vec<std::net::UdpSocket>, std::net::TcpListener, SocketAddr)> {
    // With port 0, let the kernel pick a port no UDP socket holds, using a socket without
    // SO_REUSEPORT: an ephemeral pick for a reuseport socket may land in another
    // reuseport group of the same user (another server in this process, say) and share
    // its traffic. The port is then bound again as a reuseport group; if someone took it
    // in between, the bind fails with AddrInUse and the caller picks again.
    let addr = if addr.port() == 0 { std::net::UdpSocket::bind(addr)?.local_addr()? } else { addr };
    let mut udp = Vec::with_capacity(udp_count);
    for _ in 0..udp_count {
        udp.push(udp_socket(addr)?);
    }
    let local = udp[0].local_addr()?;
    let tcp = Socket::new(Domain::for_address(local), Type::STREAM, Some(Protocol::TCP))?;
    tcp.set_reuse_address(true)?;
    tcp.set_nonblocking(true)?;
    tcp.bind(&local.into())?;
    tcp.listen(1024)?;
    Ok((udp, tcp.into(), local))
}

fn udp_socket(addr: SocketAddr) -> io::Result<std::net::UdpSocket> {
    let s = Socket::new(Domain::for_address(addr), Type::DGRAM, Some(Protocol::UDP))?;
    #[cfg(unix)]
    s.set_reuse_port(true)?;
    s.set_nonblocking(true)?;
    s.bind(&addr.into())?;
    Ok(s.into())
}

async fn udp_loop(socket: Arc<UdpSocket>, snapshot: Arc<ArcSwap<DnsSnapshot>>, config: DnsServerConfig) {
    let duration = DNS_QUERY_DURATION.with_label_values(&[Transport::Udp.as_str()]);
    let mut buf = vec![0u8; 4096];
    let mut out = Vec::with_capacity(4096);
    loop {
        let (len, peer) = match socket.recv_from(&mut buf).await {
            Ok(r) => r,
            Err(e) => {
                // ICMP errors from earlier sends surface here on some platforms; keep going.
                tracing::debug!(error = %e, "udp recv");
                continue;
            }
        };
        if let Some(u) = config.update.as_ref() {
            if update::is_update(&buf[..len]) {
                u.spawn_udp(
                    buf[..len].to_vec(),
                    peer,
                    update::UdpReply::Tokio(socket.clone()),
                    &tokio::runtime::Handle::current(),
                );
                continue;
            }
        }
        let start = Instant::now();
        let send = udp_answer(&snapshot.load(), &buf[..len], peer.ip(), &config.policy, &config.rrl, &mut out);
        duration.observe(start.elapsed().as_secs_f64());
        if !send {
            continue;
        }
        if let Some(u) = config.update.as_ref() {
            update::signed::finish(&u.keys(), &buf[..len], &mut out);
        }
        if let Err(e) = socket.send_to(&out, peer).await {
            tracing::debug!(error = %e, %peer, "udp send");
        }
    }
}

fn answer_timed(
    snapshot: &ArcSwap<DnsSnapshot>,
    query: &[u8],
    ctx: &QueryContext,
    out: &mut Vec<u8>,
    duration: &Histogram,
) -> bool {
    let start = Instant::now();
    let answered = answer_into(&snapshot.load(), query, ctx, out);
    duration.observe(start.elapsed().as_secs_f64());
    answered
}

async fn tcp_accept_loop(
    listener: TcpListener,
    snapshot: Arc<ArcSwap<DnsSnapshot>>,
    config: DnsServerConfig,
    shutdown: watch::Receiver<bool>,
) {
    let slots = Arc::new(Semaphore::new(config.max_tcp_connections));
    let client_slots = ClientSlots::new(config.max_tcp_per_client);
    let mut connections = JoinSet::new();
    loop {
        let (stream, peer) = match listener.accept().await {
            Ok(c) => c,
            Err(e) => {
                // EMFILE and friends: back off briefly instead of spinning.
                tracing::warn!(error = %e, "tcp accept");
                tokio::time::sleep(Duration::from_millis(50)).await;
                continue;
            }
        };
        // Reap finished connection tasks so the set does not grow.
        while connections.try_join_next().is_some() {}
        let Ok(permit) = slots.clone().try_acquire_owned() else {
            count_transport_drop("tcp_limit");
            DNS_TCP_REFUSED_TOTAL.with_label_values(&["total"]).inc();
            drop(stream);
            continue;
        };
        let Some(client_slot) = client_slots.acquire(peer.ip()) else {
            count_transport_drop("tcp_client_limit");
            DNS_TCP_REFUSED_TOTAL.with_label_values(&["per_client"]).inc();
            drop(stream);
            continue;
        };
        let span = tracing::debug_span!("dns_tcp", %peer);
        let conn = tcp_connection(stream, peer, snapshot.clone(), config.clone(), shutdown.clone());
        connections.spawn(
            async move {
                conn.await;
                drop(client_slot);
                drop(permit);
            }
            .instrument(span),
        );
    }
}

async fn tcp_connection(
    stream: TcpStream,
    peer: SocketAddr,
    snapshot: Arc<ArcSwap<DnsSnapshot>>,
    config: DnsServerConfig,
    mut shutdown: watch::Receiver<bool>,
) {
    let idle = config.tcp_idle_timeout;
    let mut cap = ConnectionCap::new(config.tcp_max_lifetime, config.tcp_max_queries);
    let _ = stream.set_nodelay(true);
    let (read, mut write) = stream.into_split();
    let mut read = BufReader::new(read);
    let ctx = QueryContext::tcp().with_policy(peer.ip(), &config.policy);
    let duration = DNS_QUERY_DURATION.with_label_values(&[Transport::Tcp.as_str()]);
    let mut query = Vec::with_capacity(512);
    let mut out = Vec::with_capacity(4096);
    let mut framed = Vec::with_capacity(4096);
    loop {
        if cap.used_up() {
            close(CloseReason::Queries);
            return;
        }
        let Some((wait, wait_ends)) = cap.next_wait(idle) else {
            close(CloseReason::Lifetime);
            return;
        };
        let next = tokio::select! {
            r = tokio::time::timeout(wait, read_message(&mut read, &mut query)) => r,
            _ = shutdown.wait_for(|stop| *stop) => return,
        };
        match next {
            Err(_) => {
                close(wait_ends);
                return;
            }
            Ok(Err(e)) => {
                if e.kind() != io::ErrorKind::UnexpectedEof {
                    tracing::debug!(error = %e, "tcp read");
                }
                return;
            }
            Ok(Ok(())) => cap.received(),
        }
        if xfr::is_transfer(&query) {
            if transfer(&mut write, &snapshot, &config.xfr, &query, peer, idle).await.is_err() {
                return;
            }
            continue;
        }
        match config.update.as_ref() {
            Some(u) if update::is_update(&query) => match u.handle(&query, peer, "tcp").await {
                Some(resp) => out = resp,
                None => continue,
            },
            _ => {
                if !answer_timed(&snapshot, &query, &ctx, &mut out, &duration) {
                    continue;
                }
                if let Some(u) = config.update.as_ref() {
                    update::signed::finish(&u.keys(), &query, &mut out);
                }
            }
        }
        let Ok(len) = u16::try_from(out.len()) else { continue };
        framed.clear();
        framed.extend_from_slice(&len.to_be_bytes());
        framed.extend_from_slice(&out);
        // A client that stops reading must not pin the task: the idle timeout bounds writes too.
        match tokio::time::timeout(idle, write.write_all(&framed)).await {
            Ok(Ok(())) => {}
            Ok(Err(e)) => {
                tracing::debug!(error = %e, "tcp write");
                return;
            }
            Err(_) => {
                close(CloseReason::WriteTimeout);
                return;
            }
        }
    }
}

/// Why the server closed a TCP connection (the `reason` of `dns_tcp_closed_total`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum CloseReason {
    Idle,
    WriteTimeout,
    Lifetime,
    Queries,
}

impl CloseReason {
    fn as_str(self) -> &'static str {
        match self {
            CloseReason::Idle => "idle",
            CloseReason::WriteTimeout => "write_timeout",
            CloseReason::Lifetime => "lifetime",
            CloseReason::Queries => "queries",
        }
    }
}

fn close(reason: CloseReason) {
    tracing::debug!(reason = reason.as_str(), "closing tcp connection");
    DNS_TCP_CLOSED_TOTAL.with_label_values(&[reason.as_str()]).inc();
}

/// The lifetime and query caps of one connection.
struct ConnectionCap {
    /// When the connection must close (None: no lifetime limit).
    deadline: Option<Instant>,
    queries_left: Option<usize>,
}

impl ConnectionCap {
    fn new(max_lifetime: Duration, max_queries: usize) -> Self {
        ConnectionCap {
            deadline: (!max_lifetime.is_zero()).then(|| Instant::now() + max_lifetime),
            queries_left: (max_queries > 0).then_some(max_queries),
        }
    }

    /// How long to wait for the next message, and why the wait would end: the idle
    /// timeout, or the connection's lifetime if that ends first. None once the lifetime is
    /// over (a client that always has the next query ready must not outlive it).
    fn next_wait(&self, idle: Duration) -> Option<(Duration, CloseReason)> {
        let Some(deadline) = self.deadline else { return Some((idle, CloseReason::Idle)) };
        let left = deadline.checked_duration_since(Instant::now()).filter(|l| !l.is_zero())?;
        Some(if left < idle { (left, CloseReason::Lifetime) } else { (idle, CloseReason::Idle) })
    }

    /// Counts one message read (answered or not: unanswerable messages must not keep a
    /// connection open either).
    fn received(&mut self) {
        if let Some(n) = &mut self.queries_left {
            *n = n.saturating_sub(1);
        }
    }

    /// Whether the connection has used up its messages (it closes once the last is handled).
    fn used_up(&self) -> bool {
        self.queries_left == Some(0)
    }
}

/// Streams a zone transfer: the messages are built on a blocking thread (a large zone
/// takes a while) and handed over through a short queue, so memory stays bounded by a
/// few messages and a slow client slows the producer down instead of piling up data.
async fn transfer<W: AsyncWriteExt + Unpin>(
    write: &mut W,
    snapshot: &ArcSwap<DnsSnapshot>,
    config: &XfrConfig,
    query: &[u8],
    peer: SocketAddr,
    idle: Duration,
) -> io::Result<()> {
    let now = crate::dns::tsig::now();
    let job = xfr::prepare(&snapshot.load(), config, query, peer.ip(), now);
    tracing::info!(%peer, qtype = job.qtype, outcome = job.outcome, "zone transfer request");
    let (tx, mut rx) = tokio::sync::mpsc::channel::<Vec<u8>>(4);
    let producer = tokio::task::spawn_blocking(move || job.run(now, &mut |m| tx.blocking_send(m).is_ok()));
    let mut result = Ok(());
    while let Some(msg) = rx.recv().await {
        let Ok(len) = u16::try_from(msg.len()) else { continue };
        let write_all = async {
            write.write_all(&len.to_be_bytes()).await?;
            write.write_all(&msg).await
        };
        match tokio::time::timeout(idle, write_all).await {
            Ok(Ok(())) => {}
            Ok(Err(e)) => {
                result = Err(e);
                break;
            }
            Err(_) => {
                result = Err(io::Error::new(io::ErrorKind::TimedOut, "write timeout"));
                break;
            }
        }
    }
    // Dropping the receiver stops the producer at its next message.
    drop(rx);
    let _ = producer.await;
    if let Err(e) = &result {
        tracing::debug!(error = %e, "transfer aborted");
    }
    result
}

/// Reads one 2-byte length-prefixed message into `buf`.
async fn read_message<R: AsyncReadExt + Unpin>(read: &mut R, buf: &mut Vec<u8>) -> io::Result<()> {
    let len = read.read_u16().await? as usize;
    buf.resize(len, 0);
    read.read_exact(buf).await?;
    Ok(())
}
