//! The replicated state machine: `apply(state, command) -> (events, outcome)`.
//! Deterministic: no clock, no randomness, no IO. Time and ids travel in the command.

mod apply;
mod apply_acme;
mod apply_registry;
mod apply_rfc2136;
mod apply_zone;
mod changes;
mod command;
mod format;
pub mod journal;
mod machine;
pub mod registry;
pub mod rfc2136;
pub mod session;
#[doc(hidden)]
pub mod update_model;

pub use changes::{ChangeSet, ZoneNames};
pub use command::{ApplyError, Command, Event, Family};
pub use machine::{Applied, AppliedRequest, Sessions, State};
pub use registry::{
    AddrChange, Domain, HistoryEntry, Host, HostPatch, Origin, Registry, Token, UpdatePolicy, UpdateResult, User,
    ADMIN_OWNER,
};
pub use session::{ClusterVersion, RequestId};

/// Command builders shared by the tests of several modules.
#[cfg(test)]
pub(crate) mod testing {
    use super::Command;
    use crate::model::{Fqdn, SoaParams};

    /// A zone with default SOA parameters and `ns1.<origin>` as its name server.
    pub(crate) fn create_zone(origin: &str) -> Command {
        let o = Fqdn::parse(origin).expect("test zone names are valid");
        Command::CreateZone {
            soa: SoaParams::defaults_for(&o),
            ns: vec![o.child("ns1").expect("ns1 label is valid")],
            origin: o,
            ns_ttl: 3600,
            serial: None,
        }
    }
}

/// Told about every change of the applied state, after the state machine applied a batch
/// of entries or installed a snapshot. Implementors publish derived read models (the DNS
/// snapshot, metrics); they must not block.
pub trait StateObserver: Send + Sync + 'static {
    /// `changed_zones` is `None` when everything may have changed (snapshot install, start).
    fn state_changed(
        &self,
        state: &State,
        changed_zones: Option<&std::collections::BTreeSet<crate::model::Fqdn>>,
        applied_index: u64,
    );

    /// Like [`Self::state_changed`], with the changed owner names per zone (`None`: everything
    /// may have changed). The default forwards to `state_changed` with just the zones.
    fn state_changed_in(&self, state: &State, changes: Option<&ChangeSet>, applied_index: u64) {
        let zones = changes.map(ChangeSet::zone_set);
        self.state_changed(state, zones.as_ref(), applied_index);
    }
}

/// Tells several observers, in order.
pub struct Observers(pub Vec<std::sync::Arc<dyn StateObserver>>);

impl StateObserver for Observers {
    fn state_changed(
        &self,
        state: &State,
        changed_zones: Option<&std::collections::BTreeSet<crate::model::Fqdn>>,
        applied_index: u64,
    ) {
        for o in &self.0 {
            o.state_changed(state, changed_zones, applied_index);
        }
    }

    fn state_changed_in(&self, state: &State, changes: Option<&ChangeSet>, applied_index: u64) {
        for o in &self.0 {
            o.state_changed_in(state, changes, applied_index);
        }
    }
}

#[cfg(test)]
mod tests;
