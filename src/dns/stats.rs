//! Pre-resolved handles to the per-query counters.
//!
//! `IntCounterVec::with_label_values` hashes the labels and takes a lock on every call;
//! at a few hundred nanoseconds per query that is a noticeable share of an answer. The
//! label space here is small and fixed, so each combination is resolved once, on first
//! use (unused combinations never appear in `/metrics`).

use std::sync::OnceLock;

use prometheus::IntCounter;

use crate::metrics::{DNS_DROPPED_TOTAL, DNS_QUERIES_TOTAL};

use super::wire::DropReason;

/// Query types with their own label; everything else is counted as "other".
const QTYPES: [(u16, &str); 16] = [
    (1, "A"),
    (2, "NS"),
    (5, "CNAME"),
    (6, "SOA"),
    (12, "PTR"),
    (15, "MX"),
    (16, "TXT"),
    (28, "AAAA"),
    (33, "SRV"),
    (43, "DS"),
    (64, "SVCB"),
    (65, "HTTPS"),
    (251, "IXFR"),
    (252, "AXFR"),
    (255, "ANY"),
    (257, "CAA"),
];
/// Two extra qtype slots: "other" and "none" (no question could be read).
const QTYPE_SLOTS: usize = QTYPES.len() + 2;

const RCODES: [(u16, &str); 8] = [
    (0, "NOERROR"),
    (1, "FORMERR"),
    (2, "SERVFAIL"),
    (3, "NXDOMAIN"),
    (4, "NOTIMP"),
    (5, "REFUSED"),
    (16, "BADVERS"),
    (u16::MAX, "OTHER"),
];

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Transport {
    Udp,
    Tcp,
}

impl Transport {
    pub fn as_str(self) -> &'static str {
        match self {
            Transport::Udp => "udp",
            Transport::Tcp => "tcp",
        }
    }
}

const SLOTS: usize = QTYPE_SLOTS * RCODES.len() * 2;
static QUERY_COUNTERS: [OnceLock<IntCounter>; SLOTS] = [const { OnceLock::new() }; SLOTS];
static DROP_COUNTERS: [OnceLock<IntCounter>; 2] = [const { OnceLock::new() }; 2];

/// Counts one answered query. `qtype` is `None` when the question could not be read.
pub fn count_query(qtype: Option<u16>, rcode: u16, transport: Transport) {
    let (qi, qlabel) = match qtype {
        None => (QTYPES.len() + 1, "none"),
        Some(t) => match QTYPES.iter().position(|(c, _)| *c == t) {
            Some(i) => (i, QTYPES[i].1),
            None => (QTYPES.len(), "other"),
        },
    };
    let ri = RCODES.iter().position(|(c, _)| *c == rcode).unwrap_or(RCODES.len() - 1);
    let ti = transport as usize;
    let slot = (qi * RCODES.len() + ri) * 2 + ti;
    if let Some(cell) = QUERY_COUNTERS.get(slot) {
        cell.get_or_init(|| DNS_QUERIES_TOTAL.with_label_values(&[qlabel, RCODES[ri].1, transport.as_str()])).inc();
    }
}

pub fn count_drop(reason: DropReason) {
    let i = match reason {
        DropReason::Short => 0,
        DropReason::Response => 1,
    };
    DROP_COUNTERS[i].get_or_init(|| DNS_DROPPED_TOTAL.with_label_values(&[reason.as_str()])).inc();
}

/// Drops that happen in the transports rather than in the parser.
pub fn count_transport_drop(reason: &'static str) {
    DNS_DROPPED_TOTAL.with_label_values(&[reason]).inc();
}
