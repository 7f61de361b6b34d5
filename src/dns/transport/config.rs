//! The transports' runtime settings: the `[dns]` section's limits as durations and counts,
//! plus the handlers the transports hand messages to.

use std::sync::Arc;
use std::time::Duration;

use crate::dns::config::DnsConfig;
use crate::dns::edns::EdnsPolicy;
use crate::dns::rrl::{Rrl, RrlConfig};
use crate::dns::update::UpdateHandler;
use crate::dns::xfr::XfrConfig;

/// Transport settings.
#[derive(Clone, Debug)]
pub struct DnsServerConfig {
    /// A TCP connection with no complete query for this long is closed.
    pub tcp_idle_timeout: Duration,
    /// Connections beyond this are closed right after accept.
    pub max_tcp_connections: usize,
    /// UDP sockets sharing the port (SO_REUSEPORT), each with its own receive loop.
    pub udp_sockets: usize,
    /// TSIG keys and this node's zone transfer ACL additions.
    pub xfr: Arc<XfrConfig>,
    /// RFC 2136 UPDATE and signed queries; without it UPDATE gets NOTIMP.
    pub update: Option<Arc<UpdateHandler>>,
    /// NSID and cookies (src/dns/edns.rs, cookie.rs).
    pub policy: Arc<EdnsPolicy>,
    /// UDP response rate limiting (src/dns/rrl.rs).
    pub rrl: Arc<Rrl>,
    /// Open TCP connections allowed per client address (0 = no limit).
    pub max_tcp_per_client: usize,
    /// A TCP connection is closed once it is this old (checked between messages: an
    /// answer or a zone transfer in progress is finished first). Zero: no limit.
    pub tcp_max_lifetime: Duration,
    /// A TCP connection is closed after answering this many messages (0 = no limit).
    pub tcp_max_queries: usize,
    /// How long a busy UDP loop lets queries gather before its next read (see `udp`);
    /// zero: never waits.
    pub udp_coalesce: Duration,
}

impl DnsServerConfig {
    /// The transport settings of `[dns]`, with no TSIG keys, no UPDATE, and the EDNS and
    /// rate-limit policies at their defaults (`node` sets those from the same section).
    pub fn from_config(c: &DnsConfig) -> Self {
        DnsServerConfig {
            tcp_idle_timeout: Duration::from_secs(c.tcp_idle_timeout_secs),
            max_tcp_connections: c.tcp_max_connections,
            // One socket and loop per core this process may run on (the affinity mask:
            // under `taskset -c 1` that is one; a second loop would only add context switches).
            udp_sockets: std::thread::available_parallelism().map_or(2, |n| n.get()).clamp(1, 16),
            xfr: Arc::new(XfrConfig::default()),
            update: None,
            policy: Arc::new(EdnsPolicy::default()),
            rrl: Arc::new(Rrl::new(RrlConfig::default())),
            max_tcp_per_client: c.tcp_max_per_client,
            tcp_max_lifetime: Duration::from_secs(c.tcp_max_lifetime_secs),
            tcp_max_queries: c.tcp_max_queries,
            udp_coalesce: Duration::from_micros(c.udp_coalesce_us),
        }
    }
}

impl Default for DnsServerConfig {
    fn default() -> Self {
        DnsServerConfig::from_config(&DnsConfig::default())
    }
}
