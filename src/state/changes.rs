//! Which zones and owner names an applied batch changed, derived from apply's events, so
//! read models (the DNS snapshot) can redo only what changed.

use std::collections::{BTreeMap, BTreeSet};

use super::{Applied, Event};
use crate::model::Fqdn;

/// What changed in one zone.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ZoneNames {
    /// Anything may have changed (created, replaced or deleted zone).
    All,
    /// Only these owner names changed (possibly none: a serial or SOA change).
    Some(BTreeSet<Fqdn>),
}

/// Changes of one applied batch, by zone.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ChangeSet {
    pub zones: BTreeMap<Fqdn, ZoneNames>,
}

impl ChangeSet {
    fn all(&mut self, zone: &Fqdn) {
        self.zones.insert(zone.clone(), ZoneNames::All);
    }

    fn touch(&mut self, zone: &Fqdn) -> Option<&mut BTreeSet<Fqdn>> {
        match self.zones.entry(zone.clone()).or_insert_with(|| ZoneNames::Some(BTreeSet::new())) {
            ZoneNames::All => None,
            ZoneNames::Some(names) => Some(names),
        }
    }

    /// Adds what one applied entry changed.
    pub fn record(&mut self, applied: &Applied) {
        for event in &applied.events {
            match event {
                Event::ZoneCreated { origin: zone, .. }
                | Event::ZoneDeleted { origin: zone, .. }
                | Event::ZoneReplaced { zone } => self.all(zone),
                Event::RecordSetChanged { zone, name, .. } => {
                    if let Some(names) = self.touch(zone) {
                        names.insert(name.clone());
                    }
                }
                Event::SoaUpdated { zone } | Event::SerialBumped { zone, .. } | Event::ZoneTransferChanged { zone } => {
                    self.touch(zone);
                }
                _ => {}
            }
        }
        for (zone, _) in &applied.serials {
            self.touch(zone);
        }
    }

    /// The changed zones, for observers that work per zone.
    pub fn zone_set(&self) -> BTreeSet<Fqdn> {
        self.zones.keys().cloned().collect()
    }
}
