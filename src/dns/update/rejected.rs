//! UPDATEs refused before they reach Raft: malformed, unsigned, failed TSIG (BADSIG,
//! BADKEY, BADTIME), a zone this cluster does not serve, or a key used outside its
//! policy. They must not write to the log (a flood of bad UPDATEs must not grow it), so
//! each node keeps the last [`REJECTED_LIMIT`] of its own in a ring in memory, and
//! `GET /api/v1/updates` merges them with the replicated history (docs/clients.md,
//! "UPDATE history"). The ring is per node and lost on restart, like a server log.

use std::collections::VecDeque;
use std::sync::Mutex;

use crate::metrics::DNS_UPDATES_REJECTED_TOTAL;
use crate::model::Fqdn;

/// Rejected UPDATEs kept per node.
pub const REJECTED_LIMIT: usize = 256;

/// Why an UPDATE was refused before Raft (the metric's `reason` label).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Reason {
    Malformed,
    BadTsig,
    Unsigned,
    NotAuthoritative,
    Policy,
}

impl Reason {
    pub fn as_str(self) -> &'static str {
        match self {
            Reason::Malformed => "formerr",
            Reason::BadTsig => "bad_tsig",
            Reason::Unsigned => "unsigned",
            Reason::NotAuthoritative => "not_authoritative",
            Reason::Policy => "policy",
        }
    }
}

/// One refused UPDATE, as the history shows it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RejectedUpdate {
    /// Unix ms when this node answered it.
    pub at: u64,
    /// The zone section, when the message had a readable one.
    pub zone: Option<Fqdn>,
    /// The key name the message claimed (verified or not); `None` when unsigned.
    pub key: Option<Fqdn>,
    pub source: String,
    pub rcode: u16,
    pub reason: Reason,
    /// BADSIG, BADKEY or BADTIME when the TSIG failed.
    pub tsig_error: Option<&'static str>,
    /// The update RRs as asked, when they could be read.
    pub changes: Vec<String>,
}

#[derive(Debug, Default)]
pub struct RejectedRing(Mutex<VecDeque<RejectedUpdate>>);

impl RejectedRing {
    /// Keeps `entry`, dropping the oldest beyond the limit, and counts it.
    pub fn push(&self, entry: RejectedUpdate) {
        DNS_UPDATES_REJECTED_TOTAL.with_label_values(&[entry.reason.as_str()]).inc();
        let mut ring = self.0.lock().unwrap_or_else(|p| p.into_inner());
        ring.push_back(entry);
        while ring.len() > REJECTED_LIMIT {
            ring.pop_front();
        }
    }

    /// The kept entries, oldest first.
    pub fn entries(&self) -> Vec<RejectedUpdate> {
        self.0.lock().unwrap_or_else(|p| p.into_inner()).iter().cloned().collect()
    }
}

/// A key name in uncompressed wire form (as in a TSIG RR), if it is a valid name.
pub fn wire_name(wire: &[u8]) -> Option<Fqdn> {
    Fqdn::from_wire(wire).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(i: u64) -> RejectedUpdate {
        RejectedUpdate {
            at: i,
            zone: None,
            key: None,
            source: "192.0.2.1:53".into(),
            rcode: 5,
            reason: Reason::Unsigned,
            tsig_error: None,
            changes: vec![],
        }
    }

    #[test]
    fn the_ring_keeps_the_newest_entries_up_to_its_limit() {
        let ring = RejectedRing::default();
        for i in 0..(REJECTED_LIMIT as u64 + 10) {
            ring.push(entry(i));
        }
        let kept = ring.entries();
        assert_eq!(kept.len(), REJECTED_LIMIT);
        assert_eq!(kept.first().map(|e| e.at), Some(10));
        assert_eq!(kept.last().map(|e| e.at), Some(REJECTED_LIMIT as u64 + 9));
    }

    #[test]
    fn wire_names_decode_and_garbage_does_not_panic() {
        let k = Fqdn::parse("acme-key.example").unwrap();
        assert_eq!(wire_name(&k.to_wire()), Some(k));
        assert_eq!(wire_name(&[5, b'a']), None);
        assert_eq!(wire_name(&[]), None);
        // Any octet is legal in a label (RFC 2181 11).
        assert_eq!(wire_name(&[1, 0xff, 0]), Fqdn::parse("\\255").ok());
        assert_eq!(wire_name(&[64, 0]), None);
    }
}
