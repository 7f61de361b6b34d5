//! A zone: SOA parameters, a serial, and record sets by owner name.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::name::Fqdn;
use super::node::Node;
use super::record::{RData, RType, RecordSet};
use super::serial::Serial;

/// The SOA fields an operator sets; the serial is the zone's own.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SoaParams {
    pub mname: Fqdn,
    pub rname: Fqdn,
    pub refresh: u32,
    pub retry: u32,
    pub expire: u32,
    /// Negative-caching TTL (RFC 2308).
    pub minimum: u32,
    /// TTL of the SOA record itself.
    pub ttl: u32,
}

impl SoaParams {
    pub fn defaults_for(origin: &Fqdn) -> Self {
        let child = |l: &str| origin.child(l).unwrap_or_else(|_| origin.clone());
        SoaParams {
            mname: child("ns1"),
            rname: child("hostmaster"),
            refresh: 3600,
            retry: 600,
            expire: 1_209_600,
            minimum: 60,
            ttl: 3600,
        }
    }

    /// SOA RDATA in wire format for the given serial.
    pub fn write_rdata(&self, serial: Serial, out: &mut Vec<u8>) {
        self.mname.write_wire(out);
        self.rname.write_wire(out);
        for v in [serial.0, self.refresh, self.retry, self.expire, self.minimum] {
            out.extend_from_slice(&v.to_be_bytes());
        }
    }

    pub fn presentation(&self, serial: Serial) -> String {
        format!(
            "{} {} {} {} {} {} {}",
            self.mname.to_dotted(),
            self.rname.to_dotted(),
            serial.0,
            self.refresh,
            self.retry,
            self.expire,
            self.minimum
        )
    }
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Zone {
    pub origin: Fqdn,
    pub soa: SoaParams,
    pub serial: Serial,
    /// Record sets by owner name. Never contains SOA; never contains empty nodes.
    pub nodes: BTreeMap<Fqdn, Node>,
}

impl Zone {
    pub fn new(origin: Fqdn, soa: SoaParams, serial: Serial) -> Self {
        Zone { origin, soa, serial, nodes: BTreeMap::new() }
    }

    pub fn rrset(&self, name: &Fqdn, rtype: RType) -> Option<&RecordSet> {
        self.nodes.get(name).and_then(|n| n.get(&rtype))
    }

    /// Number of resource records, SOA included.
    pub fn record_count(&self) -> usize {
        1 + self.nodes.values().flat_map(|n| n.values()).map(|s| s.data.len()).sum::<usize>()
    }

    /// Every record, in canonical order, for export and transfer. SOA first.
    pub fn records(&self) -> impl Iterator<Item = (&Fqdn, RType, u32, &RData)> {
        self.nodes.iter().flat_map(|(name, node)| {
            node.iter().flat_map(move |(t, set)| set.data.iter().map(move |d| (name, *t, set.ttl, d)))
        })
    }
}
