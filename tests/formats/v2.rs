//! The format-2 examples: exactly-once request ids and the cluster format version. Frozen
//! like the format-1 ones (`v1.rs`): add examples, never change one.

use std::collections::{BTreeMap, BTreeSet};

use openraft::EntryPayload;
use quorumdns::model::{RData, RType, Serial};
use quorumdns::raft::types::{Entry, Request, Response};
use quorumdns::state::{Applied, ApplyError, ClusterVersion, Command, Event, RequestId, State, UpdateResult};
use quorumdns::state::{AppliedRequest, Sessions};

use super::v1::{log_id, name, zone, AT};

fn id(seq: u128) -> RequestId {
    RequestId((0x0123_4567_89ab_cdef << 64) | seq)
}

fn with_id(seq: u128, command: Command) -> Command {
    Command::WithId { id: id(seq), at: AT, deadline: AT + 30_000, command: Box::new(command) }
}

fn set_aaaa() -> Command {
    Command::SetRecordSet {
        zone: zone(),
        name: name("www.example.test"),
        rtype: RType::Aaaa,
        ttl: 300,
        data: vec![RData::Aaaa("2001:db8::1".parse().unwrap())],
    }
}

/// One example of every format-2 `Command` variant, in declaration order.
pub(crate) fn commands() -> Vec<Command> {
    vec![with_id(1, set_aaaa()), Command::SetClusterVersion { version: ClusterVersion(2) }]
}

/// One example of every format-2 `Event` variant.
pub(crate) fn events() -> Vec<Event> {
    vec![Event::ClusterVersionSet { version: ClusterVersion(2) }]
}

/// One example of every format-2 `ApplyError` variant.
pub(crate) fn apply_errors() -> Vec<ApplyError> {
    vec![ApplyError::RequestExpired(id(9))]
}

/// The format-1 example state with two remembered requests (one applied, one refused)
/// and the cluster at format 2.
pub(crate) fn state() -> State {
    let applied = Applied {
        events: vec![
            Event::HostUpdated {
                fqdn: name("home.dyn.example.test"),
                result: UpdateResult::NoChange,
                ipv4: None,
                ipv6: Some("2001:db8::7".parse().unwrap()),
            },
            Event::SerialBumped { zone: zone(), serial: Serial(2024010104) },
        ],
        serials: vec![(zone(), Serial(2024010104))],
    };
    let requests = [
        (id(1), AppliedRequest { index: 46, deadline: AT + 30_000, outcome: Ok(applied) }),
        (
            id(2),
            AppliedRequest {
                index: 47,
                deadline: AT + 31_000,
                outcome: Err(ApplyError::NoSuchZone(name("nope.test"))),
            },
        ),
    ];
    State {
        sessions: Sessions {
            clock: AT + 1_000,
            by_deadline: requests.iter().map(|(id, r)| (r.deadline, *id)).collect::<BTreeSet<_>>(),
            applied: BTreeMap::from(requests),
        },
        cluster_version: ClusterVersion(2),
        ..super::v1::state()
    }
}

/// A log entry's payload with a request id (what `Service::submit` proposes).
pub(crate) fn request() -> Request {
    Request { command: with_id(3, set_aaaa()) }
}

/// The answer to a request that arrived after its deadline.
pub(crate) fn response() -> Response {
    Response { index: 48, result: Err(ApplyError::RequestExpired(id(4))), group: vec![] }
}

pub(crate) fn entries() -> Vec<(&'static str, Entry)> {
    vec![("entry_normal_v2", Entry { log_id: log_id(4, 1, 49), payload: EntryPayload::Normal(request()) })]
}
