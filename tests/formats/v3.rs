//! The format-3 examples: domain names beyond the classic syntax (escapes, any octet, a
//! `*` that is not the leftmost label). No layout changed: these are values that a node of
//! format 2 cannot read, written under the leading byte 3. Frozen like `v1.rs` and
//! `v2.rs`: add examples, never change one.

use openraft::EntryPayload;
use quorumdns::model::{RData, RType, RecordSet};
use quorumdns::raft::types::{Entry, Request};
use quorumdns::state::{ClusterVersion, Command, RequestId, State};

use super::v1::{log_id, name, zone, AT};

/// A record set whose owner and CNAME target only format 3 expresses.
fn set_escaped() -> Command {
    Command::SetRecordSet {
        zone: zone(),
        name: name("dot\\.label.example.test"),
        rtype: RType::Cname,
        ttl: 300,
        data: vec![RData::Cname(name("x.*.w5.example.test"))],
    }
}

/// A log entry's payload with such a record set, as `Service::submit` proposes it.
pub(crate) fn request() -> Request {
    let id = RequestId((0x0123_4567_89ab_cdef << 64) | 5);
    Request { command: Command::WithId { id, at: AT, deadline: AT + 30_000, command: Box::new(set_escaped()) } }
}

pub(crate) fn entries() -> Vec<(&'static str, Entry)> {
    vec![("entry_normal_v3", Entry { log_id: log_id(5, 1, 50), payload: EntryPayload::Normal(request()) })]
}

/// The format-2 state with names of format 3 in a zone (owners with `\032`, `\200`,
/// `\"` and a non-leftmost `*`, an MX exchange with `\.`).
pub(crate) fn state() -> State {
    let mut state = State { cluster_version: ClusterVersion(3), ..super::v2::state() };
    let z = state.zones.get_mut(&zone()).expect("the example zone");
    for (owner, data) in [
        ("sp\\032ace.example.test", RData::A("192.0.2.12".parse().unwrap())),
        ("x\\200y.example.test", RData::A("192.0.2.13".parse().unwrap())),
        ("quote\\\"d.example.test", RData::A("192.0.2.15".parse().unwrap())),
        ("x.*.w5.example.test", RData::Mx { preference: 10, exchange: name("dot\\.label.example.test") }),
    ] {
        let t = data.rtype();
        z.nodes.entry(name(owner)).or_default().insert(t, RecordSet::new(300, vec![data]));
    }
    state
}
