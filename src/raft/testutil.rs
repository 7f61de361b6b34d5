//! Helpers shared by the raft tests: commands, entries, a recording observer.

use std::collections::BTreeSet;
use std::net::Ipv4Addr;
use std::sync::{Arc, Mutex};

use openraft::{CommittedLeaderId, EntryPayload};

use super::types::{Entry, LogId, Request};
use crate::model::{Fqdn, RData, RType};
use crate::state::{Command, State, StateObserver};

pub(crate) fn fqdn(s: &str) -> Fqdn {
    Fqdn::parse(s).unwrap()
}

pub(crate) use crate::state::testing::create_zone;

pub(crate) fn set_a(zone: &str, host: &str, last_octet: u8) -> Command {
    Command::SetRecordSet {
        zone: fqdn(zone),
        name: fqdn(&format!("{host}.{zone}")),
        rtype: RType::A,
        ttl: 60,
        data: vec![RData::A(Ipv4Addr::new(192, 0, 2, last_octet))],
    }
}

pub(crate) fn log_id(term: u64, index: u64) -> LogId {
    LogId::new(CommittedLeaderId::new(term, 1), index)
}

pub(crate) fn normal(term: u64, index: u64, command: Command) -> Entry {
    Entry { log_id: log_id(term, index), payload: EntryPayload::Normal(Request { command }) }
}

pub(crate) fn blank(term: u64, index: u64) -> Entry {
    Entry { log_id: log_id(term, index), payload: EntryPayload::Blank }
}

/// `(changed zones, applied index)` of every observer call, in order.
pub(crate) type Calls = Vec<(Option<BTreeSet<Fqdn>>, u64)>;

#[derive(Default)]
pub(crate) struct RecordingObserver {
    pub calls: Mutex<Calls>,
}

impl RecordingObserver {
    pub(crate) fn new() -> Arc<Self> {
        Arc::new(Self::default())
    }

    pub(crate) fn calls(&self) -> Calls {
        self.calls.lock().unwrap().clone()
    }
}

impl StateObserver for RecordingObserver {
    fn state_changed(&self, _state: &State, changed: Option<&BTreeSet<Fqdn>>, applied_index: u64) {
        self.calls.lock().unwrap().push((changed.cloned(), applied_index));
    }
}

/// Opens the sled database at `path`, waiting while a previous handle in this process
/// still holds its file lock: sled's background flusher keeps it for a moment after the
/// last handle is dropped, which made reopen tests flaky on a loaded machine.
pub(crate) fn open_sled(path: &std::path::Path) -> crate::store::SledStore {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(15);
    loop {
        match crate::store::SledStore::open(path) {
            Ok(store) => return store,
            Err(e) if e.to_string().contains("could not acquire lock") && std::time::Instant::now() < deadline => {
                std::thread::sleep(std::time::Duration::from_millis(20));
            }
            Err(e) => panic!("opening sled at {}: {e}", path.display()),
        }
    }
}
