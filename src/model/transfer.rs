//! Who may transfer a zone and whom to notify of its changes (replicated per zone).

use std::net::SocketAddr;

use ipnet::IpNet;
use serde::{Deserialize, Serialize};

use super::name::Fqdn;

/// A zone's secondaries, as set through the API. The node's config file may add more
/// (networks, keys, notify targets) locally; the effective sets are the union.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ZoneTransfer {
    /// Source networks allowed to AXFR/IXFR the zone without TSIG.
    #[serde(default)]
    pub allow_transfer: Vec<IpNet>,
    /// TSIG key names (defined in each node's config) whose signed requests may transfer.
    #[serde(default)]
    pub transfer_tsig: Vec<Fqdn>,
    /// Secondaries to NOTIFY (RFC 1996) after each new serial.
    #[serde(default)]
    pub notify: Vec<SocketAddr>,
    /// Versions of IXFR history kept (default 1000); 0 disables IXFR (always AXFR).
    #[serde(default)]
    pub journal_versions: Option<u32>,
}
