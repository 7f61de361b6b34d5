//! Which owners carry a name's A/AAAA as additional data: an owner's in-zone NS, MX and
//! SRV targets, and the reverse map, so a change to a target re-renders those owners.

use std::collections::{BTreeMap, BTreeSet};

use crate::model::Fqdn;

/// In-zone NS/MX/SRV targets per owner, and the reverse.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct GlueIndex {
    pub(super) by_owner: BTreeMap<Fqdn, Vec<Fqdn>>,
    pub(super) by_target: BTreeMap<Fqdn, BTreeSet<Fqdn>>,
}

impl GlueIndex {
    pub(super) fn set(&mut self, owner: &Fqdn, targets: Vec<Fqdn>) {
        if let Some(old) = self.by_owner.remove(owner) {
            for t in old {
                if let Some(owners) = self.by_target.get_mut(&t) {
                    owners.remove(owner);
                    if owners.is_empty() {
                        self.by_target.remove(&t);
                    }
                }
            }
        }
        if targets.is_empty() {
            return;
        }
        for t in &targets {
            self.by_target.entry(t.clone()).or_default().insert(owner.clone());
        }
        self.by_owner.insert(owner.clone(), targets);
    }
}
