//! The DNS sockets: the TCP accept loop and the UDP loops (`recvmmsg`/`sendmmsg` worker
//! threads on Linux), with TCP connection limits. They move bytes between sockets and
//! `dns::answer`, `dns::xfr` and `dns::update`; they know nothing of DNS semantics.

pub mod config;
pub mod server;
pub mod tcp_limits;
#[cfg(target_os = "linux")]
pub mod udp;
